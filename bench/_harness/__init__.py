"""What the benchmarks under ``bench/`` share, so that each script keeps only its workloads.

- ``cpu``: CPU time and peak memory of processes, threads and process trees (Linux ``/proc``);
- ``services``: GloNet's own processes started for a run (coordinator, gateway) and their health;
- ``databases``: a fresh database per case, SQLite or PostgreSQL;
- ``report``: fixed-width tables on stdout, results files in ``bench/results/``, charts.

Scripts import it as ``_harness``: ``bench/`` is on ``sys.path`` when a script there runs.
"""
