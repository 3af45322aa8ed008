"""The bar table's time partitions (PostgreSQL) and retention per interval (both databases): the migration keeps
every stored bar, loads create the partitions they need (history back to 1990 included), stray inserts land in a
default partition and move out, retention drops whole partitions, and scans read only the partitions they need."""

from datetime import UTC, datetime

import pandas as pd
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from monitors.quality import loader, partitions, reads, tasks
from monitors.quality.models import Bar

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


def bars(symbol: str, stamps: list[str], close: float = 10.0) -> pd.DataFrame:
    stamps = pd.to_datetime(stamps, utc=True, format="ISO8601")
    return pd.DataFrame({"symbol": symbol, "ts": stamps, "open": close, "high": close, "low": close, "close": close,
                         "volume": 1000})


def homes() -> dict[tuple[str, str], str]:
    """(symbol, ISO timestamp) → the partition holding that bar."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT symbol, ts, tableoid::regclass::text FROM quality_bar")
        return {(symbol, ts.isoformat()): table for symbol, ts, table in cursor.fetchall()}


def migrate(target: str) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([("quality", target)])


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_migration_partitions_the_stored_bars_and_keeps_every_one():
    migrate("0004_latestbar")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'quality_bar'")
            assert cursor.fetchone()[0] == "r"
            cursor.execute(
                "INSERT INTO quality_bar (symbol, source, interval, ts, open, high, low, close, volume) VALUES"
                " ('AAA', 'csv', '1d', '1990-01-02', 1, 2, 0.5, 1.5, 100),"
                " ('AAA', 'csv', '1d', '2026-11-27', 3, 4, 2.5, 3.5, 300),"
                " ('BBB', 'feed', '1m', '2026-11-27 14:31+00', 5, 6, 4.5, 5.5, 500),"
                " ('BBB', 'feed', '1m', '2026-10-01 13:30+00', 7, 8, 6.5, 7.5, 700)")
    finally:
        migrate("0005_partition_bar")
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'quality_bar'")
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT symbol, source, interval, ts, open, high, low, close, volume FROM quality_bar"
                       " ORDER BY interval, ts")
        assert [row[:3] + row[4:] for row in cursor.fetchall()] == [
            ("AAA", "csv", "1d", 1, 2, 0.5, 1.5, 100), ("AAA", "csv", "1d", 3, 4, 2.5, 3.5, 300),
            ("BBB", "feed", "1m", 7, 8, 6.5, 7.5, 700), ("BBB", "feed", "1m", 5, 6, 4.5, 5.5, 500)]
    assert sorted(homes().values()) == ["quality_bar_1d_199001", "quality_bar_1d_202601", "quality_bar_1m_202610",
                                        "quality_bar_1m_202611"]
    migrate("0004_latestbar")  # and back: a plain table with the same bars
    try:
        assert Bar.objects.count() == 4
    finally:
        migrate("0005_partition_bar")
    assert Bar.objects.count() == 4


@postgres_only
@pytest.mark.django_db
def test_a_load_of_history_back_to_1990_creates_the_partitions_it_needs():
    days = pd.bdate_range("1990-01-02", "1992-12-31").strftime("%Y-%m-%d").tolist()
    first = loader.upsert_frame(bars("OLD", days), source="csv", interval="1d")
    assert first.inserted == len(days)
    assert {table for table in homes().values()} == {"quality_bar_1d_199001", "quality_bar_1d_199101",
                                                     "quality_bar_1d_199201"}
    again = loader.upsert_frame(bars("OLD", days[:5], close=11.0), source="csv", interval="1d")
    assert (again.inserted, again.updated) == (0, 5)
    assert Bar.objects.filter(close=11.0).count() == 5
    minutes = loader.upsert_frame(bars("NEW", ["2026-09-30 19:59+00", "2026-10-01 13:30+00"]), source="feed",
                                  interval="1m")
    assert minutes.inserted == 2
    assert {"quality_bar_1m_202609", "quality_bar_1m_202610"} <= partitions.existing("1m")


@postgres_only
@pytest.mark.django_db
def test_a_stray_insert_lands_in_the_default_partition_and_the_schedule_gives_it_its_own():
    Bar.objects.create(symbol="ZZZ", source="orm", interval="5m", ts=datetime(2024, 3, 4, 15, tzinfo=UTC),
                       open=1, high=1, low=1, close=1, volume=1)
    assert set(homes().values()) == {"quality_bar_5m_default"}
    created = partitions.create_ahead(NOW)
    assert set(homes().values()) == {"quality_bar_5m_202403"}
    assert {"quality_bar_1m_202611", "quality_bar_1m_202612", "quality_bar_1m_202701"} <= set(created["1m"])
    assert partitions.create_ahead(NOW) == {}


@pytest.mark.django_db
def test_retention_drops_whole_old_spans_per_interval(settings):
    settings.QUALITY_BAR_RETENTION_DAYS = {"1m": 90, "1d": None}
    loader.upsert_frame(bars("AAA", ["2026-08-31 19:00+00", "2026-09-01 13:30+00", "2026-11-27 14:30+00"]),
                        source="feed", interval="1m")
    loader.upsert_frame(bars("AAA", ["1990-01-02", "2026-11-27"]), source="csv", interval="1d")
    # 90 days before 30 November is 1 September: August's minute bars go, September's stay (some are younger
    # than 90 days, so their partition is kept whole); daily bars are kept for ever.
    assert partitions.retention_cutoff("1m", NOW) == datetime(2026, 9, 1, tzinfo=UTC)
    dropped = tasks.maintain_bar_partitions(NOW)["dropped"]
    assert list(dropped) == ["1m"]
    kept = sorted((bar.interval, bar.ts.isoformat()) for bar in Bar.objects.all())
    assert kept == [("1d", "1990-01-02T00:00:00+00:00"), ("1d", "2026-11-27T00:00:00+00:00"),
                    ("1m", "2026-09-01T13:30:00+00:00"), ("1m", "2026-11-27T14:30:00+00:00")]
    if partitions.partitioned():
        assert dropped["1m"] == ["quality_bar_1m_202608"]
        assert "quality_bar_1m_202608" not in partitions.existing("1m")


def plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@postgres_only
@pytest.mark.django_db
def test_a_scan_reads_only_the_partitions_of_its_window(monkeypatch):
    loader.upsert_frame(bars("AAA", ["2026-09-15 14:00+00", "2026-10-15 14:00+00", "2026-11-16 14:00+00"]),
                        source="feed", interval="1m")
    loader.upsert_frame(bars("AAA", ["2020-06-01", "2026-11-16"]), source="csv", interval="1d")
    plans = []
    monkeypatch.setattr(reads, "_read", lambda sql, params: plans.append(plan(sql, params)) or pd.DataFrame())
    reads.read_bars("1m", pd.Timestamp("2026-11-02", tz="UTC"), pd.Timestamp("2026-11-27 21:00", tz="UTC"))
    reads.read_bars("1d", pd.Timestamp("2026-05-01", tz="UTC"), pd.Timestamp("2026-11-27", tz="UTC"))
    minute, daily = plans
    assert "quality_bar_1m_202611" in minute
    assert "202609" not in minute and "202610" not in minute and "quality_bar_1d" not in minute
    assert "quality_bar_1d_202601" in daily and "quality_bar_1d_202001" not in daily and "1m" not in daily
