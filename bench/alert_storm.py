"""Benchmark: an alert storm costs what a batch costs.

Daily bars of 5,000 symbols; on one session 2,000 of them trade 15× their usual volume. Four daily scans, one
session each: the session before (nothing to open or resolve), the storm session (2,000 alerts open), the session
after (the 2,000 resolve) and one more (nothing to do again). Prints each scan's time and the storm scans' ratio to
the quiet ones (goal: each ≤ 3×).

    .venv/bin/python bench/alert_storm.py [--symbols 5000] [--storm 2000] [--sessions 160]

Uses the PostgreSQL database `tickstock_alert_bench` unless DATABASE_URL names another scratch database (its
quality tables and quality alerts are emptied first).
"""

import argparse
import sys
import time
from pathlib import Path

# Not this folder on the path: bench/queue.py would shadow the standard library's queue module.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))

from bench._setup import django_on_postgres  # noqa: E402

END = "2025-06-30"


def prepare(symbols: int, storm: int, sessions: int):
    import pandas as pd
    from django.db import connection

    from monitors.quality import calendar
    from monitors.quality.demo import random_walk_bars
    from monitors.quality.loader import upsert_frame
    from tickstock_ops.models import Alert, OutboxEvent

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE quality_bar, quality_corporateaction, quality_anomaly, quality_report, quality_scan,"
                       " quality_publishedanomaly, quality_dailysummary")
    Alert.objects.filter(source="quality").delete()
    OutboxEvent.objects.all().delete()
    days = calendar.sessions(pd.Timestamp(END) - pd.Timedelta(days=sessions * 2), pd.Timestamp(END))[-sessions:]
    names = [f"S{i:04d}" for i in range(symbols)]
    bars = random_walk_bars(names, days, seed=3)
    storm_day = days[-3].tz_localize("UTC")
    stormy = bars["ts"].eq(storm_day) & bars["symbol"].isin(names[:storm])
    bars.loc[stormy, "volume"] *= 15
    upsert_frame(bars, source="bench", interval="1d")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE quality_bar")
    cal = calendar.get_calendar()
    return [cal.session_close(day) + pd.Timedelta(minutes=30) for day in days[-4:]], cal.session_open(days[-4])


def timed_scan(as_of, since=None) -> tuple[float, dict, int]:
    from monitors.quality.scan import run_scan
    from tickstock_ops.models import Alert

    started = time.perf_counter()
    result = run_scan(as_of=as_of, since=since, interval="1d")
    seconds = time.perf_counter() - started
    open_alerts = Alert.objects.filter(source="quality").exclude(state=Alert.State.RESOLVED).count()
    return seconds, result.scan.anomaly_counts, open_alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--storm", type=int, default=2000, help="symbols whose alerts open, then resolve")
    parser.add_argument("--sessions", type=int, default=160)
    args = parser.parse_args()
    django_on_postgres("tickstock_alert_bench")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("this benchmark measures PostgreSQL: set DATABASE_URL to a scratch PostgreSQL database")
    from monitors.quality import calendar

    print(f"generating {args.symbols} symbols × {args.sessions} sessions, {args.storm} volume spikes …", flush=True)
    as_ofs, first_open = prepare(args.symbols, args.storm, args.sessions)
    calendar.get_calendar()
    labels = ["quiet (before)", "storm opens", "storm resolves", "quiet (after)"]
    times = []
    for index, (label, as_of) in enumerate(zip(labels, as_ofs, strict=True)):
        seconds, counts, open_alerts = timed_scan(as_of, first_open if index == 0 else None)
        times.append(seconds)
        print(f"{label:>15}: {seconds:6.2f} s, open quality alerts after it {open_alerts:,}, anomalies {counts}")
    quiet = min(times[0], times[3])
    print(f"storm that opens {args.storm:,} alerts: {times[1] / quiet:.2f}× the quiet scan; "
          f"storm that resolves them: {times[2] / quiet:.2f}× (goal ≤ 3× each)")


if __name__ == "__main__":
    main()
