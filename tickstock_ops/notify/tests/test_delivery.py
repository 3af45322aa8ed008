"""Delivery end to end against real receivers, with the deliverer's clock moved by the test (`now=`)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from tickstock_ops import alerts
from tickstock_ops.models import Alert, OutboxEvent
from tickstock_ops.notify import deliver, tasks
from tickstock_ops.notify.models import DeliveryAttempt, Notification, NotificationGroup, Receiver, Route

pytestmark = pytest.mark.django_db


def anomaly(symbol: str, kind: str = "price_anomaly", exchange: str = "XNAS", severity: str = "warning") -> Alert:
    return alerts.fire(f"quality:{kind}:{symbol}", source="quality", severity=severity,
                       title=f"{symbol} {kind.replace('_', ' ')}: close -31% vs previous",
                       labels={"symbol": symbol, "anomaly_type": kind, "exchange": exchange, "source": "csv",
                               "interval": "1d", "scan_id": 7})


def notified() -> list[dict]:
    return [row.payload for row in OutboxEvent.objects.filter(type="tickstock.alert.notified").order_by("id")]


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_scans_alerts_reach_the_webhook_as_one_message_per_group_after_group_wait(webhook, notify_to, settings):
    notify_to(webhook.url)
    settings.TICKSTOCK_BASE_URL = "https://ops.example.com"
    with alerts.grouped():
        alerts.fire_many([alerts.Firing(f"quality:price_anomaly:{s}", "quality", f"{s} price anomaly", "critical",
                                        {"symbol": s, "anomaly_type": "price_anomaly", "exchange": "XNAS"})
                          for s in ("AAA", "BBB", "CCC")]
                         + [alerts.Firing("quality:volume_spike:DDD", "quality", "DDD volume spike", "warning",
                                          {"symbol": "DDD", "anomaly_type": "volume_spike", "exchange": "XNYS"})])

    assert deliver.deliver_due(later(9)).sent == 0 and webhook.received == []  # group_wait: 10 s by default
    report = deliver.deliver_due(later(11))

    assert report.sent == 4
    messages = sorted(webhook.wait_for(2), key=lambda m: m["title"])
    assert messages[0]["title"] == "[FIRING:3] [critical] quality · price_anomaly · XNAS"
    assert messages[0]["type"] == "failure"
    for symbol in ("AAA", "BBB", "CCC"):
        alert = Alert.objects.get(fingerprint=f"quality:price_anomaly:{symbol}")
        assert f"[critical] {symbol} price anomaly" in messages[0]["message"]
        assert f"https://ops.example.com/alerts/{alert.pk}/" in messages[0]["message"]
    assert ("labels: alertname=price_anomaly anomaly_type=price_anomaly exchange=XNAS monitor=quality "
            "severity=critical symbol=AAA type=price_anomaly") in messages[0]["message"]
    assert messages[1]["title"] == "[FIRING] [warning] DDD volume spike" and "DDD" not in messages[0]["message"]
    attempts = DeliveryAttempt.objects.order_by("id")
    assert [(a.receiver, a.outcome, a.attempt, a.alerts.count()) for a in attempts] == [
        ("default", "sent", 1, 3), ("default", "sent", 1, 1)] or \
        [(a.receiver, a.outcome, a.attempt, a.alerts.count()) for a in attempts] == [
        ("default", "sent", 1, 1), ("default", "sent", 1, 3)]
    assert all(a.latency_ms > 0 for a in attempts)
    events = notified()
    assert sorted(len(e["alert_ids"]) for e in events) == [1, 3]
    assert all(e["outcome"] == "sent" and e["attempt"] == 1 and e["error"] is None for e in events)
    assert deliver.deliver_due(later(60)).sent == 0  # nothing twice


def test_nothing_is_queued_without_a_receiver(notify_to):
    notify_to()
    anomaly("AAA")
    assert Notification.objects.count() == 0 and NotificationGroup.objects.count() == 0


def test_group_interval_and_repeat_interval_with_a_moving_clock(webhook, notify_to, settings):
    notify_to(webhook.url)
    settings.NOTIFY_GROUP_WAIT_SECONDS = 10
    settings.NOTIFY_GROUP_INTERVAL_SECONDS = 300
    settings.NOTIFY_REPEAT_INTERVAL_SECONDS = 3600
    start = timezone.now()
    anomaly("AAA")
    deliver.deliver_due(start + timedelta(seconds=11))
    assert len(webhook.wait_for(1)) == 1

    anomaly("BBB")  # joins the group that has just sent: waits for the group interval, not group_wait
    assert deliver.deliver_due(start + timedelta(seconds=11 + 299)).sent == 0
    assert deliver.deliver_due(start + timedelta(seconds=11 + 301)).sent == 1
    second = webhook.wait_for(2)[1]
    assert "BBB" in second["message"] and "AAA" not in second["message"]

    anomaly("AAA")  # a sighting of an alert already notified is no news
    assert deliver.deliver_due(start + timedelta(seconds=11 + 301 + 3598)).sent == 0
    assert deliver.deliver_due(start + timedelta(seconds=11 + 301 + 3601)).sent == 2
    repeat = webhook.wait_for(3)[2]
    assert repeat["title"].endswith("(still firing)") and "AAA" in repeat["message"] and "BBB" in repeat["message"]
    assert DeliveryAttempt.objects.filter(kind="repeat").count() == 1


def test_silenced_inhibited_and_acknowledged_alerts_are_not_sent(webhook, notify_to, django_user_model):
    notify_to(webhook.url)
    operator = django_user_model.objects.create_user("ops", is_staff=True)
    quiet, acked, loud = anomaly("AAA"), anomaly("BBB"), anomaly("CCC")
    alerts.silence(quiet, operator, timezone.now() + timedelta(hours=1), "maintenance")
    alerts.acknowledge(acked, operator)

    assert deliver.deliver_due(later(31)).sent == 1

    [message] = webhook.wait_for(1)
    assert "CCC" in message["message"] and "AAA" not in message["message"] and "BBB" not in message["message"]
    assert set(Notification.objects.filter(outcome="suppressed").values_list("note", flat=True)) == {
        "silenced", "acknowledged before sending"}
    assert loud.pk in notified()[0]["alert_ids"]


def test_a_receiver_down_for_two_minutes_gets_everything_when_back(webhook, notify_to, settings):
    notify_to(webhook.url)
    settings.NOTIFY_GROUP_WAIT_SECONDS = 5
    start = timezone.now()
    anomaly("AAA")
    webhook.stop()
    clock, tries = start + timedelta(seconds=5), 0
    while clock < start + timedelta(minutes=2):
        report = deliver.deliver_due(clock)
        tries += report.failed > 0
        if tries == 2 and not Alert.objects.filter(fingerprint="quality:price_anomaly:BBB").exists():
            anomaly("BBB")  # news while the receiver is down
        group = NotificationGroup.objects.get()
        clock = max(clock + timedelta(seconds=1), group.due_at)
    assert tries >= 4
    failing = Alert.objects.get(fingerprint="notify:receiver:default")
    assert failing.state == "firing" and failing.source == "notify"
    assert not Notification.objects.filter(alert=failing).exists()  # not routed to the receiver that fails

    webhook.start()
    report = deliver.deliver_due(clock)

    assert report.sent == 2
    [message] = webhook.wait_for(1)
    assert "AAA" in message["message"] and "BBB" in message["message"]
    assert set(Notification.objects.values_list("outcome", flat=True)) == {"sent"}
    events = notified()
    assert [e["outcome"] for e in events] == ["failed"] * tries + ["sent"]
    assert [e["attempt"] for e in events] == list(range(1, tries + 2))
    assert "Connection error" in events[0]["error"]
    times = list(DeliveryAttempt.objects.order_by("id").values_list("at", flat=True))
    spacing = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)][:3]
    assert spacing == [5, 10, 20]
    failing.refresh_from_db()
    assert failing.state == "resolved"


def test_a_receiver_down_past_the_retry_window_is_given_up_and_said_so(webhook, notify_to, settings):
    notify_to(webhook.url)
    settings.NOTIFY_RETRY_FOR_SECONDS = 60
    webhook.stop()
    anomaly("AAA")
    deliver.deliver_due(later(31))
    report = deliver.deliver_due(later(31 + 61))

    assert report.abandoned == 1
    assert Notification.objects.get().outcome == "abandoned"
    assert [e["outcome"] for e in notified()] == ["failed", "abandoned"]
    assert NotificationGroup.objects.get().due_at is None


def test_resolved_notifications_only_where_the_route_asks(webhook, smtp, notify_to):
    notify_to(webhook.url)
    Receiver.objects.create(name="oncall-mail", urls=smtp.url)
    Route.objects.create(name="critical by mail", matchers="severity=critical", receiver="oncall-mail",
                         send_resolved=True, continue_matching=True)
    anomaly("AAA", severity="critical")
    deliver.deliver_due(later(31))
    assert len(smtp.messages) == 1 and webhook.received == []

    alerts.resolve("quality:price_anomaly:AAA")
    assert Notification.objects.filter(kind="resolved").count() == 1  # the default route does not send_resolved
    deliver.deliver_due(later(31 + 301))

    assert len(smtp.messages) == 2
    assert "Subject: [RESOLVED] AAA price anomaly" in smtp.messages[1]["content"]
    assert smtp.messages[1]["to"] == ["oncall@example.com"]


def test_the_admin_test_action_sends_and_logs(webhook, admin_client):
    receiver = Receiver.objects.create(name="hook", urls=webhook.url)
    response = admin_client.post("/admin/notify/receiver/", {"action": "send_test", "_selected_action": [receiver.pk]},
                                 follow=True)
    [shown] = [str(message) for message in response.context["messages"]]
    assert shown.startswith("hook: accepted in")
    assert webhook.wait_for(1)[0]["title"] == "TickStock Ops test notification"
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.kind, attempt.outcome, attempt.receiver) == ("test", "sent", "hook")
    assert notified()[0]["alert_ids"] == []


def test_the_default_receiver_has_its_test_button_and_a_failure_is_shown(webhook, notify_to, admin_client):
    notify_to(webhook.url)
    assert "Send a test notification to default" in admin_client.get("/admin/notify/receiver/").content.decode()
    response = admin_client.post("/admin/notify/receiver/test-default/", follow=True)
    [shown] = [str(message) for message in response.context["messages"]]
    assert shown.startswith("default: accepted in") and len(webhook.wait_for(1)) == 1

    webhook.stop()
    response = admin_client.post("/admin/notify/receiver/test-default/", follow=True)
    [shown] = [str(message) for message in response.context["messages"]]
    assert shown.startswith("default: failed: A Connection error occurred sending JSON notification")
    assert list(DeliveryAttempt.objects.order_by("id").values_list("outcome", flat=True)) == ["sent", "failed"]


def test_the_alert_page_and_admin_show_each_attempt(webhook, notify_to, admin_client):
    notify_to(webhook.url)
    alert = anomaly("AAA")
    deliver.deliver_due(later(31))
    page = admin_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Notifications" in page and "default" in page and "sent" in page
    admin_page = admin_client.get(f"/admin/tickstock_ops/alert/{alert.pk}/change/").content.decode()
    assert "Notification attempts" in admin_page and "try 1" in admin_page


def test_once_waits_out_group_wait_then_returns(webhook, notify_to, settings):
    notify_to(webhook.url)
    settings.NOTIFY_GROUP_WAIT_SECONDS = 1
    anomaly("AAA")
    report = deliver.run(once=True)
    assert report.sent == 1 and len(webhook.received) == 1
    assert NotificationGroup.objects.get().due_at > later(3000)  # the repeat, hours away: not waited for


def test_the_scheduled_task_returns_when_nothing_is_due_soon(webhook, notify_to, settings):
    notify_to(webhook.url)
    settings.NOTIFY_GROUP_WAIT_SECONDS = 1
    anomaly("AAA")
    assert tasks.deliver_notifications()["sent"] == 1


def test_a_new_group_starts_a_deliverer_in_the_cluster_once_committed(notify_to, django_capture_on_commit_callbacks):
    notify_to("json://127.0.0.1:9/")
    with django_capture_on_commit_callbacks(execute=True):
        anomaly("AAA")
        anomaly("BBB")  # same group, already due: no second task
    with django_capture_on_commit_callbacks(execute=True):
        anomaly("CCC")
    [task] = OrmQ.objects.all()
    assert task.task["func"] == "tickstock_ops.notify.tasks.deliver_notifications"


def test_a_resolution_whose_firing_was_never_sent_is_not_sent_alone(webhook, notify_to):
    notify_to(webhook.url)
    Route.objects.create(name="with resolutions", send_resolved=True)
    anomaly("AAA")
    alerts.resolve("quality:price_anomaly:AAA")

    assert deliver.deliver_due(later(11)).suppressed == 2
    assert webhook.received == []
    assert set(Notification.objects.values_list("note", flat=True)) == {
        "resolved before sending", "resolved before its firing was sent"}


def test_old_attempts_notifications_and_idle_groups_are_pruned(webhook, notify_to, settings):
    notify_to(webhook.url)
    settings.NOTIFY_ATTEMPT_RETENTION_DAYS = 30
    settings.NOTIFY_REPEAT_INTERVAL_SECONDS = 60
    anomaly("AAA")
    deliver.deliver_due(later(11))
    alerts.resolve("quality:price_anomaly:AAA")
    deliver.deliver_due(later(100))  # the repeat finds nothing firing: the group goes idle

    assert deliver.prune(later(29 * 86400)) == 0
    assert deliver.prune(later(31 * 86400)) > 0
    assert not DeliveryAttempt.objects.exists() and not NotificationGroup.objects.exists()
