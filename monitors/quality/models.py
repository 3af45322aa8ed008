from django.db import models
from django.utils import timezone

INTERVALS = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "1d": None}
INTERVAL_CHOICES = [(name, name) for name in INTERVALS]


class Bar(models.Model):
    """One OHLCV bar of one symbol from one source. Daily bars are stamped at 00:00 UTC of their session date;
    intraday bars at the start of the bar, in UTC.

    The key is the primary key (no surrogate id: one index less to maintain on every import); leading with symbol
    it also serves one symbol's time-range reads. On PostgreSQL the key's text columns use the "C" collation
    (byte order compares fastest) and a BRIN index on ts serves a universe's time-range reads (migration 0002).
    """

    pk = models.CompositePrimaryKey("symbol", "source", "interval", "ts")
    symbol = models.CharField(max_length=20)
    source = models.CharField(max_length=30)
    interval = models.CharField(max_length=4, choices=INTERVAL_CHOICES)
    ts = models.DateTimeField()
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval} {self.ts:%Y-%m-%d %H:%M} ({self.source})"


class LatestBar(models.Model):
    """The newest stored bar per symbol, source and interval, kept by the bar writer in the transaction that stores
    the bars: who is fresh is known without re-reading bars, and the intraday scan starts from it
    (docs/quality-scans.md)."""

    pk = models.CompositePrimaryKey("symbol", "source", "interval")
    symbol = models.CharField(max_length=20)
    source = models.CharField(max_length=30)
    interval = models.CharField(max_length=4, choices=INTERVAL_CHOICES)
    ts = models.DateTimeField(help_text="The newest bar's timestamp.")
    stored_at = models.DateTimeField(help_text="When that bar was stored.")
    scanned = models.DateTimeField(null=True, blank=True,
                                   help_text="The newest bar the last scheduled intraday scan saw (its watermark).")

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval} newest {self.ts:%Y-%m-%d %H:%M} ({self.source})"


class CorporateAction(models.Model):
    class Kind(models.TextChoices):
        SPLIT = "split"
        DIVIDEND = "dividend"

    symbol = models.CharField(max_length=20)
    date = models.DateField(help_text="Effective (ex) date: the first session priced after the action.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    ratio = models.FloatField(help_text="Split: new shares per old share (2 = 2-for-1). Dividend: cash per share.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["symbol", "date", "kind"], name="quality_action_key")]
        ordering = ["symbol", "date"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.kind} {self.ratio:g} on {self.date}"


class Scan(models.Model):
    class Kind(models.TextChoices):
        FULL = "full"
        INTRADAY = "intraday"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FULL)
    interval = models.CharField(max_length=4, choices=INTERVAL_CHOICES)
    as_of = models.DateTimeField(db_index=True)
    since = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    duration_s = models.FloatField(default=0)
    symbols_scanned = models.PositiveIntegerField(default=0)
    anomaly_count = models.PositiveIntegerField(default=0)
    mean_scores = models.JSONField(default=dict, blank=True)
    anomaly_counts = models.JSONField(default=dict, blank=True, help_text="Anomalies by type.")

    class Meta:
        ordering = ["-as_of", "-id"]

    def __str__(self) -> str:
        return f"scan {self.pk} ({self.kind} {self.interval}) as of {self.as_of:%Y-%m-%d %H:%M}"


class Report(models.Model):
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="reports")
    symbol = models.CharField(max_length=20, db_index=True)
    equity_type = models.CharField(max_length=30, blank=True)
    price_score = models.FloatField()
    volume_score = models.FloatField()
    freshness_score = models.FloatField()
    overall_score = models.FloatField(db_index=True)
    recommendations = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-scan__as_of", "symbol"]
        constraints = [models.UniqueConstraint(fields=["scan", "symbol"], name="quality_report_key")]
        indexes = [models.Index(fields=["symbol", "scan"], name="quality_report_symbol")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.overall_score:.0f} (scan {self.scan_id})"


class Anomaly(models.Model):
    class Type(models.TextChoices):
        PRICE_ANOMALY = "price_anomaly"
        PRICE_GAP = "price_gap"
        VOLATILITY_CLUSTER = "volatility_cluster"
        TECHNICAL_BREAK = "technical_break"
        VOLUME_SPIKE = "volume_spike"
        VOLUME_DROUGHT = "volume_drought"
        DATA_STALE = "data_stale"
        COVERAGE_GAP = "coverage_gap"
        SOURCE_MISMATCH = "source_mismatch"
        CORPORATE_ACTION = "corporate_action"

    class Severity(models.TextChoices):
        CRITICAL = "critical"
        WARNING = "warning"
        INFO = "info"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="anomalies")
    symbol = models.CharField(max_length=20)
    anomaly_type = models.CharField(max_length=30, choices=Type.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    interval = models.CharField(max_length=4, choices=INTERVAL_CHOICES)
    source = models.CharField(max_length=30, blank=True)
    ts = models.DateTimeField(help_text="The bar (or the start of the missing stretch) it is about.")
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    detail = models.TextField()
    context = models.JSONField(default=dict, blank=True, help_text="Machine-readable details (sources, ratio …).")
    first_seen = models.BooleanField(default=True, help_text="False when an earlier scan already reported it.")

    class Meta:
        ordering = ["-ts", "symbol"]
        verbose_name_plural = "anomalies"
        indexes = [
            models.Index(fields=["symbol", "anomaly_type", "ts"], name="quality_anomaly_symbol"),
            models.Index(fields=["anomaly_type", "ts"], name="quality_anomaly_type"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.anomaly_type} {self.ts:%Y-%m-%d %H:%M}"


class PublishedAnomaly(models.Model):
    """The once-per-(symbol, type, bar) ledger: an anomaly's event goes out the first time a scan finds it."""

    symbol = models.CharField(max_length=20)
    anomaly_type = models.CharField(max_length=30)
    interval = models.CharField(max_length=4)
    ts = models.DateTimeField()
    scan = models.ForeignKey(Scan, on_delete=models.SET_NULL, null=True, blank=True)
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["symbol", "anomaly_type", "interval", "ts"], name="quality_published_key")
        ]
        indexes = [models.Index(fields=["interval", "ts"], name="quality_published_ts")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.anomaly_type} {self.ts:%Y-%m-%d %H:%M}"


class DailySummary(models.Model):
    date = models.DateField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    windows = models.JSONField(default=dict, help_text="Per window (1, 7, 30 days): mean scores, anomalies by type.")
    worsened = models.JSONField(default=list, blank=True, help_text="Symbols whose overall score dropped.")
    disagreeing_sources = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "daily summaries"

    def __str__(self) -> str:
        return f"quality summary {self.date}"
