"""Raising, clearing and handling alerts: the Prometheus Alertmanager model on one table.

Domain code calls `fire()` every time it sees a problem and `resolve()` when the condition has cleared; one
alert per fingerprint, whose count and last-seen grow. Operators acknowledge, silence (silences are objects with
label matchers, tickstock_ops/silences.py, applied to every alert as it fires) and resolve; every change is an
`AlertActivity` row and a `tickstock.alert.*` event, which is how the dashboard (and any pager bridge reading
the Redis stream) learns of it.

Notifying means publishing `tickstock.alert.firing` when an alert opens or reopens and after each repeat interval
(not while acknowledged, silenced or inhibited); inside `grouped()`, one `tickstock.alert.digest` per (source,
type, exchange) instead. The same changes are filed for the receivers in the same transaction (docs/notifications.md).

Inhibition: a source-level alert (a whole source stale or down) suppresses the per-symbol alerts it explains
(rules the owning app adds with `register_inhibit_rule()`); they still count sightings, but do not notify until
the source-level alert resolves.
"""

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from tickstock_ops import conf, silences
from tickstock_ops.events import publish, publish_many
from tickstock_ops.models import Alert, AlertActivity
from tickstock_ops.notify import queue as notifications

OPEN_STATES = (Alert.State.FIRING, Alert.State.ACKNOWLEDGED)
LOOKUP_CHUNK = 2000  # fingerprints per IN (…): well inside SQLite's limit on query parameters
Action = AlertActivity.Action


class AlertActionError(ValueError):
    """An operator action that does not apply (acknowledging a resolved alert, a silence in the past …)."""


def repeat_interval() -> timedelta:
    return timedelta(seconds=conf.get("ALERTS_REPEAT_INTERVAL_SECONDS"))


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


_inhibit_rules: list[InhibitRule] = []


def register_inhibit_rule(rule: InhibitRule) -> None:
    """Add an inhibition rule (domain apps register theirs in AppConfig.ready()); registering it again is a no-op."""
    if rule not in _inhibit_rules:
        _inhibit_rules.append(rule)


@dataclass(frozen=True)
class Firing:
    """One sighting of a problem, as `fire()` takes it."""

    fingerprint: str
    source: str
    title: str
    severity: str = Alert.Severity.WARNING
    labels: dict | None = None


def fire(fingerprint: str, *, source: str, title: str, severity: str = Alert.Severity.WARNING,
         labels: dict | None = None) -> Alert:
    """Open the alert for `fingerprint`, or count one more sighting of it (reopening it if resolved)."""
    [alert] = fire_many([Firing(fingerprint, source, title, severity, labels)])
    return alert


def fire_many(firings: list[Firing]) -> list[Alert]:
    """`fire()` for many alerts at once (one scan's findings), in a few queries rather than several per alert."""
    if len({firing.fingerprint for firing in firings}) < len(firings):
        return [fire_many([firing])[0] for firing in firings]
    tries = 3
    while True:
        tries -= 1
        try:
            with transaction.atomic():
                return _open_or_count(firings)
        except IntegrityError:  # another process opened one of these alerts meanwhile: now it is a sighting
            if not tries:
                raise


def _open_or_count(firings: list[Firing]) -> list[Alert]:
    now = timezone.now()
    existing = {alert.fingerprint: alert for alert in
                Alert.objects.select_for_update().filter(fingerprint__in=[f.fingerprint for f in firings])}
    created = Alert.objects.bulk_create([
        Alert(fingerprint=f.fingerprint, source=f.source, title=f.title, severity=f.severity, labels=f.labels or {},
              first_seen=now, last_seen=now)
        for f in firings if f.fingerprint not in existing
    ])
    by_fingerprint = {alert.fingerprint: alert for alert in created} | existing
    reasons = {alert.fingerprint: "new" for alert in created}
    activity = [AlertActivity(alert=alert, action=Action.FIRED) for alert in created]
    for firing in firings:
        alert = existing.get(firing.fingerprint)
        if alert is None:
            continue
        reopened = alert.state == Alert.State.RESOLVED
        alert.count += 1  # the row is locked: no sighting is lost to a concurrent one
        alert.last_seen, alert.title, alert.severity = now, firing.title, firing.severity
        alert.labels = firing.labels or alert.labels
        if reopened:
            alert.state, alert.resolved_at, alert.acknowledged_at, alert.acknowledged_by = (
                Alert.State.FIRING, None, None, None)
            activity.append(AlertActivity(alert=alert, action=Action.REOPENED))
        reasons[firing.fingerprint] = "reopened" if reopened else "repeat"
    _save_sightings(list(existing.values()))
    AlertActivity.objects.bulk_create(activity)
    alerts = [by_fingerprint[firing.fingerprint] for firing in firings]
    _apply_inhibition(alerts)
    silences.apply(alerts, now)
    _notify_due([(alert, reasons[alert.fingerprint]) for alert in alerts], now)
    return alerts


