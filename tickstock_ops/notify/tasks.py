"""django-q2 task of notifications. Thin: it calls library code."""

from datetime import timedelta

from django.utils import timezone

from tickstock_ops.notify import conf, deliver
from tickstock_ops.notify.models import DeliveryAttempt


def deliver_notifications() -> dict:
    """Send what is due, and keep watching for most of the schedule's minute while something is due soon."""
    report = deliver.run(watch_seconds=conf.get("NOTIFY_WATCH_SECONDS"))
    cutoff = timezone.now() - timedelta(days=conf.get("NOTIFY_ATTEMPT_RETENTION_DAYS"))
    pruned, _ = DeliveryAttempt.objects.filter(at__lt=cutoff).delete()
    return {**vars(report), "pruned": pruned}
