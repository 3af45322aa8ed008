from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from equity_rules import processing, queue
from equity_rules.models import EquityType, ProcessingJob, ProcessingResult
from equity_rules.tests.conftest import make_security
from tickstock_ops import health
from tickstock_ops.models import Alert, OutboxEvent

pytestmark = pytest.mark.django_db
State = ProcessingJob.State


def make_due(job_ids=None) -> None:
    """Time passes: every queued job's backoff is over."""
    jobs = ProcessingJob.objects.filter(state=State.QUEUED)
    if job_ids:
        jobs = jobs.filter(id__in=job_ids)
    jobs.update(scheduled_at=timezone.now() - timedelta(seconds=1))


def test_enqueue_beyond_the_bound_is_refused_whole_with_an_alert(settings):
    settings.EQUITY_RULES_QUEUE_BOUND = 3
    spy, qqq = make_security("SPY"), make_security("QQQ")
    assert queue.enqueue([spy, qqq]) == 2

    with pytest.raises(queue.QueueFull, match=r"queue for etf is full: 2 jobs wait and 2 more would exceed its "
                                              r"bound of 3; nothing was enqueued"):
        queue.enqueue([spy, qqq])

    assert ProcessingJob.objects.count() == 2
    alert = Alert.objects.get(fingerprint="equity_queue_full:etf")
    assert alert.severity == "critical" and alert.labels == {"equity_type": "etf", "waiting": 2, "refused": 2,
                                                             "bound": 3}
    assert queue.enqueue([spy]) == 1
    assert Alert.objects.get(fingerprint="equity_queue_full:etf").state == "resolved"


def test_a_mixed_enqueue_is_all_or_nothing_when_one_type_is_full(settings):
    settings.EQUITY_RULES_QUEUE_BOUND = 1
    spy, aapl = make_security("SPY"), make_security("AAPL", equity_type="common_stock")
    queue.enqueue([spy])
    with pytest.raises(queue.QueueFull, match=r"^queue for etf is full: 1 jobs wait and 1 more would exceed its "
                                              r"bound of 1; nothing was enqueued"):
        queue.enqueue([aapl, spy])
    assert list(ProcessingJob.objects.values_list("symbol", flat=True)) == ["SPY"]
    assert not Alert.objects.filter(fingerprint="equity_queue_full:common_stock").exists()


def test_a_types_queue_limit_overrides_the_global_bound():
    EquityType.objects.filter(equity_type="etf").update(
        processing_rules={**EquityType.objects.get(equity_type="etf").processing_rules, "queue_limit": 1})
    spy = make_security("SPY")
    queue.enqueue([spy])
    with pytest.raises(queue.QueueFull, match="bound of 1"):
        queue.enqueue([spy])


def test_claims_go_by_priority_then_due_time_and_skip_jobs_not_yet_due():
    spy, aapl = make_security("SPY"), make_security("AAPL", equity_type="common_stock")
    queue.enqueue([aapl], delay_seconds=-30)  # common_stock: priority 2, due 30 s ago
    queue.enqueue([spy], delay_seconds=-10)  # etf: priority 1, due 10 s ago
    queue.enqueue([spy], delay_seconds=60)  # etf, not due for a minute
    queue.enqueue([aapl], priority=1, delay_seconds=-20)  # explicit priority 1, due 20 s ago

    claimed = queue.claim("w", limit=10)

    assert [(job.symbol, job.priority) for job in claimed] == [("AAPL", 1), ("SPY", 1), ("AAPL", 2)]
    assert all(job.state == State.RUNNING and job.attempts == 1 and job.claimed_by == "w" for job in claimed)
    assert queue.claim("w2", limit=10) == []


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap():
    config = {"max_retries": 5, "backoff_multiplier": 3, "base_delay_seconds": 2, "jitter": 0.25}
    for attempt, nominal in [(1, 2), (2, 6), (3, 18)]:
        delays = [queue.backoff_seconds(config, attempt) for _ in range(200)]
        assert all(nominal * 0.75 <= delay <= nominal * 1.25 for delay in delays)
        assert len(set(delays)) > 100  # jittered, so retries of many jobs do not stampede together
    assert queue.backoff_seconds({**config, "max_delay_seconds": 10, "jitter": 0}, 10) == 10


