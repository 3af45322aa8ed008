"""What the dashboard pages show: one small query function per panel, returning plain data for the templates.

The dashboard sits above the domain apps (README, Layout): it reads their tables to render them; nothing below
imports it.
"""

import json
from collections import Counter, defaultdict
from datetime import UTC, date, timedelta

import pandas as pd
from django.db.models import Avg, Count, Max
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.models import Schedule

from dashboard import alert_list
from dashboard.alert_list import AlertFilter
from equity_rules import api as rules_api
from equity_rules.models import EquityType, ProcessingJob, Security, SlaStatus
from monitors.ipo.models import IPO, ScanRun, SourceRecord
from monitors.quality import calendar
from monitors.quality.models import Anomaly, Bar, Report, Scan
from tickstock_ops import alerts, events, health, service_levels
from tickstock_ops.models import Alert, AlertActivity, OutboxEvent

SEVERITIES = [choice.value for choice in alerts.SEVERITY_ORDER]
PIPELINE = [IPO.Status.FILED, IPO.Status.EXPECTED, IPO.Status.PRICED, IPO.Status.TRADING]
OFF_PIPELINE = [IPO.Status.WITHDRAWN, IPO.Status.POSTPONED]
SCORE_BUCKETS = [(0, 50), (50, 70), (70, 80), (80, 90), (90, 95), (95, 100.01)]


def last_seq() -> int | None:
    """The newest event a freshly rendered page already reflects: the browser asks for what came after it."""
    return OutboxEvent.objects.filter(published_at__isnull=False).aggregate(last=Max("id"))["last"]


def firing_by_severity() -> dict[str, int]:
    """Firing (not acknowledged, not silenced, not inhibited) alerts per severity, every severity present."""
    now = timezone.now()
    counts = dict(Alert.objects.filter(state=Alert.State.FIRING, inhibited_by__isnull=True)
                  .exclude(silenced_until__gt=now).values_list("severity").annotate(n=Count("id")))
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}


def alert_tiles() -> list[dict]:
    """The overview's tiles, each a link to the alert list it counts (zero-count tiles stay neutral)."""
    now = timezone.now()
    open_ = Alert.objects.filter(state__in=alerts.OPEN_STATES)
    plain = AlertFilter()
    tiles = [{"label": f"{severity} firing", "n": n, "severity": severity,
              "url": plain.url(q=f"severity={severity} state=firing", silenced="0")}
             for severity, n in firing_by_severity().items()]
    return tiles + [
        {"label": "acknowledged", "n": open_.filter(state=Alert.State.ACKNOWLEDGED).count(),
         "url": plain.url(q="state=acknowledged")},
        {"label": "silenced", "n": open_.filter(silenced_until__gt=now).count(), "url": plain.url(q="silenced=true")},
        {"label": "inhibited", "n": open_.filter(inhibited_by__isnull=False).count(),
         "url": plain.url(q="inhibited=true", inhibited="1")},
        {"label": "resolved 24 h", "n": Alert.objects.filter(resolved_at__gt=now - timedelta(hours=24)).count(),
         "url": plain.url(view="resolved")},
    ]


def recent_activity(limit: int = 15) -> list[AlertActivity]:
    return list(AlertActivity.objects.select_related("alert", "actor").exclude(action__in=[
        AlertActivity.Action.INHIBITED, AlertActivity.Action.UNINHIBITED])[:limit])


def health_report() -> dict:
    healthy, report = health.check()
    return {"healthy": healthy, **report}


def last_scans(limit: int = 6) -> list[dict]:
    """The latest quality and IPO scans with their durations, newest first."""
    quality = [{"what": f"quality {s.kind} {s.interval}", "at": s.started_at, "duration_s": s.duration_s,
                "detail": f"{s.symbols_scanned} symbols, {s.anomaly_count} anomalies", "as_of": s.as_of}
               for s in Scan.objects.order_by("-started_at")[:limit]]
    ipo = [{"what": f"IPO {r.kind}", "at": r.started_at,
            "duration_s": (r.finished_at - r.started_at).total_seconds() if r.finished_at else None,
            "detail": f"{r.ipos_touched} IPOs, {len(r.errors)} errors", "as_of": None}
           for r in ScanRun.objects.order_by("-started_at")[:limit]]
    return sorted(quality + ipo, key=lambda s: s["at"], reverse=True)[:limit]


