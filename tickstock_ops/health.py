"""What /healthz and /metrics report. Domain apps add their queues with `register_queue()` and the lag of their
stream consumers with `register_consumer_lag()`."""

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django_q.models import OrmQ

from tickstock_ops import events
from tickstock_ops.redis_client import get_redis

log = logging.getLogger(__name__)
_queues: dict[str, Callable[[], int]] = {"tasks": lambda: OrmQ.objects.count()}


@dataclass(frozen=True)
class ConsumerLag:
    """How far a Redis stream's consumer group is behind: entries not yet acknowledged (delivered or not), the
    age of the oldest of them, the most it may reach, and a problem that is unhealthy whatever the age (e.g.
    entries trimmed from the stream before the group read them)."""

    behind: int
    oldest_seconds: float
    max_seconds: float
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.oldest_seconds <= self.max_seconds


_lag_probes: dict[str, Callable[[], dict[str, ConsumerLag]]] = {}


def register_queue(name: str, depth: Callable[[], int]) -> None:
    _queues[name] = depth


def queue_depths() -> dict[str, int]:
    return {name: depth() for name, depth in _queues.items()}


def register_consumer_lag(name: str, probe: Callable[[], dict[str, ConsumerLag]]) -> None:
    """`probe()` returns the lag of each of an app's consumers by a name (e.g. "stream/group")."""
    _lag_probes[name] = probe


def consumer_lags() -> dict[str, ConsumerLag]:
    """Every registered consumer's lag; a probe that cannot reach Redis reports nothing (Redis is then unhealthy
    on its own account)."""
    lags: dict[str, ConsumerLag] = {}
    for name, probe in _lag_probes.items():
        try:
            lags.update(probe())
        except redis.RedisError as error:
            log.warning("consumer lag probe %s: %s", name, error)
    return lags


def check() -> tuple[bool, dict]:
    """Healthy or not, and the details for staff and the health token (never for anonymous callers: error texts
    name internal hosts and ports)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report: dict = {"database": {"ok": True, "vendor": connection.vendor}}
    except DatabaseError as error:
        return False, {"database": {"ok": False, "error": _first_line(error)}}
    healthy = True
    try:
        get_redis().ping()
        report["redis"] = {"ok": True}
    except redis.RedisError as error:
        healthy = False
        report["redis"] = {"ok": False, "error": _first_line(error)}
    lag = events.outbox_lag_seconds()
    lag_ok = lag <= settings.HEALTH_MAX_OUTBOX_LAG_SECONDS
    healthy = healthy and lag_ok
    report["outbox"] = {"ok": lag_ok, "pending": events.pending_count(), "lag_seconds": round(lag, 3),
                        "max_lag_seconds": settings.HEALTH_MAX_OUTBOX_LAG_SECONDS}
    report["queues"] = queue_depths()
    lags = consumer_lags() if report["redis"]["ok"] else {}
    report["consumers"] = {name: {"ok": lag.ok, **asdict(lag)} for name, lag in sorted(lags.items())}
    healthy = healthy and all(lag.ok for lag in lags.values())
    return healthy, report


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
