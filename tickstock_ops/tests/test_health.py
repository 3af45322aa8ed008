import pytest
from django.db import transaction

from tickstock_ops import events, health
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client, django_user_model):
    """The details of /healthz are for staff (or the health token); anonymous callers see the status only."""
    client.force_login(django_user_model.objects.create_user("probe", is_staff=True))
    return client


def test_healthz_is_200_with_every_part_reported(staff_client, redis_conn):
    response = staff_client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"] and body["outbox"]["ok"]
    assert "tasks" in body["queues"]


def test_healthz_is_503_while_redis_is_down_and_events_wait(staff_client, private_redis):
    private_redis.stop()
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"n": 1})

    response = staff_client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False
    assert response.json()["outbox"]["pending"] == 1


def test_healthz_is_503_when_the_outbox_lags(staff_client, redis_conn, settings):
    from datetime import timedelta

    from django.utils import timezone

    OutboxEvent.objects.create(type="tickstock.ipo.detected", payload={},
                               occurred_at=timezone.now() - timedelta(minutes=10))
    settings.HEALTH_MAX_OUTBOX_LAG_SECONDS = 60

    response = staff_client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["outbox"]["lag_seconds"] >= 600


def test_registered_queues_are_reported():
    health.register_queue("test-queue", lambda: 7)
    try:
        assert health.queue_depths()["test-queue"] == 7
    finally:
        health._queues.pop("test-queue")


def test_metrics_are_prometheus_text_with_the_event_counts(client, redis_conn):
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"n": 1})
        events.publish("tickstock.ipo.detected", {"n": 2})
    OutboxEvent.objects.create(type="tickstock.ipo.error", payload={}, attempts=3)

    response = client.get("/metrics")
    text = response.content.decode()

    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert 'tickstock_events_published_total{type="tickstock.ipo.detected"} 2.0' in text
    assert "tickstock_events_failed_total 3.0" in text
    assert "tickstock_outbox_pending 1.0" in text
    assert 'tickstock_queue_depth{queue="tasks"}' in text
    assert 'tickstock_tasks{outcome="success"}' in text


def test_the_dashboard_needs_a_staff_login(client, django_user_model):
    response = client.get("/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    client.force_login(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"ticker": "SHOWN"})
    response = client.get("/")
    assert response.status_code == 200
    assert b"SHOWN" in response.content
