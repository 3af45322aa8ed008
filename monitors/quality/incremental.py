"""The scheduled intraday scan's read: the bars its checks judge plus the few before them they need, instead of the
whole look-back window (docs/quality-scans.md).

Each symbol's window starts at `since`, or at its watermark when an earlier bar of it arrived late. Every bar from
a few intervals before the earliest window's start is read by time (bars arrive in time order, so the BRIN index
on `ts` makes that a short range); a symbol that read does not give enough context before that start (a hole, the
first minutes of a session, a recorded split or dividend that re-bases its prices) is read whole, and a symbol with
nothing new gets its newest bar from the arrival state and one index probe. Symbols with bars from several sources
are read whole: which source is primary depends on all their bars.
"""

import pandas as pd
from django.db import connection

from monitors.quality import calendar, reads
from monitors.quality.checks import context
from monitors.quality.checks.extended import regular_hours
from monitors.quality.models import INTERVALS, Bar, CorporateAction, LatestBar

# Intervals of bars read before `since`: a symbol trading every interval has its context among them.
CONTEXT_INTERVALS = 5


def read(interval: str, since: pd.Timestamp, as_of: pd.Timestamp, start: pd.Timestamp, symbols: list[str] | None,
         state: pd.DataFrame, move_pct: float) -> pd.DataFrame:
    """What the scheduled scan's checks need of `reads.read_bars(interval, start, as_of, symbols)` to judge each
    symbol's bars after its window's start (`state`: `arrivals.newest()` of the interval), for the same findings;
    `move_pct` is the smallest price-move threshold of the symbols' equity types."""
    several = set(state.loc[state["symbol"].duplicated(), "symbol"])
    single = state[~state["symbol"].isin(several)].set_index("symbol")
    recent, first, earliest = _recent(interval, since, as_of, start, symbols, state)
    recent = recent[~recent["symbol"].isin(several)]
    whole = set(several)
    if first > start:
        known = set(recent["symbol"].astype(str)) | set(state["symbol"])
        whole |= context.lacking(recent, earliest, move_pct) | (_re_based(start) & known)
        recent = recent[~recent["symbol"].isin(whole)]
    reaching = set(recent.loc[recent["ts"] <= since, "symbol"])
    probe = sorted(set(single.index[single["ts"] >= start]) - reaching - whole)
    parts = [recent]
    if probe:
        newest = reads.newest_up_to(interval, since, start, probe)
        # A newest bar outside regular hours says nothing about the session it follows: read those whole.
        outside = set(newest.loc[~regular_hours(newest["ts"]), "symbol"])
        parts.append(newest[~newest["symbol"].isin(outside)])
        whole |= outside
    if whole:
        parts.append(reads.read_bars(interval, start, as_of, sorted(whole)))
    frame = pd.concat(parts, ignore_index=True).astype({"symbol": "category", "source": "category"})
    return frame.sort_values(["symbol", "source", "ts"], kind="stable", ignore_index=True)


def _recent(interval: str, since: pd.Timestamp, as_of: pd.Timestamp, start: pd.Timestamp, symbols: list[str] | None,
            state: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """Every bar from a few intervals before the earliest bar judged up to `as_of`, where that read starts, and the
    earliest bar judged (exclusive). A symbol with bars stored after its watermark, where that lies before `since`,
    is judged from its first bar after it, and so its peers' moves on that bar are needed too."""
    step = pd.Timedelta(minutes=INTERVALS[interval] or 24 * 60)
    first = max(start, since - CONTEXT_INTERVALS * step)
    recent = reads.read_bars(interval, first, as_of, symbols)
    lagging = state[(state["scanned"] < since) & (state["ts"] > state["scanned"])]
    # Watermarks within this read: their late bars are in it; older ones: one index probe per symbol and source.
    near = lagging[lagging["scanned"] >= first]
    late = []
    if len(near):
        marks = pd.Series(near["scanned"].to_numpy(), index=near["symbol"] + "\x00" + near["source"])
        mark = pd.to_datetime((recent["symbol"].astype(str) + "\x00" + recent["source"].astype(str)).map(marks),
                              utc=True)
        late.append(recent.loc[(recent["ts"] > mark) & (recent["ts"] <= since), "ts"].min())
    far = sorted(set(lagging.loc[lagging["scanned"] < first, "symbol"]))
    late.append(_first_late(interval, since, far) if far else None)
    late = [stamp for stamp in late if stamp is not None and not pd.isna(stamp)]
    earliest = min(since, min(late) - pd.Timedelta(microseconds=1)) if late else since
    if earliest - CONTEXT_INTERVALS * step < first and first > start:
        earlier = max(start, earliest - CONTEXT_INTERVALS * step)
        before = reads.read_bars(interval, earlier, first, symbols)
        recent = pd.concat([before[before["ts"] < first], recent], ignore_index=True).astype(
            {"symbol": "category", "source": "category"}).sort_values(["symbol", "source", "ts"], kind="stable",
                                                                      ignore_index=True)
        first = earlier
    return recent, first, earliest


def _first_late(interval: str, since: pd.Timestamp, symbols: list[str]) -> pd.Timestamp | None:
    """The oldest bar of `symbols` after its watermark and up to `since`: one that arrived after the scan whose
    window held it (an index range probe per symbol and source, empty for one that was only stale)."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            # The interval as a constant, so that only its partitions are planned (docs/scaling.md).
            f"SELECT MIN(b.ts) FROM {LatestBar._meta.db_table} l JOIN {Bar._meta.db_table} b ON b.symbol = l.symbol"
            " AND b.source = l.source AND b.interval = %s AND b.ts > l.scanned AND b.ts <= %s"
            " WHERE l.interval = %s AND l.symbol IN (" + ", ".join(["%s"] * len(symbols)) + ")",
            [interval, adapt(since.to_pydatetime()), interval, *symbols])
        (oldest,) = cursor.fetchone()
    return calendar.utc(oldest) if oldest is not None else None


def _re_based(start: pd.Timestamp) -> set[str]:
    """Symbols with a split or dividend from the window's first session on: their earlier prices are re-based."""
    return set(CorporateAction.objects.filter(date__gte=start.date()).values_list("symbol", flat=True))
