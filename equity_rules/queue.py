"""The processing queue, with Oban/solid_queue semantics.

Jobs are rows. A worker claims a batch by priority then due time (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
one atomic UPDATE on SQLite), stamping each with a fresh claim token and a lease. Finishing a job is
conditional on still holding that token, so a worker whose lease ran out (and whose job another worker
re-ran) can never complete it a second time. Failures back off exponentially with jitter per the type's
`retry_config`; after the last attempt the job is dead-lettered with its errors kept.
"""

import random
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from equity_rules import conf
from equity_rules.models import EquityType, ProcessingJob, Security
from tickstock_ops import alerts
from tickstock_ops.events import publish

State = ProcessingJob.State


class QueueFull(Exception):
    """Enqueuing would put more jobs in an equity type's queue than its bound allows; nothing was enqueued."""


def bound_for(equity_type: EquityType) -> int:
    return int(equity_type.processing_rules.get("queue_limit") or conf.get("EQUITY_RULES_QUEUE_BOUND"))


def enqueue(securities: Iterable[Security], *, priority: int | None = None, delay_seconds: float = 0) -> int:
    """Queue one job per security, all or nothing: QueueFull (and an alert) if any type would exceed its bound."""
    by_type: dict[int, list[Security]] = {}
    for security in securities:
        by_type.setdefault(security.equity_type_id, []).append(security)
    if not by_type:
        return 0
    due = timezone.now() + timedelta(seconds=delay_seconds)
    with transaction.atomic():
        types = list(EquityType.objects.select_for_update().filter(pk__in=by_type).order_by("pk"))
        waiting = dict(ProcessingJob.objects.filter(equity_type_id__in=by_type, state=State.QUEUED)
                       .values_list("equity_type_id").annotate(n=Count("id")))
        full = [(t, waiting.get(t.pk, 0), len(by_type[t.pk]), bound_for(t)) for t in types
                if waiting.get(t.pk, 0) + len(by_type[t.pk]) > bound_for(t)]
        if not full:
            ProcessingJob.objects.bulk_create(
                [ProcessingJob(security=s, symbol=s.symbol, equity_type=t, scheduled_at=due,
                               priority=priority or t.priority_level, max_attempts=t.max_attempts)
                 for t in types for s in by_type[t.pk]],
                batch_size=1000,
            )
    if full:
        _refuse(full)
    for equity_type in types:
        alerts.resolve(f"equity_queue_full:{equity_type.equity_type}")
    return sum(len(members) for members in by_type.values())


def _refuse(full: list[tuple[EquityType, int, int, int]]) -> None:
    problems = []
    for equity_type, waiting, adding, bound in full:
        key = equity_type.equity_type
        alerts.fire(f"equity_queue_full:{key}", source="rules", severity="critical",
                    title=f"Processing queue full for {key}: {waiting} waiting, bound {bound}",
                    labels={"equity_type": key, "waiting": waiting, "refused": adding, "bound": bound})
        problems.append(f"queue for {key} is full: {waiting} jobs wait and {adding} more would exceed its bound "
                        f"of {bound}")
    raise QueueFull("; ".join(problems) + "; nothing was enqueued (raise processing_rules.queue_limit or add "
                                          "workers)")


def claim(worker: str, *, limit: int | None = None, lease_seconds: float | None = None) -> list[ProcessingJob]:
    """Take up to `limit` due jobs, highest priority and oldest due time first, under a lease."""
    limit = limit or conf.get("EQUITY_RULES_BATCH_SIZE")
    now = timezone.now()
    token = uuid.uuid4()
    claim_fields = {"state": State.RUNNING, "claim_token": token, "claimed_by": worker[:100],
                    "claimed_until": now + timedelta(seconds=lease_seconds or conf.get("EQUITY_RULES_LEASE_SECONDS")),
                    "attempts": F("attempts") + 1}
    due = ProcessingJob.objects.filter(state=State.QUEUED, scheduled_at__lte=now).order_by(
        "priority", "scheduled_at", "id")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            ids = list(due.select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True)[:limit])
            if not ids:
                return []
            ProcessingJob.objects.filter(id__in=ids).update(**claim_fields)
        else:
            # SQLite: one UPDATE is atomic and writers are serialised, so no two workers get the same row.
            ProcessingJob.objects.filter(id__in=due.values("id")[:limit], state=State.QUEUED).update(**claim_fields)
        # Read before the commit: a worker that stalls after it must still know what it claimed, even when
        # another worker has taken the jobs over (and cleared their token) by the time it wakes.
        return list(ProcessingJob.objects.filter(claim_token=token).order_by("priority", "scheduled_at", "id"))


def owned(jobs: list[ProcessingJob]) -> list[ProcessingJob]:
    """Of `jobs`, those this worker still holds (same claim token, still running), locked until commit."""
    tokens = {job.claim_token for job in jobs}
    held = set(
        ProcessingJob.objects.select_for_update().filter(
            id__in=[job.id for job in jobs], claim_token__in=tokens, state=State.RUNNING
        ).values_list("id", flat=True)
    )
    return [job for job in jobs if job.id in held]