def open_alerts(source: str, fingerprint_prefix: str = "") -> list[tuple[str, dict]]:
    """(fingerprint, labels) of the alerts of `source` not resolved, whose fingerprint starts with the prefix."""
    return list(Alert.objects.filter(source=source, fingerprint__startswith=fingerprint_prefix, state__in=OPEN_STATES)
                .values_list("fingerprint", "labels"))


SIGHTING_FIELDS = {"count": "bigint", "last_seen": "timestamptz", "title": "text", "severity": "text",
                   "labels": "jsonb", "state": "text", "resolved_at": "timestamptz", "acknowledged_at": "timestamptz",
                   "acknowledged_by_id": "bigint"}


def _save_sightings(alerts: list[Alert]) -> None:
    """Write back what `_open_or_count` changed on existing alerts. On PostgreSQL one UPDATE … FROM unnest(): Django's
    bulk_update builds a CASE per row and field, which takes seconds for the thousand alerts of a daily scan."""
    if connection.vendor != "postgresql":
        Alert.objects.bulk_update(alerts, [name.removesuffix("_id") for name in SIGHTING_FIELDS])
        return
    if not alerts:
        return
    names = ", ".join(SIGHTING_FIELDS)
    columns = [[alert.pk for alert in alerts]] + [
        [json.dumps(getattr(alert, name)) if kind == "jsonb" else getattr(alert, name) for alert in alerts]
        for name, kind in SIGHTING_FIELDS.items()]
    arrays = ", ".join(["%s::bigint[]"] + [f"%s::{'text' if kind == 'jsonb' else kind}[]"
                                          for kind in SIGHTING_FIELDS.values()])
    assignments = ", ".join(f'"{name}" = given.{name}' + ("::jsonb" if kind == "jsonb" else "")
                            for name, kind in SIGHTING_FIELDS.items())
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Alert._meta.db_table} AS alert SET {assignments} FROM unnest({arrays}) AS "
                       f"given(id, {names}) WHERE alert.id = given.id", columns)


def resolve(fingerprint: str, *, actor=None, note: str = "") -> bool:
    """Mark the alert resolved (its condition cleared, or an operator says so); False if nothing was open."""
    return bool(resolve_many([fingerprint], actor=actor, note=note))


def resolve_many(fingerprints: list[str], *, actor=None, note: str = "") -> list[Alert]:
    """`resolve()` for many alerts at once (what one scan no longer sees), in a few queries and one transaction;
    returns the alerts that were open and are resolved now, in the order of `fingerprints`."""
    order = {fingerprint: index for index, fingerprint in enumerate(dict.fromkeys(fingerprints))}
    with transaction.atomic():
        found: list[Alert] = []
        wanted = list(order)
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            found += (Alert.objects.select_for_update(of=("self",))
                      .select_related("acknowledged_by", "inhibited_by")
                      .filter(fingerprint__in=wanted[start:start + LOOKUP_CHUNK], state__in=OPEN_STATES)
                      .order_by("pk"))  # every resolver locks in one order: no deadlock between two of them
        if not found:
            return []
        found.sort(key=lambda alert: order[alert.fingerprint])
        now = timezone.now()
        for alert in found:
            alert.state, alert.resolved_at = Alert.State.RESOLVED, now
        for start in range(0, len(found), LOOKUP_CHUNK):
            Alert.objects.filter(pk__in=[alert.pk for alert in found[start:start + LOOKUP_CHUNK]]).update(
                state=Alert.State.RESOLVED, resolved_at=now)
        reason = (note or ("" if actor else "condition cleared"))[:300]
        AlertActivity.objects.bulk_create([AlertActivity(alert=alert, action=Action.RESOLVED, actor=actor,
                                                         note=reason) for alert in found], batch_size=LOOKUP_CHUNK)
        _release_inhibited()
        publish_many("tickstock.alert.resolved", [alert.event_payload(actor) for alert in found])
        notifications.enqueue([(alert, "resolved") for alert in found], now)
    return found


