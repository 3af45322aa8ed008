from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from simple_history.models import HistoricalRecords

from equity_rules import schemas
from tickstock_ops.events import publish
from tickstock_ops.symbols import validate_symbol


class StaleRulesError(Exception):
    """A save based on a version that is no longer the current one (someone else saved in between)."""


class EquityType(models.Model):
    """An equity type and its JSON rules. Every save is a new version (history keeps who and when)."""

    equity_type = models.SlugField(max_length=40, unique=True, help_text="Key, e.g. etf, common_stock")
    name = models.CharField(max_length=80, blank=True)
    processing_rules = models.JSONField(help_text="data_sources, update_frequency, validation_rules, "
                                                  "enrichment, quality")
    priority_level = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(10)], help_text="1 = highest"
    )
    retry_config = models.JSONField(help_text="max_retries, backoff_multiplier, base_delay_seconds")
    performance_targets = models.JSONField(help_text="processing_time_ms (p95), success_rate (%)")
    version = models.PositiveIntegerField(default=1, editable=False)
    last_updated = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["priority_level", "equity_type"]

    def __str__(self) -> str:
        return self.name or self.equity_type

    def save(self, *args, **kwargs) -> None:
        """Validate, then save as version + 1 only if nobody saved since `self.version` was read."""
        self.clean()
        with transaction.atomic():
            previous = None
            if self.pk is not None and not self._state.adding:
                previous = self.version
                moved = EquityType.objects.filter(pk=self.pk, version=previous).update(version=F("version") + 1)
                if not moved:
                    raise StaleRulesError(stale_message(self.pk, previous))
                self.version = previous + 1
            self.last_updated = timezone.now()
            super().save(*args, **kwargs)
            _announce(self, previous)

    def clean(self) -> None:
        problems = {}
        for field in schemas.SCHEMAS:
            messages = schemas.errors(field, getattr(self, field))
            if messages:
                problems[field] = messages
        if problems:
            raise ValidationError(problems)

    @property
    def max_attempts(self) -> int:
        return int(self.retry_config.get("max_retries", 0)) + 1


def _announce(equity_type: EquityType, previous_version: int | None) -> None:
    """Publish `tickstock.config.rules_updated` in the saving transaction."""
    record = equity_type.history.order_by("-history_id").select_related("history_user").first()
    user = record.history_user if record is not None else None
    publish("tickstock.config.rules_updated", {
        "equity_type": equity_type.equity_type,
        "version": equity_type.version,
        "previous_version": previous_version,
        "changed_by": user.get_username() if user is not None else "system",
        "change_reason": record.history_change_reason if record is not None else None,
    })


def stale_message(pk: int, based_on: int) -> str:
    latest = EquityType.history.filter(id=pk).order_by("-history_id").select_related("history_user").first()
    if latest is None:
        return f"Not saved: these rules were deleted while you were editing version {based_on}."
    who = latest.history_user.get_username() if latest.history_user else "a process"
    when = latest.history_date.strftime("%Y-%m-%d %H:%M:%S UTC")
    return (f"Not saved: {latest.equity_type} was changed to version {latest.version} by {who} at {when} "
            f"while you were editing version {based_on}. Reload to see that change, then apply yours again.")



NOT_NEGATIVE = [MinValueValidator(0)]


