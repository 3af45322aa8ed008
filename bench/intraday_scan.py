"""Benchmark: the scheduled intraday scan read incrementally against a full read of the session.

5,000 symbols × 390 one-minute bars (one session, 1.95 M bars) stored through the bar writer up to 15:58 New York,
a scheduled scan at 15:58:30, then the 15:59 bars; measured: the scheduled scan's checks (freshness, price moves,
gaps and bad prints) as of 15:59:30 read incrementally (goal ≤ 1 s and ≤ 0.5× reading the whole session with
COPY), the same reading the whole window (goal ≤ 2× that COPY), and the whole scheduled scan (checks, reports,
events, alerts). Each runs twice and the faster run counts (the first warms PostgreSQL's cache as a scan every
minute does).

    .venv/bin/python bench/intraday_scan.py [--symbols 5000]

Uses the PostgreSQL database `tickstock_intraday_bench` unless DATABASE_URL names another scratch database (its
quality tables are emptied first).
"""

import argparse
import io
import sys
import time
from pathlib import Path

# Not this folder on the path: bench/queue.py would shadow the standard library's queue module.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))

from bench._setup import django_on_postgres  # noqa: E402

DAY = "2025-06-26"
NEW_YORK = "America/New_York"


def minute_bars(symbols: int):
    import numpy as np
    import pandas as pd

    stamps = pd.date_range(pd.Timestamp(f"{DAY} 09:30", tz=NEW_YORK), periods=390, freq="1min").tz_convert("UTC")
    rng = np.random.default_rng(7)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.001, size=(390, symbols)), axis=0))
    volume = np.round(rng.uniform(1e3, 5e4, size=symbols) * np.exp(rng.normal(0, 0.3, size=(390, symbols))))
    return pd.DataFrame({
        "symbol": np.tile(np.asarray([f"S{i:04d}" for i in range(symbols)], dtype=object), 390),
        "ts": np.repeat(stamps, symbols), "open": close.ravel(), "high": close.ravel() * 1.001,
        "low": close.ravel() * 0.999, "close": close.ravel(), "volume": volume.ravel(),
    })


def prepare(symbols: int):
    import pandas as pd
    from django.db import connection

    from monitors.quality.loader import upsert_frame

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE quality_bar, quality_latestbar, quality_anomaly, quality_report, quality_scan,"
                       " quality_publishedanomaly")
    bars = minute_bars(symbols)
    last = pd.Timestamp(f"{DAY} 15:59", tz=NEW_YORK)
    upsert_frame(bars[bars["ts"] < last], source="bench", interval="1m")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE quality_bar")
        cursor.execute("VACUUM ANALYZE quality_latestbar")
    return bars[bars["ts"] >= last], len(bars)


def timed(run, *args, **options) -> float:
    started = time.perf_counter()
    run(*args, **options)
    return time.perf_counter() - started


def copy_session() -> float:
    import pandas as pd
    from django.db import connection

    start = pd.Timestamp(f"{DAY} 09:30", tz=NEW_YORK).to_pydatetime()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify("SELECT symbol, source, ts, open, high, low, close, volume FROM quality_bar "
                                      "WHERE interval = '1m' AND ts >= %s", [start]).decode()
        cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", io.BytesIO())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5000)
    args = parser.parse_args()
    django_on_postgres("tickstock_intraday_bench")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("this benchmark measures PostgreSQL: set DATABASE_URL to a scratch PostgreSQL database")
    import pandas as pd

    from monitors.quality import calendar, checks
    from monitors.quality.loader import upsert_frame
    from monitors.quality.models import Scan
    from monitors.quality.scan import examine, run_scan

    print(f"generating and storing {args.symbols} symbols × 390 minutes …", flush=True)
    last_minute, rows = prepare(args.symbols)
    calendar.get_calendar()
    before = pd.Timestamp(f"{DAY} 15:58:30", tz=NEW_YORK)
    as_of = before + pd.Timedelta(minutes=1)
    run_scan(as_of=before, interval="1m", kind=Scan.Kind.INTRADAY)
    upsert_frame(last_minute, source="bench", interval="1m")
    scheduled = dict(as_of=as_of, since=before, symbols=None, interval="1m", kind=Scan.Kind.INTRADAY)
    incremental = min(timed(examine, **scheduled) for _ in range(2))
    full = min(timed(examine, **scheduled, full=True) for _ in range(2))
    freshness = min(timed(examine, **scheduled, types=checks.FRESHNESS_TYPES) for _ in range(2))
    copy = min(copy_session() for _ in range(2))
    whole_scan = timed(run_scan, as_of=as_of, since=before, interval="1m", kind=Scan.Kind.INTRADAY)
    print(f"{rows:,} one-minute bars; read the session with COPY: {copy:.2f} s")
    print(f"scheduled scan's checks at 15:59, read incrementally (read + checks): {incremental:.2f} s = "
          f"{incremental / copy:.2f}× the COPY (goal ≤ 1 s and ≤ 0.5×)")
    print(f"the same reading the whole window: {full:.2f} s = {full / copy:.2f}× the COPY (goal ≤ 2×)")
    print(f"freshness checks alone, incrementally: {freshness:.2f} s = {freshness / copy:.2f}× the COPY")
    print(f"the whole scheduled scan (checks, reports, events, alerts): {whole_scan:.2f} s = "
          f"{whole_scan / copy:.2f}× the COPY")


if __name__ == "__main__":
    main()
