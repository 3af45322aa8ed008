"""Settings defaults of notifications (docs/notifications.md). Override any of them in Django settings."""

from typing import Any

from tickstock_ops.conf import setting

DEFAULTS = {
    # The implicit root route: what every alert gets unless a route in the admin says otherwise. The seed promises
    # notification within 30 s of an alert firing, so grouping must fit inside that: Alertmanager's 30 s / 5 min
    # would break it by design. A scan's alerts commit together, so 10 s is plenty to gather them.
    "NOTIFY_GROUP_BY": ["monitor", "type", "exchange"],
    "NOTIFY_GROUP_WAIT_SECONDS": 10,
    "NOTIFY_GROUP_INTERVAL_SECONDS": 20,
    "NOTIFY_REPEAT_INTERVAL_SECONDS": 4 * 3600,
    # A failed send is retried after 5 s, 10 s, 20 s … up to 5 min between attempts, for up to a day: a receiver
    # that is back within that time gets everything that waited for it.
    "NOTIFY_RETRY_BASE_SECONDS": 5,
    "NOTIFY_RETRY_MAX_SECONDS": 300,
    "NOTIFY_RETRY_FOR_SECONDS": 24 * 3600,
    # A worker that claimed a group and died frees it after this long.
    "NOTIFY_CLAIM_SECONDS": 120,
    # The scheduled deliverer keeps watching for due groups this long before it returns.
    "NOTIFY_WATCH_SECONDS": 55,
    # Alerts listed in one message; the rest are counted.
    "NOTIFY_MAX_LISTED": 25,
    # Attempts, finished notifications and idle groups are forgotten after this long.
    "NOTIFY_ATTEMPT_RETENTION_DAYS": 30,
}


def get(name: str) -> Any:
    return setting(name, DEFAULTS)
