"""What /healthz and /metrics report. Domain apps add their queues with `register_queue()`."""

from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django_q.models import OrmQ

from tickstock_ops import events
from tickstock_ops.redis_client import get_redis

_queues: dict[str, Callable[[], int]] = {"tasks": lambda: OrmQ.objects.count()}


def register_queue(name: str, depth: Callable[[], int]) -> None:
    _queues[name] = depth


def queue_depths() -> dict[str, int]:
    return {name: depth() for name, depth in _queues.items()}


def check() -> tuple[bool, dict]:
    report: dict = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as error:  # any driver error means the database is not usable
        return False, {"database": {"ok": False, "error": str(error)}}
    try:
        get_redis().ping()
        report["redis"] = {"ok": True}
    except redis.RedisError as error:
        healthy = False
        report["redis"] = {"ok": False, "error": str(error)}
    lag = events.outbox_lag_seconds()
    lag_ok = lag <= settings.HEALTH_MAX_OUTBOX_LAG_SECONDS
    healthy = healthy and lag_ok
    report["outbox"] = {"ok": lag_ok, "pending": events.pending_count(), "lag_seconds": round(lag, 3),
                        "max_lag_seconds": settings.HEALTH_MAX_OUTBOX_LAG_SECONDS}
    report["queues"] = queue_depths()
    return healthy, report
