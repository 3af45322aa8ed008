import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from tickstock_ops import alerts
from tickstock_ops.models import Alert, AlertActivity, OutboxEvent, Silence

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("ops", password="pw-for-tests-only", is_staff=True,
                                                is_superuser=True)


def alert_events(kind: str) -> list[dict]:
    return [row.payload for row in OutboxEvent.objects.filter(type=f"tickstock.alert.{kind}").order_by("id")]


def actions(alert: Alert) -> list[str]:
    return list(alert.activity.order_by("at", "id").values_list("action", flat=True))


def stale(symbol: str | None, source: str = "polygon") -> Alert:
    labels = {"anomaly_type": "data_stale", "source": source, "interval": "1m"}
    if symbol:
        labels["symbol"] = symbol
        return alerts.fire(f"quality:data_stale:{symbol}:1m", source="quality", title=f"{symbol} stale",
                           labels=labels)
    return alerts.fire(f"quality:source:{source}:data_stale:1m", source="quality", title=f"{source} stale",
                       severity="critical", labels=labels)


def test_the_same_problem_seen_again_is_one_alert_that_counts_and_notifies_once():
    first = alerts.fire("quality:volume_spike:AAA", source="quality", title="AAA spike", labels={"symbol": "AAA"})
    again = alerts.fire("quality:volume_spike:AAA", source="quality", title="AAA spike x2", severity="critical")

    assert again.pk == first.pk and again.count == 2 and again.last_seen >= first.last_seen
    assert again.title == "AAA spike x2" and again.severity == "critical"
    assert again.labels == {"symbol": "AAA"}
    [notice] = alert_events("firing")
    assert notice["fingerprint"] == "quality:volume_spike:AAA" and notice["notification"] == "new"
    assert actions(again) == ["fired"]


def test_a_firing_alert_notifies_again_after_the_repeat_interval(settings):
    settings.ALERTS_REPEAT_INTERVAL_SECONDS = 3600
    alert = alerts.fire("ipo:source:sec", source="ipo", title="SEC down")
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(minutes=59))
    alerts.fire("ipo:source:sec", source="ipo", title="SEC down")
    assert len(alert_events("firing")) == 1

    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(minutes=61))
    alerts.fire("ipo:source:sec", source="ipo", title="SEC down")

    assert [e["notification"] for e in alert_events("firing")] == ["new", "repeat"]
    alert.refresh_from_db()
    assert alert.notifications == 2 and actions(alert) == ["fired", "notified"]


def test_acknowledge_stops_repeats_and_a_resolved_alert_reopens_unacknowledged(settings, operator):
    settings.ALERTS_REPEAT_INTERVAL_SECONDS = 0
    alert = alerts.fire("equity_sla:etf:success_rate", source="rules", title="SLA")
    alerts.acknowledge(alert, operator, "looking")
    alerts.fire("equity_sla:etf:success_rate", source="rules", title="SLA")
    assert len(alert_events("firing")) == 1
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == operator

    assert alerts.resolve("equity_sla:etf:success_rate") is True
    assert alerts.resolve("equity_sla:etf:success_rate") is False
    reopened = alerts.fire("equity_sla:etf:success_rate", source="rules", title="SLA")

    assert reopened.state == "firing" and reopened.acknowledged_by is None and reopened.resolved_at is None
    assert [e["notification"] for e in alert_events("firing")] == ["new", "reopened"]
    assert actions(reopened) == ["fired", "acknowledged", "resolved", "reopened"]
    resolved = AlertActivity.objects.get(alert=alert, action="resolved")
    assert resolved.actor is None and resolved.note == "condition cleared"
    assert AlertActivity.objects.get(alert=alert, action="acknowledged").actor == operator


def test_a_silenced_alert_keeps_counting_but_does_not_notify_until_the_silence_ends(settings, operator):
    settings.ALERTS_REPEAT_INTERVAL_SECONDS = 0
    alert = alerts.fire("ipo:source:nasdaq", source="ipo", title="Nasdaq down")
    alerts.silence(alert, operator, timezone.now() + timedelta(hours=2), "maintenance window")
    alerts.fire("ipo:source:nasdaq", source="ipo", title="Nasdaq down")
    alert.refresh_from_db()
    assert alert.count == 2 and alert.is_silenced() and alert.silenced_by == operator
    assert alert.silence_reason == "maintenance window"
    assert len(alert_events("firing")) == 1
    assert alert_events("silenced")[0]["actor"] == "ops"

    Silence.objects.update(ends_at=timezone.now() - timedelta(seconds=1))
    alerts.fire("ipo:source:nasdaq", source="ipo", title="Nasdaq down")
    assert len(alert_events("firing")) == 2


