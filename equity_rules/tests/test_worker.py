"""Real worker processes against the test database: live apply of rule changes, and faults mid-job."""

import os
import re
import signal
import subprocess
import time

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q

from equity_rules import queue, versions
from equity_rules.models import EquityType, ProcessingJob, ProcessingResult, Security
from equity_rules.tests.conftest import make_security
from tickstock_ops import testing
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


def start_worker(name: str, *args: str) -> subprocess.Popen:
    return testing.manage("process_queue", "--name", name, "--poll", "0.05", *args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_for(job_id: int) -> ProcessingResult:
    return testing.wait_until(lambda: ProcessingResult.objects.filter(job_id=job_id).first(), what=f"job {job_id}")


def enqueue_one(security: Security) -> int:
    queue.enqueue([security])
    return ProcessingJob.objects.latest("id").id


def test_a_running_worker_follows_rule_changes_and_rollbacks_from_the_next_job():
    tiny = make_security("TINY", aum=21_000_000)
    worker = start_worker("live-worker")
    try:
        first = result_for(enqueue_one(tiny))
        assert (first.rules_version, first.passed, first.reasons) == (1, False,
                                                                     ["aum 21000000 < aum_minimum 50000000"])

        etf = EquityType.objects.get(equity_type="etf")
        etf.processing_rules["validation_rules"]["aum_minimum"] = 10_000_000
        versions.save(etf, reason="smaller funds welcome")
        second = result_for(enqueue_one(tiny))
        assert (second.rules_version, second.passed, second.reasons) == (2, True, [])

        versions.rollback("etf", 1)
        third = result_for(enqueue_one(tiny))
        assert (third.rules_version, third.passed) == (3, False)

        assert worker.poll() is None, "the worker must not need a restart"
        assert {first.worker, second.worker, third.worker} == {"live-worker"}
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "live-worker: 3 processed, 0 to retry, 0 dead-lettered" in out


def enqueue_many(count: int) -> list[int]:
    etf = EquityType.objects.get(equity_type="etf")
    Security.objects.bulk_create([
        Security(symbol=f"T{i:04d}", name=f"Test fund {i}", equity_type=etf, exchange="ARCX", aum=60_000_000,
                 expense_ratio="0.5", nav="10", last_close="10.1", average_volume=200_000) for i in range(count)])
    queue.enqueue(Security.objects.filter(symbol__startswith="T"))
    return list(ProcessingJob.objects.values_list("id", flat=True))


def freeze_while_holding_a_claim(worker: subprocess.Popen, name: str, *, outside_a_transaction: bool = False
                                 ) -> list[int]:
    """SIGSTOP the worker at a moment it holds claimed jobs (retrying until it does); their ids.

    `outside_a_transaction`: also require that it is not frozen inside its commit, whose row locks would
    keep every other worker off those jobs until it wakes (PostgreSQL only)."""
    running = ProcessingJob.objects.filter(state="running", claimed_by=name)
    for _ in range(500):
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            if outside_a_transaction:
                with transaction.atomic():
                    held = list(running.select_for_update(nowait=True).values_list("id", flat=True))
            else:
                held = list(running.values_list("id", flat=True))
        except DatabaseError:  # frozen inside its commit: its rows are locked
            held = []
        if held:
            return held
        os.kill(worker.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError(f"{name} never held a claim")


def assert_each_job_completed_exactly_once(job_ids: list[int]) -> None:
    states = dict(ProcessingJob.objects.values_list("state").annotate(n=Count("id")))
    assert states == {"done": len(job_ids)}, states
    completions = (ProcessingResult.objects.filter(succeeded=True).values("job_id").annotate(n=Count("id"))
                   .filter(n__gt=1))
    assert list(completions) == [], "a job was completed twice"
    assert ProcessingResult.objects.filter(succeeded=True).count() == len(job_ids)
    processed = OutboxEvent.objects.filter(type="tickstock.equity.processed")
    assert processed.count() == len(job_ids)
    assert len({event.payload["job_id"] for event in processed}) == len(job_ids)


def test_a_worker_killed_mid_job_loses_nothing_and_completes_nothing_twice():
    job_ids = enqueue_many(300)
    doomed = start_worker("doomed", "--batch", "10", "--lease", "2")
    testing.wait_until(lambda: ProcessingResult.objects.count() >= 20, what="the first worker to make progress")
    # On PostgreSQL a worker frozen after sending its COMMIT still commits: its rows are not "held" then.
    held = freeze_while_holding_a_claim(doomed, "doomed", outside_a_transaction=connection.vendor == "postgresql")
    doomed.kill()
    doomed.communicate(timeout=10)

    survivor = start_worker("survivor", "--lease", "10")
    try:
        testing.wait_until(lambda: not ProcessingJob.objects.filter(~Q(state="done")).exists(), timeout=60,
                   what="the survivor to drain the queue")
    finally:
        survivor.send_signal(signal.SIGTERM)
        out, _ = survivor.communicate(timeout=20)

    assert_each_job_completed_exactly_once(job_ids)
    rerun = ProcessingJob.objects.filter(id__in=held)
    assert {job.attempts for job in rerun} == {2}, "the killed worker's jobs ran again"
    assert set(ProcessingResult.objects.filter(job_id__in=held).values_list("worker", flat=True)) == {"survivor"}
    assert "rescued from expired leases" in out


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="a SQLite writer frozen mid-transaction locks the whole database file")
def test_a_hung_worker_that_wakes_after_its_lease_cannot_complete_its_jobs_again():
    job_ids = enqueue_many(120)
    sleeper = start_worker("sleeper", "--batch", "10", "--lease", "2")
    testing.wait_until(lambda: ProcessingResult.objects.count() >= 10, what="the first worker to make progress")
    held = freeze_while_holding_a_claim(sleeper, "sleeper", outside_a_transaction=True)

    other = start_worker("other", "--lease", "10")
    try:
        testing.wait_until(lambda: ProcessingJob.objects.filter(id__in=held, state="done").count() == len(held),
                   what="the other worker to take over the frozen claim")
        os.kill(sleeper.pid, signal.SIGCONT)
        testing.wait_until(lambda: not ProcessingJob.objects.filter(~Q(state="done")).exists(), timeout=60,
                   what="the queue to drain")
    finally:
        os.kill(sleeper.pid, signal.SIGCONT)
        for worker in (sleeper, other):
            worker.send_signal(signal.SIGTERM)
        sleeper_out, sleeper_err = sleeper.communicate(timeout=20)
        other.communicate(timeout=20)

    assert_each_job_completed_exactly_once(job_ids)
    assert set(ProcessingResult.objects.filter(job_id__in=held).values_list("worker", flat=True)) == {"other"}
    lost = int(re.search(r"(\d+) lost to another worker", sleeper_out).group(1))
    # More if a later batch of its own also outlived its 2 s lease on a busy machine.
    assert lost >= len(held), sleeper_out + sleeper_err


@pytest.mark.skipif(connection.vendor != "postgresql", reason="cuts the worker's PostgreSQL connection")
def test_a_worker_whose_database_connection_is_cut_reconnects_and_carries_on():
    spy = make_security("SPY")
    worker = start_worker("resilient")
    try:
        result_for(enqueue_one(spy))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert cursor.fetchall(), "the worker had a connection to cut"
        after = result_for(enqueue_one(spy))
        assert after.worker == "resilient" and worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=20)
    assert "resilient: 2 processed" in out


