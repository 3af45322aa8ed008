"""Arrival state: the newest stored bar per symbol, source and interval (`LatestBar`).

The bar writer notes what it stores in an `Arrivals` and saves it in the transaction that stores the bars, so the
state commits with them; a bar older than the newest one already known (a backfill, a re-import) leaves it alone.
Scans read it with `newest()` instead of re-reading bars to learn who is fresh. The scheduled intraday scan also
keeps its watermark here (`record_scanned`): the newest bar it saw, from which the next one judges each symbol.
"""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from monitors.quality.models import LatestBar

TABLE = LatestBar._meta.db_table
_UPSERT_TAIL = ("ON CONFLICT (symbol, source, interval) DO UPDATE SET ts = EXCLUDED.ts, stored_at = EXCLUDED.stored_at"
                f" WHERE {TABLE}.ts < EXCLUDED.ts")


class Arrivals:
    """The newest bar per symbol of what one writer stores, chunk by chunk; `save()` records it."""

    def __init__(self, source: str, interval: str):
        self.source, self.interval = source, interval
        self.parts: list[pd.Series] = []

    def add(self, symbols: np.ndarray, stamps_ns: np.ndarray) -> None:
        """Bars being stored: their symbols and UTC nanosecond timestamps."""
        if len(symbols):
            self.parts.append(pd.Series(stamps_ns).groupby(pd.Categorical(symbols), observed=True).max())

    def save(self) -> None:
        """Upsert the state in the writer's transaction; a bar older than the newest one known changes nothing."""
        if not self.parts:
            return
        newest = pd.concat(self.parts).groupby(level=0).max()
        _upsert([str(name) for name in newest.index], (newest.to_numpy() // 1000).tolist(), self.source,
                self.interval)


def _upsert(names: list[str], micros: list[int], source: str, interval: str) -> None:
    """`micros`: the newest bars' UTC timestamps in microseconds (PostgreSQL's resolution). Passed as integers:
    adapting thousands of datetimes is most of the cost of this statement on the Python side."""
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {TABLE} (symbol, source, interval, ts, stored_at) "
                "SELECT name, %s, %s, 'epoch'::timestamptz + micros * interval '1 microsecond', %s"
                " FROM unnest(%s::varchar[], %s::bigint[]) AS given(name, micros) "
                + _UPSERT_TAIL, [source, interval, now, names, micros])
            return
        adapt = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            f"INSERT INTO {TABLE} (symbol, source, interval, ts, stored_at) VALUES (%s, %s, %s, %s, %s) "
            + _UPSERT_TAIL, [(name, source, interval, adapt(_utc(value)), adapt(now))
                             for name, value in zip(names, micros, strict=True)])


def _utc(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 10**6, UTC).replace(microsecond=micros % 10**6)


def newest(interval: str, symbols: list[str] | None = None) -> pd.DataFrame:
    """symbol, source, ts (UTC) of the newest stored bar of each symbol and source of `interval`, and `scanned`,
    the newest bar the last scheduled scan saw (NaT before the first)."""
    rows = LatestBar.objects.filter(interval=interval)
    if symbols:
        rows = rows.filter(symbol__in=symbols)
    frame = pd.DataFrame(list(rows.values_list("symbol", "source", "ts", "scanned")),
                         columns=["symbol", "source", "ts", "scanned"])
    for name in ("ts", "scanned"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def record_scanned(interval: str, seen: pd.DataFrame) -> None:
    """The scheduled scan's watermark: per symbol and source (`seen`: symbol, source, ts) the newest bar it read.
    It only moves forward."""
    if seen.empty:
        return
    names, sources = seen["symbol"].astype(str).tolist(), seen["source"].astype(str).tolist()
    stamps = [stamp.to_pydatetime() for stamp in seen["ts"]]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {TABLE} AS l SET scanned = given.stamp FROM unnest(%s::varchar[], %s::varchar[],"
                " %s::timestamptz[]) AS given(name, src, stamp) WHERE l.symbol = given.name AND l.source = given.src"
                " AND l.interval = %s AND (l.scanned IS NULL OR l.scanned < given.stamp)",
                [names, sources, stamps, interval])
            return
        adapt = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            f"UPDATE {TABLE} SET scanned = %s WHERE symbol = %s AND source = %s AND interval = %s"
            " AND (scanned IS NULL OR scanned < %s)",
            [(adapt(stamp), name, source, interval, adapt(stamp))
             for name, source, stamp in zip(names, sources, stamps, strict=True)])
