"""The five service-level histograms fill from the real code paths: a quality scan, a rule change, an event and a
notification; the dashboard shows the four targets against their measured p95."""

import re

import pandas as pd
import pytest
from django.utils import timezone

from equity_rules import processing, queue, versions
from equity_rules.models import EquityType
from equity_rules.tests.conftest import make_security
from monitors.quality import loader, scan
from tickstock_ops import alerts, events
from tickstock_ops.notify import deliver
from tickstock_ops.notify.tests.servers import JsonReceiver

pytestmark = pytest.mark.django_db


def counts(text: str) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r"^tickstock_(\w+)_seconds_count (\S+)$", text, re.M)}


def fresh_minute_bars(symbol: str, price: float, now: pd.Timestamp, minutes: int = 30) -> pd.DataFrame:
    stamps = pd.date_range(end=now.floor("min") - pd.Timedelta(minutes=1), periods=minutes, freq="1min")
    prices = [price] * (minutes - 1) + [price * 1.4]  # the newest bar jumps 40%
    return pd.DataFrame({"symbol": symbol, "ts": stamps, "open": prices, "high": [p * 1.001 for p in prices],
                         "low": [p * 0.999 for p in prices], "close": prices, "volume": 10_000.0})


def test_a_scan_a_rule_change_an_event_and_a_notification_fill_the_histograms(redis_conn, admin_client, settings,
                                                                              django_capture_on_commit_callbacks,
                                                                              monkeypatch):
    receiver = JsonReceiver().start()
    settings.TICKSTOCK_NOTIFY_URLS = receiver.url
    # Minute bars are judged in regular hours only: the scan runs "now" at 11:00 in New York, whenever the test does.
    now = pd.Timestamp("2025-07-01 11:00", tz="America/New_York").tz_convert("UTC")
    monkeypatch.setattr(scan, "wall_clock", lambda: now + pd.Timedelta(seconds=5))
    try:
        # Each step's samples are counted in Redis when its transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            loader.upsert_frame(fresh_minute_bars("AAA", 50.0, now), source="csv", interval="1m")
            scan.run_scan(as_of=now.to_pydatetime(), interval="1m")
        with django_capture_on_commit_callbacks(execute=True):
            tiny = make_security("TINY", aum=21_000_000)
            etf = EquityType.objects.get(equity_type="etf")
            etf.processing_rules["validation_rules"]["aum_minimum"] = 10_000_000
            versions.save(etf)
            queue.enqueue([tiny])
            processing.run_batch("w")
        with django_capture_on_commit_callbacks(execute=True):
            alerts.fire("ipo:source:sec", source="ipo", title="SEC down")
            deliver.deliver_due(timezone.now() + pd.Timedelta(seconds=31))
        receiver.wait_for(1)
        events.flush()
    finally:
        receiver.stop()

    found = counts(admin_client.get("/metrics").content.decode())
    for name in ("quality_scan_duration", "quality_detection_delay", "rule_update_delay", "event_delivery_delay",
                 "notification_delay"):
        assert found[name] >= 1, name
    assert found["ipo_detection_delay"] == 0  # no IPO scan ran: the IPO app's own test covers it

    page = admin_client.get("/").content.decode()
    for label in ("IPO detection", "Data-quality scan", "Rule update applied", "Notification delivery"):
        assert label in page
    assert "&lt; 30 s" in page and "&lt; 900 s" in page and "within target" in page