def event_summary(envelope: dict) -> str:
    """One line about an event for the live feed, on the page and in every WebSocket frame."""
    kind, p = envelope["type"], envelope.get("payload") or {}
    if kind == "tickstock.alert.digest":
        return f"[{p.get('severity')}] {p.get('count')} × {p.get('type')} ({p.get('source')}" + (
            f" {p['exchange']})" if p.get("exchange") else ")")
    if kind.startswith("tickstock.alert."):
        who = f" by {p['actor']}" if p.get("actor") else ""
        why = f" ({p['notification']})" if p.get("notification") else ""
        return f"[{p.get('severity')}] {p.get('title')} — {p.get('state')}{who}{why}"
    if p.get("anomaly_type"):
        return f"{p.get('symbol')} {p['anomaly_type']} [{p.get('severity')}] {p.get('detail') or ''}"
    if kind == "tickstock.quality.scan_completed":
        found = sum((p.get("anomaly_counts") or {}).values())
        return (f"{p.get('kind')} {p.get('interval')} scan #{p.get('scan_id')}: {p.get('symbols_scanned')} symbols, "
                f"{found} anomalies in {p.get('duration_s')} s")
    if kind == "tickstock.quality.summary":
        mean = (p.get("mean_scores") or {}).get("overall", "—")
        return f"daily summary {p.get('date')}: {p.get('symbols_scanned')} reports, mean {mean}"
    if "ticker" in p or "company_name" in p:
        return " · ".join(str(p[k]) for k in ("ticker", "company_name", "status", "error") if p.get(k))
    if p.get("equity_type"):
        return " · ".join(str(p[k]) for k in ("equity_type", "symbol", "metric", "error") if p.get(k))
    return json.dumps(p, default=str)[:300]


def with_summaries(items: list[dict]) -> list[dict]:
    """Outbox items (`{"seq", "event"}`) with the feed's line for each."""
    return [{**item, "summary": event_summary(item["event"])} for item in items]


def feed(limit: int = 40) -> list[dict]:
    """The feed as the page first shows it; `at` is the event's time, rendered in the user's clock."""
    return [{**item, "at": parse_datetime(item["event"]["occurred_at"])}
            for item in with_summaries(events.recent_events(limit))]


# What each overview panel needs, so a live refresh of one panel computes only that; each takes the page's
# query (the alert filter lives in the URL).
OVERVIEW_PANELS = {
    "severity": lambda params: {"tiles": alert_tiles()},
    "alerts": lambda params: alert_list.listed(AlertFilter.from_query(params)),
    "activity": lambda params: {"activity": recent_activity()},
    "health": lambda params: {"health": health_report()},
    "scans": lambda params: {"scans": last_scans()},
    "service_levels": lambda params: {"service_levels": service_levels.status()},
}


def overview(params: QueryDict) -> dict:
    context = {"recent": feed()}
    for panel in OVERVIEW_PANELS.values():
        context.update(panel(params))
    return context


# IPOs


def ipo_pipeline() -> list[dict]:
    counts = dict(IPO.objects.values_list("status").annotate(n=Count("id")))
    return [{"status": status.value, "count": counts.get(status.value, 0), "main": status in PIPELINE}
            for status in (*PIPELINE, *OFF_PIPELINE)]


def upcoming_listings(today: date | None = None, limit: int = 25) -> list[IPO]:
    today = today or timezone.localdate()
    return list(IPO.objects.filter(status__in=[IPO.Status.EXPECTED, IPO.Status.PRICED, IPO.Status.FILED],
                                   expected_date__gte=today).order_by("expected_date", "ticker")[:limit])


def recent_detections(limit: int = 25) -> list[IPO]:
    return list(IPO.objects.order_by("-created_at")[:limit])


def ipo_sources(limit: int = 8) -> dict:
    """Per source: records held, last fetch, and the latest runs' fetched/error figures."""
    records = {row["source"]: row for row in SourceRecord.objects.values("source").annotate(
        records=Count("id"), last_fetch=Max("fetched_at"))}
    runs = list(ScanRun.objects.order_by("-started_at")[:limit])
    return {"records": records, "runs": runs, "next_runs": next_runs("monitors.ipo.tasks."),
            "alerts": Alert.objects.filter(source="ipo", state__in=alerts.OPEN_STATES).order_by("-last_seen")}


def next_runs(func_prefix: str) -> list[dict]:
    """The scheduled tasks of an app (django-q2 schedules) with their next run, soonest first."""
    return list(Schedule.objects.filter(func__startswith=func_prefix).order_by("next_run").values("name", "next_run"))


