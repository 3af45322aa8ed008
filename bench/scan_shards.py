"""Benchmark: one daily scan spread over django-q2 workers.

10,000 symbols × 252 sessions of daily bars (2.52 M). A real `qcluster` with 1 worker runs the scan as one task
(QUALITY_SCAN_SHARDS 1, today's scan); then a cluster with 2 workers runs the same scan with 2 shards: the task
that coordinates is one member, the other worker joins as the second (docs/quality-scans.md). Each configuration
scans once to warm its workers up (imports, the exchange calendar), then `--runs` times; every scan starts from
the same state (the previous scan's reports, anomalies and alerts removed). Prints each scan's wall time (enqueue
to result) and its own `duration_s`, and the ratio of the best 2-worker run to the best 1-worker run
(goal ≤ 0.6).

    .venv/bin/python bench/scan_shards.py [--symbols 10000] [--sessions 252] [--runs 2] [--reuse]

Uses the PostgreSQL database `tickstock_scan_shards_bench` unless DATABASE_URL names another scratch database;
`--reuse` keeps bars already loaded there.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Not this folder on the path: bench/queue.py would shadow the standard library's queue module.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))

from bench._setup import ROOT, django_on_postgres  # noqa: E402

END = "2025-06-30"


def prepare(symbols: int, sessions: int, reuse: bool):
    import pandas as pd
    from django.db import connection

    from monitors.quality import calendar
    from monitors.quality.demo import random_walk_bars
    from monitors.quality.loader import upsert_frame
    from monitors.quality.models import Bar

    days = calendar.sessions(pd.Timestamp(END) - pd.Timedelta(days=sessions * 2), pd.Timestamp(END))[-sessions:]
    as_of = calendar.get_calendar().session_close(days[-1]) + pd.Timedelta(minutes=30)
    if reuse and Bar.objects.filter(interval="1d").count() == symbols * sessions:
        return as_of
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE quality_bar, quality_latestbar, quality_corporateaction")
    names = [f"S{i:05d}" for i in range(symbols)]
    for start in range(0, symbols, 2000):
        upsert_frame(random_walk_bars(names[start:start + 2000], days, seed=start + 1), source="bench",
                     interval="1d")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE quality_bar")
    return as_of


def forget_scans() -> None:
    from django.db import connection

    from tickstock_ops.models import Alert

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE quality_anomaly, quality_report, quality_publishedanomaly, quality_scan CASCADE")
    Alert.objects.filter(source="quality").delete()


def start_cluster(workers: int, log) -> subprocess.Popen:
    from django_q.models import OrmQ

    OrmQ.objects.all().delete()
    env = {**os.environ, "Q_WORKERS": str(workers)}
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=log)


def scan(as_of, shards: int, symbols: list[str] | None = None) -> tuple[float, float]:
    """Enqueue one scan as a django-q2 task and wait for it: wall time and the scan's own duration."""
    from django_q.tasks import async_task, fetch

    started = time.perf_counter()
    task = async_task("monitors.quality.scan.run_scan", as_of=as_of, interval="1d", shards=shards, symbols=symbols)
    deadline = time.monotonic() + 600
    while (done := fetch(task)) is None:
        if time.monotonic() > deadline:
            sys.exit("the scan task did not finish within 10 minutes")
        time.sleep(0.05)
    if not done.success:
        sys.exit(f"the scan task failed: {done.result}")
    return time.perf_counter() - started, done.result.scan.duration_s


def measure(as_of, workers: int, shards: int, runs: int, names: list[str]) -> list[tuple[float, float, list]]:
    """Each run's wall time, the scan's own duration and what each shard logged (its time, and how much of it it
    waited for the other shards)."""
    with tempfile.TemporaryFile("w+") as log:
        cluster = start_cluster(workers, log)
        try:
            scan(as_of, shards, names[:200])  # warm-up: every worker imports and loads the calendar
            results = []
            for _ in range(runs):
                forget_scans()
                log.seek(0, 2)
                start = log.tell()
                wall, own = scan(as_of, shards)
                log.seek(start)
                results.append((wall, own, [line.split(": ", 1)[1].strip() for line in log if "scan shard" in line]))
            return results
        finally:
            cluster.terminate()
            cluster.wait(timeout=60)


def in_process(as_of) -> float:
    """CPU seconds of one process examining the whole universe (reading and checking, what the shards split)."""
    from monitors.quality import calendar
    from monitors.quality.scan import examine

    calendar.get_calendar()
    cpu = time.process_time()
    examine(as_of, None, None, "1d", "full")
    return time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    django_on_postgres("tickstock_scan_shards_bench")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("this benchmark measures PostgreSQL: set DATABASE_URL to a scratch PostgreSQL database")
    print(f"loading {args.symbols:,} symbols × {args.sessions} sessions …", flush=True)
    as_of = prepare(args.symbols, args.sessions, args.reuse)
    names = [f"S{i:05d}" for i in range(args.symbols)]
    one = measure(as_of, 1, 1, args.runs, names)
    two = measure(as_of, 2, 2, args.runs, names)
    for label, results in (("1 worker, 1 shard", one), ("2 workers, 2 shards", two)):
        print(f"{label}: " + ", ".join(f"{wall:.2f} s (scan {own:.2f} s)" for wall, own, _ in results))
        for _, _, shards in results:
            for line in shards:
                print(f"    {line}")
    best_one, best_two = min(result[0] for result in one), min(result[0] for result in two)
    print(f"the same scan in this process, for its CPU time: {in_process(as_of):.2f} s of CPU (examining only)")
    print(f"daily scan of {args.symbols:,} symbols: 2 workers take {best_two / best_one:.2f}× the time of 1 "
          f"({best_two:.2f} s against {best_one:.2f} s, best of {args.runs}; goal ≤ 0.6×)")


if __name__ == "__main__":
    main()
