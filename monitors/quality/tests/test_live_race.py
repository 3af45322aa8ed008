"""Consumers of a group store at once without an import lock: a bar another writer inserts while a batch is being
stored (the same bar published twice) makes that batch try again, and it then stores over it."""

import threading

import pandas as pd
import pytest
from django.db import connection, connections, transaction

from monitors.quality import partitions
from monitors.quality.live import consumer, streams
from monitors.quality.models import Bar
from monitors.quality.tests.live_builders import minute_bars
from tickstock_ops import testing
from tickstock_ops.redis_client import connect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers are a PostgreSQL matter")
def test_a_bar_inserted_by_another_writer_meanwhile_makes_the_batch_try_again_not_fail(redis_conn):
    frame = minute_bars(3, 4)
    streams.publish_bars(redis_conn, frame, interval="1m")
    reader = consumer.BarConsumer(connect(), ["1m"], name="racer")
    reader.join()
    [entries] = reader.read(block=False)
    first = frame.iloc[0]
    with transaction.atomic():  # the month's partition exists, as the schedule creates it ahead
        partitions.prepare("1m", pd.DatetimeIndex(pd.to_datetime(frame["ts"], utc=True)).as_unit("ns").asi8)
    other = connections.create_connection("default")  # another consumer's transaction, not committed yet
    with other.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("INSERT INTO quality_bar (symbol, source, interval, ts, open, high, low, close, volume)"
                       " VALUES (%s, %s, '1m', %s, 1, 1, 1, 1, 1)", [first["symbol"], first["source"], first["ts"]])
    outcome = {}
    racer = threading.Thread(target=lambda: outcome.update(rejected=_store(entries)))
    racer.start()
    try:
        # The batch's INSERT waits on the other transaction's row, then meets a unique violation once it commits.
        testing.wait_until(_waiting_on_a_lock, timeout=20, what="the batch waiting on the row")
    finally:
        with other.cursor() as cursor:
            cursor.execute("COMMIT")
        other.close()
        racer.join(timeout=30)
    assert not racer.is_alive() and outcome == {"rejected": {}}
    assert Bar.objects.count() == len(frame)
    assert Bar.objects.get(symbol=first["symbol"], ts=first["ts"]).open == first["open"]  # stored over it


def _store(entries: streams.Entries) -> dict[int, str]:
    try:
        return consumer.store(entries, "1m")
    finally:
        connection.close()


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname ="
                       " current_database()")
        return cursor.fetchone()[0] > 0
