import json
import threading
import time

import pytest
import redis
from django.db import connection, transaction

from tickstock_ops import events, testing
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


def stream_envelopes(client, stream: str) -> list[dict]:
    return [json.loads(fields[b"event"]) for _, fields in client.xrange(stream)]


def test_a_committed_event_reaches_the_stream_with_the_contract_envelope(redis_conn):
    with transaction.atomic():
        event = events.publish("tickstock.ipo.detected", {"ticker": "ACME", "offer_price": 17})

    [envelope] = stream_envelopes(redis_conn, "tickstock.ipo.detected")
    assert envelope == {
        "id": str(event.event_id),
        "type": "tickstock.ipo.detected",
        "occurred_at": envelope["occurred_at"],
        "payload": {"ticker": "ACME", "offer_price": 17},
    }
    assert envelope["occurred_at"].endswith("Z") and len(envelope["occurred_at"]) == len("2026-11-27T14:31:07.123Z")
    event.refresh_from_db()
    assert event.published_at is not None


def test_a_subscriber_receives_the_event_on_the_channel_named_by_its_type(redis_conn):
    pubsub = redis_conn.pubsub()
    pubsub.subscribe("tickstock.ipo.validated")
    pubsub.get_message(timeout=1)  # the subscribe confirmation

    with transaction.atomic():
        event = events.publish("tickstock.ipo.validated", {"ticker": "ACME"})

    message = pubsub.get_message(timeout=2)
    assert message and message["type"] == "message"
    assert json.loads(message["data"])["id"] == str(event.event_id)


def test_a_rolled_back_transaction_publishes_nothing(redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish("tickstock.ipo.detected", {"ticker": "GONE"})
        raise RuntimeError("the scan failed")

    assert not OutboxEvent.objects.exists()
    assert redis_conn.xlen("tickstock.ipo.detected") == 0


def test_nothing_is_sent_before_the_transaction_commits(redis_conn):
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"ticker": "WAIT"})
        assert redis_conn.xlen("tickstock.ipo.detected") == 0
    assert redis_conn.xlen("tickstock.ipo.detected") == 1


def test_payload_values_become_plain_json():
    from datetime import date
    from decimal import Decimal

    with transaction.atomic():
        event = events.publish("tickstock.ipo.validated",
                               {"offer_price": Decimal("17.50"), "listing_date": date(2026, 1, 2)})
    assert event.payload == {"offer_price": 17.5, "listing_date": "2026-01-02"}


@pytest.mark.parametrize("bad_type", ["ipo.detected", "tickstock", "tickstock.IPO.detected", "tickstock.ipo."])
def test_an_event_type_outside_the_naming_scheme_is_refused(bad_type):
    with pytest.raises(ValueError, match="tickstock.<area>.<name>"):
        events.publish(bad_type, {})


def test_delivering_the_same_row_twice_makes_one_stream_entry(redis_conn):
    with transaction.atomic():
        events.publish("tickstock.quality.summary", {"scan_id": 1})
    OutboxEvent.objects.update(published_at=None)  # as if the process died before marking the row

    result = events.flush()

    assert result.duplicates == 1 and result.delivered == 0
    assert redis_conn.xlen("tickstock.quality.summary") == 1


def test_concurrent_relays_deliver_each_event_once_and_in_order(redis_conn):
    with transaction.atomic():
        for n in range(300):
            events.publish("tickstock.quality.summary", {"n": n})
    OutboxEvent.objects.update(published_at=None)
    testing.clear_redis_db(redis_conn)

    def relay():
        events.flush()
        from django.db import connection

        connection.close()

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [e["payload"]["n"] for e in stream_envelopes(redis_conn, "tickstock.quality.summary")] == list(range(300))


