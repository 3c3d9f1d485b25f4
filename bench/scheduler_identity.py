"""Does a change to the scheduling core keep every schedule bit for bit? Before and after.

The core is deterministic for a seed and an iteration limit (the wall-clock limit is set out of
reach), so a refactor that keeps its behaviour keeps every schedule. This script solves the
scheduler benchmark's instance sets (Brandimarte mk01-mk10, Taillard ta01-ta10, their setup,
calendar and operator variants), the scale run's network problem with its re-plan (tardiness,
warm start, stability) and the hypothesis strategies' problems drawn derandomized, checks every
schedule with the independent validator, and records each one's makespan, objective and a digest
of all its operations.

    python bench/scheduler_identity.py --write before.json    # on the commit before
    python bench/scheduler_identity.py --compare before.json  # after: exit 1 if any differs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from scheduler import NETWORK_OBJECTIVE, SETUP_INSTANCES, load, machine_down

from cloud.scheduling import Objective, Problem, Schedule, solve, validate_schedule
from cloud.scheduling.synthetic import network_problem

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the hypothesis strategies live with the tests

from tests.cloud.scheduling.strategies import problems, with_operators  # noqa: E402

# Far beyond any run here: the iteration limit stops every search.
UNREACHABLE_SECONDS = 1e9
CLASSIC = [f"mk{i:02d}" for i in range(1, 11)] + [f"ta{i:02d}" for i in range(1, 11)]
VARIANTS = SETUP_INSTANCES + [f"mk{i:02d}-ops" for i in range(1, 11)]
VARIANTS += [f"ta{i:02d}-cal" for i in range(1, 11)]
# An estimated iteration costs one decode, an exact one (calendars, setups, operators) forty.
ESTIMATED_ITERATIONS = 5000
EXACT_ITERATIONS = 200
HYPOTHESIS_EXAMPLES = 60
SEED = 7


def record(problem: Problem, schedule: Schedule, **check: Any) -> dict[str, Any]:
    validate_schedule(problem, schedule, **check)
    assert schedule.stats is not None
    digest = hashlib.sha256(
        repr(
            [
                (o.job, o.op, o.machine, o.start, o.end, o.setup_start, o.setup_end, o.operator)
                for o in schedule.operations
            ]
        ).encode()
    ).hexdigest()[:16]
    return {
        "makespan": schedule.makespan,
        "objective": schedule.objective,
        "iterations": schedule.stats.iterations,
        "stop": schedule.stats.stop_reason,
        "digest": digest,
    }


def solved(problem: Problem, iterations: int, **options: Any) -> Schedule:
    return solve(
        problem,
        time_limit=UNREACHABLE_SECONDS,
        iteration_limit=iterations,
        seed=options.pop("seed", SEED),
        **options,
    )


def benchmark_cases(names: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name in names:
        problem, _ = load(name)
        iterations = EXACT_ITERATIONS if "-" in name else ESTIMATED_ITERATIONS
        yield name, record(problem, solved(problem, iterations))


def network_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """The scale run's problem (tardiness: exact mode) and its re-plan after a breakdown."""
    problem = network_problem(seed=SEED)
    plan = solved(problem, 50, objective=NETWORK_OBJECTIVE)
    yield "network", record(problem, plan, objective=NETWORK_OBJECTIVE)
    broken, _, _ = machine_down(problem, plan)
    objective = replace(NETWORK_OBJECTIVE, stability=10, tolerance=0)
    for iterations in (0, 30):
        replanned = solved(broken, iterations, objective=objective, warm_start=plan)
        check = {"objective": objective, "previous": plan}
        yield f"network-replan-{iterations}", record(broken, replanned, **check)


def hypothesis_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """The property tests' problem shapes, drawn the same way every run (derandomized)."""
    drawn: list[Problem] = []
    quiet = settings(
        max_examples=HYPOTHESIS_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )

    @quiet
    @given(problem=problems(calendars=True, setups=True).flatmap(with_operators))
    def staffed(problem: Problem) -> None:
        drawn.append(problem)

    @quiet
    @given(problem=problems(calendars=True, setups=True))
    def plain(problem: Problem) -> None:
        drawn.append(problem)

    plain()
    staffed()
    tardiness = Objective(makespan=1, weighted_tardiness=2)
    for index, problem in enumerate(drawn):
        for seed in (0, 1):
            schedule = solved(problem, 100, seed=seed)
            yield f"hypothesis-{index}-seed{seed}", record(problem, schedule)
        schedule = solved(problem, 50, objective=tardiness)
        yield f"hypothesis-{index}-tardiness", record(problem, schedule, objective=tardiness)


def run(quick: bool) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    names = CLASSIC[:2] + VARIANTS[::10] if quick else CLASSIC + VARIANTS
    for name, outcome in [*benchmark_cases(names), *network_cases(), *hypothesis_cases()]:
        results[name] = outcome
        print(f"{name}: {outcome['makespan']} ({outcome['digest']})", file=sys.stderr)
    return results


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> int:
    """Print both makespans and whether the whole schedule is the same; 1 if any differs."""
    print("| case | makespan before | makespan after | same schedule |")
    print("|---|---:|---:|---|")
    differ = 0
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name, {}), after.get(name, {})
        same = bool(old) and old == new
        differ += not same
        print(
            f"| {name} | {old.get('makespan', '-')} | {new.get('makespan', '-')} | "
            f"{'yes' if same else 'NO'} |"
        )
    print(f"\n{len(before)} cases before, {len(after)} after, {differ} differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="store this build's results")
    parser.add_argument("--compare", type=Path, help="compare this build with stored results")
    parser.add_argument("--quick", action="store_true", help="a few instances of each set")
    args = parser.parse_args()
    results = run(args.quick)
    if args.write:
        args.write.write_text(json.dumps(results, indent=1, sort_keys=True))
    if args.compare:
        return compare(json.loads(args.compare.read_text()), results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
