"""Run every benchmark in turn (``make bench``); each prints its table and writes JSON and a chart.

Extra arguments after ``--`` are not forwarded: run a single script directly to tune it, e.g.
``python bench/scheduler.py --limits 1``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = (
    "scheduler.py",
    "routing.py",
    "network.py",
    "edge_throughput.py",
    "ingest.py",
    "ingest_lanes.py",
    "sim_capacity.py",
)


def main() -> int:
    failed = []
    for index, script in enumerate(SCRIPTS, start=1):
        print(f"\n=== [{index}/{len(SCRIPTS)}] bench/{script}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(BENCH / script)], check=False)
        print(
            f"=== bench/{script}: exit {result.returncode} after {time.monotonic() - started:.0f} s"
        )
        if result.returncode:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
