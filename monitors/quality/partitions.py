"""Time partitions of the bar table on PostgreSQL, and retention per interval (docs/scaling.md).

`quality_bar` is partitioned by list on `interval`; each interval's table is partitioned by range on `ts` into
spans of QUALITY_BAR_PARTITION_MONTHS months (a month for intraday bars, a year for daily bars by default), named
after the span's first month (`quality_bar_1m_202611`), plus a default partition that takes a row no span covers
yet, so that no insert ever fails. The bar writer creates the spans a load needs before it writes, the schedule
creates the coming months' ahead and moves what a default partition caught into spans of its own, and retention
drops whole spans. SQLite keeps one plain table: there retention deletes the same rows.
"""

import re
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import OperationalError, connection, transaction

from monitors.quality import conf
from monitors.quality.models import INTERVALS, Bar

PARENT = Bar._meta.db_table
COLUMNS = "symbol, source, interval, ts, open, high, low, close, volume"
LOCK_NOT_AVAILABLE = "55P03"
_UPPER_BOUND = re.compile(r"TO \('([^']+)'\)")


def partitioned() -> bool:
    return connection.vendor == "postgresql"


def interval_table(interval: str) -> str:
    return f"{PARENT}_{interval}"


def default_table(interval: str) -> str:
    return f"{PARENT}_{interval}_default"


def span_months(interval: str) -> int:
    return int(conf.get("QUALITY_BAR_PARTITION_MONTHS").get(interval, 1))


def span_starts(interval: str, stamps_ns: np.ndarray) -> np.ndarray:
    """The first month (datetime64[M]) of every span holding one of the UTC nanosecond timestamps. Spans of n months
    are aligned on multiples of n months since 1970-01 (a year's span starts in January)."""
    months = np.unique(np.asarray(stamps_ns, dtype=np.int64).view("datetime64[ns]").astype("datetime64[M]"))
    span = span_months(interval)
    return np.unique(months.astype(np.int64) // span * span).astype("datetime64[M]")


def _name(interval: str, start: np.datetime64) -> str:
    return f"{PARENT}_{interval}_{str(start).replace('-', '')}"


def _instant(month: np.datetime64) -> datetime:
    year, number = divmod(int(month.astype(np.int64)), 12)
    return datetime(1970 + year, number + 1, 1, tzinfo=UTC)


def existing(interval: str) -> set[str]:
    """Names of the interval's partitions, its default one included."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                       " WHERE i.inhparent = to_regclass(%s)", [interval_table(interval)])
        return {row[0] for row in cursor.fetchall()}


def _is_partitioned(interval: str) -> bool:
    """False before the migration that partitions the table (a plain table takes every bar)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [interval_table(interval)])
        return cursor.fetchone()[0]


def ensure(interval: str, starts: np.ndarray) -> list[str]:
    """Create the spans starting at `starts` that do not exist yet, in the caller's transaction; returns their
    names. Rows of those spans that a default partition caught move into them. Costs one catalog query when every
    span exists (the usual case: the schedule creates them ahead)."""
    if not partitioned() or not len(starts):
        return []
    have = existing(interval)
    missing = [start for start in starts if _name(interval, start) not in have]
    if not missing or not _is_partitioned(interval):
        return []
    created = []
    with connection.cursor() as cursor:
        # Two writers of one interval must not both create a span: the second waits here, then finds it made.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", [PARENT, f"partitions/{interval}"])
        have = existing(interval)
        for start in missing:
            name = _name(interval, start)
            if name not in have:
                _create(cursor, interval, name, start)
                created.append(name)
    return created


