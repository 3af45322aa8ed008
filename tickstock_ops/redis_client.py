"""The one place that opens connections to Redis for the project's own use."""

from functools import lru_cache

import redis
from django.conf import settings

TIMEOUT_SECONDS = 2


@lru_cache(maxsize=8)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS, health_check_interval=30
    )


def get_redis() -> redis.Redis:
    return _client_for(settings.REDIS_URL)
