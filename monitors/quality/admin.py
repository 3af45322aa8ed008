from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from monitors.quality.models import Anomaly, CorporateAction, DailySummary, Report, Scan
from tickstock_ops.admin_base import RecordAdmin, RecordInline


def symbol_history(symbol: str) -> str:
    url = reverse("admin:quality_report_changelist") + f"?symbol__exact={symbol}"
    return format_html('<a href="{}">{} history</a>', url, symbol)


class ScoreFilter(admin.SimpleListFilter):
    title = "overall score"
    parameter_name = "score"
    BANDS = {"clean": (100, 101), "fair": (70, 100), "poor": (40, 70), "bad": (0, 40)}

    def lookups(self, request, model_admin):
        return [("clean", "100 (clean)"), ("fair", "70–99"), ("poor", "40–69"), ("bad", "below 40")]

    def queryset(self, request, queryset):
        if self.value() in self.BANDS:
            low, high = self.BANDS[self.value()]
            return queryset.filter(overall_score__gte=low, overall_score__lt=high)
        return queryset


@admin.register(CorporateAction)
class CorporateActionAdmin(admin.ModelAdmin):
    list_display = ("symbol", "date", "kind", "ratio")
    list_filter = ("kind",)
    search_fields = ("symbol",)
    date_hierarchy = "date"


class AnomalyInline(RecordInline):
    model = Anomaly
    fields = ("anomaly_type", "severity", "ts", "value", "threshold", "detail", "first_seen")
    readonly_fields = fields
    show_change_link = True


@admin.register(Scan)
class ScanAdmin(RecordAdmin):
    list_display = ("id", "kind", "interval", "as_of", "since", "symbols_scanned", "anomaly_count", "mean_overall",
                    "duration_s")
    list_filter = ("kind", "interval")
    date_hierarchy = "as_of"
    readonly_fields = [f.name for f in Scan._meta.fields] + ["reports_link"]

    @admin.display(description="mean overall score")
    def mean_overall(self, scan: Scan):
        return scan.mean_scores.get("overall_score")

    @admin.display(description="reports")
    def reports_link(self, scan: Scan):
        url = reverse("admin:quality_report_changelist") + f"?scan__id__exact={scan.pk}"
        return format_html('<a href="{}">{} reports</a>', url, scan.symbols_scanned)


@admin.register(Report)
class ReportAdmin(RecordAdmin):
    list_display = ("symbol", "scan_as_of", "overall_score", "price_score", "volume_score", "freshness_score",
                    "anomaly_total", "history")
    list_filter = (ScoreFilter, "scan__interval", "scan__kind", "equity_type")
    search_fields = ("symbol",)
    list_select_related = ("scan",)
    readonly_fields = ("scan", "symbol", "equity_type", "price_score", "volume_score", "freshness_score",
                       "overall_score", "advice", "history")
    exclude = ("recommendations",)
    inlines = [AnomalyInline]
    show_full_result_count = False
    ordering = ("overall_score", "-scan__as_of", "symbol")  # worst first: what needs a look

    @admin.display(description="as of", ordering="scan__as_of")
    def scan_as_of(self, report: Report):
        return report.scan.as_of

    @admin.display(description="anomalies")
    def anomaly_total(self, report: Report):
        return report.anomalies.count()

    @admin.display(description="recommendations")
    def advice(self, report: Report):
        return format_html_join("", "<li>{}</li>", ((text,) for text in report.recommendations)) or "—"

    @admin.display(description="per-symbol history")
    def history(self, report: Report):
        return symbol_history(report.symbol)


@admin.register(Anomaly)
class AnomalyAdmin(RecordAdmin):
    list_display = ("symbol", "anomaly_type", "severity", "interval", "ts", "value", "threshold", "source",
                    "first_seen", "history")
    list_filter = ("anomaly_type", "severity", "interval", "first_seen", "source")
    search_fields = ("symbol", "detail")
    date_hierarchy = "ts"
    readonly_fields = [f.name for f in Anomaly._meta.fields if f.name != "id"] + ["history"]
    show_full_result_count = False

    @admin.display(description="per-symbol history")
    def history(self, anomaly: Anomaly):
        url = reverse("admin:quality_anomaly_changelist") + f"?symbol__exact={anomaly.symbol}"
        return format_html('<a href="{}">{} anomalies</a>', url, anomaly.symbol)


@admin.register(DailySummary)
class DailySummaryAdmin(admin.ModelAdmin):
    list_display = ("date", "mean_overall_1d", "mean_overall_7d", "mean_overall_30d", "anomalies_1d",
                    "worsened_count")
    readonly_fields = ("date", "created_at", "trends", "worsened_table", "sources_table")
    exclude = ("windows", "worsened", "disagreeing_sources")
    date_hierarchy = "date"

    def _overall(self, summary: DailySummary, window: str):
        return (summary.windows.get(window) or {}).get("mean_scores", {}).get("overall")

    @admin.display(description="overall 1d")
    def mean_overall_1d(self, summary):
        return self._overall(summary, "1d")

    @admin.display(description="overall 7d")
    def mean_overall_7d(self, summary):
        return self._overall(summary, "7d")

    @admin.display(description="overall 30d")
    def mean_overall_30d(self, summary):
        return self._overall(summary, "30d")

    @admin.display(description="anomalies 1d")
    def anomalies_1d(self, summary):
        return sum((summary.windows.get("1d") or {}).get("anomaly_counts", {}).values())

    @admin.display(description="symbols worse")
    def worsened_count(self, summary):
        return len(summary.worsened)

    @admin.display(description="trends (mean scores; anomalies by type)")
    def trends(self, summary):
        rows = []
        for window, data in summary.windows.items():
            scores = ", ".join(f"{k} {v}" for k, v in data.get("mean_scores", {}).items())
            counts = ", ".join(f"{k} {v}" for k, v in sorted(data.get("anomaly_counts", {}).items())) or "none"
            rows.append((window, data.get("reports", 0), scores, counts))
        return format_html(
            "<table><tr><th>window</th><th>reports</th><th>mean scores</th><th>anomalies</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))

    @admin.display(description="symbols that got worse")
    def worsened_table(self, summary):
        return format_html_join("", "<li>{}: {} → {} ({})</li>", (
            (symbol_history(row["symbol"]), row["was"], row["now"], row["change"]) for row in summary.worsened
        )) or "none"

    @admin.display(description="sources that disagree most")
    def sources_table(self, summary):
        return format_html_join("", "<li>{}: {} mismatches on {} symbols</li>", (
            (row["sources"], row["mismatches"], row["symbols"]) for row in summary.disagreeing_sources
        )) or "none"
