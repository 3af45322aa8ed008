"""Silences as objects, as in Alertmanager: label matchers, a start, an end, an author and a comment.

An alert is silenced while an active silence's matchers all match its labels (`Alert.match_labels()`): it keeps
counting sightings and resolves as usual, but does not notify. `is_silenced()` answers from the silences
themselves, and is what anything that notifies must ask. For listing and counting, each alert also carries the
covering silence (the one ending last) with its end, author and comment; `apply()` keeps that copy current when
alerts fire, when a silence is created, edited or expired, and every minute (a silence that starts later, or
one that ended). An alert that becomes silenced gets `tickstock.alert.silenced`, one whose silence is lifted
before its end `tickstock.alert.unsilenced`, each with an activity row.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tickstock_ops import matchers as label_matchers
from tickstock_ops.events import publish_many
from tickstock_ops.models import Alert, AlertActivity, Silence

OPEN_STATES = (Alert.State.FIRING, Alert.State.ACKNOWLEDGED)
PROJECTION = ["silence", "silenced_until", "silenced_by", "silence_reason"]


class SilenceError(ValueError):
    """A silence that cannot be saved: bad matchers, no comment, an end in the past …"""


def active(now: datetime | None = None) -> list[Silence]:
    now = now or timezone.now()
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now).select_related("created_by"))


def covering(alert: Alert, silences: Iterable[Silence]) -> Silence | None:
    """Of `silences`, the one that mutes `alert` longest, or None."""
    labels = alert.match_labels()
    found = [s for s in silences if label_matchers.matches_all(label_matchers.from_json(s.matchers), labels)]
    return max(found, key=lambda s: (s.ends_at, s.pk), default=None)


def is_silenced(alert: Alert, now: datetime | None = None) -> bool:
    """Whether an active silence mutes `alert` now: notifications must be skipped."""
    return covering(alert, active(now)) is not None


def matching_open_alerts(matchers: list[label_matchers.Matcher]) -> list[Alert]:
    """The open alerts a silence with these matchers would mute (its preview)."""
    return [alert for alert in Alert.objects.filter(state__in=OPEN_STATES)
            if label_matchers.matches_all(matchers, alert.match_labels())]


def parse_matchers(value: str | list) -> list[label_matchers.Matcher]:
    try:
        found = label_matchers.parse(value) if isinstance(value, str) else label_matchers.from_json(value)
        label_matchers.check_selective(found)
    except label_matchers.MatcherError as error:
        raise SilenceError(str(error)) from None
    return found


def _validated(matchers, starts_at: datetime | None, ends_at: datetime, comment: str) -> tuple:
    found = parse_matchers(matchers)
    comment = (comment or "").strip()
    if not comment:
        raise SilenceError("a silence needs a reason")
    starts_at = starts_at or timezone.now()
    if timezone.is_naive(ends_at) or timezone.is_naive(starts_at):
        raise SilenceError("the silence start and end need a time zone")
    if ends_at <= timezone.now():
        raise SilenceError(f"the silence end {ends_at:%Y-%m-%d %H:%M} UTC is not in the future")
    if ends_at <= starts_at:
        raise SilenceError("the silence must end after it starts")
    return [m.as_dict() for m in found], starts_at, ends_at, comment[:300]


def create(matchers: str | list, *, ends_at: datetime, comment: str, actor=None,
           starts_at: datetime | None = None) -> Silence:
    """A new silence, applied at once to the open alerts it matches."""
    rows, starts_at, ends_at, comment = _validated(matchers, starts_at, ends_at, comment)
    with transaction.atomic():
        silence = Silence.objects.create(matchers=rows, starts_at=starts_at, ends_at=ends_at, comment=comment,
                                         created_by=actor)
        refresh(actor=actor)
    return silence


def update(silence: Silence, *, matchers: str | list, ends_at: datetime, comment: str, actor=None,
           starts_at: datetime | None = None) -> Silence:
    rows, starts_at, ends_at, comment = _validated(matchers, starts_at or silence.starts_at, ends_at, comment)
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        silence.matchers, silence.starts_at, silence.ends_at, silence.comment = rows, starts_at, ends_at, comment
        silence.updated_at = timezone.now()
        silence.save()
        refresh(actor=actor)
    return silence


def expire(silence: Silence, actor=None) -> Silence:
    """End the silence now (Alertmanager's "expire"): the alerts it muted notify again when due."""
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        now = timezone.now()
        if silence.ends_at <= now:
            raise SilenceError(f"silence #{silence.pk} has already expired")
        silence.ends_at = silence.updated_at = now
        if silence.starts_at > now:
            silence.starts_at = now
        silence.save(update_fields=["ends_at", "starts_at", "updated_at"])
        refresh(actor=actor)
    return silence


def for_alert(alert: Alert, actor, until: datetime, reason: str) -> Silence:
    """A silence of this one alert (a matcher on its fingerprint)."""
    return create([{"name": "fingerprint", "op": "=", "value": alert.fingerprint}], ends_at=until,
                  comment=reason, actor=actor)


def lift(alert: Alert, actor=None) -> list[Silence]:
    """Expire every active silence that mutes `alert` (they may mute other alerts too)."""
    found = [s for s in active() if covering(alert, [s])]
    if not found:
        raise SilenceError("the alert is not silenced")
    with transaction.atomic():
        return [expire(silence, actor) for silence in found]


def refresh(now: datetime | None = None, actor=None) -> int:
    """Apply the silences to every open alert and to every alert still marked silenced; returns the changes."""
    targets = Alert.objects.filter(state__in=OPEN_STATES) | Alert.objects.filter(silence__isnull=False)
    return len(apply(list(targets.select_related("acknowledged_by", "inhibited_by")), now, actor))


def apply(alerts: list[Alert], now: datetime | None = None, actor=None) -> list[Alert]:
    """Bring each alert's copy of its covering silence up to date; record and publish the alerts that became
    silenced or were released before their silence's end. Returns the alerts that changed."""
    now = now or timezone.now()
    silences = active(now)
    changed, muted, released, activity = [], [], [], []
    for alert in alerts:
        silence = covering(alert, silences) if alert.state in OPEN_STATES else None
        if silence is not None:
            if (alert.silence_id, alert.silenced_until, alert.silence_reason) == (
                    silence.pk, silence.ends_at, silence.comment):
                continue
            alert.silence, alert.silenced_until = silence, silence.ends_at
            alert.silenced_by_id, alert.silence_reason = silence.created_by_id, silence.comment
            muted.append((alert, silence))
            activity.append(AlertActivity(alert=alert, action=AlertActivity.Action.SILENCED,
                                          actor=silence.created_by, note=_describe(silence)))
        elif alert.silence_id is not None or alert.silenced_until is not None:
            if alert.is_silenced(now) and alert.state in OPEN_STATES:
                released.append(alert)
                activity.append(AlertActivity(alert=alert, action=AlertActivity.Action.UNSILENCED, actor=actor,
                                              note=f"silence #{alert.silence_id} lifted"[:300]))
            alert.silence, alert.silenced_until, alert.silenced_by, alert.silence_reason = None, None, None, ""
        else:
            continue
        changed.append(alert)
    Alert.objects.bulk_update(changed, PROJECTION)
    AlertActivity.objects.bulk_create(activity)
    if muted:
        publish_many("tickstock.alert.silenced", [
            alert.event_payload(silence.created_by, note=silence.comment) | {"silence_id": silence.pk}
            for alert, silence in muted])
    if released:
        publish_many("tickstock.alert.unsilenced", [alert.event_payload(actor) for alert in released])
    return changed


def _describe(silence: Silence) -> str:
    return f"silence #{silence.pk} until {silence.ends_at:%Y-%m-%d %H:%M} UTC: {silence.comment}"[:300]