def test_a_failing_job_backs_off_then_is_dead_lettered_with_every_error_kept():
    etf = EquityType.objects.get(equity_type="etf")
    broken = {**etf.processing_rules, "validation_rules": {"aum_minimum": -1}}
    EquityType.objects.filter(pk=etf.pk).update(processing_rules=broken)  # behind the schema's back
    queue.enqueue([make_security("SPY")])
    job = ProcessingJob.objects.get()

    delays = []
    for _ in range(3):
        before = timezone.now()
        report = processing.run_batch("w")
        assert report.retried == 1
        job.refresh_from_db()
        delays.append((job.scheduled_at - before).total_seconds())
        make_due()
    assert job.state == State.QUEUED and job.attempts == 3
    assert 0.7 < delays[0] < 1.3 and 1.5 < delays[1] < 2.5 and 3.1 < delays[2] < 4.9

    assert processing.run_batch("w").dead == 1
    job.refresh_from_db()
    assert job.state == State.DEAD and job.attempts == 4
    assert job.last_error == ("rules of etf version 1 are invalid: processing_rules.validation_rules.aum_minimum: "
                              "must be a number ≥ 0, not -1")
    assert [entry["attempt"] for entry in job.errors] == [1, 2, 3, 4]
    failed = OutboxEvent.objects.get(type="tickstock.equity.failed").payload
    assert {k: failed[k] for k in ("symbol", "equity_type", "rules_version", "attempts", "error")} == {
        "symbol": "SPY", "equity_type": "etf", "rules_version": 1, "attempts": 4, "error": job.last_error}
    assert not OutboxEvent.objects.filter(type="tickstock.equity.processed").exists()
    assert ProcessingResult.objects.filter(succeeded=False).count() == 4


def test_a_job_whose_security_was_deleted_is_dead_lettered_at_once_with_a_clear_error():
    spy = make_security("SPY")
    queue.enqueue([spy])
    spy.delete()

    report = processing.run_batch("w")

    job = ProcessingJob.objects.get()
    assert (report.dead, job.state, job.attempts, job.symbol, job.security) == (1, State.DEAD, 1, "SPY", None)
    assert job.last_error == "security SPY was deleted after this job was queued; nothing to process"
    assert OutboxEvent.objects.get(type="tickstock.equity.failed").payload["error"] == job.last_error


def test_an_expired_lease_hands_the_job_to_another_worker_and_the_first_can_no_longer_finish_it():
    queue.enqueue([make_security("SPY")])
    stale = queue.claim("worker-that-hangs", lease_seconds=0.001)

    requeued, dead = queue.rescue_expired(timezone.now() + timedelta(seconds=1))
    assert (requeued, dead) == (1, 0)
    assert processing.run_batch("worker-2").processed == 1
    with transaction.atomic():
        assert queue.owned(stale) == []

    job = ProcessingJob.objects.get()
    assert (job.state, job.attempts) == (State.DONE, 2)
    assert ProcessingResult.objects.filter(succeeded=True).count() == 1
    assert OutboxEvent.objects.filter(type="tickstock.equity.processed").count() == 1


def test_a_lease_expiring_on_the_last_attempt_dead_letters_the_job():
    queue.enqueue([make_security("SPY")])
    ProcessingJob.objects.update(max_attempts=1)
    queue.claim("w", lease_seconds=0.001)

    assert queue.rescue_expired(timezone.now() + timedelta(seconds=1)) == (0, 1)
    job = ProcessingJob.objects.get()
    assert job.state == State.DEAD and job.last_error.startswith("lease expired")
    assert OutboxEvent.objects.get(type="tickstock.equity.failed").payload["error"] == job.last_error


def test_cancelling_a_running_job_stops_it_completing_and_retry_brings_it_back():
    queue.enqueue([make_security("SPY")])
    claimed = queue.claim("w")
    assert queue.cancel(claimed) == 1
    with transaction.atomic():
        assert queue.owned(claimed) == []
    assert queue.retry(ProcessingJob.objects.all()) == 1
    assert processing.run_batch("w").processed == 1
    assert ProcessingJob.objects.get().state == State.DONE


def test_queue_depth_is_reported_to_healthz():
    queue.enqueue([make_security("SPY"), make_security("QQQ")])
    assert health.queue_depths()["equity_processing"] == 2
