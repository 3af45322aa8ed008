import pandas as pd
import pytest

from demo import feed as demo_feed
from monitors.quality import demo
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


def test_a_new_replay_keeps_the_history_and_writes_the_same_bars():
    symbols = demo_symbols(20)
    feed = demo_feed.Feed(symbols, scan_every=0)
    feed.start(SATURDAY)
    replay(feed, [10, 20])
    before = dict(((s, src, ts), close) for s, src, ts, close in
                  Bar.objects.filter(interval="1m").values_list("symbol", "source", "ts", "close"))
    scans = Scan.objects.filter(interval="1m").count()

    demo_feed.reset(symbols)
    again = demo_feed.Feed(symbols, scan_every=0)
    again.start(SATURDAY)
    replay(again, [10])

    after = dict(((s, src, ts), close) for s, src, ts, close in
                 Bar.objects.filter(interval="1m").values_list("symbol", "source", "ts", "close"))
    assert after == before and len(before) > 20 * 60  # nothing deleted, the same bars written again
    assert Scan.objects.filter(interval="1m").count() > scans


def test_the_daily_demo_data_end_at_the_last_closed_session():
    end = demo.load(now=SATURDAY.to_pydatetime())
    assert str(end.date()) == "2026-11-27"
    newest = Bar.objects.filter(interval="1d", source=demo.DEMO_SOURCE).order_by("-ts").first()
    assert newest.ts.date().isoformat() == "2026-11-27"
    assert Scan.objects.filter(interval="1d").get().as_of.date().isoformat() == "2026-11-27"


@pytest.mark.django_db(transaction=True)
def test_the_command_refuses_when_the_demo_is_off_or_arguments_are_wrong():
    off = testing.run_manage("demo_feed", env=testing.process_env(TICKSTOCK_DEMO="0"))
    assert off.returncode != 0 and "TICKSTOCK_DEMO=0" in off.stderr
    bad = testing.run_manage("demo_feed", "--symbols", "500")
    assert bad.returncode != 0 and "between 10 and 100" in bad.stderr