@pytest.mark.parametrize(("until", "reason", "message"), [
    (timedelta(hours=-1), "late", "not in the future"),
    (timedelta(hours=1), "  ", "needs a reason"),
])
def test_a_bad_silence_is_refused_and_changes_nothing(operator, until, reason, message):
    alert = alerts.fire("ipo:source:news", source="ipo", title="news down")
    with pytest.raises(alerts.AlertActionError, match=message):
        alerts.silence(alert, operator, timezone.now() + until, reason)
    alert.refresh_from_db()
    assert alert.silenced_until is None and actions(alert) == ["fired"]


def test_acknowledging_a_resolved_alert_is_refused(operator):
    alert = alerts.fire("ipo:source:news", source="ipo", title="news down")
    alerts.resolve(alert.fingerprint)
    with pytest.raises(alerts.AlertActionError, match="only a firing alert"):
        alerts.acknowledge(alert, operator)


def test_a_stale_source_inhibits_its_symbols_alerts_until_it_resolves():
    before = stale("AAA")
    source_alert = stale(None)
    after = stale("BBB")
    other_source = stale("CCC", source="nasdaq")

    before.refresh_from_db()
    assert before.inhibited_by == source_alert and after.inhibited_by == source_alert
    assert other_source.inhibited_by is None
    notified = {e["fingerprint"] for e in alert_events("firing")}
    assert "quality:data_stale:BBB:1m" not in notified
    assert {"quality:data_stale:AAA:1m", "quality:source:polygon:data_stale:1m"} <= notified

    alerts.resolve(source_alert.fingerprint)
    after.refresh_from_db()
    assert after.inhibited_by is None
    assert actions(after) == ["fired", "inhibited", "uninhibited"]


def test_a_scan_inside_grouped_publishes_one_digest_per_type_and_exchange():
    with alerts.grouped():
        for symbol in ("AAA", "BBB"):
            alerts.fire(f"quality:volume_spike:{symbol}", source="quality", title=f"{symbol} spike",
                        labels={"symbol": symbol, "anomaly_type": "volume_spike", "exchange": "XNAS"})
        alerts.fire("quality:price_gap:CCC", source="quality", title="CCC gap", severity="critical",
                    labels={"symbol": "CCC", "anomaly_type": "price_gap", "exchange": "XNYS"})

    assert alert_events("firing") == []
    digests = sorted(alert_events("digest"), key=lambda d: d["type"])
    assert [(d["type"], d["exchange"], d["count"], d["severity"]) for d in digests] == [
        ("price_gap", "XNYS", 1, "critical"), ("volume_spike", "XNAS", 2, "warning")]
    assert {a["fingerprint"] for a in digests[1]["alerts"]} == {"quality:volume_spike:AAA",
                                                                "quality:volume_spike:BBB"}


def test_admin_actions_acknowledge_and_silence_with_the_operator_recorded(operator):
    alert = alerts.fire("ipo:source:polygon", source="ipo", title="Polygon down")
    client = Client()
    client.force_login(operator)
    url = "/admin/tickstock_ops/alert/"

    response = client.post(url, {"action": "silence", "_selected_action": [alert.pk], "hours": "", "reason": ""},
                           follow=True)
    assert "give the number of hours and a reason" in response.content.decode()
    client.post(url, {"action": "acknowledge", "_selected_action": [alert.pk]})
    client.post(url, {"action": "silence", "_selected_action": [alert.pk], "hours": "2", "reason": "vendor fix"})

    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == operator
    assert alert.is_silenced() and alert.silence_reason == "vendor fix"
    assert timedelta(hours=1.9) < alert.silenced_until - timezone.now() < timedelta(hours=2.1)
    page = client.get(f"{url}{alert.pk}/change/").content.decode()
    assert "vendor fix" in page and "acknowledged" in page


def test_a_scan_that_fails_half_way_still_sends_the_digest_of_what_it_fired():
    with pytest.raises(RuntimeError), alerts.grouped():
        alerts.fire("quality:volume_spike:AAA", source="quality", title="AAA spike",
                    labels={"symbol": "AAA", "anomaly_type": "volume_spike"})
        raise RuntimeError("scan failed")
    [digest] = alert_events("digest")
    assert digest["count"] == 1 and digest["alerts"][0]["fingerprint"] == "quality:volume_spike:AAA"