class Security(models.Model):
    """One instrument of the universe the rules are applied to."""

    symbol = models.CharField(max_length=20, unique=True, validators=[validate_symbol],
                              help_text="upper case, e.g. AAPL, BRK.B (docs/symbols.md)")
    name = models.CharField(max_length=200)
    equity_type = models.ForeignKey(EquityType, on_delete=models.PROTECT, related_name="securities")
    exchange = models.CharField(max_length=10, help_text="ISO 10383 MIC, e.g. XNAS, XNYS, XASE")
    sector = models.CharField(max_length=60, blank=True)
    aum = models.DecimalField("AUM", max_digits=20, decimal_places=2, null=True, blank=True,
                              validators=NOT_NEGATIVE)
    expense_ratio = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True,
                                        validators=[MinValueValidator(0), MaxValueValidator(100)],
                                        help_text="percent per year, e.g. 0.09")
    nav = models.DecimalField("NAV", max_digits=14, decimal_places=4, null=True, blank=True,
                              validators=NOT_NEGATIVE)
    last_close = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True,
                                     validators=NOT_NEGATIVE)
    average_volume = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True,
                                         validators=NOT_NEGATIVE)
    shares_outstanding = models.BigIntegerField(null=True, blank=True, validators=NOT_NEGATIVE)
    dividend_per_share = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True,
                                             validators=NOT_NEGATIVE, help_text="trailing twelve months")
    sector_weights = models.JSONField(default=dict, blank=True,
                                      help_text='funds: {"Technology": 31.2, …} in percent')
    listing_date = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        verbose_name_plural = "securities"

    def __str__(self) -> str:
        return self.symbol

    def clean(self) -> None:
        weights = self.sector_weights
        if not isinstance(weights, dict):
            raise ValidationError({"sector_weights": 'must be an object such as {"Technology": 31.2}'})
        bad = [f"{name!r}: {weight!r}" for name, weight in weights.items()
               if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 100]
        if bad:
            raise ValidationError({"sector_weights": "each weight must be a percentage from 0 to 100, not "
                                                     + ", ".join(bad)})


class ProcessingJob(models.Model):
    """One unit of work in the processing queue, claimed by one worker at a time under a lease."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        DEAD = "dead", "dead letter"
        CANCELLED = "cancelled"

    security = models.ForeignKey(Security, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="jobs")
    symbol = models.CharField(max_length=20, help_text="kept when the security is deleted")
    equity_type = models.ForeignKey(EquityType, on_delete=models.PROTECT, related_name="jobs")
    priority = models.PositiveSmallIntegerField(default=5, help_text="1 = first")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    scheduled_at = models.DateTimeField(default=timezone.now, help_text="due time")
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="lease end")
    last_error = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="one entry per failed attempt")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "scheduled_at", "id"]
        indexes = [
            models.Index(fields=["priority", "scheduled_at", "id"], name="job_claim_order",
                         condition=models.Q(state="queued")),
            models.Index(fields=["claimed_until"], name="job_lease", condition=models.Q(state="running")),
            models.Index(fields=["equity_type", "state"], name="job_type_state"),
            models.Index(fields=["equity_type", "created_at"], name="job_type_created"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.state})"


class ProcessingResult(models.Model):
    """The outcome of one attempt: the rules applied, under which version, and what they found."""

    job = models.ForeignKey(ProcessingJob, on_delete=models.CASCADE, related_name="results")
    security = models.ForeignKey(Security, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="results")
    symbol = models.CharField(max_length=20)
    equity_type = models.CharField(max_length=40, db_index=True)
    rules_version = models.PositiveIntegerField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField()
    succeeded = models.BooleanField(help_text="the attempt ran to completion (validation may still fail)")
    passed = models.BooleanField(null=True, help_text="the security met every validation rule")
    reasons = models.JSONField(default=list, blank=True)
    enrichments = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField()
    worker = models.CharField(max_length=100, blank=True)
    finished_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["equity_type", "finished_at"], name="result_type_finished")]

    def __str__(self) -> str:
        return f"{self.symbol} v{self.rules_version} attempt {self.attempt}"


class SlaStatus(models.Model):
    """The latest rolling SLA figures of an equity type against its performance_targets."""

    equity_type = models.OneToOneField(EquityType, on_delete=models.CASCADE, related_name="sla")
    window_minutes = models.PositiveIntegerField()
    samples = models.PositiveIntegerField(default=0)
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    success_rate = models.FloatField(null=True, blank=True)
    target_processing_time_ms = models.FloatField(null=True, blank=True)
    target_success_rate = models.FloatField(null=True, blank=True)
    breaches = models.JSONField(default=list, blank=True, help_text="metrics missing their target")
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SLA status"
        verbose_name_plural = "SLA status"

    def __str__(self) -> str:
        return f"SLA {self.equity_type}"
