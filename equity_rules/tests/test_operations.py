"""The pieces `make run` and the django-q2 cluster use: demo data, schedules, tasks, the command."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from config import bootstrap
from equity_rules import demo, enqueue, tasks
from equity_rules.models import EquityType, ProcessingJob, ProcessingResult, Security

pytestmark = pytest.mark.django_db


def test_demo_load_covers_every_type_and_is_idempotent():
    demo.load()
    first = dict(Security.objects.values_list("symbol", "name"))
    demo.load()
    assert dict(Security.objects.values_list("symbol", "name")) == first
    assert len(first) >= 24
    assert set(Security.objects.values_list("equity_type__equity_type", flat=True)) == set(
        EquityType.objects.values_list("equity_type", flat=True))


def test_schedules_are_created_once_by_the_bootstrap():
    bootstrap.ensure_schedules()
    bootstrap.ensure_schedules()
    names = list(Schedule.objects.filter(func__startswith="equity_rules.").values_list("name", flat=True))
    assert sorted(names) == ["equity rules: SLA check", "equity rules: drain processing queue",
                             "equity rules: enqueue due processing", "equity rules: prune finished jobs"]


def test_enqueue_due_follows_update_frequency_and_skips_securities_already_waiting():
    demo.load()
    report = enqueue.enqueue_due()
    assert report == {kind: Security.objects.filter(equity_type__equity_type=kind).count()
                      for kind in EquityType.objects.values_list("equity_type", flat=True)}

    again = enqueue.enqueue_due()
    assert again == {"etf": 0, "common_stock": 0}  # realtime: due, but every security already waits

    later = enqueue.enqueue_due(now=timezone.now() + timedelta(minutes=6))
    assert set(later) == {"etf", "common_stock", "adr"}  # 5m types are due again; 15m, 1h and daily are not


def test_tasks_drain_the_queue_and_check_the_sla():
    demo.load()
    tasks.enqueue_due()
    waiting = ProcessingJob.objects.count()

    totals = tasks.process_queue(max_seconds=30)

    assert totals["processed"] == waiting
    assert set(ProcessingJob.objects.values_list("state", flat=True)) == {"done"}
    sla = {row["equity_type"]: row for row in tasks.check_sla()}
    assert sla["etf"]["samples"] == Security.objects.filter(equity_type__equity_type="etf").count()
    verdicts = dict(ProcessingResult.objects.filter(symbol__in=["SPY", "TINY", "PRCY", "GOF"])
                    .values_list("symbol", "passed"))
    assert verdicts == {"SPY": True, "TINY": False, "PRCY": False, "GOF": False}


def test_the_process_queue_command_reports_what_it_did(capsys):
    demo.load()
    Security.objects.exclude(symbol="SPY").update(is_active=False)
    enqueue.enqueue_due()
    call_command("process_queue", "--once")
    assert "1 processed, 0 to retry, 0 dead-lettered" in capsys.readouterr().out


def test_pruning_keeps_dead_letters_and_recent_work():
    demo.load()
    enqueue.enqueue_due()
    tasks.process_queue(max_seconds=30)
    ProcessingJob.objects.filter(symbol="SPY").update(state="dead")
    ProcessingJob.objects.update(finished_at=timezone.now() - timedelta(days=30))
    ProcessingJob.objects.filter(symbol="QQQ").update(finished_at=timezone.now())

    tasks.prune_finished()

    assert sorted(ProcessingJob.objects.values_list("symbol", flat=True)) == ["QQQ", "SPY"]
    assert set(ProcessingResult.objects.values_list("symbol", flat=True)) == {"QQQ", "SPY"}
