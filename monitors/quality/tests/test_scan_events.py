"""Scans over time: an unrecorded split first reported as a price anomaly, then reclassified once confirmed; the
events every scan and the daily task send."""

import numpy as np
import pandas as pd
import pytest

from monitors.quality import loader, tasks
from monitors.quality.models import Anomaly, Scan
from monitors.quality.scan import run_scan
from monitors.quality.tests.builders import calm, daily, intraday, noisy_volume, sessions
from tickstock_ops.models import Alert, OutboxEvent

DAYS = sessions("2025-01-02", 80)


def close_of(day) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC") + pd.Timedelta(hours=22)


def payloads(kind: str) -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(type=kind).order_by("id")]


def unrecorded_split(row: int = 70) -> pd.DataFrame:
    closes, volume = calm(80), noisy_volume(80)
    closes[row:] /= 2
    volume[row:] *= 2
    opens = np.r_[closes[0], closes[:-1]]
    opens[row] = closes[row]
    return daily("SPL", closes, volume=volume, opens=opens)


@pytest.mark.django_db
def test_an_unrecorded_split_is_reclassified_when_confirmed_and_its_price_alert_resolves():
    bars = unrecorded_split()
    loader.upsert_frame(bars.iloc[:71].drop(columns=["source"]), source="csv", interval="1d")
    run_scan(as_of=close_of(DAYS[70]), since=close_of(DAYS[69]))
    [first] = payloads("tickstock.quality.price_anomaly")
    assert first["severity"] == "critical" and "if this is a 2:1 split, record it" in first["detail"]
    assert Alert.objects.get(fingerprint="quality:price_anomaly:SPL").state == Alert.State.FIRING

    for day in range(71, 76):
        loader.upsert_frame(bars.iloc[day:day + 1].drop(columns=["source"]), source="csv", interval="1d")
        run_scan(as_of=close_of(DAYS[day]))
    [action] = payloads("tickstock.quality.corporate_action")
    assert action["ts"] == f"{DAYS[70]:%Y-%m-%d}" and action["severity"] == "info"
    assert Anomaly.objects.filter(anomaly_type="corporate_action", report__scan__as_of=close_of(DAYS[75])).exists()
    assert Alert.objects.get(fingerprint="quality:price_anomaly:SPL").state == Alert.State.RESOLVED
    assert len(payloads("tickstock.quality.price_anomaly")) == 1
    assert payloads("tickstock.quality.volume_spike") == []


@pytest.mark.django_db
def test_every_scan_completes_with_an_event_and_only_the_daily_task_summarises():
    loader.upsert_frame(daily("AAA", calm(80), volume=noisy_volume(80)).drop(columns=["source"]), source="csv",
                        interval="1d")
    loader.upsert_frame(intraday("AAA", "2025-07-03", end="12:00").drop(columns=["source"]), source="csv",
                        interval="1m")
    saturday = close_of(DAYS[-1]) + pd.Timedelta(days=1)
    while saturday.day_of_week != 5:
        saturday += pd.Timedelta(days=1)
    tasks.daily_scan(now=saturday.to_pydatetime())
    tasks.intraday_scan(now=pd.Timestamp("2025-07-03 12:30", tz="America/New_York").to_pydatetime())
    completed = payloads("tickstock.quality.scan_completed")
    assert [(p["kind"], p["interval"]) for p in completed] == [("full", "1d"), ("intraday", "1m")]
    assert completed[1]["scan_id"] == Scan.objects.get(kind=Scan.Kind.INTRADAY).pk
    assert completed[1]["anomaly_counts"] == {"data_stale": 1} and completed[1]["symbols_scanned"] == 1
    [summary] = payloads("tickstock.quality.summary")
    assert summary["kind"] == "daily"
