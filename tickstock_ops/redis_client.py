"""The one place that opens connections to Redis for the project's own use."""

from functools import lru_cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

TIMEOUT_SECONDS = 2


@lru_cache(maxsize=8)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        health_check_interval=30,
        # One immediate retry covers a pooled connection that Redis closed; an outage must fail fast,
        # because the outbox, not the client, is what waits for Redis to come back.
        retry=Retry(NoBackoff(), 1),
    )


def get_redis() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


def connect(*, socket_timeout: float = TIMEOUT_SECONDS) -> redis.Redis:
    """A client of the caller's own, not shared: for a long-lived consumer whose blocking reads (XREADGROUP BLOCK)
    must outlast the shared client's timeout."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=socket_timeout,
                                socket_connect_timeout=TIMEOUT_SECONDS, health_check_interval=30,
                                retry=Retry(NoBackoff(), 1))