def test_a_worker_keeps_trying_through_a_database_outage_and_carries_on_after(monkeypatch, caplog, tmp_path):
    from equity_rules import worker as worker_module

    queue.enqueue([make_security("SPY")])
    monkeypatch.setattr(worker_module, "DB_RETRY_SECONDS", 0.1)
    unreachable = {"PORT": str(testing.free_port()), "HOST": "127.0.0.1"} if connection.vendor == "postgresql" \
        else {"NAME": str(tmp_path / "missing-dir" / "db.sqlite3")}
    saved = {key: connection.settings_dict.get(key) for key in unreachable}
    connection.close()
    connection.settings_dict.update(unreachable)
    try:
        totals = worker_module.Worker("outage", poll_seconds=0.05).run(max_seconds=0.5)
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert totals.processed == 0
    assert "outage: database unavailable, retrying in 0 s" in caplog.text

    totals = worker_module.Worker("outage").run(once=True)
    assert totals.processed == 1 and ProcessingJob.objects.get().state == "done"


@pytest.mark.parametrize("url", ["postgres://tickstock:pw-not-shown@127.0.0.1:{port}/tickstock",
                                 "sqlite:///{missing}/db.sqlite3"])
def test_process_queue_once_exits_with_a_clear_error_while_the_database_is_down(url, tmp_path):
    url = url.format(port=testing.free_port(), missing=tmp_path / "missing-dir")
    started = time.monotonic()
    result = testing.run_manage("process_queue", "--once", "--db-wait", "3",
                                env={**testing.process_env(), "DATABASE_URL": url}, timeout=90)
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]  # after one log line per retry
    assert "Traceback" not in result.stderr
    assert line.startswith("CommandError: process_queue: the database has been unavailable for ")
    assert "nothing was lost" in line and "pw-not-shown" not in result.stderr
    assert elapsed < 60  # 3 s of retries plus the interpreter's start on a busy machine
