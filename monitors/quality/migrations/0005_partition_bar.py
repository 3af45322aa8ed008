"""PostgreSQL: the bar table becomes partitioned by list on interval, each interval by range on ts (docs/scaling.md),
keeping every stored bar. SQLite keeps its plain table. The spans for the stored bars are made by the same code the
bar writer uses (monitors/quality/partitions.py) before the rows are copied, so none lands in a default partition."""

import numpy as np
from django.db import migrations

INTERVALS = ["1m", "5m", "15m", "30m", "1h", "1d"]
COLUMNS = "symbol, source, interval, ts, open, high, low, close, volume"
TABLE = """CREATE TABLE {name} (
    symbol varchar(20) COLLATE "C" NOT NULL, source varchar(30) COLLATE "C" NOT NULL,
    interval varchar(4) COLLATE "C" NOT NULL, ts timestamptz NOT NULL, open double precision NOT NULL,
    high double precision NOT NULL, low double precision NOT NULL, close double precision NOT NULL,
    volume bigint NOT NULL, CONSTRAINT {name}_pkey PRIMARY KEY (symbol, source, interval, ts)
) {partitioning}"""


def _rebuild(cursor, partitioning: str, make_partitions=None) -> None:
    """Set the bar table aside, create it anew (`partitioning`, then `make_partitions(cursor)`), copy every bar
    back and drop the old table."""
    cursor.execute("ALTER TABLE quality_bar RENAME TO quality_bar_old")
    cursor.execute("ALTER TABLE quality_bar_old RENAME CONSTRAINT quality_bar_pkey TO quality_bar_old_pkey")
    cursor.execute("ALTER INDEX quality_bar_ts_brin RENAME TO quality_bar_old_ts_brin")
    cursor.execute(TABLE.format(name="quality_bar", partitioning=partitioning))
    cursor.execute("CREATE INDEX quality_bar_ts_brin ON quality_bar USING brin (ts)")
    if make_partitions:
        make_partitions(cursor)
    cursor.execute(f"INSERT INTO quality_bar ({COLUMNS}) SELECT {COLUMNS} FROM quality_bar_old")
    cursor.execute("DROP TABLE quality_bar_old")


def _partitions_for_stored_bars(cursor) -> None:
    from monitors.quality import partitions

    for interval in INTERVALS:
        cursor.execute(f"CREATE TABLE quality_bar_{interval} PARTITION OF quality_bar FOR VALUES IN"
                       f" ('{interval}') PARTITION BY RANGE (ts)")
        cursor.execute(f"CREATE TABLE quality_bar_{interval}_default PARTITION OF quality_bar_{interval} DEFAULT")
        cursor.execute("SELECT DISTINCT date_trunc('month', ts AT TIME ZONE 'UTC') FROM quality_bar_old"
                       " WHERE interval = %s", [interval])
        months = np.array([np.datetime64(row[0], "ns") for row in cursor.fetchall()], dtype="datetime64[ns]")
        partitions.ensure(interval, partitions.span_starts(interval, months.astype(np.int64)))


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        _rebuild(cursor, "PARTITION BY LIST (interval)", _partitions_for_stored_bars)
        cursor.execute("ANALYZE quality_bar")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        _rebuild(cursor, "")


class Migration(migrations.Migration):
    dependencies = [("quality", "0004_latestbar")]

    operations = [migrations.RunPython(partition, unpartition)]