def mark_done(jobs: list[ProcessingJob]) -> None:
    if jobs:
        ProcessingJob.objects.filter(id__in=[job.id for job in jobs]).update(
            state=State.DONE, finished_at=timezone.now(), claim_token=None, claimed_until=None, last_error="")


def backoff_seconds(retry_config: dict, attempt: int) -> float:
    """Delay before attempt `attempt + 1`: base × multiplier^(attempt − 1), capped, with ± jitter."""
    base = float(retry_config.get("base_delay_seconds", conf.get("EQUITY_RULES_BASE_DELAY_SECONDS")))
    multiplier = float(retry_config.get("backoff_multiplier", 2))
    cap = float(retry_config.get("max_delay_seconds", conf.get("EQUITY_RULES_MAX_DELAY_SECONDS")))
    jitter = float(retry_config.get("jitter", 0.2))
    delay = min(cap, base * multiplier ** max(0, attempt - 1))
    return max(0.0, delay * (1 + random.uniform(-jitter, jitter)))


def mark_failed(job: ProcessingJob, error: str, retry_config: dict, *, retryable: bool = True) -> bool:
    """Record a failed attempt: schedule a retry, or dead-letter it. True when it was dead-lettered."""
    now = timezone.now()
    errors = [*job.errors, {"attempt": job.attempts, "at": now.isoformat(), "error": error[:2000]}]
    dead = not retryable or job.attempts >= job.max_attempts
    fields = {"last_error": error[:5000], "errors": errors, "claim_token": None, "claimed_until": None}
    if dead:
        fields.update(state=State.DEAD, finished_at=now)
    else:
        fields.update(state=State.QUEUED, scheduled_at=now + timedelta(seconds=backoff_seconds(retry_config,
                                                                                               job.attempts)))
    ProcessingJob.objects.filter(pk=job.pk).update(**fields)
    job.errors, job.last_error = errors, error
    return dead


def failed_payload(job: ProcessingJob, equity_type: str, rules_version: int, error: str,
                   duration_ms: float | None = None) -> dict:
    """The payload of `tickstock.equity.failed` (docs/events.md): the job and every attempt's error."""
    return {"symbol": job.symbol, "equity_type": equity_type, "rules_version": rules_version,
            "attempts": job.attempts, "duration_ms": duration_ms, "error": error, "job_id": job.id,
            "errors": job.errors}


def rescue_expired(now=None) -> tuple[int, int]:
    """Hand jobs whose lease ran out (their worker died or hung) back to the queue; dead-letter those with
    no attempt left. Returns (requeued, dead-lettered)."""
    now = now or timezone.now()
    message = "lease expired: the worker stopped or hung during this attempt"
    with transaction.atomic():
        # Rows a live transaction still locks belong to a worker that is committing them right now.
        expired = ProcessingJob.objects.filter(state=State.RUNNING, claimed_until__lt=now).select_for_update(
            **({"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}))
        jobs = list(expired.select_related("equity_type"))
        dead = [job for job in jobs if job.attempts >= job.max_attempts]
        for job in dead:
            job.errors = [*job.errors, {"attempt": job.attempts, "at": now.isoformat(), "error": message}]
            ProcessingJob.objects.filter(pk=job.pk).update(state=State.DEAD, finished_at=now, last_error=message,
                                                           errors=job.errors, claim_token=None, claimed_until=None)
            publish("tickstock.equity.failed",
                    failed_payload(job, job.equity_type.equity_type, job.equity_type.version, message))
        requeued = ProcessingJob.objects.filter(id__in=[job.id for job in jobs if job not in dead]).update(
            state=State.QUEUED, last_error=message, claim_token=None, claimed_until=None)
    return requeued, len(dead)


def retry(jobs: Iterable[ProcessingJob]) -> int:
    """Operator's retry: dead or cancelled jobs go back to the queue with a fresh set of attempts."""
    ids = [job.pk for job in jobs]
    return ProcessingJob.objects.filter(id__in=ids, state__in=[State.DEAD, State.CANCELLED]).update(
        state=State.QUEUED, scheduled_at=timezone.now(), attempts=0, finished_at=None)


def cancel(jobs: Iterable[ProcessingJob]) -> int:
    """Operator's cancel: a queued job will not run; a running one will not be completed (its token dies)."""
    ids = [job.pk for job in jobs]
    return ProcessingJob.objects.filter(id__in=ids, state__in=[State.QUEUED, State.RUNNING]).update(
        state=State.CANCELLED, finished_at=timezone.now(), claim_token=None, claimed_until=None)


def prune_finished(older_than_days: int | None = None) -> int:
    """Delete done and cancelled jobs (and their results) that finished before the retention window.
    Dead letters stay until an operator retries or deletes them."""
    days = conf.get("EQUITY_RULES_RETENTION_DAYS") if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = ProcessingJob.objects.filter(state__in=[State.DONE, State.CANCELLED], finished_at__lt=cutoff).delete()
    return deleted


def depth() -> int:
    return ProcessingJob.objects.filter(state__in=[State.QUEUED, State.RUNNING]).count()
