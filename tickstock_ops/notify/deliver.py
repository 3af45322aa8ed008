"""Sending what is due (docs/notifications.md): each due group is claimed for a while, its pending alert changes
are checked against silences, inhibition and acknowledgement once more, then sent as one message. A failure is
retried with exponential backoff for up to NOTIFY_RETRY_FOR_SECONDS, and raises the receiver's own alert.
Every attempt is a DeliveryAttempt row and a `tickstock.alert.notified` event."""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tickstock_ops import alerts, silences, slo
from tickstock_ops.events import publish
from tickstock_ops.models import Alert
from tickstock_ops.notify import conf, messages, routing
from tickstock_ops.notify.models import DeliveryAttempt, Notification, NotificationGroup
from tickstock_ops.notify.send import Message, SendResult, send

log = logging.getLogger(__name__)
Outcome = Notification.Outcome
Kind = Notification.Kind


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    abandoned: int = 0
    suppressed: int = 0

    def add(self, other: "DeliveryReport") -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def is_muted(alert: Alert, now: datetime, active_silences: list) -> str:
    """Why a firing notification about `alert` must not go out now ("" when it may). The silences themselves
    decide, as `alerts.is_silenced()` does; `active_silences` is `silences.active(now)`, read once per group."""
    if alert.state == Alert.State.ACKNOWLEDGED:
        return "acknowledged before sending"
    if alert.state == Alert.State.RESOLVED:
        return "resolved before sending"
    if silences.covering(alert, active_silences) is not None:
        return "silenced"
    if alert.inhibited_by_id:
        return "inhibited"
    return ""


def deliver_due(now: datetime | None = None) -> DeliveryReport:
    """Send every group due at `now` (the real clock unless a test moves it)."""
    now = now or timezone.now()
    report = DeliveryReport()
    urls = routing.receiver_urls()
    failing = set(Alert.objects.filter(fingerprint__startswith=receiver_fingerprint(""), state__in=alerts.OPEN_STATES)
                  .values_list("fingerprint", flat=True))
    for group in _claim(now):
        try:
            report.add(_deliver(group, urls.get(group.receiver, []), now, failing))
        except Exception:  # one broken group must not hold up the others; its claim lapses and it is retried
            log.exception("notification group %s could not be delivered", group.pk)
    return report


def _claim(now: datetime, limit: int = 200) -> list[NotificationGroup]:
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = Q(due_at__lte=now) & free
    candidates = list(NotificationGroup.objects.filter(due).order_by("due_at").values_list("pk", flat=True)[:limit])
    until = now + timedelta(seconds=conf.get("NOTIFY_CLAIM_SECONDS"))
    claimed = [pk for pk in candidates if NotificationGroup.objects.filter(due, pk=pk).update(claimed_until=until)]
    return list(NotificationGroup.objects.filter(pk__in=claimed).order_by("due_at"))


def _deliver(group: NotificationGroup, urls: list[str], now: datetime, failing: set[str]) -> DeliveryReport:
    """Send one due group; `failing` holds the fingerprints of receivers' open failure alerts (updated here)."""
    pending = list(group.notifications.filter(outcome=Outcome.PENDING).select_related("alert").order_by("id"))
    report = DeliveryReport(suppressed=_drop_muted(pending, now))
    pending = [item for item in pending if item.outcome == Outcome.PENDING]
    retry_for = timedelta(seconds=conf.get("NOTIFY_RETRY_FOR_SECONDS"))
    if pending and group.failures and now - pending[0].created_at > retry_for:
        _abandon(group, pending, now)
        report.abandoned += len(pending)
        return report
    firing = _unique(item.alert for item in pending if item.kind == Kind.FIRING)
    resolved = _unique(item.alert for item in pending if item.kind == Kind.RESOLVED)
    repeat = not pending
    if repeat:  # due for its repeat interval, or everything it was due for has been suppressed meanwhile
        firing = _firing_members(group, now)
        repeat_at = group.last_sent_at + timedelta(seconds=group.repeat_interval) if group.last_sent_at else None
        if repeat_at is None or not firing or now < repeat_at:
            _finish(group, due_at=repeat_at if firing else None)
            return report
    message = messages.build(group, firing, resolved, repeat=repeat)
    result = send(urls, message) if urls else SendResult(False, 0.0, f"receiver {group.receiver} has no URLs now")
    kind = "repeat" if repeat else ("firing" if firing else "resolved")
    with transaction.atomic():
        _record(group, kind, message, result, firing + resolved, now)
        if result.ok:
            _succeeded(group, pending, now, result)
            if receiver_fingerprint(group.receiver) in failing:
                alerts.resolve(receiver_fingerprint(group.receiver))
                failing.discard(receiver_fingerprint(group.receiver))
            report.sent += len(pending) or len(firing)
        else:
            _failed(group, now, result)
            failing.add(receiver_fingerprint(group.receiver))
            report.failed += len(pending) or len(firing)
    return report


