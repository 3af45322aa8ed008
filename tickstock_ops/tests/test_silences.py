from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tickstock_ops import alerts, matchers, silences, tasks
from tickstock_ops.models import Alert, AlertActivity, OutboxEvent, Silence

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("ops", password="pw-for-tests-only", is_staff=True,
                                                is_superuser=True)


def spike(symbol: str, source: str = "feed-b", exchange: str = "XNAS", interval: str = "1m") -> Alert:
    return alerts.fire(f"quality:volume_spike:{symbol}:{interval}", source="quality", title=f"{symbol} volume spike",
                       labels={"symbol": symbol, "anomaly_type": "volume_spike", "source": source,
                               "exchange": exchange, "interval": interval})


def firing_events() -> list[str]:
    return [row.payload["fingerprint"] for row in OutboxEvent.objects.filter(type="tickstock.alert.firing")]


def in_hours(hours: float):
    return timezone.now() + timedelta(hours=hours)


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ("type=volume_spike, source=feed-b", {"type": "volume_spike", "source": "feed-b"}, True),
    ("type=volume_spike source=feed-b", {"type": "volume_spike", "source": "feed-a"}, False),
    ('symbol=~"AA.*"', {"symbol": "AAPL"}, True),
    ('symbol=~"AA"', {"symbol": "AAPL"}, False),  # anchored, as in Alertmanager
    ("symbol!~AA.*", {"symbol": "MSFT"}, True),
    ("exchange!=XNAS", {}, True),  # a missing label is the empty string
    ('title="a, b \\"c\\""', {"title": 'a, b "c"'}, True),
])
def test_matchers_parse_and_match_like_alertmanager(text, labels, expected):
    assert matchers.matches_all(matchers.parse(text), labels) is expected


@pytest.mark.parametrize(("text", "message"), [
    ("volume_spike", "is not a matcher"),
    ("type==x", "is not a matcher"),
    ("1abc=x", "is not a matcher"),
    ('symbol=~"(("', "bad regular expression"),
    ("", "at least one matcher"),
    ("exchange!=XNAS", "would match every alert"),
    ('symbol=~".*"', "would match every alert"),
])
def test_a_bad_silence_is_refused_with_a_clear_error_and_nothing_is_stored(operator, text, message):
    with pytest.raises(silences.SilenceError, match=message):
        silences.create(text, ends_at=in_hours(2), comment="vendor", actor=operator)
    assert Silence.objects.count() == 0


def test_a_matcher_silence_mutes_existing_and_new_matching_alerts_only(operator):
    matching, other_source, other_type = spike("AAA"), spike("BBB", source="feed-a"), alerts.fire(
        "ipo:source:sec", source="ipo", title="SEC down", labels={"source": "sec"})
    silence = silences.create("type=volume_spike, source=feed-b", ends_at=in_hours(2), comment="feed-b replay",
                              actor=operator)
    for alert in (matching, other_source, other_type):
        alert.refresh_from_db()
    assert matching.silence == silence and matching.is_silenced() and matching.silenced_by == operator
    assert not other_source.is_silenced() and not other_type.is_silenced()
    assert silences.is_silenced(matching) and not silences.is_silenced(other_source)
    assert alerts.is_silenced(matching)

    new = spike("CCC")  # fires after the silence: muted from birth, no firing notification
    assert new.is_silenced() and new.silence_id == silence.pk
    assert "quality:volume_spike:CCC:1m" not in firing_events()
    silenced = OutboxEvent.objects.filter(type="tickstock.alert.silenced").order_by("id").last().payload
    assert silenced["fingerprint"] == new.fingerprint and silenced["actor"] == "ops"
    assert AlertActivity.objects.filter(alert=new, action="silenced").get().note.startswith(f"silence #{silence.pk}")


