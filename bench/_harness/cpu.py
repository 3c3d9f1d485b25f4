"""CPU time and peak memory, read from Linux's ``/proc``: of a process tree (the coordinator and
its ingest children), of every process with a name (the PostgreSQL server), of one thread (a
client library's network thread) and of this process."""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(path: str) -> list[str]:
    with open(path) as stat:
        return stat.read().rsplit(")", 1)[1].split()


def stat_cpu(path: str) -> float:
    """CPU seconds (user + system) in a ``/proc/…/stat`` file."""
    fields = _stat_fields(path)
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def thread_cpu(native_id: int) -> float:
    """CPU seconds of one of this process's threads."""
    return stat_cpu(f"/proc/self/task/{native_id}/stat")


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds used so far by ``roots`` and their descendants (e.g. the ingest's child)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_stat_fields(f"/proc/{entry}/stat")[1])
            except (OSError, IndexError):
                continue
    members, frontier = set(roots), list(roots)
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        members.update(children)
        frontier.extend(children)
    total = 0.0
    for pid in members:
        try:
            total += stat_cpu(f"/proc/{pid}/stat")
        except OSError:
            continue  # ended meanwhile
    return total


def server_cpu(name: str = "postgres") -> float:
    """CPU seconds used so far by every process named ``name`` (the database server's)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() == name:
                    total += stat_cpu(f"/proc/{entry}/stat")
        except OSError:
            continue
    return total


def own_cpu() -> float:
    """CPU seconds (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a running process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
