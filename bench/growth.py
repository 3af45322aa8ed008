"""Benchmark: how the data-quality scans grow with the universe and with the history, on PostgreSQL.

For 1×, 2× and 4× the symbols (at 1× history), and for 4× the history (at 1× symbols), loads the daily and minute
files bench/quality_scan.py generates, then runs the full daily scan and the intraday scan, each in its own process
so that its peak memory is its own. Prints time and peak memory per run and their growth against the 1× run.

    .venv/bin/python bench/growth.py [--symbols 1000] [--sessions 252]

Uses the PostgreSQL database `tickstock_quality_bench` unless DATABASE_URL names another scratch database (the
quality tables are emptied first).
"""

import argparse
import sys
import tempfile
from pathlib import Path

# Not this folder on the path: bench/queue.py would shadow the standard library's queue module.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))

from bench._setup import django_on_postgres  # noqa: E402


def measure(symbols: int, sessions: int) -> dict:
    from django.db import connection

    from bench.quality_scan import prepare, run_phase

    with tempfile.TemporaryDirectory() as directory:
        data = prepare(symbols, sessions, Path(directory))
        run_phase("load", data["daily_csv"], "1d")
        run_phase("load", data["minute_csv"], "1m")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE quality_bar")
        daily = run_phase("scan", data["as_of"])
        intraday = run_phase("intraday")
    return {"daily_rows": data["daily_rows"], "minute_rows": data["minute_rows"], "daily": daily,
            "intraday": intraday}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1000, help="the 1× universe")
    parser.add_argument("--sessions", type=int, default=252, help="the 1× history, in sessions")
    args = parser.parse_args()
    django_on_postgres("tickstock_quality_bench")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("this benchmark measures PostgreSQL: set DATABASE_URL to a scratch PostgreSQL database")
    runs = [("1× symbols", 1, 1), ("2× symbols", 2, 1), ("4× symbols", 4, 1), ("4× history", 1, 4)]
    base = None
    for label, symbol_factor, history_factor in runs:
        symbols, sessions = args.symbols * symbol_factor, args.sessions * history_factor
        figures = measure(symbols, sessions)
        base = base or figures
        parts = []
        for kind in ("daily", "intraday"):
            run, first = figures[kind], base[kind]
            parts.append(f"{kind} scan {run['seconds']:.2f} s ({run['seconds'] / first['seconds']:.2f}×), "
                         f"peak {run['peak_mb']:.0f} MB ({run['peak_mb'] / first['peak_mb']:.2f}×)")
        print(f"{label}: {symbols} symbols × {sessions} sessions ({figures['daily_rows']:,} daily bars, "
              f"{figures['minute_rows']:,} minute bars): " + "; ".join(parts), flush=True)


if __name__ == "__main__":
    main()
