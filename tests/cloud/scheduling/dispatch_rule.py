"""A simple dispatch rule, the yardstick the property tests hold the core to.

Serial and greedy, written from the problem's definition without the core's code: repeatedly take
the ready operation (every predecessor placed) that can end earliest, on the machine where it ends
earliest, after the last operation placed there, at the first time the machine's calendar and
windows allow. A setup (from the family of the last operation placed on the machine that is not
a zero-length milestone) is done right before the work, as one block with it.
"""

from __future__ import annotations

from cloud.scheduling import Problem, ScheduledOperation

Periods = tuple[tuple[int, int], ...]


def _span(calendar: Periods | None, start: int, work: int, resumable: bool) -> tuple[int, int]:
    """The first allowed (start, end) from ``start`` in the calendar, ignoring windows."""
    if calendar is None or work == 0:
        return start, start + work
    for index, (open_at, close_at) in enumerate(calendar):
        begin = max(start, open_at)
        if begin >= close_at or (not resumable and begin + work > close_at):
            continue
        left, end = work, begin
        for open_at2, close_at2 in calendar[index:]:
            end = max(end, open_at2)
            step = min(left, close_at2 - end)
            left -= step
            end += step
            if left == 0:
                return begin, end
        break
    raise ValueError("the calendar runs out")


def _place(
    problem: Problem, machine: int, start: int, work: int, resumable: bool
) -> tuple[int, int]:
    windows = [(w.start, w.end) for w in problem.unavailability if w.machine == machine]
    calendar = problem.machines[machine].calendar
    while True:
        begin, end = _span(calendar, start, work, resumable)
        blocking = [w_end for w_start, w_end in windows if w_start < end and begin < w_end]
        if not blocking and not any(w_start < begin < w_end for w_start, w_end in windows):
            return begin, end
        start = max([*blocking, *(w_end for w_start, w_end in windows if w_start < begin < w_end)])


def _operation(
    problem: Problem, j: int, k: int, machine: int, block: tuple[int, int], setup: int
) -> ScheduledOperation:
    """The scheduled operation whose setup and work fill ``block``."""
    begin, end = block
    if setup == 0:
        return ScheduledOperation(j, k, machine, begin, end)
    op = problem.jobs[j].operations[k]
    calendar = problem.machines[machine].calendar
    setup_end = _span(calendar, begin, setup, op.resumable)[1]
    start = _span(calendar, setup_end, op.durations[machine], op.resumable)[0]
    return ScheduledOperation(j, k, machine, start, end, begin, setup_end)


def earliest_end_rule(problem: Problem) -> list[ScheduledOperation]:
    placed: dict[tuple[int, int], ScheduledOperation] = {}
    machine_free = [0] * len(problem.machines)
    machine_family: list[int | None] = [None] * len(problem.machines)
    todo = {(j, k) for j, job in enumerate(problem.jobs) for k in range(len(job.operations))}
    while todo:
        best: tuple[int, int, int, int, int, int, int] | None = None
        for j, k in sorted(todo):
            preds = problem.predecessors(j, k)
            if any((j, p) not in placed for p in preds):
                continue
            op = problem.jobs[j].operations[k]
            for machine, work in sorted(op.durations.items()):
                ready = max(
                    [
                        problem.jobs[j].release,
                        machine_free[machine],
                        *(
                            placed[(j, p)].end
                            + problem.transport_time(placed[(j, p)].machine, machine)
                            for p in preds
                        ),
                    ]
                )
                setup = problem.machines[machine].setup(machine_family[machine], op.family)
                setup = setup if work else 0  # a milestone needs no setup
                begin, end = _place(problem, machine, ready, setup + work, op.resumable)
                if best is None or end < best[0]:
                    best = (end, begin, machine, j, k, work, setup)
        assert best is not None, "a precedence cycle"
        end, begin, machine, j, k, work, setup = best
        placed[(j, k)] = _operation(problem, j, k, machine, (begin, end), setup)
        machine_free[machine] = end
        if work:
            machine_family[machine] = problem.jobs[j].operations[k].family
        todo.remove((j, k))
    return list(placed.values())
