"""django-q2 task functions of the core. Thin: they call library code."""

import time

from tickstock_ops import events, service_levels, silences

OUTAGE_POLL_SECONDS = 2
OUTAGE_WATCH_SECONDS = 50


def relay_events() -> dict:
    """Send what waits in the outbox. While Redis is down, keep trying for most of the schedule's minute,
    so that events go out within seconds of Redis coming back rather than at the next run."""
    started = time.monotonic()
    delivered = 0
    while True:
        result = events.flush()
        delivered += result.delivered
        if not result.failed or time.monotonic() - started > OUTAGE_WATCH_SECONDS:
            break
        time.sleep(OUTAGE_POLL_SECONDS)
    return {"delivered": delivered, "failed": result.failed, "pruned": events.prune_published()}


def apply_silences() -> dict:
    """Silences that started or ended since the last run take effect on the alerts' listing and counts."""
    return {"changed": silences.refresh()}


def check_service_levels() -> dict:
    """An alert for each seed target whose 24-hour p95 is over it (docs/metrics.md)."""
    return {"breached": service_levels.check_targets()}
