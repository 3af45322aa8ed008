"""Enqueuing work per each equity type's `update_frequency`, from the django-q2 schedule."""

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from equity_rules import queue
from equity_rules.models import EquityType, ProcessingJob, Security

INTERVALS = {"realtime": timedelta(seconds=0), "1m": timedelta(minutes=1), "5m": timedelta(minutes=5),
             "15m": timedelta(minutes=15), "1h": timedelta(hours=1), "daily": timedelta(days=1)}
PENDING = [ProcessingJob.State.QUEUED, ProcessingJob.State.RUNNING]


def enqueue_due(now=None) -> dict[str, int | str]:
    """For each type whose interval has passed since its last enqueue, queue every active security that has
    no job waiting. A full queue is reported for that type (and alerted by the queue); the others go on."""
    now = now or timezone.now()
    report: dict[str, int | str] = {}
    for equity_type in EquityType.objects.all():
        interval = INTERVALS[equity_type.processing_rules["update_frequency"]]
        last = ProcessingJob.objects.filter(equity_type=equity_type).aggregate(last=Max("created_at"))["last"]
        if last is not None and now - last < interval:
            continue
        securities = (Security.objects.filter(equity_type=equity_type, is_active=True)
                      .exclude(jobs__state__in=PENDING).select_related("equity_type"))
        try:
            report[equity_type.equity_type] = queue.enqueue(securities)
        except queue.QueueFull as error:
            report[equity_type.equity_type] = str(error)
    return report