def ipos() -> dict:
    return {"pipeline": ipo_pipeline(), "upcoming": upcoming_listings(), "detections": recent_detections(),
            "sources": ipo_sources(), "total": IPO.objects.count()}


# Data quality


def latest_scan(interval: str | None = None) -> Scan | None:
    scans = Scan.objects.filter(symbols_scanned__gt=0)
    if interval:
        scans = scans.filter(interval=interval)
    return scans.order_by("-started_at").first()


def score_distribution(scan: Scan | None) -> list[dict]:
    if scan is None:
        return []
    scores = list(Report.objects.filter(scan=scan).values_list("overall_score", flat=True))
    return [{"label": f"{low:g}–{min(high, 100):g}", "count": sum(1 for s in scores if low <= s < high)}
            for low, high in SCORE_BUCKETS]


def anomaly_counts(scan: Scan | None) -> list[tuple[str, int]]:
    if scan is None:
        return []
    return sorted(scan.anomaly_counts.items(), key=lambda item: -item[1])


def quality_trend(days: int = 30, interval: str = "1d") -> dict:
    """Per day over the `days` up to the newest anomaly: anomalies by type, and the mean score of that day's
    scans. Dated by the bars' own days, so replayed or back-filled data charts where it belongs."""
    newest = Anomaly.objects.filter(interval=interval).aggregate(newest=Max("ts"))["newest"]
    newest_scan = Scan.objects.filter(interval=interval).aggregate(newest=Max("as_of"))["newest"]
    end = max(filter(None, [newest, newest_scan]), default=None)
    if end is None:
        return {"days": [], "types": {}, "score": []}
    start = (end - timedelta(days=days)).date()
    day_list = [start + timedelta(days=n) for n in range(1, days + 1)]
    per_type: dict[str, Counter] = defaultdict(Counter)
    rows = (Anomaly.objects.filter(interval=interval, ts__date__gt=start, ts__date__lte=end.date())
            .values_list("anomaly_type", "ts__date").annotate(n=Count("id")))
    for kind, day, n in rows:
        per_type[kind][day] += n
    scores = dict(Scan.objects.filter(interval=interval, as_of__date__gt=start).values_list("as_of__date")
                  .annotate(mean=Avg("reports__overall_score")))
    return {
        "days": [d.isoformat() for d in day_list],
        "types": {kind: [counts.get(d, 0) for d in day_list] for kind, counts in sorted(per_type.items())},
        "score": [round(scores[d], 2) if scores.get(d) is not None else None for d in day_list],
    }


def worst_symbols(scan: Scan | None, limit: int = 15) -> list[Report]:
    if scan is None:
        return []
    return list(Report.objects.filter(scan=scan).annotate(anomalies_count=Count("anomalies"))
                .order_by("overall_score", "symbol")[:limit])


def recent_anomalies(limit: int = 30) -> list[Anomaly]:
    return list(Anomaly.objects.filter(first_seen=True).order_by("-id")[:limit])


def quality() -> dict:
    scan = latest_scan("1d") or latest_scan()
    intraday = latest_scan("1m")
    return {"scan": scan, "intraday": intraday, "distribution": score_distribution(scan),
            "counts": anomaly_counts(scan), "intraday_counts": anomaly_counts(intraday),
            "trend": quality_trend(), "worst": worst_symbols(scan), "anomalies": recent_anomalies()}


INTERVAL_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600}


def with_gaps(series: list[tuple], interval: str) -> list[tuple]:
    """(ts, close, volume) with a (ts, None, None) point wherever a bar is missing, so that the chart breaks
    its line there instead of drawing across the hole: a missing session for daily bars (the exchange calendar
    knows weekends and holidays), a missing minute (or 5 minutes …) for intraday bars."""
    if len(series) < 2:
        return series
    if interval == "1d":
        have = {ts for ts, _, _ in series}
        sessions = calendar.sessions(pd.Timestamp(series[0][0].date()), pd.Timestamp(series[-1][0].date()))
        missing = [s.to_pydatetime().replace(tzinfo=UTC) for s in sessions]
        holes = [(ts, None, None) for ts in missing if ts not in have]
        return sorted(series + holes, key=lambda row: row[0])
    step = timedelta(seconds=INTERVAL_SECONDS.get(interval, 60))
    found = [series[0]]
    for row in series[1:]:
        if row[0] - found[-1][0] > step:
            found.append((found[-1][0] + step, None, None))
        found.append(row)
    return found