def acknowledge(alert: Alert, actor, note: str = "") -> Alert:
    """Someone is on it: no more repeat notifications until it resolves and fires again."""
    with transaction.atomic():
        alert = _locked(alert)
        if alert.state != Alert.State.FIRING:
            raise AlertActionError(f"only a firing alert can be acknowledged; this one is {alert.state}")
        alert.state, alert.acknowledged_at, alert.acknowledged_by = Alert.State.ACKNOWLEDGED, timezone.now(), actor
        alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        _record(alert, Action.ACKNOWLEDGED, actor, note)
        publish("tickstock.alert.acknowledged", alert.event_payload(actor, note))
    return alert


def unacknowledge(alert: Alert, actor, note: str = "") -> Alert:
    with transaction.atomic():
        alert = _locked(alert)
        if alert.state != Alert.State.ACKNOWLEDGED:
            raise AlertActionError(f"the alert is {alert.state}, not acknowledged")
        alert.state, alert.acknowledged_at, alert.acknowledged_by = Alert.State.FIRING, None, None
        alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        _record(alert, Action.UNACKNOWLEDGED, actor, note)
        publish("tickstock.alert.firing", alert.event_payload(actor, note, notification="unacknowledged"))
    return alert


def silence(alert: Alert, actor, until: datetime, reason: str) -> Alert:
    """Silence this one alert until `until` (a silence object matching its fingerprint, tickstock_ops/silences.py):
    no notifications meanwhile; the alert keeps counting sightings and resolves as usual."""
    try:
        silences.for_alert(alert, actor, until, reason)
    except silences.SilenceError as error:
        raise AlertActionError(str(error)) from None
    alert.refresh_from_db()
    return alert


def unsilence(alert: Alert, actor, note: str = "") -> Alert:
    """Lift the silence: expire every active silence that mutes this alert (they may mute others too)."""
    try:
        silences.lift(alert, actor)
    except silences.SilenceError as error:
        raise AlertActionError(str(error)) from None
    alert.refresh_from_db()
    return alert


def is_silenced(alert: Alert, now: datetime | None = None) -> bool:
    """Whether an active silence mutes `alert`: whatever notifies must skip it. One place decides it."""
    return silences.is_silenced(alert, now)


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
    return alert.source, alert.kind, alert.labels.get("exchange", "")


def _notify_due(sightings: list[tuple[Alert, str]], now: datetime) -> None:
    """Notify the alerts that are due: new or reopened ones, and repeats after the repeat interval; not while they
    are acknowledged, silenced or inhibited."""
    due = [(alert, reason) for alert, reason in sightings
           if alert.state == Alert.State.FIRING and not alert.is_silenced(now) and not alert.inhibited_by_id
           and (reason != "repeat" or alert.last_notified_at is None
                or now - alert.last_notified_at >= repeat_interval())]
    if not due:
        return
    AlertActivity.objects.bulk_create([
        AlertActivity(alert=alert, action=Action.NOTIFIED, note=f"still firing after {alert.count} sightings")
        for alert, reason in due if reason == "repeat"
    ])
    Alert.objects.filter(pk__in=[alert.pk for alert, _ in due]).update(
        last_notified_at=now, notifications=F("notifications") + 1)
    pending = getattr(_digest, "pending", None)
    payloads = []
    for alert, reason in due:
        alert.last_notified_at, alert.notifications = now, alert.notifications + 1
        if pending is not None:
            pending[group_key(alert)].append(alert.event_payload(notification=reason))
        else:
            payloads.append(alert.event_payload(notification=reason))
    if payloads:
        publish_many("tickstock.alert.firing", payloads)
    # Receivers hear of new and reopened alerts; their repeats follow each route's repeat_interval instead.
    notifications.enqueue([(alert, "firing") for alert, reason in due if reason != "repeat"], now)


