from django.db import models
from django.utils import timezone

from monitors.ipo.names import name_key

SOURCES = ("polygon", "sec", "nasdaq", "news")
SOURCE_CHOICES = [(name, name) for name in SOURCES]
RECORD_SOURCE_CHOICES = [*SOURCE_CHOICES, ("manual", "manual (admin)")]


class IPO(models.Model):
    """One deal, merged from every source that mentioned it."""

    class Status(models.TextChoices):
        FILED = "filed"
        EXPECTED = "expected"
        PRICED = "priced"
        TRADING = "trading"
        WITHDRAWN = "withdrawn"
        POSTPONED = "postponed"

    class SectorMethod(models.TextChoices):
        SIC = "sic", "SIC code"
        DESCRIPTION = "description", "business description keywords"
        NONE = "none", "not classified"

    # NULL, not "": the contract reports an unknown ticker, CIK or sector as null.
    ticker = models.CharField(max_length=12, null=True, blank=True, db_index=True,  # noqa: DJ001
                              help_text="empty while the deal is only filed")
    cik = models.CharField("CIK", max_length=10, null=True, blank=True, db_index=True)  # noqa: DJ001
    company_name = models.CharField(max_length=200)
    name_key = models.CharField(max_length=200, db_index=True, editable=False,
                                help_text="normalised company name used to match sources")
    exchange = models.CharField(max_length=4, blank=True, help_text="ISO 10383 MIC: XNAS, XNYS, XASE")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FILED, db_index=True)
    security_type = models.CharField(max_length=10, blank=True, help_text="CS, ADRC, UNIT, WARRANT, PFD …")
    is_spac = models.BooleanField("SPAC", default=False)
    filed_date = models.DateField(null=True, blank=True)
    expected_date = models.DateField(null=True, blank=True)
    listing_date = models.DateField(null=True, blank=True)
    offer_price = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    price_low = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    price_high = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    shares_offered = models.BigIntegerField(null=True, blank=True)
    shares_outstanding = models.BigIntegerField(null=True, blank=True)
    sic_code = models.CharField("SIC code", max_length=4, blank=True)
    description = models.TextField(blank=True, help_text="business description, when a source gives one")
    sector = models.CharField(max_length=40, null=True, blank=True, db_index=True)  # noqa: DJ001
    sector_method = models.CharField(max_length=12, choices=SectorMethod.choices, default=SectorMethod.NONE)
    sector_reason = models.CharField(max_length=200, blank=True)
    market_cap_estimate = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    market_cap_basis = models.CharField(max_length=60, blank=True)
    eligible = models.BooleanField(default=False)
    eligibility_reason = models.CharField(max_length=200, blank=True)
    first_trade_date = models.DateField(null=True, blank=True)
    first_trade_open = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    first_day_volume = models.BigIntegerField(null=True, blank=True)
    first_days_volumes = models.JSONField(default=list, blank=True, help_text="volumes of the first sessions")
    trading_checked = models.JSONField(default=dict, blank=True, editable=False,
                                       help_text='{"ticker", "through"}: bars of that ticker up to that (past) day '
                                                 'were checked and gave nothing new')
    sources = models.JSONField(default=list, blank=True, editable=False)
    validation_errors = models.JSONField(default=list, blank=True, editable=False)
    validated_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "IPO"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.ticker or '—'} {self.company_name}"

    def save(self, *args, **kwargs):
        self.normalise()
        super().save(*args, **kwargs)

    def normalise(self) -> None:
        """What save() derives; bulk writers call it themselves."""
        self.company_name = self.company_name[:200]
        self.name_key = name_key(self.company_name)[:200]

    def as_contract(self) -> dict:
        """The `IPO` object of docs/commands.md."""
        return {
            "ticker": self.ticker,
            "cik": self.cik,
            "company_name": self.company_name,
            "exchange": self.exchange or None,
            "listing_date": (self.listing_date or self.expected_date).isoformat()
            if (self.listing_date or self.expected_date) else None,
            "status": self.status,
            "sic_code": self.sic_code or None,
            "sector": self.sector,
            "offer_price": float(self.offer_price) if self.offer_price is not None else None,
            "shares_outstanding": self.shares_outstanding,
            "market_cap_estimate": float(self.market_cap_estimate) if self.market_cap_estimate is not None else None,
            "eligible": self.eligible,
            "sources": list(self.sources),
        }


class SourceRecord(models.Model):
    """What one source said about one item, as fetched (latest fetch kept), and what we parsed from it."""

    ipo = models.ForeignKey(IPO, null=True, blank=True, on_delete=models.SET_NULL, related_name="records")
    source = models.CharField(max_length=10, choices=RECORD_SOURCE_CHOICES)
    key = models.CharField(max_length=200, help_text="the item's identity within its source")
    kind = models.CharField(max_length=30, blank=True, help_text="form type, calendar section, IPO status …")
    raw = models.JSONField()
    parsed = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)
    first_seen = models.DateTimeField(default=timezone.now)
    fetched_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True, help_text="why a record created no IPO")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="ipo_record_source_key")]
        ordering = ["-fetched_at"]

    def __str__(self) -> str:
        return f"{self.source}:{self.key}"


class StatusChange(models.Model):
    ipo = models.ForeignKey(IPO, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status} ({self.source})"


class Conflict(models.Model):
    """Sources that disagree on a field, and which one won by precedence. Kept until they agree again."""

    ipo = models.ForeignKey(IPO, on_delete=models.CASCADE, related_name="conflicts")
    field = models.CharField(max_length=40)
    values = models.JSONField(help_text="{source: value}")
    chosen_source = models.CharField(max_length=10)
    chosen_value = models.JSONField(null=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved = models.BooleanField(default=False, help_text="the sources agree again")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ipo", "field"], name="ipo_conflict_field")]

    def __str__(self) -> str:
        return f"{self.ipo} {self.field}: {self.values}"


class ScanRun(models.Model):
    class Kind(models.TextChoices):
        SCAN = "scan"
        BACKFILL = "backfill"
        TRADING = "trading", "trading-activity check"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    sources = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    stats = models.JSONField(default=dict, blank=True, help_text="{source: {fetched, errors, requests}}")
    errors = models.JSONField(default=list, blank=True)
    ipos_touched = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.start_date}…{self.end_date}"


class SourceDay(models.Model):
    """Backfill progress: this source's data for this day is in (so a resumed backfill skips it)."""

    source = models.CharField(max_length=10, choices=SOURCE_CHOICES)
    day = models.DateField()
    run = models.ForeignKey(ScanRun, null=True, blank=True, on_delete=models.SET_NULL)
    fetched = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True)
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "day"], name="ipo_source_day")]
        ordering = ["-day", "source"]

    def __str__(self) -> str:
        return f"{self.source} {self.day}"
