"""Service-level samples: histograms on /metrics that every process reads alike, percentiles against targets."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from tickstock_ops import service_levels, slo
from tickstock_ops.models import Alert, SloSample

pytestmark = pytest.mark.django_db


def scrape() -> str:
    return Client().get("/metrics").content.decode()


def test_samples_become_cumulative_histogram_buckets_on_metrics(redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # counted once the caller's transaction commits
        slo.observe_many("notification_delay", [0.3, 2.0, 2.0, 45.0])
        slo.observe("event_delivery_delay", 0.004)
    assert 'tickstock_notification_delay_seconds_bucket{le="+Inf"} 4.0' in scrape()

    text = scrape()
    assert 'tickstock_notification_delay_seconds_bucket{le="0.25"} 0.0' in text
    assert 'tickstock_notification_delay_seconds_bucket{le="0.5"} 1.0' in text
    assert 'tickstock_notification_delay_seconds_bucket{le="2.5"} 3.0' in text
    assert 'tickstock_notification_delay_seconds_bucket{le="30"} 3.0' in text
    assert 'tickstock_notification_delay_seconds_bucket{le="+Inf"} 4.0' in text
    assert "tickstock_notification_delay_seconds_count 4.0" in text
    assert "tickstock_notification_delay_seconds_sum 49.3" in text
    assert 'tickstock_event_delivery_delay_seconds_bucket{le="0.005"} 1.0' in text
    for name in slo.HISTOGRAMS:  # every histogram is exported, empty ones too
        assert f"# TYPE tickstock_{name}_seconds histogram" in text
    assert SloSample.objects.filter(name="notification_delay").count() == 4
    assert not SloSample.objects.filter(name="event_delivery_delay").exists()  # no target: counters only


def test_samples_of_a_transaction_that_rolls_back_are_not_counted(redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        slo.observe("rule_update_delay", 1.0)
        raise RuntimeError("the change failed")
    assert "tickstock_rule_update_delay_seconds_count 0.0" in scrape()
    assert not SloSample.objects.exists()


def test_an_unknown_histogram_or_a_nonsense_value_is_refused_or_ignored(redis_conn):
    with pytest.raises(ValueError, match="unknown service-level histogram 'scan_time'"):
        slo.observe("scan_time", 1.0)
    slo.observe_many("quality_scan_duration", [float("nan"), float("inf"), -3.0])
    assert list(SloSample.objects.values_list("seconds", flat=True)) == [0.0]


def test_p95_over_24_hours_against_targets_raises_and_clears_an_alert(redis_conn, settings):
    settings.SLO_MIN_SAMPLES = 5
    now = timezone.now()
    slo.observe_many("notification_delay", [1.0] * 18 + [50.0, 60.0])
    slo.observe_many("notification_delay", [500.0] * 50, at=now - timedelta(hours=25))  # outside the window
    slo.observe_many("rule_update_delay", [500.0] * 4)  # too few samples to judge

    rows = {row["name"]: row for row in service_levels.status(now)}
    notification = rows["notification_delay"]
    assert notification["samples"] == 20 and notification["p50"] == 1.0
    assert notification["p95"] == pytest.approx(50.5) and notification["breached"]
    assert not rows["rule_update_delay"]["breached"] and rows["ipo_detection_delay"]["p95"] is None

    assert service_levels.check_targets(now) == ["notification_delay"]
    alert = Alert.objects.get(fingerprint="slo:notification_delay")
    assert alert.state == "firing" and "p95 50.5 s over 24 h exceeds the 30 s target" in alert.title

    assert service_levels.check_targets(now + timedelta(hours=25)) == []
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_old_samples_are_pruned(redis_conn, settings):
    settings.SLO_SAMPLE_RETENTION_DAYS = 7
    slo.observe("quality_scan_duration", 1.0)
    slo.observe_many("quality_scan_duration", [2.0], at=timezone.now() - timedelta(days=8))
    assert slo.prune() == 1 and SloSample.objects.count() == 1
