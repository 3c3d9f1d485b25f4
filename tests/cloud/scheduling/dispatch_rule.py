"""A simple dispatch rule, the yardstick the property tests hold the core to.

Serial and greedy, written from the problem's definition without the core's code: repeatedly take
the ready operation (every predecessor placed) that can end earliest, on the machine where it ends
earliest, after the last operation placed there, at the first time the machine's calendar and
windows allow. A setup (from the family of the last operation placed on the machine that is not
a zero-length milestone) is done right before the work, as one block with it. An operation that
needs an operator waits for the first one with the skill who is on shift and free.
"""

from __future__ import annotations

from dataclasses import replace

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


def place(
    problem: Problem,
    machine: int,
    start: int,
    work: int,
    resumable: bool,
    busy: tuple[tuple[int, int], ...] = (),
) -> tuple[int, int]:
    """The first (start, end) from ``start`` that the machine's calendar allows and that
    overlaps none of its windows, nor the ``busy`` intervals (operations placed there)."""
    windows = [(w.start, w.end) for w in problem.unavailability if w.machine == machine]
    windows += busy
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


def _attend(
    problem: Problem, attended: dict[int, list[tuple[int, int]]], o: ScheduledOperation
) -> tuple[int | None, int]:
    """The first operator with the skill who is on shift and free over the span ``o`` needs
    attended, and -1; or None and a later start worth trying."""
    op = problem.jobs[o.job].operations[o.op]
    if op.skill is None or not problem.operators:
        return None, -1
    if op.attended == "setup":
        span = None if o.setup_start is None else (o.setup_start, o.setup_end or o.setup_start)
    else:
        span = (o.busy_from, o.end)
    if span is None or span[1] <= span[0]:
        return None, -1
    retry = None
    for index, operator in enumerate(problem.operators):
        elsewhere = operator.plant not in (None, problem.machines[o.machine].plant)
        if op.skill not in operator.skills or elsewhere:
            continue
        later = [b for a, b in attended.get(index, []) if a < span[1] and span[0] < b]
        if operator.roster is not None:
            inside = any(a <= span[0] and span[1] <= b for a, b in operator.roster)
            if not inside:
                later += [a for a, _b in operator.roster if a > span[0]][:1] or [1 << 50]
        if not later:
            return index, -1
        retry = min(later) if retry is None else min(retry, min(later))
    assert retry is not None
    return None, retry


def earliest_end_rule(problem: Problem) -> list[ScheduledOperation]:
    placed: dict[tuple[int, int], ScheduledOperation] = {}
    machine_free = [0] * len(problem.machines)
    machine_family: list[int | None] = [None] * len(problem.machines)
    attended: dict[int, list[tuple[int, int]]] = {}
    todo = {(j, k) for j, job in enumerate(problem.jobs) for k in range(len(job.operations))}
    while todo:
        best: tuple[int, int, int, int, int, int, int, int | None] | None = None
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
                while True:
                    begin, end = place(problem, machine, ready, setup + work, op.resumable)
                    trial = _operation(problem, j, k, machine, (begin, end), setup)
                    operator, retry = _attend(problem, attended, trial)
                    if retry < 0:
                        break
                    ready = retry
                if best is None or end < best[0]:
                    best = (end, begin, machine, j, k, work, setup, operator)
        assert best is not None, "a precedence cycle"
        end, begin, machine, j, k, work, setup, operator = best
        placed[(j, k)] = replace(
            _operation(problem, j, k, machine, (begin, end), setup), operator=operator
        )
        if operator is not None:
            op = problem.jobs[j].operations[k]
            o = placed[(j, k)]
            span = (o.setup_start, o.setup_end) if op.attended == "setup" else (o.busy_from, o.end)
            attended.setdefault(operator, []).append((span[0] or 0, span[1] or 0))
        machine_free[machine] = end
        if work:
            machine_family[machine] = problem.jobs[j].operations[k].family
        todo.remove((j, k))
    return list(placed.values())
