"""Receivers, the route tree, and the notification outbox: groups, the alert changes they carry, each attempt."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from tickstock_ops import matchers as label_matchers
from tickstock_ops.notify.send import invalid_urls

DEFAULT_RECEIVER = "default"


class Receiver(models.Model):
    """Where notifications go: one or more Apprise URLs (e-mail, Slack, Teams, PagerDuty, a JSON webhook …).
    The receiver named `default` is TICKSTOCK_NOTIFY_URLS and is not stored here."""

    name = models.SlugField(max_length=50, unique=True)
    urls = models.TextField(help_text="Apprise URLs, one per line (they may hold secrets: tokens, passwords)")
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def url_list(self) -> list[str]:
        return [line.strip() for line in self.urls.splitlines() if line.strip()]

    def clean(self) -> None:
        if self.name == DEFAULT_RECEIVER:
            raise ValidationError({"name": "`default` is TICKSTOCK_NOTIFY_URLS; choose another name"})
        if not self.url_list():
            raise ValidationError({"urls": "give at least one Apprise URL"})
        bad = invalid_urls(self.url_list())
        if bad:
            raise ValidationError({"urls": f"Apprise cannot use: {', '.join(bad)}"})


class Route(models.Model):
    """A node of the route tree (Alertmanager's `route`). Routes without a parent hang under the implicit root,
    which sends everything to the `default` receiver. Empty fields inherit from the parent."""

    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children",
                               help_text="empty: directly under the root")
    position = models.PositiveIntegerField(default=0, help_text="siblings are tried in this order")
    matchers = models.TextField(blank=True, help_text="label=value, label!=value, label=~regex, label!~regex "
                                "(commas, spaces or lines between them; all must match; empty matches everything); "
                                "labels as for silences: monitor, severity, type, exchange, equity_type, symbol, "
                                "source …")
    receiver = models.CharField(max_length=50, blank=True, help_text="a receiver's name, `default`, or empty to "
                                "inherit")
    continue_matching = models.BooleanField("continue", default=False,
                                            help_text="after this route matches, try its next siblings too")
    group_by = models.CharField(max_length=200, blank=True, help_text="comma-separated labels; empty inherits")
    group_wait = models.PositiveIntegerField(null=True, blank=True, help_text="seconds; empty inherits")
    group_interval = models.PositiveIntegerField(null=True, blank=True, help_text="seconds; empty inherits")
    repeat_interval = models.PositiveIntegerField(null=True, blank=True, help_text="seconds; empty inherits")
    send_resolved = models.BooleanField(null=True, blank=True, help_text="notify resolutions; empty inherits")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["parent_id", "position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            label_matchers.parse(self.matchers)
        except label_matchers.MatcherError as error:
            raise ValidationError({"matchers": str(error)}) from None
        if self.receiver and self.receiver != DEFAULT_RECEIVER and \
                not Receiver.objects.filter(name=self.receiver).exists():
            raise ValidationError({"receiver": f"no receiver named {self.receiver!r}"})
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk:
                raise ValidationError({"parent": "a route cannot hang under itself"})
            ancestor = ancestor.parent


class NotificationGroup(models.Model):
    """Alertmanager's aggregation group: one per (route, receiver, values of the route's group_by labels).
    `due_at` is when it next sends: after group_wait, group_interval, a retry's backoff or the repeat interval."""

    key = models.CharField(max_length=64, unique=True)
    route = models.CharField(max_length=300, help_text="the route's path in the tree")
    receiver = models.CharField(max_length=50)
    labels = models.JSONField(default=dict)
    scope = models.CharField(max_length=300, blank=True, help_text="the group_by values in the route's order")
    group_interval = models.PositiveIntegerField()
    repeat_interval = models.PositiveIntegerField()
    due_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="failed attempts since the last success")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="notify_group_due",
                                condition=models.Q(due_at__isnull=False))]

    def __str__(self) -> str:
        return f"{self.receiver} · {self.route}" + (f" · {self.scope}" if self.scope else "")


class Notification(models.Model):
    """One alert change to tell one group's receiver about, written in the transaction of that change."""

    class Kind(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"

    class Outcome(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        SUPPRESSED = "suppressed", "suppressed (silenced, inhibited, acknowledged or resolved before sending)"
        ABANDONED = "abandoned", "abandoned (receiver down past the retry window)"

    group = models.ForeignKey(NotificationGroup, on_delete=models.CASCADE, related_name="notifications")
    alert = models.ForeignKey("tickstock_ops.Alert", on_delete=models.CASCADE, related_name="notifications_queued")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["group", "id"], name="notify_pending",
                                condition=models.Q(outcome="pending"))]

    def __str__(self) -> str:
        return f"{self.kind} alert {self.alert_id} → {self.group.receiver}"


class DeliveryAttempt(models.Model):
    """Each try to hand a message to a receiver, successful or not."""

    class Outcome(models.TextChoices):
        SENT = "sent"
        FAILED = "failed"
        ABANDONED = "abandoned"

    group = models.ForeignKey(NotificationGroup, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="attempts", help_text="empty for a test notification")
    receiver = models.CharField(max_length=50)
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, help_text="firing, resolved, repeat or test")
    attempt = models.PositiveIntegerField(help_text="1 for a first try, 2 for its first retry …")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    title = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    alerts = models.ManyToManyField("tickstock_ops.Alert", blank=True, related_name="delivery_attempts")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="notify_attempt_at")]

    def __str__(self) -> str:
        return f"{self.receiver} {self.outcome} at {self.at:%Y-%m-%d %H:%M:%S}"
