import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from tickstock_ops import matchers as label_matchers


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it reports, relayed to Redis after commit."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    occurred_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], name="outbox_pending", condition=models.Q(published_at__isnull=True)),
            models.Index(fields=["published_at"], name="outbox_published_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    def envelope(self) -> dict:
        occurred = self.occurred_at.astimezone(UTC)
        return {
            "id": str(self.event_id),
            "type": self.type,
            "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%S.") + f"{occurred.microsecond // 1000:03d}Z",
            "payload": self.payload,
        }


class Alert(models.Model):
    """The operator's view of a problem: one row per fingerprint, however often it is seen (Alertmanager's
    model: firing → acknowledged → resolved, silences with an author and an expiry, inhibition, repeat interval)."""

    class Severity(models.TextChoices):
        CRITICAL = "critical"
        WARNING = "warning"
        INFO = "info"

    class State(models.TextChoices):
        FIRING = "firing"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    fingerprint = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=50, help_text="ipo, quality, rules, events …")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    state = models.CharField(max_length=15, choices=State.choices, default=State.FIRING, db_index=True)
    title = models.CharField(max_length=300)
    labels = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    # The covering silence's end, author and comment, copied for listing and filtering (tickstock_ops/silences.py).
    silenced_until = models.DateTimeField(null=True, blank=True, help_text="no notifications before this time")
    silenced_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    silence_reason = models.CharField(max_length=300, blank=True)
    silence = models.ForeignKey("Silence", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts",
                                help_text="the active silence that mutes this alert (the one ending last)")
    inhibited_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="inhibits",
                                     help_text="the active source-level alert this one is suppressed under")
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen"]
        indexes = [models.Index(fields=["state", "severity"], name="alert_state_severity")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED

    def is_silenced(self, now: datetime | None = None) -> bool:
        """As the silences were last applied; `tickstock_ops.silences.is_silenced()` asks the silences themselves."""
        return self.silenced_until is not None and self.silenced_until > (now or timezone.now())

    @property
    def kind(self) -> str:
        """What the alert is about (its Alertmanager alertname): the anomaly type, the SLA metric …"""
        return self.labels.get("anomaly_type") or self.labels.get("metric") or self.fingerprint.split(":")[0]

    def match_labels(self) -> dict[str, str]:
        """The labels silences and filters match on: the alert's own, plus alertname/type, severity, monitor
        (ipo, quality, rules) and fingerprint."""
        synthetic = {"alertname": self.kind, "type": self.kind, "severity": self.severity, "monitor": self.source,
                     "fingerprint": self.fingerprint}
        return {**synthetic, **{str(k): "" if v is None else str(v) for k, v in self.labels.items()},
                "fingerprint": self.fingerprint}

    def event_payload(self, actor=None, note: str = "", notification: str | None = None) -> dict:
        """A `tickstock.alert.*` payload: the alert, who acted and why."""
        payload = self.as_event()
        payload["actor"] = actor.get_username() if actor is not None else None
        if note:
            payload["note"] = note
        if notification:
            payload["notification"] = notification
        return payload

    def as_event(self) -> dict:
        """The payload of the `tickstock.alert.*` events."""
        return {
            "alert_id": self.pk, "fingerprint": self.fingerprint, "source": self.source, "severity": self.severity,
            "state": self.state, "title": self.title, "labels": self.labels, "count": self.count,
            "first_seen": self.first_seen, "last_seen": self.last_seen,
            "silenced_until": self.silenced_until if self.is_silenced() else None,
            "acknowledged_by": self.acknowledged_by.get_username() if self.acknowledged_by_id else None,
            "inhibited_by": self.inhibited_by.fingerprint if self.inhibited_by_id else None,
        }


class AlertActivity(models.Model):
    """Who did what to an alert, and when (an empty actor is the system: a scan, a repeat notification)."""

    class Action(models.TextChoices):
        FIRED = "fired"
        REOPENED = "reopened"
        NOTIFIED = "notified", "re-notified"
        ACKNOWLEDGED = "acknowledged"
        UNACKNOWLEDGED = "unacknowledged"
        SILENCED = "silenced"
        UNSILENCED = "unsilenced"
        RESOLVED = "resolved"
        INHIBITED = "inhibited"
        UNINHIBITED = "uninhibited"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="activity")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    action = models.CharField(max_length=15, choices=Action.choices)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "alert activity"
        indexes = [models.Index(fields=["alert", "at"], name="alert_activity_alert")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor or 'system'}"


class Silence(models.Model):
    """Alertmanager's silence: label matchers, a start and an end, who made it and why. Alerts that match while it
    is active do not notify; they still count sightings and resolve as usual."""

    matchers = models.JSONField(help_text='[{"name": "type", "op": "=", "value": "volume_spike"}, …]')
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    comment = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-ends_at", "-id"]
        indexes = [models.Index(fields=["ends_at"], name="silence_ends_at")]

    def __str__(self) -> str:
        return f"silence #{self.pk}: {self.matchers_text}"

    @property
    def matchers_text(self) -> str:
        return label_matchers.text(label_matchers.from_json(self.matchers))

    def state(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if self.ends_at <= now:
            return "expired"
        return "pending" if self.starts_at > now else "active"


class SloSample(models.Model):
    """One service-level measurement of a kind with a target (tickstock_ops.slo), kept for a few days."""

    name = models.CharField(max_length=50)
    at = models.DateTimeField(default=timezone.now)
    seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["name", "at"], name="slo_sample_name_at")]

    def __str__(self) -> str:
        return f"{self.name} {self.seconds:.3f}s at {self.at:%Y-%m-%d %H:%M:%S}"


class ReadonlyRole(models.Model):
    """A PostgreSQL role made by `create_readonly_role`; every `migrate` grants it the readable tables again."""

    name = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
