"""The route tree, matchers and the checks on what operators and the environment give."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from tickstock_ops import alerts, env
from tickstock_ops.models import Alert
from tickstock_ops.notify import routing
from tickstock_ops.notify.models import Notification, NotificationGroup, Receiver, Route

pytestmark = pytest.mark.django_db


def alert(**labels) -> Alert:
    severity = labels.pop("severity", "warning")
    source = labels.pop("source", "quality")
    return Alert(pk=1, fingerprint="quality:x:AAA", source=source, severity=severity, title="t", labels=labels)


def taken_by(item: Alert) -> list[tuple[str, str]]:
    _, nodes = routing.load().routes_for(item)
    return [(node.path, node.receiver) for node in nodes]


@pytest.fixture
def receivers(notify_to):
    notify_to("json://127.0.0.1:9/default")
    for name in ("pager", "mail", "slack"):
        Receiver.objects.create(name=name, urls=f"json://127.0.0.1:9/{name}")


def test_first_matching_child_wins_unless_it_says_continue(receivers):
    critical = Route.objects.create(name="critical", matchers="severity=critical", receiver="pager",
                                    continue_matching=True, position=1)
    Route.objects.create(name="quality", matchers="monitor=quality", receiver="mail", position=2)
    Route.objects.create(name="ipo", matchers="monitor=ipo", receiver="slack", position=3)
    Route.objects.create(name="nasdaq only", parent=critical, matchers="exchange=XNAS", group_by="symbol")

    assert taken_by(alert(severity="critical", exchange="XNAS")) == [
        ("root/critical/nasdaq only", "pager"), ("root/quality", "mail")]
    assert taken_by(alert(severity="critical", exchange="XNYS")) == [("root/critical", "pager"),
                                                                      ("root/quality", "mail")]
    assert taken_by(alert(source="ipo")) == [("root/ipo", "slack")]
    assert taken_by(alert(source="rules")) == [("root", "default")]  # nothing matched: the root keeps it


def test_children_inherit_what_they_leave_empty(receivers, settings):
    settings.NOTIFY_GROUP_WAIT_SECONDS = 45
    parent = Route.objects.create(name="quality", matchers="monitor=quality", receiver="mail", group_wait=5,
                                  send_resolved=True)
    Route.objects.create(name="gaps", parent=parent, matchers="type=price_gap", repeat_interval=60)
    [node] = routing.load().routes_for(alert(anomaly_type="price_gap"))[1]
    assert (node.receiver, node.group_wait, node.repeat_interval, node.send_resolved, node.group_by) == (
        "mail", 5, 60, True, ["monitor", "type", "exchange"])


def test_routes_match_the_labels_silences_match_regexes_anchored(receivers):
    Route.objects.create(name="price or volume", matchers='type=~"price_gap|volume_spike", symbol!~"TEST.*"',
                         receiver="pager")
    assert taken_by(alert(anomaly_type="price_gap", symbol="AAPL")) == [("root/price or volume", "pager")]
    assert taken_by(alert(anomaly_type="price_gap_up", symbol="AAPL")) == [("root", "default")]
    assert taken_by(alert(anomaly_type="volume_spike", symbol="TESTX")) == [("root", "default")]


def test_one_alert_is_filed_once_per_route_that_takes_it_in_its_own_group(receivers):
    Route.objects.create(name="all to mail", receiver="mail", continue_matching=True, position=1)
    Route.objects.create(name="per symbol to pager", receiver="pager", group_by="symbol", position=2)
    for symbol in ("AAA", "BBB"):
        alerts.fire(f"quality:price_gap:{symbol}", source="quality", title=symbol,
                    labels={"anomaly_type": "price_gap", "symbol": symbol, "exchange": "XNAS"})
    groups = {(g.receiver, g.scope): g.notifications.count() for g in NotificationGroup.objects.all()}
    assert groups == {("mail", "quality · price_gap · XNAS"): 2, ("pager", "AAA"): 1, ("pager", "BBB"): 1}


def test_a_failing_receivers_alert_goes_to_the_other_receivers_only(receivers):
    Route.objects.create(name="everything to pager too", receiver="pager", continue_matching=True)
    alerts.fire("notify:receiver:pager", source="notify", title="pager failing", severity="critical",
                labels={"receiver": "pager", "type": "receiver_failing"})
    assert list(Notification.objects.values_list("group__receiver", flat=True)) == ["default"]


def test_bad_routes_and_receivers_are_refused_with_the_reason():
    with pytest.raises(ValidationError, match="is not a matcher"):
        Route(name="x", matchers="severity critical").full_clean()
    with pytest.raises(ValidationError, match="bad regular expression"):
        Route(name="x", matchers="type=~(").full_clean()
    with pytest.raises(ValidationError, match="no receiver named 'nobody'"):
        Route(name="x", receiver="nobody").full_clean()
    with pytest.raises(ValidationError, match="Apprise cannot use: nonsense://"):
        Receiver(name="x", urls="nonsense://host/path").full_clean()
    with pytest.raises(ValidationError, match="TICKSTOCK_NOTIFY_URLS"):
        Receiver(name="default", urls="json://127.0.0.1:9/").full_clean()


def test_a_route_stored_with_bad_matchers_is_skipped_and_alerting_goes_on(receivers):
    Route.objects.create(name="broken", matchers="severity", receiver="pager")
    fired = alerts.fire("quality:price_gap:AAA", source="quality", title="AAA")
    assert fired.pk and list(Notification.objects.values_list("group__receiver", flat=True)) == ["default"]


def test_notify_urls_from_the_environment():
    value = "json://127.0.0.1:8080/hook, mailto://u:p@example.com?to=a@example.com,b@example.com"
    assert env.notify_urls({"TICKSTOCK_NOTIFY_URLS": value}, "TICKSTOCK_NOTIFY_URLS") == value
    assert env.notify_urls({}, "TICKSTOCK_NOTIFY_URLS") == ""
    with pytest.raises(env.ConfigError, match="TICKSTOCK_NOTIFY_URLS: 'hooks.example.com' is not an Apprise URL"):
        env.notify_urls({"TICKSTOCK_NOTIFY_URLS": "hooks.example.com"}, "TICKSTOCK_NOTIFY_URLS")
    with pytest.raises(env.ConfigError, match="TICKSTOCK_BASE_URL='ops.example.com' is malformed"):
        env.base_url({"TICKSTOCK_BASE_URL": "ops.example.com"}, "TICKSTOCK_BASE_URL", "http://127.0.0.1:8000")


def test_deliver_notifications_refuses_a_url_apprise_cannot_use(notify_to):
    notify_to("nonsense://somewhere/")
    with pytest.raises(CommandError, match=r"TICKSTOCK_NOTIFY_URLS: Apprise cannot use nonsense://…"):
        call_command("deliver_notifications", "--once")
