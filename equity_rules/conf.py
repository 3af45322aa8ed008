"""The rules engine's defaults; each can be overridden in settings (tests use pytest-django's `settings`)."""

from django.conf import settings


def lease_seconds() -> float:
    """How long a claimed job belongs to its worker; a worker silent for longer loses it to another."""
    return float(getattr(settings, "EQUITY_RULES_LEASE_SECONDS", 60))


def queue_bound() -> int:
    """Queued jobs allowed per equity type unless its `processing_rules.queue_limit` says otherwise."""
    return int(getattr(settings, "EQUITY_RULES_QUEUE_BOUND", 50_000))


def base_delay_seconds() -> float:
    """First retry delay when an equity type's `retry_config` names none."""
    return float(getattr(settings, "EQUITY_RULES_BASE_DELAY_SECONDS", 1.0))


def max_delay_seconds() -> float:
    return float(getattr(settings, "EQUITY_RULES_MAX_DELAY_SECONDS", 3600.0))


def batch_size() -> int:
    return int(getattr(settings, "EQUITY_RULES_BATCH_SIZE", 25))


def poll_seconds() -> float:
    """Idle worker's pause between claims."""
    return float(getattr(settings, "EQUITY_RULES_POLL_SECONDS", 0.2))


def sla_window_minutes() -> int:
    return int(getattr(settings, "EQUITY_RULES_SLA_WINDOW_MINUTES", 15))


def sla_min_samples() -> int:
    """Fewer attempts than this in the window are too few to call a breach."""
    return int(getattr(settings, "EQUITY_RULES_SLA_MIN_SAMPLES", 20))


def sla_check_seconds() -> float:
    """How often a busy worker recomputes the SLA figures."""
    return float(getattr(settings, "EQUITY_RULES_SLA_CHECK_SECONDS", 30))


def retention_days() -> int:
    """Finished jobs and their results are kept this long for the admin and the SLA windows."""
    return int(getattr(settings, "EQUITY_RULES_RETENTION_DAYS", 14))
