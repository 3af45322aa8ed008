import pandas as pd
import pytest

from demo import feed as demo_feed
from monitors.quality.demo import demo_symbols
from monitors.quality.models import Bar, Scan
from tickstock_ops import testing
from tickstock_ops.models import Alert, OutboxEvent

pytestmark = pytest.mark.django_db

SATURDAY = pd.Timestamp("2026-11-28 12:00", tz="UTC")


def replay(feed: demo_feed.Feed, minutes: list[int]) -> dict[int, set[str]]:
    """Step the feed to each minute after its start; the open 1m alerts after each step."""
    seen = {}
    for minute in minutes:
        feed.clock = lambda m=minute: feed.origin_clock + pd.Timedelta(minutes=m, seconds=20)
        feed.step()
        seen[minute] = set(Alert.objects.filter(fingerprint__endswith=":1m").exclude(state="resolved")
                           .values_list("fingerprint", flat=True))
    return seen


def test_outside_market_hours_the_feed_replays_the_last_session_and_alerts_come_and_go():
    symbols = demo_symbols(20)
    feed = demo_feed.Feed(symbols, scan_every=0)
    feed.start(SATURDAY)
    assert not feed.live and str(feed.session.date()) == "2026-11-27"

    seen = replay(feed, [0, 6, 16, 30, 45, 62, 80, 110])

    stale, _, _ = feed.plan.stale
    assert seen[0] == set()
    assert f"quality:volume_spike:{symbols[3]}:1m" in seen[6]
    assert f"quality:data_stale:{stale}:1m" in seen[16]
    assert f"quality:data_stale:{stale}:1m" not in seen[30]
    source_alert = Alert.objects.exclude(labels__has_key="symbol").get(
        labels__source="feed-b", labels__anomaly_type="data_stale", labels__interval="1m")
    assert source_alert.fingerprint in seen[62] and source_alert.fingerprint not in seen[110]
    quiet = [s for s in symbols if feed.sources[s] == "feed-b"]
    assert {a.labels["symbol"] for a in source_alert.inhibits.all()} | {
        a.labels["symbol"] for a in Alert.objects.filter(activity__action="inhibited", labels__source="feed-b")
    } == set(quiet)
    assert Alert.objects.get(fingerprint=f"quality:data_stale:{stale}:1m").state == "resolved"
    assert OutboxEvent.objects.filter(type="tickstock.alert.digest").exists()
    assert Bar.objects.filter(interval="1m", source="feed-a").exists()


def test_a_new_run_forgets_the_previous_one():
    symbols = demo_symbols(20)
    feed = demo_feed.Feed(symbols, scan_every=0)
    feed.start(SATURDAY)
    replay(feed, [10])
    other = Scan.objects.create(interval="1m", as_of=SATURDAY)
    other.reports.create(symbol="ZZZ", price_score=1, volume_score=1, freshness_score=1, overall_score=1)

    demo_feed.reset(symbols)

    assert not Bar.objects.filter(interval="1m", symbol__in=symbols).exists()
    assert list(Scan.objects.filter(interval="1m")) == [other]


@pytest.mark.django_db(transaction=True)
def test_the_command_refuses_when_the_demo_is_off_or_arguments_are_wrong():
    off = testing.run_manage("demo_feed", env=testing.process_env(TICKSTOCK_DEMO="0"))
    assert off.returncode != 0 and "TICKSTOCK_DEMO=0" in off.stderr
    bad = testing.run_manage("demo_feed", "--symbols", "500")
    assert bad.returncode != 0 and "between 10 and 100" in bad.stderr
