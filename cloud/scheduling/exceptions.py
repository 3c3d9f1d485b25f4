"""The scheduling package's one exception tree."""

from __future__ import annotations


class SchedulingError(Exception):
    """Base of every error raised by :mod:`cloud.scheduling`."""


class ProblemError(SchedulingError, ValueError):
    """The problem given to the scheduler is inconsistent (the message says where)."""


class InstanceFormatError(ProblemError):
    """A benchmark or instance file cannot be read (the message gives the file and line)."""


class InvalidScheduleError(SchedulingError):
    """A schedule breaks the problem's constraints; ``violations`` lists every broken one."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        shown = "\n  ".join(violations[:20])
        more = f"\n  … and {len(violations) - 20} more" if len(violations) > 20 else ""
        super().__init__(f"{len(violations)} constraint violation(s):\n  {shown}{more}")


class CoreNotBuiltError(SchedulingError, ImportError):
    """The compiled Cython core is missing: the package was not installed with its build step."""
