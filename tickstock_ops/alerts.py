"""Raising, clearing and handling alerts: the Prometheus Alertmanager model on one table.

Domain code calls `fire()` every time it sees a problem and `resolve()` when the condition has cleared; one
alert per fingerprint, whose count and last-seen grow. Operators acknowledge, silence (until a time, with a
reason) and resolve; every change is an `AlertActivity` row and a `tickstock.alert.*` event, which is how the
dashboard (and any pager bridge reading the Redis stream) learns of it.

Notifying means publishing `tickstock.alert.firing`: when an alert opens or reopens, and again after the repeat
interval while it keeps firing — not while it is acknowledged, silenced or inhibited. Inside `grouped()` the
notifications of a whole scan go out as one `tickstock.alert.digest` per (source, type, exchange) instead.

Inhibition: a source-level alert (a whole source stale or down) suppresses the per-symbol alerts it explains
(`INHIBIT_RULES`); they still count sightings, but do not notify until the source-level alert resolves.
"""

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tickstock_ops.events import publish
from tickstock_ops.models import Alert, AlertActivity

OPEN_STATES = (Alert.State.FIRING, Alert.State.ACKNOWLEDGED)
Action = AlertActivity.Action


class AlertActionError(ValueError):
    """An operator action that does not apply (acknowledging a resolved alert, a silence in the past …)."""


def repeat_interval() -> timedelta:
    return timedelta(seconds=getattr(settings, "ALERTS_REPEAT_INTERVAL_SECONDS", 4 * 3600))


@dataclass(frozen=True)
class InhibitRule:
    """An open alert of `source_type` without a `scoped_by` label (i.e. about a whole source) suppresses the open
    alerts of `target_types` that have that label and share the `equal` labels with it."""

    source: str
    source_type: str
    target_types: frozenset[str]
    scoped_by: str
    equal: tuple[str, ...]

    def inhibits_others(self, alert: Alert) -> bool:
        return (alert.source == self.source and alert.labels.get("anomaly_type") == self.source_type
                and self.scoped_by not in alert.labels)

    def may_be_inhibited(self, alert: Alert) -> bool:
        return (alert.source == self.source and alert.labels.get("anomaly_type") in self.target_types
                and self.scoped_by in alert.labels)

    def covers(self, inhibitor: Alert, target: Alert) -> bool:
        return all(inhibitor.labels.get(name) == target.labels.get(name) for name in self.equal)


INHIBIT_RULES = [
    # A stale source: its symbols' staleness, coverage gaps and cross-source mismatches are the same cause.
    InhibitRule(source="quality", source_type="data_stale",
                target_types=frozenset({"data_stale", "coverage_gap", "source_mismatch"}),
                scoped_by="symbol", equal=("source", "interval")),
]


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
        reopened = False
        if created:
            _record(alert, Action.FIRED)
        else:
            reopened = alert.state == Alert.State.RESOLVED
            changes = {"count": F("count") + 1, "last_seen": now, "title": title, "severity": severity,
                       "labels": labels or alert.labels}
            if reopened:
                changes.update(state=Alert.State.FIRING, resolved_at=None, acknowledged_at=None,
                               acknowledged_by=None)
            Alert.objects.filter(pk=alert.pk).update(**changes)
            alert.refresh_from_db()
            if reopened:
                _record(alert, Action.REOPENED)
        _apply_inhibition(alert)
        _notify_if_due(alert, now, "new" if created else "reopened" if reopened else "repeat")
    return alert