def test_fire_many_opens_counts_reopens_and_inhibits_a_batch_as_fire_would(settings, django_assert_max_num_queries):
    settings.ALERTS_REPEAT_INTERVAL_SECONDS = 3600
    resolved = stale("BBB")
    alerts.resolve(resolved.fingerprint)
    spike = alerts.fire("quality:volume_spike:CCC", source="quality", title="CCC spike",
                        labels={"symbol": "CCC", "anomaly_type": "volume_spike"})
    OutboxEvent.objects.all().delete()
    labels = {"anomaly_type": "data_stale", "source": "polygon", "interval": "1m"}
    batch = [
        alerts.Firing("quality:source:polygon:data_stale:1m", "quality", "polygon stale", "critical", labels),
        alerts.Firing("quality:data_stale:AAA:1m", "quality", "AAA stale", labels={**labels, "symbol": "AAA"}),
        alerts.Firing("quality:data_stale:BBB:1m", "quality", "BBB stale", labels={**labels, "symbol": "BBB"}),
        alerts.Firing("quality:volume_spike:CCC", "quality", "CCC spike x2",
                      labels={"symbol": "CCC", "anomaly_type": "volume_spike"}),
    ] + [alerts.Firing(f"quality:price_gap:S{i}", "quality", f"S{i} gap",
                       labels={"symbol": f"S{i}", "anomaly_type": "price_gap"}) for i in range(50)]

    with django_assert_max_num_queries(25):
        fired = alerts.fire_many(batch)

    source_alert, aaa, bbb, ccc = fired[:4]
    assert [alert.fingerprint for alert in fired] == [firing.fingerprint for firing in batch]
    assert aaa.inhibited_by == source_alert and bbb.inhibited_by == source_alert
    assert bbb.state == "firing" and actions(bbb) == ["fired", "resolved", "reopened", "inhibited"]
    assert ccc.pk == spike.pk and ccc.count == 2 and ccc.title == "CCC spike x2" and actions(ccc) == ["fired"]
    notified = [event["fingerprint"] for event in alert_events("firing")]
    assert notified == ["quality:source:polygon:data_stale:1m"] + [f"quality:price_gap:S{i}" for i in range(50)]
    assert Alert.objects.get(pk=ccc.pk).notifications == 1  # the repeat was not due


def test_a_fingerprint_twice_in_one_batch_counts_twice():
    first, second = alerts.fire_many([alerts.Firing("ipo:source:sec", "ipo", "SEC down")] * 2)
    assert first.pk == second.pk and Alert.objects.get(pk=first.pk).count == 2
    assert len(alert_events("firing")) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite lets one writer in at a time: no such race")
def test_an_alert_opened_by_another_process_meanwhile_counts_as_a_sighting(monkeypatch):
    real_bulk_create = Alert.objects.bulk_create
    raced = []

    def bulk_create_after_a_rival(objs, *args, **kwargs):
        if objs and not raced:  # another process opens the same alert between our lookup and our insert
            raced.append(True)
            rival = threading.Thread(target=lambda: (
                alerts.fire("ipo:source:sec", source="ipo", title="SEC down"), connections.close_all()))
            rival.start()
            rival.join()
        return real_bulk_create(objs, *args, **kwargs)

    monkeypatch.setattr(Alert.objects, "bulk_create", bulk_create_after_a_rival)
    alert = alerts.fire("ipo:source:sec", source="ipo", title="SEC down")

    assert raced and Alert.objects.count() == 1
    assert Alert.objects.get(pk=alert.pk).count == 2 and alert.count == 2


def test_resolve_many_resolves_a_batch_as_resolve_would_in_a_few_queries(operator, django_assert_max_num_queries):
    source_alert = stale(None)
    inhibited = stale("AAA")
    acknowledged = alerts.fire("quality:price_gap:BBB", source="quality", title="BBB gap",
                               labels={"symbol": "BBB", "anomaly_type": "price_gap"})
    alerts.acknowledge(acknowledged, operator, "on it")
    already = alerts.fire("quality:price_gap:CCC", source="quality", title="CCC gap")
    alerts.resolve(already.fingerprint)
    many = [alerts.fire(f"quality:price_gap:S{i}", source="quality", title=f"S{i} gap") for i in range(50)]
    OutboxEvent.objects.all().delete()
    wanted = [acknowledged.fingerprint, source_alert.fingerprint, already.fingerprint, "quality:never:seen"] + [
        alert.fingerprint for alert in many]

    with django_assert_max_num_queries(10):
        resolved = alerts.resolve_many(wanted)

    assert [alert.fingerprint for alert in resolved] == [wanted[0], wanted[1]] + wanted[4:]
    assert Alert.objects.filter(state="resolved").count() == 53
    inhibited.refresh_from_db()
    assert inhibited.state == "firing" and inhibited.inhibited_by is None
    assert actions(inhibited) == ["fired", "inhibited", "uninhibited"]
    assert actions(acknowledged) == ["fired", "acknowledged", "resolved"]
    events = alert_events("resolved")
    assert [event["fingerprint"] for event in events] == [alert.fingerprint for alert in resolved]
    assert events[0]["acknowledged_by"] == "ops" and events[0]["state"] == "resolved"
    assert alerts.resolve_many(wanted) == [] and len(alert_events("resolved")) == len(resolved) == 52


def test_an_operator_resolving_is_recorded_with_the_operator_and_note(operator):
    alert = alerts.fire("ipo:source:sec", source="ipo", title="SEC down")
    assert alerts.resolve(alert.fingerprint, actor=operator, note="vendor fixed it") is True
    [event] = alert_events("resolved")
    assert event["actor"] == "ops" and event["state"] == "resolved"
    activity = alert.activity.get(action="resolved")
    assert activity.actor == operator and activity.note == "vendor fixed it"
