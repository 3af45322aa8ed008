"""Benchmark: data-quality import and scans on PostgreSQL.

Daily: 5,000 symbols × 252 sessions (1.26 M bars) of synthetic random-walk data with a few planted anomalies.
Prints the `load_bars` import rate (goal ≥ 200,000 rows/s), the full scan time (goal ≤ 20 s) beside the time to
read the same rows out with COPY (goal: scan ≤ 3× that), and the scan's peak memory (goal ≤ 1.5 GB).
Intraday: 500 symbols × 390 one-minute bars; the staleness + coverage scan (goal ≤ 2 s).

    .venv/bin/python bench/quality_scan.py [--symbols 5000] [--sessions 252]

Uses the PostgreSQL database `tickstock_quality_bench` unless DATABASE_URL names another scratch database (the
quality tables are emptied first). Each measured phase runs in its own process so its peak memory is its own.
"""

import argparse
import json
import os
import resource
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
INTRADAY_DAY = "2025-06-27"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(symbols: int, sessions: int, directory: Path) -> dict:
    import numpy as np
    import pandas as pd
    from django.db import connection

    from monitors.quality import calendar
    from monitors.quality.demo import random_walk_bars
    from monitors.quality.tests.builders import intraday
    from tickstock_ops.models import Alert

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE quality_bar, quality_corporateaction, quality_anomaly, quality_report, quality_scan,"
                       " quality_publishedanomaly, quality_dailysummary")
    Alert.objects.filter(source="quality").delete()
    days = calendar.sessions(pd.Timestamp(END) - pd.Timedelta(days=sessions * 2), pd.Timestamp(END))[-sessions:]
    names = [f"S{i:04d}" for i in range(symbols)]
    bars = random_walk_bars(names, days, seed=11)
    rng = np.random.default_rng(5)
    for row in rng.choice(len(bars), size=symbols // 100, replace=False):  # bad prints and volume spikes
        bars.loc[row, ["close", "low"]] *= 0.7
        bars.loc[row, "volume"] *= 8
    bars = bars.drop(index=rng.choice(len(bars), size=symbols // 100, replace=False))  # missing sessions
    daily_csv = directory / "daily.csv"
    out = bars.assign(timestamp=bars["ts"].dt.strftime("%Y-%m-%d"))
    out[["symbol", "timestamp", "open", "high", "low", "close", "volume"]].to_csv(daily_csv, index=False,
                                                                                   float_format="%.4f")
    minute = pd.concat([intraday(f"M{i:03d}", INTRADAY_DAY, skip=("10:00", "12:30") if i % 50 == 0 else None,
                                 end="15:00" if i % 25 == 1 else None) for i in range(symbols // 10)])
    minute_csv = directory / "minute.csv"
    minute.assign(timestamp=minute["ts"].dt.tz_convert("America/New_York").map(lambda t: t.isoformat()))[
        ["symbol", "timestamp", "open", "high", "low", "close", "volume"]].to_csv(minute_csv, index=False)
    last_close = calendar.get_calendar().session_close(days[-1])
    return {"daily_csv": str(daily_csv), "daily_rows": len(bars), "minute_csv": str(minute_csv),
            "minute_rows": len(minute), "as_of": (last_close + pd.Timedelta(minutes=30)).isoformat()}


def phase_load(path: str, interval: str) -> dict:
    from monitors.quality.loader import load_bars_file

    started = time.perf_counter()
    result = load_bars_file(path, source="bench", interval=interval)
    seconds = time.perf_counter() - started
    again = time.perf_counter()
    repeat = load_bars_file(path, source="bench", interval=interval)
    return {"rows": result.rows, "inserted": result.inserted, "rejected": len(result.errors), "seconds": seconds,
            "reload_seconds": time.perf_counter() - again, "reload_unchanged": repeat.unchanged,
            "peak_mb": peak_mb()}


def phase_copy(as_of: str) -> dict:
    """The floor: read the same rows the scan reads, out of PostgreSQL with COPY, and nothing else."""
    import io

    import pandas as pd
    from django.db import connection

    started = time.perf_counter()
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(
            "SELECT symbol, source, ts, open, high, low, close, volume FROM quality_bar WHERE interval = '1d' "
            "AND ts <= %s", [pd.Timestamp(as_of).to_pydatetime()]).decode()
        cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    return {"seconds": time.perf_counter() - started, "bytes": buffer.tell(), "peak_mb": peak_mb()}


def warm_up() -> None:
    """What a long-running worker has loaded already: the exchange calendar and a database connection."""
    from django.db import connection

    from monitors.quality import calendar

    calendar.get_calendar()
    connection.ensure_connection()


def phase_scan(as_of: str) -> dict:
    import pandas as pd

    from monitors.quality.scan import run_scan

    warm_up()
    started = time.perf_counter()
    result = run_scan(as_of=pd.Timestamp(as_of), interval="1d")
    return {"seconds": time.perf_counter() - started, "symbols": result.scan.symbols_scanned,
            "anomalies": result.scan.anomaly_counts, "peak_mb": peak_mb()}


def phase_intraday() -> dict:
    import pandas as pd

    from monitors.quality.models import Scan
    from monitors.quality.scan import run_scan

    as_of = pd.Timestamp(f"{INTRADAY_DAY} 15:59:30", tz="America/New_York")
    warm_up()
    started = time.perf_counter()
    result = run_scan(as_of=as_of, interval="1m", kind=Scan.Kind.INTRADAY)
    return {"seconds": time.perf_counter() - started, "symbols": result.scan.symbols_scanned,
            "anomalies": result.scan.anomaly_counts, "peak_mb": peak_mb()}


def run_phase(*args: str) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--phase", *args], cwd=ROOT, capture_output=True,
                               text=True, env=os.environ)
    if completed.returncode:
        sys.exit(f"phase {args[0]} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    django_on_postgres("tickstock_quality_bench")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("this benchmark measures PostgreSQL: set DATABASE_URL to a scratch PostgreSQL database")
    if args.phase:
        name, *rest = args.phase
        phases = {"load": phase_load, "copy": phase_copy, "scan": phase_scan, "intraday": phase_intraday}
        print(json.dumps(phases[name](*rest)))
        return

    with tempfile.TemporaryDirectory() as directory:
        print(f"generating {args.symbols} symbols × {args.sessions} sessions …", flush=True)
        data = prepare(args.symbols, args.sessions, Path(directory))
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")  # the emptied tables' pages are written now, not during the import
        load = run_phase("load", data["daily_csv"], "1d")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE quality_bar")
        copy = run_phase("copy", data["as_of"])
        scan = run_phase("scan", data["as_of"])
        minute_load = run_phase("load", data["minute_csv"], "1m")
        minute = run_phase("intraday")

    rate = load["rows"] / load["seconds"]
    print(f"daily bars: {load['rows']:,} rows ({args.symbols} symbols × {args.sessions} sessions, minus gaps)")
    print(f"import (load_bars, COPY + upsert): {load['seconds']:.2f} s = {rate:,.0f} rows/s (goal ≥ 200,000); "
          f"re-import of the same file: {load['reload_seconds']:.2f} s, {load['reload_unchanged']:,} unchanged")
    print(f"read the same rows with COPY: {copy['seconds']:.2f} s ({copy['bytes'] / 1e6:.0f} MB)")
    print(f"full scan: {scan['seconds']:.2f} s for {scan['symbols']} symbols (goal ≤ 20 s) = "
          f"{scan['seconds'] / copy['seconds']:.2f}× the COPY read (goal ≤ 3×); anomalies {scan['anomalies']}")
    print(f"peak memory: scan {scan['peak_mb']:.0f} MB (goal ≤ 1,500 MB), import {load['peak_mb']:.0f} MB")
    print(f"intraday: {minute_load['rows']:,} one-minute bars loaded in {minute_load['seconds']:.2f} s; "
          f"staleness + coverage scan {minute['seconds']:.2f} s for {minute['symbols']} symbols (goal ≤ 2 s); "
          f"anomalies {minute['anomalies']}")


if __name__ == "__main__":
    main()
