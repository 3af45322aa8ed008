"""Service-level samples (docs/metrics.md): `observe(name, seconds)` from anywhere, read back by /metrics as
Prometheus histograms and by the dashboard as percentiles against the targets.

Histogram buckets are counters in Redis, incremented after the caller's transaction commits, so every process
reports the same figures. The kinds with a target also keep each sample in the database (in the caller's
transaction, pruned after SLO_SAMPLE_RETENTION_DAYS) for the dashboard's 24-hour p50/p95.
"""

import logging
import math
from bisect import bisect_left
from datetime import datetime, timedelta

import redis
from django.db import connection, transaction
from django.utils import timezone

from tickstock_ops import conf
from tickstock_ops.models import SloSample
from tickstock_ops.redis_client import get_redis

log = logging.getLogger(__name__)

HISTOGRAMS = {
    "ipo_detection_delay": "First evidence of an IPO at a source (first fetch showing it) to tickstock.ipo.detected "
                           "committed",
    "quality_scan_duration": "Duration of one data-quality scan",
    "quality_detection_delay": "End of a bar to the commit of the anomaly event about it (live scans)",
    "rule_update_delay": "Equity rules committed to the first job processed under the new version",
    "event_delivery_delay": "Event written to the outbox to its delivery on Redis",
    "notification_delay": "Alert fired to its notification accepted by the receiver",
}
# The seed's promises, on the 95th percentile over 24 hours (seconds).
TARGETS = {
    "ipo_detection_delay": 15 * 60,
    "quality_scan_duration": 10 * 60,
    "rule_update_delay": 2 * 60,
    "notification_delay": 30,
}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600,
           7200, 21600, 86400)
KEY = "tickstock:slo:{name}"


def observe(name: str, seconds: float) -> None:
    observe_many(name, [seconds])


def observe_many(name: str, values: list[float], at: datetime | None = None) -> None:
    """Record samples of `name` (one of HISTOGRAMS); negative values (clock skew) count as zero."""
    if name not in HISTOGRAMS:
        raise ValueError(f"unknown service-level histogram {name!r}; known: {', '.join(HISTOGRAMS)}")
    samples = [max(0.0, float(value)) for value in values if value is not None and math.isfinite(value)]
    if not samples:
        return
    if name in TARGETS:
        at = at or timezone.now()
        SloSample.objects.bulk_create([SloSample(name=name, at=at, seconds=value) for value in samples])
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _count(name, samples), robust=True)
    else:
        _count(name, samples)


def _count(name: str, samples: list[float]) -> None:
    per_bucket: dict[int, int] = {}
    for value in samples:
        index = bisect_left(BUCKETS, value)
        per_bucket[index] = per_bucket.get(index, 0) + 1
    try:
        pipe = get_redis().pipeline(transaction=True)
        key = KEY.format(name=name)
        for index, count in per_bucket.items():
            pipe.hincrby(key, str(index), count)
        pipe.hincrby(key, "count", len(samples))
        pipe.hincrbyfloat(key, "sum", sum(samples))
        pipe.execute()
    except redis.RedisError as error:
        log.warning("%d %s sample(s) not counted, Redis unavailable: %s", len(samples), name, error)


def histograms() -> dict[str, tuple[list[tuple[str, int]], float]]:
    """Per histogram: cumulative (le, count) buckets ending with +Inf, and the sum; empty ones included."""
    pipe = get_redis().pipeline(transaction=False)
    for name in HISTOGRAMS:
        pipe.hgetall(KEY.format(name=name))
    found = {}
    for name, raw in zip(HISTOGRAMS, pipe.execute(), strict=True):
        fields = {key.decode(): value for key, value in raw.items()}
        running, buckets = 0, []
        for index, bound in enumerate(BUCKETS):
            running += int(fields.get(str(index), 0))
            buckets.append((f"{bound:g}", running))
        buckets.append(("+Inf", int(fields.get("count", 0))))
        found[name] = (buckets, float(fields.get("sum", 0.0)))
    return found


def prune(now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=conf.get("SLO_SAMPLE_RETENTION_DAYS"))
    deleted, _ = SloSample.objects.filter(at__lt=cutoff).delete()
    return deleted
