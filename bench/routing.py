"""Technician routing: OR-Tools' routing library against today's greedy assignment.

Generated instances with published seeds (technicians with skills and working hours around a
region of about 150 x 120 km, tickets with priorities, due times from the standard service
level and visit durations by kind) are planned three ways: the greedy rule the coordinator used
before routes (each ticket, in arrival order, to the best-ranked technician, who works them in
that order), OR-Tools warm-started from it, and OR-Tools from its own first solution. Every plan
is checked by the independent validator. Prints a table of service-level misses (late or not
served), total travel and solve time, and writes JSON to ``bench/results/``.

    python bench/routing.py                     # the default sizes and seeds, 1 s per solve
    python bench/routing.py --limits 1 5 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness.report import RESULTS

from cloud.maintenance.assignment import Location, TechnicianProfile, WorkingHours
from cloud.maintenance.visits.greedy import greedy_plan
from cloud.maintenance.visits.planner import plan_routes
from cloud.maintenance.visits.problem import (
    DEFAULT_VISIT_MINUTES,
    RoutePlan,
    RouteProblem,
    Visit,
    figures,
)
from cloud.maintenance.visits.validator import violations

SIZES = [(3, 12), (5, 25), (8, 45), (12, 80)]
"""(technicians, tickets)."""
DEFAULT_SEEDS = [1, 2, 3]
DEFAULT_LIMITS = [1.0]
SKILLS = ("mechanical", "electrical", "hydraulics")
DUE_HOURS = {"P1": 8, "P2": 24, "P3": 72, "P4": 168}
PRIORITY_SHARE = {"P1": 0.15, "P2": 0.35, "P3": 0.3, "P4": 0.2}
MONDAY = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
"""Monday 07:30, the start of the first working day."""


def instance(technicians: int, tickets: int, seed: int) -> RouteProblem:
    """A reproducible problem: the same sizes and seed give the same problem everywhere."""
    rng = random.Random(f"{technicians}/{tickets}/{seed}")

    def place() -> Location:
        return Location(44.0 + rng.uniform(0, 1.1), 10.6 + rng.uniform(0, 1.9))

    team = [
        TechnicianProfile(
            id=f"tech-{i}",
            skills=frozenset(rng.sample(SKILLS, rng.choice((1, 2, 2, 3)))) | {SKILLS[i % 2]},
            home=place(),
            working_hours=WorkingHours.weekdays(),
            employer_unit="unit",
        )
        for i in range(technicians)
    ]
    visits = []
    for i in range(tickets):
        priority = rng.choices(list(PRIORITY_SHARE), weights=list(PRIORITY_SHARE.values()))[0]
        opened = MONDAY - timedelta(minutes=rng.randint(0, 16 * 60))
        kind = "corrective" if rng.random() < 0.8 else "preventive"
        visits.append(
            Visit(
                id=f"ticket-{i}",
                site=f"site-{i}",
                unit="unit",
                location=place(),
                skill=rng.choice(SKILLS),
                duration_minutes=DEFAULT_VISIT_MINUTES[kind],
                due=opened + timedelta(hours=DUE_HOURS[priority]),
                priority=priority,
            )
        )
    return RouteProblem(visits, team, MONDAY, horizon_days=3)


def measure(problem: RouteProblem, plan: RoutePlan, seconds: float) -> dict[str, Any]:
    found = figures(problem, plan)
    return {
        "misses": found.misses,
        "late": found.late,
        "dropped": found.dropped,
        "travel_minutes": found.travel_minutes,
        "late_minutes": found.late_minutes,
        "cost": found.cost,
        "seconds": round(seconds, 3),
        "valid": not violations(problem, plan),
    }


def run(sizes: list[tuple[int, int]], seeds: list[int], limits: list[float]) -> list[dict]:
    rows = []
    for technicians, tickets in sizes:
        for seed in seeds:
            problem = instance(technicians, tickets, seed)
            began = time.perf_counter()
            baseline = greedy_plan(problem)
            runs = {"greedy": measure(problem, baseline, time.perf_counter() - began)}
            for limit in limits:
                budget = timedelta(seconds=limit)
                began = time.perf_counter()
                warm = plan_routes(problem, time_limit=budget, start_from=baseline)
                runs[f"or-tools@{limit:g}"] = measure(problem, warm, time.perf_counter() - began)
                began = time.perf_counter()
                cold = plan_routes(problem, time_limit=budget)
                runs[f"or-tools-cold@{limit:g}"] = measure(
                    problem, cold, time.perf_counter() - began
                )
            rows.append(
                {"technicians": technicians, "tickets": tickets, "seed": seed, "runs": runs}
            )
            print_row(rows[-1])
    return rows


def print_row(row: dict[str, Any]) -> None:
    cells = [f"{row['technicians']:>3} x {row['tickets']:<3} seed {row['seed']}"]
    for name, run in row["runs"].items():
        flag = "" if run["valid"] else " INVALID"
        cells.append(
            f"{name}: {run['misses']:>2} miss ({run['dropped']} dropped),"
            f" {run['travel_minutes']:>5} min travel, {run['seconds']:.2f} s{flag}"
        )
    print(" | ".join(cells), flush=True)


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        for name, run in row["runs"].items():
            total = totals.setdefault(name, {"misses": 0, "travel_minutes": 0, "seconds": 0})
            for key in total:
                total[key] += run[key]
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--limits", nargs="+", type=float, default=DEFAULT_LIMITS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    print("technicians x tickets, seed | per planner: service-level misses, travel, solve time")
    rows = run(SIZES, args.seeds, args.limits)
    totals = summary(rows)
    print("\ntotals over all instances:")
    for name, total in totals.items():
        print(
            f"  {name:<20} {total['misses']:>4.0f} misses {total['travel_minutes']:>7.0f} min"
            f" travel {total['seconds']:>6.1f} s"
        )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"routing-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report = {"sizes": SIZES, "seeds": args.seeds, "limits": args.limits, "rows": rows}
    out.write_text(json.dumps({**report, "totals": totals}, indent=1))
    print(f"\nwrote {out}")
    return 0 if all(r["valid"] for row in rows for r in row["runs"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