def resolve(fingerprint: str, *, actor=None, note: str = "") -> bool:
    """Mark the alert resolved (its condition cleared, or an operator says so); False if nothing was open."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(fingerprint=fingerprint, state__in=OPEN_STATES).first()
        if alert is None:
            return False
        alert.state, alert.resolved_at = Alert.State.RESOLVED, timezone.now()
        alert.save(update_fields=["state", "resolved_at"])
        _record(alert, Action.RESOLVED, actor, note or ("" if actor else "condition cleared"))
        _release_inhibited(alert)
        publish("tickstock.alert.resolved", _payload(alert, actor))
    return True


def acknowledge(alert: Alert, actor, note: str = "") -> Alert:
    """Someone is on it: no more repeat notifications until it resolves and fires again."""
    with transaction.atomic():
        alert = _locked(alert)
        if alert.state != Alert.State.FIRING:
            raise AlertActionError(f"only a firing alert can be acknowledged; this one is {alert.state}")
        alert.state, alert.acknowledged_at, alert.acknowledged_by = Alert.State.ACKNOWLEDGED, timezone.now(), actor
        alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        _record(alert, Action.ACKNOWLEDGED, actor, note)
        publish("tickstock.alert.acknowledged", _payload(alert, actor, note))
    return alert


def unacknowledge(alert: Alert, actor, note: str = "") -> Alert:
    with transaction.atomic():
        alert = _locked(alert)
        if alert.state != Alert.State.ACKNOWLEDGED:
            raise AlertActionError(f"the alert is {alert.state}, not acknowledged")
        alert.state, alert.acknowledged_at, alert.acknowledged_by = Alert.State.FIRING, None, None
        alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        _record(alert, Action.UNACKNOWLEDGED, actor, note)
        publish("tickstock.alert.firing", _payload(alert, actor, note, notification="unacknowledged"))
    return alert


def silence(alert: Alert, actor, until: datetime, reason: str) -> Alert:
    """No notifications before `until`; the alert keeps counting sightings and resolves as usual."""
    reason = (reason or "").strip()
    if not reason:
        raise AlertActionError("a silence needs a reason")
    if timezone.is_naive(until):
        raise AlertActionError("the silence end needs a time zone")
    if until <= timezone.now():
        raise AlertActionError(f"the silence end {until:%Y-%m-%d %H:%M} UTC is not in the future")
    with transaction.atomic():
        alert = _locked(alert)
        alert.silenced_until, alert.silenced_by, alert.silence_reason = until, actor, reason[:300]
        alert.save(update_fields=["silenced_until", "silenced_by", "silence_reason"])
        _record(alert, Action.SILENCED, actor, f"until {until:%Y-%m-%d %H:%M} UTC: {reason}"[:300])
        publish("tickstock.alert.silenced", _payload(alert, actor, reason))
    return alert


def unsilence(alert: Alert, actor, note: str = "") -> Alert:
    with transaction.atomic():
        alert = _locked(alert)
        if not alert.is_silenced():
            raise AlertActionError("the alert is not silenced")
        alert.silenced_until = None
        alert.save(update_fields=["silenced_until"])
        _record(alert, Action.UNSILENCED, actor, note)
        publish("tickstock.alert.unsilenced", _payload(alert, actor, note))
    return alert


_digest = threading.local()


@contextmanager
def grouped() -> Iterator[None]:
    """Collect the notifications raised inside (e.g. one scan's alerts) and publish them as one digest per
    (source, type, exchange) at the end, instead of one event per alert."""
    if getattr(_digest, "pending", None) is not None:
        yield
        return
    _digest.pending = defaultdict(list)
    try:
        yield
    finally:
        # Also when the scan fails half-way: the alerts it fired are recorded as notified, so say so.
        pending, _digest.pending = _digest.pending, None
        with transaction.atomic():
            for (source, kind, exchange), items in pending.items():
                publish("tickstock.alert.digest", {
                    "source": source, "type": kind, "exchange": exchange or None, "count": len(items),
                    "severity": min((item["severity"] for item in items), key=SEVERITY_ORDER.index),
                    "alerts": items,
                })


SEVERITY_ORDER = [Alert.Severity.CRITICAL, Alert.Severity.WARNING, Alert.Severity.INFO]


def group_key(alert: Alert) -> tuple[str, str, str]:
    labels = alert.labels
    kind = labels.get("anomaly_type") or labels.get("metric") or alert.fingerprint.split(":")[0]
    return alert.source, kind, labels.get("exchange", "")


def _notify_if_due(alert: Alert, now: datetime, reason: str) -> None:
    if alert.state != Alert.State.FIRING or alert.is_silenced(now) or alert.inhibited_by_id:
        return
    due = reason != "repeat" or alert.last_notified_at is None or now - alert.last_notified_at >= repeat_interval()
    if not due:
        return
    if reason == "repeat":
        _record(alert, Action.NOTIFIED, note=f"still firing after {alert.count} sightings")
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=now, notifications=F("notifications") + 1)
    alert.last_notified_at = now
    pending = getattr(_digest, "pending", None)
    if pending is not None:
        pending[group_key(alert)].append(_payload(alert, notification=reason))
    else:
        publish("tickstock.alert.firing", _payload(alert, notification=reason))


def _apply_inhibition(alert: Alert) -> None:
    inhibitor = _inhibitor_of(alert)
    if inhibitor is not None and alert.inhibited_by_id != inhibitor.pk:
        alert.inhibited_by = inhibitor
        alert.save(update_fields=["inhibited_by"])
        _record(alert, Action.INHIBITED, note=f"under {inhibitor.fingerprint}")
    elif inhibitor is None and alert.inhibited_by_id is not None:
        alert.inhibited_by = None
        alert.save(update_fields=["inhibited_by"])
        _record(alert, Action.UNINHIBITED)
    for rule in INHIBIT_RULES:
        if not rule.inhibits_others(alert):
            continue
        candidates = Alert.objects.filter(source=rule.source, state__in=OPEN_STATES, inhibited_by__isnull=True,
                                          labels__anomaly_type__in=sorted(rule.target_types)).exclude(pk=alert.pk)
        for target in candidates:
            if rule.may_be_inhibited(target) and rule.covers(alert, target):
                Alert.objects.filter(pk=target.pk).update(inhibited_by=alert)
                _record(target, Action.INHIBITED, note=f"under {alert.fingerprint}")


def _inhibitor_of(alert: Alert) -> Alert | None:
    for rule in INHIBIT_RULES:
        if not rule.may_be_inhibited(alert):
            continue
        candidates = Alert.objects.filter(source=rule.source, state__in=OPEN_STATES,
                                          labels__anomaly_type=rule.source_type).exclude(pk=alert.pk)
        for candidate in candidates:
            if rule.inhibits_others(candidate) and rule.covers(candidate, alert):
                return candidate
    return None


def _release_inhibited(alert: Alert) -> None:
    for target in Alert.objects.filter(inhibited_by=alert):
        Alert.objects.filter(pk=target.pk).update(inhibited_by=None)
        _record(target, Action.UNINHIBITED, note=f"{alert.fingerprint} resolved")


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def _record(alert: Alert, action: str, actor=None, note: str = "") -> None:
    AlertActivity.objects.create(alert=alert, action=action, actor=actor, note=note[:300])


def _payload(alert: Alert, actor=None, note: str = "", notification: str | None = None) -> dict:
    payload = alert.as_event()
    payload["actor"] = actor.get_username() if actor is not None else None
    if note:
        payload["note"] = note
    if notification:
        payload["notification"] = notification
    return payload