def _create(cursor, interval: str, name: str, start: np.datetime64) -> None:
    """Create the table alone and attach it: ATTACH takes a lock on the interval's table that readers and writers
    pass (CREATE … PARTITION OF would block them all); it does lock the default partition while it checks it."""
    low, high = _instant(start), _instant(start + np.timedelta64(span_months(interval), "M"))
    parent, default = interval_table(interval), default_table(interval)
    cursor.execute(f"CREATE TABLE {name} (LIKE {parent})")
    cursor.execute(f"WITH moved AS (DELETE FROM {default} WHERE ts >= %s AND ts < %s RETURNING {COLUMNS})"
                   f" INSERT INTO {name} ({COLUMNS}) SELECT {COLUMNS} FROM moved", [low, high])
    cursor.execute(f"ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [low, high])


def prepare(interval: str, stamps_ns: np.ndarray) -> list[str]:
    """The spans bars with these UTC nanosecond timestamps go into, created when missing (the bar writer's call)."""
    if not partitioned() or not len(stamps_ns):
        return []
    return ensure(interval, span_starts(interval, stamps_ns))


def create_ahead(now: datetime, months: int | None = None) -> dict[str, list[str]]:
    """Every interval's spans from this month to `months` (QUALITY_BAR_PARTITIONS_AHEAD) ahead, and spans for what
    its default partition caught; each interval in a transaction of its own."""
    if not partitioned():
        return {}
    ahead = conf.get("QUALITY_BAR_PARTITIONS_AHEAD") if months is None else months
    this_month = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "M")
    coming = np.arange(this_month, this_month + np.timedelta64(ahead + 1, "M"))
    created = {}
    for interval in INTERVALS:
        with transaction.atomic():
            caught = _caught(interval)
            span = span_months(interval)
            starts = np.unique(np.concatenate([coming, caught]).astype(np.int64) // span * span)
            made = ensure(interval, starts.astype("datetime64[M]"))
        if made:
            created[interval] = made
    return created


def _caught(interval: str) -> np.ndarray:
    """The months of the rows the interval's default partition holds (it is empty but for stray inserts)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT date_trunc('month', ts AT TIME ZONE 'UTC') FROM {default_table(interval)}")
        return np.array([np.datetime64(row[0], "M") for row in cursor.fetchall()], dtype="datetime64[M]")


def retention_cutoff(interval: str, now: datetime) -> datetime | None:
    """Bars of `interval` before this instant are dropped: the start of the span holding now minus the interval's
    QUALITY_BAR_RETENTION_DAYS (None: kept for ever). Whole spans go, so up to a span more than the days is kept."""
    days = conf.get("QUALITY_BAR_RETENTION_DAYS").get(interval)
    if days is None:
        return None
    oldest = np.datetime64((now.astimezone(UTC) - timedelta(days=days)).replace(tzinfo=None), "M")
    span = span_months(interval)
    return _instant(np.datetime64(int(oldest.astype(np.int64)) // span * span, "M"))


def apply_retention(now: datetime) -> dict[str, list[str]]:
    """Drop the spans wholly before each interval's cutoff (PostgreSQL) or delete their rows (SQLite); returns what
    went, by interval. A span whose table is busy past the lock timeout stays for the next run."""
    dropped: dict[str, list[str]] = {}
    for interval in INTERVALS:
        cutoff = retention_cutoff(interval, now)
        if cutoff is None:
            continue
        if not partitioned():
            deleted, _ = Bar.objects.filter(interval=interval, ts__lt=cutoff).delete()
            if deleted:
                dropped[interval] = [f"{deleted} bars before {cutoff:%Y-%m-%d}"]
            continue
        for name in _spans_ending_by(interval, cutoff):
            if _drop(interval, name):
                dropped.setdefault(interval, []).append(name)
    return dropped


def _spans_ending_by(interval: str, cutoff: datetime) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                       " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
                       [interval_table(interval)])
        bounds = cursor.fetchall()
    ends = {name: _UPPER_BOUND.search(bound) for name, bound in bounds}
    return sorted(name for name, end in ends.items()
                  if end and datetime.fromisoformat(end.group(1).replace(" ", "T")) <= cutoff)


def _drop(interval: str, name: str) -> bool:
    """Detach and drop one span. Detaching locks the interval's table, so it waits at most
    QUALITY_BAR_RETENTION_LOCK_TIMEOUT_SECONDS for a long scan instead of queueing every reader behind itself."""
    seconds = conf.get("QUALITY_BAR_RETENTION_LOCK_TIMEOUT_SECONDS")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])
            cursor.execute(f"ALTER TABLE {interval_table(interval)} DETACH PARTITION {name}")
            cursor.execute(f"DROP TABLE {name}")
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        return False
    return True