def _drop_muted(pending: list[Notification], now: datetime) -> int:
    dropped, active = [], silences.active(now) if pending else []
    told = set() if all(item.kind == Kind.FIRING for item in pending) else set(
        Notification.objects.filter(group=pending[0].group_id, kind=Kind.FIRING, outcome=Outcome.SENT)
        .values_list("alert_id", flat=True))
    for item in pending:
        if item.kind == Kind.FIRING:
            reason = is_muted(item.alert, now, active)
        elif item.alert.state != Alert.State.RESOLVED:
            reason = "fired again before sending"
        else:
            reason = "" if item.alert_id in told else "resolved before its firing was sent"
        if reason:
            item.outcome, item.done_at, item.note = Outcome.SUPPRESSED, now, reason
            dropped.append(item)
    Notification.objects.bulk_update(dropped, ["outcome", "done_at", "note"])
    return len(dropped)


def _unique(alerts_: Iterable[Alert]) -> list[Alert]:
    seen: dict[int, Alert] = {}
    for alert in alerts_:
        seen.setdefault(alert.pk, alert)
    return list(seen.values())


def _firing_members(group: NotificationGroup, now: datetime) -> list[Alert]:
    """The group's alerts that were notified as firing and still fire, unmuted: what a repeat lists."""
    members = Alert.objects.filter(state=Alert.State.FIRING, notifications_queued__group=group,
                                   notifications_queued__kind=Kind.FIRING,
                                   notifications_queued__outcome=Outcome.SENT).distinct()
    active = silences.active(now)
    return [alert for alert in members if not is_muted(alert, now, active)]


def _record(group: NotificationGroup, kind: str, message: Message, result: SendResult, members: list[Alert],
            now: datetime) -> None:
    attempt = DeliveryAttempt.objects.create(
        group=group, receiver=group.receiver, at=now, kind=kind, attempt=group.failures + 1,
        outcome=DeliveryAttempt.Outcome.SENT if result.ok else DeliveryAttempt.Outcome.FAILED,
        latency_ms=result.latency_ms, title=message.title[:300], error=result.error)
    attempt.alerts.add(*members)
    publish("tickstock.alert.notified", notified_payload(attempt, group, [alert.pk for alert in members]))


def notified_payload(attempt: DeliveryAttempt, group: NotificationGroup | None, alert_ids: list[int]) -> dict:
    return {"alert_ids": alert_ids, "receiver": attempt.receiver, "outcome": attempt.outcome,
            "attempt": attempt.attempt, "error": attempt.error or None, "kind": attempt.kind,
            "latency_ms": attempt.latency_ms, "route": group.route if group else None,
            "group": group.labels if group else None, "at": attempt.at}


def _succeeded(group: NotificationGroup, pending: list[Notification], now: datetime, result: SendResult) -> None:
    Notification.objects.filter(pk__in=[item.pk for item in pending]).update(outcome=Outcome.SENT, done_at=now)
    accepted = now + timedelta(milliseconds=result.latency_ms)
    slo.observe_many("notification_delay", [(accepted - item.created_at).total_seconds()
                                            for item in pending if item.kind == Kind.FIRING])
    group.last_sent_at, group.failures = now, 0
    still_firing = Notification.objects.filter(group=group, kind=Kind.FIRING, outcome=Outcome.SENT,
                                               alert__state=Alert.State.FIRING).exists()
    _finish(group, due_at=now + timedelta(seconds=group.repeat_interval) if still_firing else None)


def _failed(group: NotificationGroup, now: datetime, result: SendResult) -> None:
    group.failures += 1
    _finish(group, due_at=now + backoff(group.failures))
    fire_receiver_alert(group.receiver, result.error)


def backoff(failures: int) -> timedelta:
    base, cap = conf.get("NOTIFY_RETRY_BASE_SECONDS"), conf.get("NOTIFY_RETRY_MAX_SECONDS")
    return timedelta(seconds=min(cap, base * 2 ** min(failures - 1, 30)))


