"""Scheduling: plan every operation of every order on the network's machines (DESIGN.md §6).

``solve(problem)`` runs the compiled core (``_core.pyx``); ``validate_schedule`` is an independent
pure-Python check of any schedule; ``readers`` load the FJSPLIB and JSPLIB benchmark formats.
"""

from cloud.scheduling.exceptions import (
    CoreNotBuiltError,
    InstanceFormatError,
    InvalidScheduleError,
    ProblemError,
    SchedulingError,
)
from cloud.scheduling.models import (
    FrozenOperation,
    Job,
    Machine,
    Objective,
    Operation,
    Operator,
    Problem,
    Schedule,
    ScheduledOperation,
    SolveStats,
    Unavailability,
)
from cloud.scheduling.solver import DEFAULT_TIME_LIMIT, lower_bound, solve
from cloud.scheduling.validator import ScheduleReport, validate_schedule

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "CoreNotBuiltError",
    "FrozenOperation",
    "InstanceFormatError",
    "InvalidScheduleError",
    "Job",
    "Machine",
    "Objective",
    "Operation",
    "Operator",
    "Problem",
    "ProblemError",
    "Schedule",
    "ScheduleReport",
    "ScheduledOperation",
    "SchedulingError",
    "SolveStats",
    "Unavailability",
    "lower_bound",
    "solve",
    "validate_schedule",
]
