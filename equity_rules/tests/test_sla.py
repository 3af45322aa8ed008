from datetime import timedelta

import pytest
from django.utils import timezone

from equity_rules import processing, queue, sla
from equity_rules.models import EquityType, ProcessingJob, ProcessingResult
from equity_rules.tests.conftest import make_security
from tickstock_ops.models import Alert, OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def etf_job():
    spy = make_security("SPY")
    return ProcessingJob.objects.create(security=spy, symbol="SPY", equity_type=spy.equity_type)


def record(job, durations_ms: list[float], *, failures: int = 0, minutes_ago: float = 1) -> None:
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    ProcessingResult.objects.bulk_create([
        ProcessingResult(job=job, symbol="SPY", equity_type="etf", rules_version=1, attempt=1,
                         succeeded=i >= failures, passed=True if i >= failures else None,
                         error="" if i >= failures else "boom", duration_ms=ms, finished_at=finished)
        for i, ms in enumerate(durations_ms)])


def breach_events() -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(type="tickstock.equity.sla_breach").order_by("id")]


def test_a_slow_p95_is_a_breach_published_once_and_alerted_every_check(etf_job):
    record(etf_job, [100.0] * 36 + [900.0] * 4)
    etf = EquityType.objects.get(equity_type="etf")

    status = sla.check(etf)
    assert (status.samples, status.p50_ms, status.success_rate) == (40, 100.0, 100.0)
    assert status.p95_ms == pytest.approx(900.0)
    assert breach_events() == [{"equity_type": "etf", "metric": "processing_time_ms", "target": 500.0,
                                "actual": status.p95_ms, "window": "15m", "samples": 40, "statistic": "p95"}]
    sla.check(etf)
    assert len(breach_events()) == 1
    alert = Alert.objects.get(fingerprint="equity_sla:etf:processing_time_ms")
    assert (alert.state, alert.count) == ("firing", 2)
    assert "SLA breach for etf: processing_time_ms 900.0 ms (p95) vs target 500.0" in alert.title

    ProcessingResult.objects.all().delete()
    record(etf_job, [50.0] * 40)
    assert sla.check(etf).breaches == []
    assert Alert.objects.get(fingerprint="equity_sla:etf:processing_time_ms").state == "resolved"


def test_a_low_success_rate_is_a_breach(etf_job):
    record(etf_job, [20.0] * 40, failures=2)
    status = sla.check(EquityType.objects.get(equity_type="etf"))
    assert status.success_rate == 95.0
    assert [b["metric"] for b in status.breaches] == ["success_rate"]
    assert breach_events() == [{"equity_type": "etf", "metric": "success_rate", "target": 99.5, "actual": 95.0,
                                "window": "15m", "samples": 40, "statistic": "share of attempts"}]
    assert Alert.objects.filter(fingerprint="equity_sla:etf:success_rate", state="firing").exists()


def test_too_few_samples_or_old_ones_judge_nothing(etf_job):
    record(etf_job, [5000.0] * 5)
    record(etf_job, [5000.0] * 50, minutes_ago=30)
    status = sla.check(EquityType.objects.get(equity_type="etf"))
    assert (status.samples, status.breaches) == (5, [])
    assert breach_events() == [] and not Alert.objects.exists()


def test_check_all_covers_every_type_from_real_processing():
    queue.enqueue([make_security(f"F{i}") for i in range(25)])
    processing.run_batch("w", limit=25)
    statuses = {s.equity_type.equity_type: s for s in sla.check_all()}
    assert len(statuses) == 8
    assert statuses["etf"].samples == 25 and statuses["etf"].success_rate == 100.0
    assert statuses["etf"].target_processing_time_ms == 500.0
    assert statuses["reit"].samples == 0 and statuses["reit"].p95_ms is None
