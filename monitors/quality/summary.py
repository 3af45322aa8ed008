"""The daily summary: mean scores and anomaly counts by type over 1, 7 and 30 days, the symbols that got worse,
and the sources that disagree most — stored as a DailySummary row and published as `tickstock.quality.summary`."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Avg, Count

from monitors.quality.models import Anomaly, DailySummary, Report
from tickstock_ops.events import publish

WINDOWS = (1, 7, 30)
WORSENED_POINTS = 10.0
TOP = 20


def build_daily_summary(day: date) -> DailySummary:
    """Summarise the scans up to the end of `day` (UTC); re-running a day replaces its summary."""
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    windows = {}
    for days in WINDOWS:
        start = end - timedelta(days=days)
        reports = Report.objects.filter(scan__as_of__gte=start, scan__as_of__lt=end)
        means = reports.aggregate(price=Avg("price_score"), volume=Avg("volume_score"),
                                  freshness=Avg("freshness_score"), overall=Avg("overall_score"),
                                  reports=Count("id"))
        counts = (Anomaly.objects.filter(report__scan__as_of__gte=start, report__scan__as_of__lt=end,
                                         first_seen=True)
                  .values("anomaly_type").annotate(n=Count("id")))
        windows[f"{days}d"] = {
            "reports": means.pop("reports"),
            "mean_scores": {name: round(value, 2) if value is not None else None for name, value in means.items()},
            "anomaly_counts": {row["anomaly_type"]: row["n"] for row in counts},
        }
    worsened = _worsened(end)
    disagreeing = _disagreeing_sources(end - timedelta(days=30), end)
    with transaction.atomic():
        summary, _ = DailySummary.objects.update_or_create(
            date=day, defaults={"windows": windows, "worsened": worsened, "disagreeing_sources": disagreeing})
        publish("tickstock.quality.summary", {
            "kind": "daily", "date": day, "scan_id": None, "windows": windows, "worsened": worsened,
            "disagreeing_sources": disagreeing,
            "symbols_scanned": windows["1d"]["reports"],
            "mean_scores": windows["1d"]["mean_scores"], "anomaly_counts": windows["1d"]["anomaly_counts"],
            "trend": {name: window["mean_scores"]["overall"] for name, window in windows.items()},
        })
    return summary


def _worsened(end: datetime) -> list[dict]:
    """Symbols whose mean overall score over the last day is at least WORSENED_POINTS below the 7 days before."""
    recent = dict(Report.objects.filter(scan__as_of__gte=end - timedelta(days=1), scan__as_of__lt=end)
                  .values("symbol").annotate(mean=Avg("overall_score")).values_list("symbol", "mean"))
    before = dict(Report.objects.filter(scan__as_of__gte=end - timedelta(days=8),
                                        scan__as_of__lt=end - timedelta(days=1), symbol__in=list(recent))
                  .values("symbol").annotate(mean=Avg("overall_score")).values_list("symbol", "mean"))
    dropped = [{"symbol": symbol, "was": round(before[symbol], 1), "now": round(score, 1),
                "change": round(score - before[symbol], 1)}
               for symbol, score in recent.items() if symbol in before and before[symbol] - score >= WORSENED_POINTS]
    return sorted(dropped, key=lambda row: row["change"])[:TOP]


def _disagreeing_sources(start: datetime, end: datetime) -> list[dict]:
    """Source pairs by how many source_mismatch anomalies they produced in the window."""
    pairs: Counter = Counter()
    symbols: dict[str, set] = {}
    rows = Anomaly.objects.filter(anomaly_type="source_mismatch", first_seen=True, report__scan__as_of__gte=start,
                                  report__scan__as_of__lt=end).values_list("symbol", "context")
    for symbol, context in rows:
        names = sorted(context.get("sources", []))
        if len(names) >= 2:
            key = " vs ".join(names)
            pairs[key] += 1
            symbols.setdefault(key, set()).add(symbol)
    return [{"sources": key, "mismatches": count, "symbols": len(symbols[key])}
            for key, count in pairs.most_common(TOP)]

