"""Benchmark: `load_bars` against a plain `COPY FROM` of the same file, on PostgreSQL.

The floor is PostgreSQL's own bulk path: `COPY … FROM` of the very same CSV into a table with `quality_bar`'s
columns and indexes (the primary key and the BRIN index on ts), which neither validates, deduplicates nor merges
with what is stored. For a daily file and a minute file, each into an empty table and into one that already
holds the other interval's bars, prints both times and their ratio (goal ≤ 1.5×), and the time to import the same
file again (every row unchanged). The bar table's statistics are left as a bulk load leaves them (stale), as they
are in production between autovacuum runs.

    .venv/bin/python bench/load_bars.py [--symbols 5000] [--sessions 252] [--minute-symbols 5000]
                                        [--minute-sessions 1]

Uses the PostgreSQL database `tickstock_load_bench` unless DATABASE_URL names another scratch database (the bar
table is emptied first).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Not this folder on the path: bench/queue.py would shadow the standard library's queue module.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))

from bench._setup import django_on_postgres  # noqa: E402

COPY_TABLE = "bench_copy_target"
COLUMNS = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]


def random_walks(symbols: int, steps: int, seed: int):
    """Valid OHLCV rows for `symbols` random walks of `steps` bars each (prices > 0, low ≤ open/close ≤ high)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (symbols, steps)), axis=1)).ravel()
    opens = close * np.exp(rng.normal(0, 0.003, close.size))
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.01, close.size))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.01, close.size))
    volume = rng.integers(1_000, 1_000_000, close.size)
    return opens, high, low, close, volume


def write_csv(path: Path, symbols, stamps: list[str], seed: int) -> int:
    import numpy as np
    import pandas as pd

    opens, high, low, close, volume = random_walks(len(symbols), len(stamps), seed)
    frame = pd.DataFrame({"symbol": np.repeat(symbols, len(stamps)), "timestamp": np.tile(stamps, len(symbols)),
                          "open": opens, "high": high, "low": low, "close": close, "volume": volume})
    frame.to_csv(path, index=False, float_format="%.4f")
    return len(frame)


def prepare(args, directory: Path) -> dict:
    import pandas as pd

    days = pd.bdate_range(end="2025-06-30", periods=args.sessions)
    daily = directory / "daily.csv"
    daily_rows = write_csv(daily, [f"S{i:05d}" for i in range(args.symbols)], [f"{d:%Y-%m-%d}" for d in days], 1)
    minutes = [stamp.isoformat() for day in pd.bdate_range(end="2025-06-27", periods=args.minute_sessions)
               for stamp in pd.date_range(f"{day:%Y-%m-%d} 09:30", periods=390, freq="min", tz="America/New_York")]
    minute = directory / "minute.csv"
    minute_rows = write_csv(minute, [f"M{i:05d}" for i in range(args.minute_symbols)], minutes, 2)
    return {"1d": (daily, daily_rows), "1m": (minute, minute_rows)}


def reset_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE quality_bar")
        cursor.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        # quality_bar's columns, key and BRIN index; the file's timestamp column goes into ts.
        cursor.execute(f"CREATE TABLE {COPY_TABLE} (LIKE quality_bar INCLUDING DEFAULTS INCLUDING INDEXES)")
        cursor.execute("CHECKPOINT")


def plain_copy(path: Path, interval: str) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {COPY_TABLE} ALTER COLUMN source SET DEFAULT 'bench',"
                       f" ALTER COLUMN interval SET DEFAULT '{interval}'")
        cursor.execute("CHECKPOINT")
        started = time.perf_counter()
        with open(path) as handle:
            cursor.cursor.copy_expert(f"COPY {COPY_TABLE} (symbol, ts, open, high, low, close, volume) FROM STDIN"
                                      " WITH (FORMAT csv, HEADER true)", handle)
        return time.perf_counter() - started


def load(path: Path, interval: str) -> tuple[float, object]:
    from django.db import connection

    from monitors.quality.loader import load_bars_file

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    started = time.perf_counter()
    result = load_bars_file(path, source="bench", interval=interval)
    return time.perf_counter() - started, result


def measure(files: dict, interval: str, other: str | None) -> None:
    """One scenario: `interval`'s file into a table empty, or holding `other`'s bars already."""
    reset_tables()
    if other:
        load(files[other][0], other)
        plain_copy(files[other][0], other)
    path, rows = files[interval]
    copy_seconds = plain_copy(path, interval)
    load_seconds, result = load(path, interval)
    assert result.inserted == rows and not result.errors, (result.inserted, rows, result.errors[:3])
    again_seconds, again = load(path, interval)
    assert again.unchanged == rows, again
    where = f"holding the {other} bars" if other else "empty"
    print(f"{interval}, {rows:,} rows into a table {where}: load_bars {load_seconds:.2f} s "
          f"({rows / load_seconds:,.0f} rows/s), plain COPY FROM {copy_seconds:.2f} s: "
          f"{load_seconds / copy_seconds:.2f}× (goal ≤ 1.5×); again, all unchanged, {again_seconds:.2f} s "
          f"({again_seconds / copy_seconds:.2f}×)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5000, help="daily file: symbols")
    parser.add_argument("--sessions", type=int, default=252, help="daily file: sessions per symbol")
    parser.add_argument("--minute-symbols", type=int, default=5000, help="minute file: symbols")
    parser.add_argument("--minute-sessions", type=int, default=1, help="minute file: sessions of 390 bars")
    args = parser.parse_args()
    django_on_postgres("tickstock_load_bench")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("this benchmark measures PostgreSQL: set DATABASE_URL to a scratch PostgreSQL database")
    with tempfile.TemporaryDirectory() as directory:
        files = prepare(args, Path(directory))
        try:
            for interval, other in (("1d", None), ("1m", None), ("1d", "1m"), ("1m", "1d")):
                measure(files, interval, other)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
                cursor.execute("TRUNCATE quality_bar")


if __name__ == "__main__":
    main()
