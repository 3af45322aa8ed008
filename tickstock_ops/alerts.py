"""Raising and clearing alerts. Domain code calls these; one alert per fingerprint."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tickstock_ops.models import Alert


def fire(fingerprint: str, *, source: str, title: str, severity: str = Alert.Severity.WARNING,
         labels: dict | None = None) -> Alert:
    """Open the alert for `fingerprint`, or count one more sighting of it (reopening it if resolved)."""
    now = timezone.now()
    with transaction.atomic():
        alert, created = Alert.objects.select_for_update().get_or_create(
            fingerprint=fingerprint,
            defaults={"source": source, "title": title, "severity": severity, "labels": labels or {},
                      "first_seen": now, "last_seen": now},
        )
        if not created:
            reopened = alert.state == Alert.State.RESOLVED
            Alert.objects.filter(pk=alert.pk).update(
                count=F("count") + 1, last_seen=now, title=title, severity=severity,
                labels=labels or alert.labels,
                state=Alert.State.FIRING if reopened else alert.state,
                resolved_at=None if reopened else alert.resolved_at,
            )
            alert.refresh_from_db()
    return alert


def resolve(fingerprint: str) -> bool:
    """Mark the alert resolved because its condition cleared; False if there was nothing open."""
    updated = Alert.objects.filter(fingerprint=fingerprint).exclude(state=Alert.State.RESOLVED).update(
        state=Alert.State.RESOLVED, resolved_at=timezone.now()
    )
    return bool(updated)
