"""Tunables that are not deployment configuration: Django settings, with defaults kept beside the code.

Every app keeps its defaults in its own `conf.py` as a `DEFAULTS` dict and reads them with `get(name)`, which
returns the Django setting of that name when one is set (tests override them with pytest-django's `settings`).
Environment variables are read only in `config/settings.py`, through `tickstock_ops.env`.
"""

from typing import Any

from django.conf import settings

DEFAULTS = {
    # A firing alert that keeps being seen is announced again (a new `tickstock.alert.firing`) after this long.
    "ALERTS_REPEAT_INTERVAL_SECONDS": 4 * 3600,
    # Service levels (docs/metrics.md): samples kept for the dashboard's percentiles, and how many a 24-hour
    # window needs before its p95 may raise a breach alert (one slow sample is not a trend).
    "SLO_SAMPLE_RETENTION_DAYS": 7,
    "SLO_MIN_SAMPLES": 5,
    # The models `create_readonly_role` may read (app labels, or `app_label.Model`); config/settings.py adds the
    # domain apps. Never auth, sessions, the admin log, django-q's tables or notification receivers.
    "READONLY_ROLE_READS": ["tickstock_ops.OutboxEvent", "tickstock_ops.Alert", "tickstock_ops.AlertActivity"],
}


def setting(name: str, defaults: dict[str, Any]) -> Any:
    """The Django setting `name`, else its entry in `defaults` (a KeyError names a setting nobody defined)."""
    return getattr(settings, name, defaults[name])


def get(name: str) -> Any:
    return setting(name, DEFAULTS)