def test_expiring_a_silence_releases_its_alerts_and_they_notify_again(settings, operator):
    settings.ALERTS_REPEAT_INTERVAL_SECONDS = 0
    alert = spike("AAA")
    silence = silences.create("symbol=AAA", ends_at=in_hours(1), comment="known", actor=operator)
    spike("AAA")
    assert firing_events().count(alert.fingerprint) == 1

    silences.expire(silence, operator)
    alert.refresh_from_db()
    assert not alert.is_silenced() and alert.silence is None and not silences.is_silenced(alert)
    assert OutboxEvent.objects.filter(type="tickstock.alert.unsilenced").count() == 1
    spike("AAA")
    assert firing_events().count(alert.fingerprint) == 2
    with pytest.raises(silences.SilenceError, match="already expired"):
        silences.expire(silence, operator)


def test_editing_a_silence_reapplies_it(operator):
    aaa, bbb = spike("AAA"), spike("BBB")
    silence = silences.create("symbol=AAA", ends_at=in_hours(1), comment="known", actor=operator)
    silences.update(silence, matchers="symbol=BBB", ends_at=in_hours(3), comment="moved", actor=operator)
    aaa.refresh_from_db()
    bbb.refresh_from_db()
    assert not aaa.is_silenced() and bbb.is_silenced() and bbb.silence_reason == "moved"
    assert abs((bbb.silenced_until - in_hours(3)).total_seconds()) < 5


def test_the_longest_of_overlapping_silences_is_the_one_shown_and_lifting_expires_all(operator):
    alert = spike("AAA")
    short = silences.create("symbol=AAA", ends_at=in_hours(1), comment="short", actor=operator)
    long = silences.create("type=volume_spike", ends_at=in_hours(5), comment="long", actor=operator)
    alert.refresh_from_db()
    assert alert.silence == long
    silences.expire(long, operator)
    alert.refresh_from_db()
    assert alert.silence == short and alert.is_silenced()

    alerts.unsilence(alert, operator)
    short.refresh_from_db()
    alert.refresh_from_db()
    assert short.state() == "expired" and not alert.is_silenced()
    with pytest.raises(alerts.AlertActionError, match="not silenced"):
        alerts.unsilence(alert, operator)


def test_a_silence_that_starts_later_takes_effect_at_its_start(operator):
    alert = spike("AAA")
    silence = silences.create("symbol=AAA", starts_at=in_hours(1), ends_at=in_hours(2), comment="window",
                              actor=operator)
    alert.refresh_from_db()
    assert silence.state() == "pending" and not alert.is_silenced() and not silences.is_silenced(alert)

    Silence.objects.filter(pk=silence.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    assert tasks.apply_silences() == {"changed": 1}
    alert.refresh_from_db()
    assert alert.is_silenced() and silences.is_silenced(alert)


def test_the_per_alert_silence_is_a_fingerprint_silence(operator):
    alert = spike("AAA")
    other = spike("AAB")
    alerts.silence(alert, operator, in_hours(2), "vendor fix")
    [silence] = Silence.objects.all()
    assert silence.matchers_text == f"fingerprint={alert.fingerprint}" and silence.created_by == operator
    other.refresh_from_db()
    assert not other.is_silenced()


def test_silences_in_the_admin_are_created_listed_and_expired(operator):
    alert = spike("AAA")
    client = Client()
    client.force_login(operator)
    ends = (timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    starts = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    form = {"matchers_text": "type=volume_spike", "starts_at_0": starts[:10], "starts_at_1": starts[11:],
            "ends_at_0": ends[:10], "ends_at_1": ends[11:], "comment": "admin silence"}
    bad = client.post("/admin/tickstock_ops/silence/add/", {**form, "matchers_text": "volume_spike"})
    assert bad.status_code == 200 and "is not a matcher" in bad.content.decode()
    assert Silence.objects.count() == 0
    response = client.post("/admin/tickstock_ops/silence/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    [silence] = Silence.objects.all()
    alert.refresh_from_db()
    assert silence.created_by == operator and alert.silence == silence
    listing = client.get("/admin/tickstock_ops/silence/").content.decode()
    assert "type=volume_spike" in listing and "active" in listing

    client.post("/admin/tickstock_ops/silence/", {"action": "expire", "_selected_action": [silence.pk]})
    silence.refresh_from_db()
    alert.refresh_from_db()
    assert silence.state() == "expired" and not alert.is_silenced()
