"""Type stub of the compiled core (``_core.pyx``)."""

from array import array
from typing import Any

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
    ) -> None: ...
    def solve(
        self,
        time_limit: float,
        iteration_limit: int,
        seed: int,
        w_makespan: float,
        w_tardiness: float,
        w_stability: float,
        tolerance: int,
        ref_machine: array[int] | None,
        ref_start: array[int] | None,
        lower_bound: float,
        stall: int,
        exact: int,
    ) -> tuple[list[int], list[int], list[int], dict[str, Any]]: ...