def test_redis_outage_delays_events_and_loses_none(private_redis, capsys):
    client = redis.Redis.from_url(private_redis.url)
    for n in range(50):
        with transaction.atomic():
            events.publish("tickstock.ipo.detected", {"n": n})
            events.publish("tickstock.ipo.error", {"n": n})

    private_redis.stop()
    started = time.monotonic()
    for n in range(50, 150):
        with transaction.atomic():
            events.publish("tickstock.ipo.detected", {"n": n})
            events.publish("tickstock.ipo.error", {"n": n})
    assert time.monotonic() - started < 30, "publishing must not hang while Redis is down"
    assert events.pending_count() == 200
    assert events.outbox_lag_seconds() > 0

    private_redis.start()
    result = events.flush()

    assert result.delivered == 200 and events.pending_count() == 0
    for stream in ("tickstock.ipo.detected", "tickstock.ipo.error"):
        entries = stream_envelopes(client, stream)
        assert [e["payload"]["n"] for e in entries] == list(range(150))
        assert len({e["id"] for e in entries}) == 150
    waiting = OutboxEvent.objects.filter(attempts__gt=1)
    assert waiting.count() == 200, "each event that waited records its failed attempt"


def test_events_published_after_an_outage_wait_behind_the_backlog(private_redis):
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"n": 0})
    private_redis.stop()
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"n": 1})
    private_redis.start()
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"n": 2})

    client = redis.Redis.from_url(private_redis.url)
    assert [e["payload"]["n"] for e in stream_envelopes(client, "tickstock.ipo.detected")] == [0, 1, 2]


def test_the_relay_command_reports_what_waits_when_redis_is_down(private_redis):
    with transaction.atomic():
        private_redis.stop()
        events.publish("tickstock.ipo.detected", {"n": 1})

    result = testing.run_manage("relay_events", "--once", env=testing.process_env(REDIS_URL=private_redis.url))
    assert result.returncode == 1
    assert "1 events wait in the outbox: Redis at REDIS_URL unavailable" in result.stderr
    assert "Traceback" not in result.stderr

    private_redis.start()
    result = testing.run_manage("relay_events", "--once", env=testing.process_env(REDIS_URL=private_redis.url))
    assert result.returncode == 0, result.stderr
    assert "delivered 1 events" in result.stdout
    assert events.pending_count() == 0


def test_the_relay_task_delivers_pending_events_and_prunes_old_ones(redis_conn):
    from datetime import timedelta

    from django.utils import timezone

    from tickstock_ops.tasks import relay_events

    with transaction.atomic():
        old = events.publish("tickstock.ipo.detected", {"n": 0})
    OutboxEvent.objects.filter(pk=old.pk).update(published_at=timezone.now() - timedelta(days=30))
    with transaction.atomic():
        OutboxEvent.objects.create(type="tickstock.ipo.detected", payload={"n": 1})  # as if Redis had been down

    assert relay_events() == {"delivered": 1, "failed": 0, "pruned": 1}
    assert redis_conn.xlen("tickstock.ipo.detected") == 2


def test_the_relay_task_keeps_trying_through_an_outage_and_delivers_when_redis_returns(private_redis, monkeypatch):
    from tickstock_ops import tasks

    monkeypatch.setattr(tasks, "OUTAGE_POLL_SECONDS", 0.2)
    private_redis.stop()
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"n": 1})
    restart = threading.Timer(1.0, private_redis.start)
    restart.start()

    result = tasks.relay_events()
    restart.join()

    assert result["delivered"] == 1 and result["failed"] == 0
    assert redis.Redis.from_url(private_redis.url).xlen("tickstock.ipo.detected") == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the relay lock is a PostgreSQL advisory lock")
def test_a_stalled_relay_in_another_process_does_not_block_publishers(redis_conn):
    import psycopg2

    db = connection.settings_dict
    stalled = psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"],
                               user=db["USER"])
    stalled.autocommit = True
    with stalled.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [events.RELAY_LOCK_KEY])
    try:
        started = time.monotonic()
        with transaction.atomic():
            events.publish("tickstock.ipo.detected", {"n": 1})
        assert time.monotonic() - started < 3
        assert events.pending_count() == 1 and redis_conn.xlen("tickstock.ipo.detected") == 0
    finally:
        stalled.close()

    assert events.flush().delivered == 1
    assert redis_conn.xlen("tickstock.ipo.detected") == 1
