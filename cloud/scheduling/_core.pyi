"""Type stub of the compiled core (``_core.pyx``)."""

from array import array
from typing import Any, TypedDict

class SolveParameters(TypedDict):
    """The ``SolveParameters`` struct of ``_core.pxd``."""

    time_limit: float
    iteration_limit: int
    lower_bound: float
    seed: int
    weight_makespan: float
    weight_tardiness: float
    weight_stability: float
    tolerance: int
    stall: int
    exact: int
    deadline_search: int
    workers: int

# Worker w of a solve searches with seed + w * WORKER_SEED_STRIDE.
WORKER_SEED_STRIDE: int

class Core:
    def __init__(
        self,
        n: int,
        m: int,
        nj: int,
        plants: int,
        job: array[int],
        pred_ptr: array[int],
        pred: array[int],
        opt_ptr: array[int],
        opt_machine: array[int],
        opt_duration: array[int],
        plant: array[int],
        transport: array[int],
        blocked_ptr: array[int],
        blocked_start: array[int],
        blocked_end: array[int],
        calendar_on: array[int],
        calendar_ptr: array[int],
        calendar_start: array[int],
        calendar_end: array[int],
        resumable: array[int],
        release: array[int],
        frozen_machine: array[int],
        frozen_start: array[int],
        due: array[int],
        weight: array[float],
        work_left: array[float],
        families: int,
        family: array[int],
        setup: array[int],
        frozen_ptr: array[int],
        frozen_end: array[int],
        frozen_family: array[int],
        operators: int,
        skill: array[int],
        setup_only: array[int],
        operator_skills: array[int],
        operator_plant: array[int],
        roster_on: array[int],
        roster_ptr: array[int],
        roster_start: array[int],
        roster_end: array[int],
    ) -> None: ...
    def makespan_bound(self, floor: int) -> int: ...
    def solve(
        self,
        parameters: SolveParameters,
        reference_machine: array[int] | None = None,
        reference_start: array[int] | None = None,
    ) -> tuple[
        list[int], list[int], list[int], list[int], list[int], list[int], dict[str, Any]
    ]: ...