def anomalies_once(symbol: str, interval: str, limit: int = 200) -> list[dict]:
    """A symbol's anomalies once per bar and type (the latest finding), with the number of scans that saw it."""
    rows = (Anomaly.objects.filter(symbol=symbol, interval=interval).order_by("-ts", "-id")
            .values("ts", "anomaly_type", "severity", "value", "threshold", "detail", "source", "report__scan_id")
            [:limit * 20])
    found: dict[tuple, dict] = {}
    for row in rows:
        key = (row["ts"], row["anomaly_type"])
        if key not in found:
            if len(found) == limit:
                break
            found[key] = {**row, "scan_ids": set()}
        found[key]["scan_ids"].add(row["report__scan_id"])
    return [{**row, "scans": len(row["scan_ids"])} for row in found.values()]


def symbol_detail(symbol: str, interval: str = "1d", bars: int = 180) -> dict:
    """A symbol's price series (its main source) with its anomalies as markers, its reports and alerts."""
    sources = list(Bar.objects.filter(symbol=symbol, interval=interval).values("source")
                   .annotate(n=Count("ts")).order_by("-n").values_list("source", flat=True))
    series = []
    if sources:
        series = list(Bar.objects.filter(symbol=symbol, interval=interval, source=sources[0]).order_by("-ts")
                      .values_list("ts", "close", "volume")[:bars])[::-1]
    series = with_gaps(series, interval)
    anomalies = anomalies_once(symbol, interval)
    closes = {ts: close for ts, close, _ in series}
    first = series[0][0] if series else None
    markers = [{"t": a["ts"].timestamp(), "close": closes.get(a["ts"]), "type": a["anomaly_type"],
                "severity": a["severity"]} for a in anomalies if first is not None and a["ts"] >= first]
    return {
        "symbol": symbol, "interval": interval, "sources": sources,
        "intervals": list(Bar.objects.filter(symbol=symbol).values_list("interval", flat=True).distinct()),
        "chart": {"t": [ts.timestamp() for ts, _, _ in series], "close": [c for _, c, _ in series],
                  "volume": [v for _, _, v in series], "markers": markers, "interval": interval},
        "anomalies": anomalies,
        "reports": list(Report.objects.filter(symbol=symbol).select_related("scan").order_by("-scan__as_of")[:10]),
        "alerts": list(Alert.objects.filter(labels__symbol=symbol).order_by("-last_seen")[:20]),
        "security": Security.objects.filter(symbol=symbol).select_related("equity_type").first(),
    }


# Rules and queue


def sla_rows() -> list[dict]:
    statuses = {s.equity_type_id: s for s in SlaStatus.objects.all()}
    return [{"type": t, "status": statuses.get(t.pk), "verdict": rules_api.sla_verdict(statuses.get(t.pk)),
             "target_ms": t.performance_targets.get("processing_time_ms"),
             "target_rate": t.performance_targets.get("success_rate")}
            for t in EquityType.objects.order_by("priority_level", "equity_type")]


def queue_by_type() -> list[dict]:
    states = [choice.value for choice in ProcessingJob.State]
    counts = defaultdict(dict)
    for type_key, state, n in (ProcessingJob.objects.values_list("equity_type__equity_type", "state")
                               .annotate(n=Count("id"))):
        counts[type_key][state] = n
    now = timezone.now()
    due = dict(ProcessingJob.objects.filter(state=ProcessingJob.State.QUEUED, scheduled_at__lte=now)
               .values_list("equity_type__equity_type").annotate(n=Count("id")))
    return [{"type": key, "due": due.get(key, 0), **{state: by_state.get(state, 0) for state in states}}
            for key, by_state in sorted(counts.items())]


def dead_letters(limit: int = 20) -> list[ProcessingJob]:
    return list(ProcessingJob.objects.filter(state=ProcessingJob.State.DEAD).select_related("equity_type")
                .order_by("-finished_at", "-id")[:limit])


def rules() -> dict:
    return {"sla": sla_rows(), "queue": queue_by_type(), "dead": dead_letters(),
            "dead_total": ProcessingJob.objects.filter(state=ProcessingJob.State.DEAD).count(),
            "depths": health.queue_depths(),
            "alerts": Alert.objects.filter(source="rules", state__in=alerts.OPEN_STATES).order_by("-last_seen")}
