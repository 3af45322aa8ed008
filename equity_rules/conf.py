"""The rules engine's defaults; each can be overridden in Django settings (tests use pytest-django's `settings`)."""

from tickstock_ops.conf import setting

DEFAULTS = {
    # How long a claimed job belongs to its worker; a worker silent for longer loses it to another.
    "EQUITY_RULES_LEASE_SECONDS": 60,
    # Queued jobs allowed per equity type unless its `processing_rules.queue_limit` says otherwise.
    "EQUITY_RULES_QUEUE_BOUND": 50_000,
    # First retry delay when an equity type's `retry_config` names none.
    "EQUITY_RULES_BASE_DELAY_SECONDS": 1.0,
    "EQUITY_RULES_MAX_DELAY_SECONDS": 3600.0,
    "EQUITY_RULES_BATCH_SIZE": 25,
    # Idle worker's pause between claims.
    "EQUITY_RULES_POLL_SECONDS": 0.2,
    "EQUITY_RULES_SLA_WINDOW_MINUTES": 15,
    # Fewer attempts than this in the window are too few to call a breach.
    "EQUITY_RULES_SLA_MIN_SAMPLES": 20,
    # How often a busy worker recomputes the SLA figures.
    "EQUITY_RULES_SLA_CHECK_SECONDS": 30,
    # Finished jobs and their results are kept this long for the admin and the SLA windows.
    "EQUITY_RULES_RETENTION_DAYS": 14,
    # `process_queue --once` exits 1 when the database stays unavailable this long (a long-running worker waits on).
    "EQUITY_RULES_ONCE_DB_WAIT_SECONDS": 30.0,
}


def get(name: str):
    return setting(name, DEFAULTS)
