"""Build the compiled Cython modules next to the Python code that calls them.

Every ``*.pyx`` under ``cloud/`` is compiled by the normal ``pip install`` (editable or not). A
missing compiler fails the install loudly: the scheduling core has no pure-Python fallback.
"""

from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = Path(__file__).parent


def _extensions() -> list[Extension]:
    extensions = []
    for pyx in sorted(ROOT.glob("cloud/**/*.pyx")):
        relative = pyx.relative_to(ROOT).with_suffix("")
        extensions.append(
            Extension(
                ".".join(relative.parts),
                [str(pyx.relative_to(ROOT))],
                extra_compile_args=["-O3"],
            )
        )
    return extensions


setup(
    ext_modules=cythonize(
        _extensions(),
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )
)