def _abandon(group: NotificationGroup, pending: list[Notification], now: datetime) -> None:
    with transaction.atomic():
        Notification.objects.filter(pk__in=[item.pk for item in pending]).update(
            outcome=Outcome.ABANDONED, done_at=now, note="receiver down past NOTIFY_RETRY_FOR_SECONDS")
        members = _unique(item.alert for item in pending)
        attempt = DeliveryAttempt.objects.create(
            group=group, receiver=group.receiver, at=now, kind="abandoned", attempt=group.failures + 1,
            outcome=DeliveryAttempt.Outcome.ABANDONED,
            error=f"gave up after {group.failures} failed attempts: the oldest change waited past "
                  f"NOTIFY_RETRY_FOR_SECONDS ({conf.get('NOTIFY_RETRY_FOR_SECONDS')} s)")
        attempt.alerts.add(*members)
        publish("tickstock.alert.notified", notified_payload(attempt, group, [alert.pk for alert in members]))
        group.failures = 0
        _finish(group, due_at=None)


def _finish(group: NotificationGroup, due_at: datetime | None) -> None:
    group.due_at, group.claimed_until = due_at, None
    group.save(update_fields=["due_at", "claimed_until", "last_sent_at", "failures"])


def receiver_fingerprint(receiver: str) -> str:
    return f"notify:receiver:{receiver}"


def fire_receiver_alert(receiver: str, error: str) -> None:
    """The receiver's own alert; the route tree never sends it to that receiver."""
    first_line = (error or "failed").splitlines()[0]
    alerts.fire(receiver_fingerprint(receiver), source=routing.RECEIVER_ALERT_SOURCE, severity="critical",
                title=f"notification receiver {receiver} is failing: {first_line}"[:300],
                labels={"receiver": receiver, "type": "receiver_failing"})


def next_due() -> NotificationGroup | None:
    return NotificationGroup.objects.filter(due_at__isnull=False).order_by("due_at").first()


def run(*, once: bool = False, watch_seconds: float | None = None, sleep=time.sleep) -> DeliveryReport:
    """Send due groups until stopped. `once`: also wait out the group_wait of groups not yet sent, then return.
    `watch_seconds`: return after that long, or as soon as nothing is due within it (the scheduled task)."""
    started, total = time.monotonic(), DeliveryReport()
    horizon = timezone.now() + timedelta(seconds=routing.load().max_group_wait())
    while True:
        total.add(deliver_due())
        upcoming, now = next_due(), timezone.now()
        wait = (upcoming.due_at - now).total_seconds() if upcoming else None
        # A group another deliverer has claimed (or one that died holding it) is not this run's to wait for.
        held = upcoming is not None and upcoming.claimed_until is not None and upcoming.claimed_until > now
        if once and (upcoming is None or upcoming.failures or upcoming.due_at > horizon or held):
            return total
        if watch_seconds is not None:
            left = watch_seconds - (time.monotonic() - started)
            if upcoming is None or left <= 0 or wait > left:
                return total
        sleep(1.0 if wait is None else min(1.0, max(0.05, wait)))


def send_test(receiver: str, urls: list[str], requested_by: str) -> DeliveryAttempt:
    """The admin's "send a test notification": logged and published like any attempt, about no alert."""
    now = timezone.now()
    message = Message(title="TickStock Ops test notification",
                      body=f"Receiver {receiver} works: requested by {requested_by} at {now:%Y-%m-%d %H:%M:%S} "
                           f"UTC.\n{messages.dashboard_url()}", severity="info")
    result = send(urls, message)
    with transaction.atomic():
        attempt = DeliveryAttempt.objects.create(
            receiver=receiver, at=now, kind="test", attempt=1, latency_ms=result.latency_ms, title=message.title,
            outcome=DeliveryAttempt.Outcome.SENT if result.ok else DeliveryAttempt.Outcome.FAILED,
            error=result.error)
        publish("tickstock.alert.notified", notified_payload(attempt, None, []))
    return attempt


def prune(now: datetime | None = None) -> int:
    """Forget attempts, finished notifications and idle groups older than NOTIFY_ATTEMPT_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=conf.get("NOTIFY_ATTEMPT_RETENTION_DAYS"))
    deleted = DeliveryAttempt.objects.filter(at__lt=cutoff).delete()[0]
    deleted += Notification.objects.filter(done_at__lt=cutoff).exclude(outcome=Outcome.PENDING).delete()[0]
    idle = NotificationGroup.objects.filter(due_at__isnull=True, created_at__lt=cutoff).filter(
        Q(last_sent_at__isnull=True) | Q(last_sent_at__lt=cutoff)).exclude(notifications__outcome=Outcome.PENDING)
    return deleted + idle.delete()[0]
