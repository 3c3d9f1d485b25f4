"""Small hand-made problems and the benchmark files beside the clone (``../shared``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.scheduling import Job, Machine, Operation, Problem


def _shared_fjsp() -> Path:
    """``shared/benchmarks/fjsp`` in the first ancestor of the clone that has it (CI puts shared/
    beside the clone; a git worktree may sit one level deeper)."""
    root = Path(__file__).resolve().parents[3]
    for parent in root.parents:
        candidate = parent / "shared" / "benchmarks" / "fjsp"
        if candidate.is_dir():
            return candidate
    return root.parent / "shared" / "benchmarks" / "fjsp"


BRANDIMARTE = _shared_fjsp() / "brandimarte"
MK_FILES = [BRANDIMARTE / f"mk{i:02d}.txt" for i in range(1, 11)]


def brandimarte(name: str) -> Path:
    path = BRANDIMARTE / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"benchmark file {path} is missing (../shared is not beside the clone)")
    return path


def chain_problem() -> Problem:
    """Three jobs, three machines, two of them interchangeable for some operations."""
    return Problem(
        jobs=(
            Job((Operation({0: 3, 1: 4}), Operation({2: 2}), Operation({0: 2, 1: 2}))),
            Job((Operation({1: 2}), Operation({0: 4, 2: 3}), Operation({2: 3}))),
            Job((Operation({2: 3}), Operation({0: 2}), Operation({1: 4, 0: 5}))),
        ),
        machines=(Machine("A"), Machine("B"), Machine("C")),
    )