def _apply_inhibition(alerts: list[Alert]) -> None:
    """Inhibit or release each of `alerts` by the open source-level alerts; alerts among them that inhibit others
    go first (they may cover alerts of the same batch)."""
    inhibitors = [alert for alert in alerts if any(rule.inhibits_others(alert) for rule in _inhibit_rules)]
    for alert in inhibitors:
        _inhibit_covered(alert)
    if inhibitors:  # the alerts they cover were updated in the database: read the new links
        links = dict(Alert.objects.filter(pk__in=[a.pk for a in alerts]).values_list("pk", "inhibited_by_id"))
        for alert in alerts:
            alert.inhibited_by_id = links[alert.pk]
    candidates = _open_inhibitors() if any(rule.may_be_inhibited(a) for a in alerts for rule in _inhibit_rules) \
        else []
    changed, activity = [], []
    for alert in alerts:
        inhibitor = _inhibitor_of(alert, candidates)
        if inhibitor is not None and alert.inhibited_by_id != inhibitor.pk:
            alert.inhibited_by = inhibitor
            activity.append(AlertActivity(alert=alert, action=Action.INHIBITED, note=f"under {inhibitor.fingerprint}"))
        elif inhibitor is None and alert.inhibited_by_id is not None:
            alert.inhibited_by = None
            activity.append(AlertActivity(alert=alert, action=Action.UNINHIBITED))
        else:
            continue
        changed.append(alert)
    Alert.objects.bulk_update(changed, ["inhibited_by"])
    AlertActivity.objects.bulk_create(activity)


def _inhibit_covered(inhibitor: Alert) -> None:
    """Inhibit the open, not yet inhibited alerts that `inhibitor` covers."""
    for rule in _inhibit_rules:
        if not rule.inhibits_others(inhibitor):
            continue
        candidates = Alert.objects.filter(source=rule.source, state__in=OPEN_STATES, inhibited_by__isnull=True,
                                          labels__anomaly_type__in=sorted(rule.target_types)).exclude(pk=inhibitor.pk)
        for target in candidates:
            if rule.may_be_inhibited(target) and rule.covers(inhibitor, target):
                Alert.objects.filter(pk=target.pk).update(inhibited_by=inhibitor)
                _record(target, Action.INHIBITED, note=f"under {inhibitor.fingerprint}")


def _open_inhibitors() -> list[Alert]:
    """The open alerts that may inhibit others, by the rules' source and type."""
    found: list[Alert] = []
    for rule in _inhibit_rules:
        found += Alert.objects.filter(source=rule.source, state__in=OPEN_STATES,
                                      labels__anomaly_type=rule.source_type)
    return found


def _inhibitor_of(alert: Alert, candidates: list[Alert]) -> Alert | None:
    for rule in _inhibit_rules:
        if not rule.may_be_inhibited(alert):
            continue
        for candidate in candidates:
            if candidate.pk != alert.pk and rule.inhibits_others(candidate) and rule.covers(candidate, alert):
                return candidate
    return None


def _release_inhibited() -> None:
    """Alerts inhibited under an alert that has just resolved are inhibited no more."""
    released = list(Alert.objects.filter(inhibited_by__state=Alert.State.RESOLVED)
                    .values_list("pk", "inhibited_by__fingerprint"))
    Alert.objects.filter(pk__in=[pk for pk, _ in released]).update(inhibited_by=None)
    AlertActivity.objects.bulk_create([AlertActivity(alert_id=pk, action=Action.UNINHIBITED, note=f"{by} resolved")
                                       for pk, by in released])


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def _record(alert: Alert, action: str, actor=None, note: str = "") -> None:
    AlertActivity.objects.create(alert=alert, action=action, actor=actor, note=note[:300])
