"""django-q2 task of notifications. Thin: it calls library code."""

from tickstock_ops.notify import conf, deliver


def deliver_notifications() -> dict:
    """Send what is due, and keep watching for most of the schedule's minute while something is due soon."""
    report = deliver.run(watch_seconds=conf.get("NOTIFY_WATCH_SECONDS"))
    return {**vars(report), "pruned": deliver.prune()}
