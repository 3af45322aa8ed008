"""django-q2 task functions of the rules engine. Thin: they call library code."""

from dataclasses import asdict

from equity_rules import enqueue, queue, sla
from equity_rules.worker import Worker


def process_queue(max_seconds: float = 50) -> dict:
    """Drain the processing queue for up to `max_seconds` (kept below the cluster's timeout)."""
    return asdict(Worker().run(max_seconds=max_seconds, once=True))


def enqueue_due() -> dict:
    return enqueue.enqueue_due()


def check_sla() -> list[dict]:
    return [{"equity_type": status.equity_type.equity_type, "samples": status.samples, "p95_ms": status.p95_ms,
             "success_rate": status.success_rate, "breaches": status.breaches} for status in sla.check_all()]


def prune_finished() -> int:
    return queue.prune_finished()
