"""consume_bars against a real Redis and database: storage after validation, rejected entries, redelivery,
consumers that die mid-batch, two consumers sharing a stream, Redis restarting under a consumer."""

import json
import os
import signal
import subprocess
import threading
import time

import pandas as pd
import pytest
from django.db import connection as db_connection
from django.db.models import Count

from monitors.quality import tasks
from monitors.quality.live import consumer, lag, streams
from monitors.quality.models import Bar
from monitors.quality.tests.live_builders import minute_bars
from tickstock_ops import health, testing
from tickstock_ops.redis_client import connect

STREAM = "tickstock.bars.1m"
GROUP = "tickstock-ops"


def publish(client, frame: pd.DataFrame, interval: str = "1m") -> list[bytes]:
    return streams.publish_bars(client, frame, interval=interval)


def new_consumer(**options) -> consumer.BarConsumer:
    return consumer.BarConsumer(connect(socket_timeout=10), ["1m"], **options)


def stored(frame: pd.DataFrame) -> pd.DataFrame:
    rows = pd.DataFrame.from_records(Bar.objects.filter(interval="1m").values(
        "symbol", "source", "ts", "open", "high", "low", "close", "volume"))
    return rows.sort_values(["symbol", "ts"], ignore_index=True)


def expected(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame.assign(ts=pd.to_datetime(frame["ts"], utc=True))
    return rows[["symbol", "source", "ts", "open", "high", "low", "close", "volume"]].sort_values(
        ["symbol", "ts"], ignore_index=True)


def pending(client) -> int:
    return client.xpending(STREAM, GROUP)["pending"]


@pytest.mark.django_db
def test_bars_are_stored_as_published_and_acknowledged(redis_conn):
    frame = minute_bars(30, 90, start="2026-11-27 08:45")  # pre-market bars first, then the open
    ids = publish(redis_conn, frame)

    totals = new_consumer().run(once=True)

    assert (totals.entries, totals.stored, totals.rejected) == (len(frame), len(frame), 0)
    pd.testing.assert_frame_equal(stored(frame), expected(frame), check_dtype=False)
    assert pending(redis_conn) == 0
    assert redis_conn.xinfo_groups(STREAM)[0]["last-delivered-id"] == ids[-1]
    assert redis_conn.xlen(streams.REJECTED_STREAM) == 0


@pytest.mark.django_db
def test_daily_bars_take_a_date(redis_conn):
    frame = pd.DataFrame({"symbol": ["AAPL", "MSFT"], "ts": pd.to_datetime(["2026-11-27", "2026-11-27"]),
                          "open": [230.1, 420.0], "high": [232.0, 425.5], "low": [229.5, 419.0],
                          "close": [231.7, 424.2], "volume": [41_234_567, 18_000_000], "source": "tickstock"})
    publish(redis_conn, frame, interval="1d")
    redis_conn.xadd("tickstock.bars.1d", {"symbol": "IBM", "ts": "2026-11-27T16:00:00-05:00", "open": "1",
                                          "high": "1", "low": "1", "close": "1", "volume": "1", "source": "t"})

    totals = consumer.BarConsumer(connect(), ["1d"]).run(once=True)

    assert (totals.stored, totals.rejected) == (2, 1)
    assert set(Bar.objects.filter(interval="1d").values_list("symbol", "ts__date")) == {
        ("AAPL", pd.Timestamp("2026-11-27").date()), ("MSFT", pd.Timestamp("2026-11-27").date())}


GONE = dict.fromkeys(["ts", "open", "high", "low", "close", "volume", "source"])
BAD_ENTRIES = [
    (GONE, "missing field ts, open, high, low, close, volume, source"),
    ({"ts": "2026-11-27T10:00:00"}, "needs a UTC offset"),
    ({"ts": "2026-11-31T10:00:00-05:00"}, "is not a valid date/time"),
    ({"close": "nan"}, "close 'nan' is not a number"),
    ({"high": "99", "low": "101"}, "low is above high"),
    ({"low": "-1"}, "prices must be positive"),
    ({"volume": "-5"}, "volume is negative"),
    ({"symbol": "NOT A TICKER"}, "symbol 'NOT A TICKER' contains ' '"),
    ({"source": ""}, "source '' must be 1 to 30 characters"),
    ({"source": "x" * 31}, "must be 1 to 30 characters"),
    ({"open": "1e400"}, "open '1e400' is not a number"),
]


@pytest.mark.django_db
def test_malformed_entries_are_rejected_once_with_their_ids_and_the_good_ones_around_them_are_stored(redis_conn):
    good = minute_bars(5, 4)
    template = {"symbol": "BAD", "ts": "2026-11-27T10:00:00-05:00", "open": "100", "high": "101", "low": "99",
                "close": "100.5", "volume": "1200", "source": "tickstock"}
    publish(redis_conn, good.iloc[:10])
    bad_ids = {}
    for change, reason in BAD_ENTRIES:
        entry = {name: value for name, value in {**template, **change}.items() if value is not None}
        bad_ids[redis_conn.xadd(STREAM, entry).decode()] = reason
    redis_conn.xadd(STREAM, {**template, "symbol": b"\xff\xfe"})  # not UTF-8 at all
    publish(redis_conn, good.iloc[10:])

    totals = new_consumer(batch_size=7).run(once=True)

    assert (totals.stored, totals.rejected) == (len(good), len(BAD_ENTRIES) + 1)
    assert Bar.objects.count() == len(good) and not Bar.objects.filter(symbol="BAD").exists()
    records = {fields[b"id"].decode(): fields for _, fields in redis_conn.xrange(streams.REJECTED_STREAM)}
    assert len(records) == len(BAD_ENTRIES) + 1
    for entry_id, reason in bad_ids.items():
        assert reason in records[entry_id][b"reason"].decode(), (entry_id, records[entry_id])
        assert records[entry_id][b"stream"] == STREAM.encode()
    assert json.loads(records[next(iter(bad_ids))][b"fields"]) == {"symbol": "BAD"}
    assert pending(redis_conn) == 0

    again = new_consumer().run(once=True)
    assert again.entries == 0 and redis_conn.xlen(streams.REJECTED_STREAM) == len(BAD_ENTRIES) + 1


@pytest.mark.django_db
def test_an_entry_delivered_twice_is_stored_once(redis_conn):
    frame = minute_bars(20, 10)
    publish(redis_conn, frame)
    crashed = new_consumer(name="crashed")
    crashed.join()
    # It stores a batch and dies before XACK: the entries stay pending with it.
    for entries in crashed.read(block=False):
        consumer.store(entries, "1m")
    assert pending(redis_conn) == len(frame) and Bar.objects.count() == len(frame)
    publish(redis_conn, frame.iloc[:50])  # and TickStock publishes some of the same bars again

    survivor = new_consumer(claim_idle_seconds=1)
    time.sleep(1.1)
    totals = survivor.run(once=True)

    assert totals.claimed == len(frame) and totals.stored == len(frame) + 50
    pd.testing.assert_frame_equal(stored(frame), expected(frame), check_dtype=False)
    assert pending(redis_conn) == 0
    assert [c["name"] for c in redis_conn.xinfo_consumers(STREAM, GROUP)] == [b"crashed"]


@pytest.mark.django_db
def test_pending_entries_trimmed_before_they_were_stored_are_reported_and_acknowledged(redis_conn):
    publish(redis_conn, minute_bars(4, 3))
    dead = new_consumer(name="dead")
    dead.join()
    [held] = dead.read(block=False)
    redis_conn.xtrim(STREAM, maxlen=5, approximate=False)  # MAXLEN too small for the outage: 7 entries gone

    survivor = new_consumer(claim_idle_seconds=1)
    time.sleep(1.1)
    totals = survivor.run(once=True)

    assert (totals.claimed, totals.stored, totals.rejected) == (5, 5, 7)
    reasons = {fields[b"id"]: fields[b"reason"] for _, fields in redis_conn.xrange(streams.REJECTED_STREAM)}
    assert set(reasons) == set(held.ids[:7])
    assert all(b"trimmed or deleted" in reason for reason in reasons.values())
    assert pending(redis_conn) == 0


@pytest.mark.django_db
def test_a_corrected_bar_later_in_the_stream_replaces_the_first(redis_conn):
    frame = minute_bars(3, 5)
    publish(redis_conn, frame)
    corrected = frame.iloc[[4]].assign(close=lambda f: f["low"], volume=lambda f: f["volume"] + 100)
    publish(redis_conn, corrected)

    new_consumer(batch_size=4).run(once=True)

    bar = Bar.objects.get(symbol=corrected["symbol"].iloc[0], ts=corrected["ts"].iloc[0])
    assert (bar.close, bar.volume) == (corrected["close"].iloc[0], corrected["volume"].iloc[0])


@pytest.mark.django_db
def test_lag_reports_entries_behind_and_the_age_of_the_oldest_and_the_alert_follows_it(redis_conn, settings):
    settings.QUALITY_LIVE_MAX_LAG_SECONDS = 1
    assert lag.probe() == {}
    publish(redis_conn, minute_bars(10, 3))
    never_read = lag.probe()[f"{STREAM}/{GROUP}"]
    assert never_read.behind == 30 and "no consumer group" in never_read.problem

    holder = new_consumer(name="holder", batch_size=12)
    holder.join()
    holder.read(block=False)  # 12 pending, 18 never delivered
    time.sleep(1.2)
    behind = lag.probe()[f"{STREAM}/{GROUP}"]
    assert behind.behind == 30 and behind.oldest_seconds >= 1.1 and not behind.ok
    healthy, report = health.check()
    assert not healthy and report["consumers"][f"{STREAM}/{GROUP}"]["behind"] == 30
    assert lag.check_alert() == {f"{STREAM}/{GROUP}": "firing"}

    new_consumer(claim_idle_seconds=1).run(once=True)

    caught_up = lag.probe()[f"{STREAM}/{GROUP}"]
    assert (caught_up.behind, caught_up.oldest_seconds, caught_up.ok) == (0, 0.0, True)
    assert lag.check_alert() == {f"{STREAM}/{GROUP}": "resolved"}


@pytest.mark.django_db
def test_the_dashboard_health_panel_shows_each_consumer(redis_conn, admin_client):
    publish(redis_conn, minute_bars(4, 5))
    new_consumer().run(once=True)
    publish(redis_conn, minute_bars(4, 1, start="2026-11-27 10:00"))

    page = admin_client.get("/").content.decode()

    assert f"consumer {STREAM}/{GROUP}" in page and "4 behind" in page


@pytest.mark.django_db
def test_the_cluster_keeps_a_consumer_running_unless_another_one_is_active(redis_conn, settings):
    settings.QUALITY_LIVE_CLUSTER_RUN_SECONDS = 1.5
    settings.QUALITY_LIVE_INTERVALS = ["1m"]
    frame = minute_bars(10, 6)
    publish(redis_conn, frame)

    assert tasks.consume_bars()["stored"] == len(frame)
    assert Bar.objects.count() == len(frame) and pending(redis_conn) == 0

    publish(redis_conn, minute_bars(10, 1, start="2026-11-27 10:00"))
    other = new_consumer(name="standalone")
    other.read(block=False)
    assert tasks.consume_bars() == {"skipped": "another consumer of the group is active"}


@pytest.mark.django_db
def test_metrics_show_the_lag(redis_conn, client):
    publish(redis_conn, minute_bars(4, 5))
    body = client.get("/metrics").content.decode()
    assert f'tickstock_consumer_lag_entries{{consumer="{STREAM}/{GROUP}"}} 20.0' in body
    assert f'tickstock_consumer_lag_seconds{{consumer="{STREAM}/{GROUP}"}}' in body


def test_intervals_are_checked():
    assert streams.parse_intervals("1m, 1d,1m") == ["1m", "1d"]
    with pytest.raises(ValueError, match="unknown interval 2m"):
        streams.parse_intervals("1m,2m")


@pytest.mark.django_db(transaction=True)
def test_the_command_refuses_bad_arguments_and_an_unreachable_redis():
    bad = testing.run_manage("consume_bars", "--intervals", "1m,7m", "--once")
    assert bad.returncode != 0 and "--intervals: unknown interval 7m" in bad.stderr
    down = testing.run_manage("consume_bars", "--once", timeout=120,
                              env=testing.process_env(REDIS_URL=f"redis://127.0.0.1:{testing.free_port()}/0"))
    assert down.returncode != 0 and "Redis is unreachable" in down.stderr


# Real consumer processes.

pytestmark_processes = pytest.mark.django_db(transaction=True)


def start_consumer(*args: str) -> subprocess.Popen:
    return testing.manage("consume_bars", "--intervals", "1m", *args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def assert_each_bar_stored_once(frame: pd.DataFrame) -> None:
    assert Bar.objects.count() == len(frame)
    assert not Bar.objects.values("symbol", "ts").annotate(n=Count("ts")).filter(n__gt=1).exists()
    pd.testing.assert_frame_equal(stored(frame), expected(frame), check_dtype=False)


def consumers_waiting(client) -> int:
    """Connections blocked reading the stream (an idle consumer leaves the group's list, so not XINFO)."""
    database = client.connection_pool.connection_kwargs["db"]
    return sum(1 for entry in client.client_list() if entry.get("cmd") == "xreadgroup"
               and "b" in entry.get("flags", "") and int(entry.get("db", -1)) == database)


@pytestmark_processes
def test_100000_bars_through_two_consumers(redis_conn):
    frame = minute_bars(2_000, 50)
    # Both consumers wait on the stream before the bars arrive: a consumer that started seconds before the other
    # (a loaded machine) must not find the whole stream to itself.
    workers = [start_consumer() for _ in range(2)]
    try:
        testing.wait_until(lambda: consumers_waiting(redis_conn) == 2, timeout=120, what="both consumers waiting")
        publish(redis_conn, frame)
        testing.wait_until(lambda: Bar.objects.count() == len(frame) and pending(redis_conn) == 0, timeout=300,
                           pause=0.5, what="every bar stored and acknowledged")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
    outputs = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    outputs = [(out.splitlines()[-1], err) for out, err in outputs]  # after the "consuming … as …" line
    counts = [int(out.split(" entries")[0]) for out, _ in outputs]
    assert sum(counts) == len(frame) == 100_000 and min(counts) > 0, counts
    assert_each_bar_stored_once(frame)
    assert pending(redis_conn) == 0


def freeze_while_holding_entries(process: subprocess.Popen, client) -> int:
    """SIGSTOP the consumer at a moment it holds unacknowledged entries (retrying until it does); how many."""
    for _ in range(2_000):
        os.kill(process.pid, signal.SIGSTOP)
        held = client.xpending(STREAM, GROUP)["pending"]
        if held:
            return held
        os.kill(process.pid, signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError("the consumer never held entries")


@pytestmark_processes
def test_a_consumer_killed_mid_batch_loses_nothing_and_the_other_stores_nothing_twice(redis_conn):
    frame = minute_bars(2_000, 30)  # three batches
    publish(redis_conn, frame)
    doomed = start_consumer()
    testing.wait_until(lambda: Bar.objects.exists(), timeout=180, what="the first consumer to store a batch")
    freeze_while_holding_entries(doomed, redis_conn)
    doomed.kill()
    doomed.communicate(timeout=10)
    held = pending(redis_conn)  # counted now: a read sent before the freeze may have been served after it
    assert Bar.objects.count() < len(frame)

    survivor = new_consumer(claim_idle_seconds=1)
    time.sleep(1.1)
    totals = survivor.run(once=True)

    assert totals.claimed == held > 0
    assert_each_bar_stored_once(frame)
    assert pending(redis_conn) == 0


@pytestmark_processes
def test_a_consumer_rides_out_a_redis_restart(private_redis):
    client = connect()
    frame = minute_bars(500, 40)
    publish(client, frame)
    # A read whose reply the restart cut off leaves entries pending with the consumer: it claims them back.
    worker = new_consumer(batch_size=1_000, claim_idle_seconds=1)

    def run() -> None:
        try:
            worker.run()
        finally:
            db_connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        testing.wait_until(lambda: Bar.objects.exists(), timeout=120, what="the consumer to store a batch")
        private_redis.stop()
        time.sleep(1.0)
        private_redis.start()
        testing.wait_until(lambda: Bar.objects.count() == len(frame), timeout=120, what="every bar after the restart")
    finally:
        worker.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert_each_bar_stored_once(frame)
    assert connect().xpending(STREAM, GROUP)["pending"] == 0
