"""One quality scan: read the bars once, run every check over arrays, score, store, publish, alert."""

import dataclasses
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from django.db import transaction
from django.utils import timezone

from monitors.quality import arrivals, bulk_insert, calendar, checks, conf, incremental, reads, scoring, spread
from monitors.quality.models import Anomaly, PublishedAnomaly, Report, Scan
from monitors.quality.thresholds import symbol_profiles, thresholds_for
from tickstock_ops import alerts, slo
from tickstock_ops.events import publish, publish_many
from tickstock_ops.progress import ProgressCallback

ALERT_SEVERITIES = ("critical", "warning")


@dataclass
class ScanResult:
    scan: Scan
    reports: list[dict]

    def as_json(self) -> dict:
        return {
            "scan_id": self.scan.pk,
            "as_of": self.scan.as_of.isoformat().replace("+00:00", "Z"),
            "symbols_scanned": self.scan.symbols_scanned,
            "duration_s": round(self.scan.duration_s, 3),
            "reports": self.reports,
        }


@dataclass
class Examination:
    """What a scan found before storing anything: the symbols scanned, their profiles and sources, the findings."""

    scanned: list[str]
    profiles: dict
    sources: dict[str, list[str]]
    findings: list[checks.Finding]
    types: tuple[str, ...]
    seen: pd.DataFrame  # symbol, source, ts: the newest bar read of each (a scheduled scan's next watermark)


def run_scan(*, as_of: datetime | None = None, since: datetime | None = None, symbols: list[str] | None = None,
             interval: str = "1d", kind: str = Scan.Kind.FULL, full: bool = False,
             progress: ProgressCallback | None = None, shards: int | None = None) -> ScanResult:
    """Scan bars of `interval` as of `as_of` (default now), reporting anomalies on bars in (since, as_of].
    An intraday scan reads only what arrived since the previous one unless `full` (docs/quality-scans.md);
    `progress` hears of each of the scan's four stages. With `shards` (default QUALITY_SCAN_SHARDS) above 1 the
    scan is spread over django-q2 workers (monitors/quality/spread.py), with the same result."""
    step = progress or (lambda done, total, stage="": None)
    step(0, 4, "reading bars")
    started = time.perf_counter()
    as_of_ts = calendar.utc(as_of or timezone.now())
    since_ts = calendar.utc(since) if since is not None else _previous_as_of(as_of_ts, interval, kind)
    wanted = conf.get("QUALITY_SCAN_SHARDS") if shards is None else shards
    seen = None
    if wanted > 1:
        seen = spread.examine(examine, wanted, {"as_of": as_of_ts, "since": since_ts, "symbols": symbols,
                                                "interval": interval, "kind": kind})
        seen = seen and _with_absent(seen, symbols or [], as_of_ts, interval)
    seen = seen or examine(as_of_ts, since_ts, symbols, interval, kind, full, step)
    # In symbol order (each symbol's findings in the order the checks made them), however many shards made them.
    seen.findings.sort(key=lambda finding: finding.symbol)
    step(2, 4, "storing reports")
    with transaction.atomic():
        scan, reports = _store(seen.findings, seen.scanned, seen.profiles, seen.sources, as_of_ts, since_ts,
                               interval, kind, started)
        if kind == Scan.Kind.INTRADAY:
            arrivals.record_scanned(interval, seen.seen)
    step(3, 4, "alerting")
    _alert(seen.findings, seen.scanned, interval, seen.types, scan, seen.profiles)
    step(4, 4, "done")
    return ScanResult(scan, reports)


def examine(as_of: pd.Timestamp, since: pd.Timestamp | None, symbols: list[str] | None, interval: str, kind: str,
            full: bool = False, step: ProgressCallback | None = None,
            types: tuple[str, ...] | None = None, shard: spread.Shard | None = None) -> Examination:
    """Read the bars and run the checks (those of the scan's kind, or `types`), storing nothing; a `shard` reads
    and judges only its symbols (requested symbols with no bars are the coordinator's to report)."""
    types = types or (checks.ALL_TYPES if kind == Scan.Kind.FULL else checks.INTRADAY_TYPES)
    # A scheduled intraday scan judges each symbol from its watermark (docs/quality-scans.md).
    state = arrivals.newest(interval, symbols) if kind == Scan.Kind.INTRADAY and since is not None else None
    known = symbol_profiles(sorted(set(state["symbol"]) | set(symbols or []))) if state is not None else {}
    limits = {equity_type: thresholds_for(equity_type) for equity_type in {p.equity_type for p in known.values()}}
    bars = _read(interval, since, as_of, kind, types, symbols, full, state, limits, shard)
    found = set(bars["symbol"].unique())
    scanned = sorted(found | set(symbols or [] if shard is None else []))
    profiles = {symbol: known[symbol] for symbol in scanned} if known.keys() >= set(scanned) else (
        symbol_profiles(scanned))
    thresholds = {equity_type: limits.get(equity_type) or thresholds_for(equity_type)
                  for equity_type in {p.equity_type for p in profiles.values()}}
    universe = checks.Universe(interval=interval, as_of=as_of, since=since, profiles=profiles,
                               thresholds=thresholds, actions=reads.read_actions(scanned), types=types,
                               watermarks=_watermarks(state), peers=shard.peers if shard else None)
    if step:
        step(1, 4, f"checking {len(scanned)} symbols")
    findings = checks.run(bars, universe) + (_absent(symbols or [], found, as_of, interval) if shard is None else [])
    sources: dict[str, list[str]] = defaultdict(list)
    for symbol, source in bars[["symbol", "source"]].drop_duplicates().itertuples(index=False):
        sources[symbol].append(source)
    newest = bars.groupby(["symbol", "source"], observed=True, sort=False)["ts"].max().reset_index()
    return Examination(scanned, profiles, {symbol: sorted(names) for symbol, names in sources.items()}, findings,
                       types, newest)


def _read(interval, since, as_of, kind, types, symbols, full, state, limits, shard=None) -> pd.DataFrame:
    """The bars the checks need: the whole look-back window, or for a scheduled intraday scan of its own checks
    the increment since the previous scan with the context they need, which gives the same findings. A shard reads
    its symbols' whole window."""
    start = _read_start(interval, since, as_of, kind)
    if shard is not None:
        return reads.read_bars(interval, start, as_of, symbols, shard=shard.symbols)
    if (not full and state is not None and since < as_of and set(types) <= set(checks.INTRADAY_TYPES)):
        smallest = min((values["price_move_pct"] for values in limits.values()),
                       default=conf.thresholds()["price_move_pct"])
        return incremental.read(interval, since, as_of, start, symbols, state, smallest)
    return reads.read_bars(interval, start, as_of, symbols, split=True)


def _watermarks(state: pd.DataFrame | None) -> dict[tuple[str, str], pd.Timestamp]:
    if state is None:
        return {}
    marked = state.dropna(subset=["scanned"])
    return dict(zip(zip(marked["symbol"], marked["source"], strict=True), marked["scanned"], strict=True))


def _previous_as_of(as_of: pd.Timestamp, interval: str, kind: str) -> pd.Timestamp | None:
    previous = (Scan.objects.filter(interval=interval, kind=kind, as_of__lt=as_of)
                .order_by("-as_of").values_list("as_of", flat=True).first())
    return calendar.utc(previous) if previous else None


def _read_start(interval: str, since: pd.Timestamp | None, as_of: pd.Timestamp, kind: str) -> pd.Timestamp | None:
    """Far enough back that the baselines exist for the first bar reported."""
    if interval == "1d":
        if since is None:
            return None
        lookback = conf.get("QUALITY_DAILY_LOOKBACK_SESSIONS")
        days = calendar.sessions(since - pd.Timedelta(days=lookback * 7 // 5 + 10), since)
        first = days[-lookback] if len(days) >= lookback else (days[0] if len(days) else since.tz_convert(None))
        return first.tz_localize("UTC")
    lookback = conf.get("QUALITY_INTRADAY_LOOKBACK_SESSIONS")
    if kind == Scan.Kind.FULL:  # every check: the time-of-day volume baselines need their sessions
        lookback = max(lookback, conf.get("QUALITY_INTRADAY_BASELINE_SESSIONS"))
    anchor = since if since is not None and since < as_of else as_of
    days = calendar.sessions(anchor - pd.Timedelta(days=lookback * 7 // 5 + 10), anchor)
    if not len(days):
        return anchor - pd.Timedelta(days=lookback + 1)
    first = days[-(lookback + 1)] if len(days) > lookback else days[0]
    return calendar.session_bounds(pd.DatetimeIndex([first]))[0].iloc[0]


def _with_absent(seen: Examination, requested: list[str], as_of: pd.Timestamp, interval: str) -> Examination:
    """A sharded examination completed with the requested symbols no shard found bars of."""
    found = set(seen.scanned)
    missing = sorted(set(requested) - found)
    if not missing:
        return seen
    return dataclasses.replace(seen, scanned=sorted(found | set(missing)),
                               profiles={**seen.profiles, **symbol_profiles(missing)},
                               findings=seen.findings + _absent(missing, found, as_of, interval))


def _absent(requested: list[str], found: set[str], as_of: pd.Timestamp, interval: str) -> list[checks.Finding]:
    return [checks.Finding(symbol=symbol, type="coverage_gap", severity="critical", ts=as_of, value=None,
                           threshold=None, extra={"span": "its history"},
                           detail=f"no {interval} bars stored for {symbol} up to {as_of:%Y-%m-%d %H:%M} UTC")
            for symbol in requested if symbol not in found]


def _store(findings, scanned, profiles, sources, as_of, since, interval, kind, started) -> tuple[Scan, list[dict]]:
    by_symbol: dict[str, list[checks.Finding]] = defaultdict(list)
    for finding in findings:
        by_symbol[finding.symbol].append(finding)
    with transaction.atomic():
        scan = Scan.objects.create(kind=kind, interval=interval, as_of=as_of, since=since,
                                   symbols_scanned=len(scanned), anomaly_count=len(findings))
        rows, payloads = [], []
        for symbol in scanned:
            mine = sorted(by_symbol.get(symbol, []), key=lambda f: (f.ts, f.type))
            primary = mine[0].source if mine else ""
            others = [s for s in sources.get(symbol, []) if s != primary]
            score = scoring.scores(mine)
            advice = scoring.recommendations(mine, interval, others)
            rows.append({"scan_id": scan.pk, "symbol": symbol, "equity_type": profiles[symbol].equity_type,
                         "recommendations": advice, **score})
            payloads.append({"symbol": symbol, **score, "anomalies": [anomaly_dict(f, interval) for f in mine],
                             "recommendations": advice})
        bulk_insert.insert(Report, rows)
        report_ids = dict(Report.objects.filter(scan=scan).values_list("symbol", "pk"))
        new = _first_sightings(findings, interval, scan)
        bulk_insert.insert(Anomaly, [
            {"report_id": report_ids[f.symbol], "symbol": f.symbol, "anomaly_type": f.type, "severity": f.severity,
             "interval": interval, "source": f.source, "ts": f.ts.to_pydatetime(), "value": f.value,
             "threshold": f.threshold, "detail": f.detail, "context": f.extra, "first_seen": _key(f) in new}
            for f in findings
        ])
        fresh: dict[str, list[dict]] = defaultdict(list)
        for finding in findings:
            if _key(finding) in new:
                fresh[finding.type].append(anomaly_event(finding, interval, scan.pk))
        for kind, anomaly_events in fresh.items():
            publish_many(f"tickstock.quality.{kind}", anomaly_events)
        slo.observe_many("quality_detection_delay",
                         _detection_delays([f for f in findings if _key(f) in new], interval, profiles))
        scan.mean_scores = _means(rows)
        scan.anomaly_counts = dict(Counter(f.type for f in findings))
        scan.duration_s = time.perf_counter() - started
        scan.save(update_fields=["mean_scores", "anomaly_counts", "duration_s"])
        slo.observe("quality_scan_duration", scan.duration_s)
        publish("tickstock.quality.scan_completed", scan_completed_payload(scan))
    return scan, payloads


def anomaly_dict(finding: checks.Finding, interval: str) -> dict:
    """A finding as a scan's Report lists it."""
    return {"type": finding.type, "ts": scoring.label(finding.ts, interval), "severity": finding.severity,
            "value": finding.value, "threshold": finding.threshold, "detail": finding.detail}


def anomaly_event(finding: checks.Finding, interval: str, scan_id: int) -> dict:
    """A finding as the payload of its `tickstock.quality.<type>` event."""
    fields = anomaly_dict(finding, interval)
    return {"symbol": finding.symbol, "anomaly_type": fields.pop("type"), **fields, "scan_id": scan_id,
            "interval": interval, "source": finding.source}


def wall_clock() -> pd.Timestamp:
    """The real time, which detection delays are measured against (a test sets it to market hours)."""
    return pd.Timestamp.now(tz="UTC")


def _detection_delays(findings: list[checks.Finding], interval: str, profiles) -> list[float]:
    """Seconds from the end of each anomalous bar to now, for bars that ended within the last day: a scan of old
    history measures nothing."""
    now = wall_clock()
    # A bar (daily: its day, stamped at midnight UTC) from before yesterday cannot have ended within the last day.
    recent = now - pd.Timedelta(days=3)
    closes: dict[tuple, pd.Timestamp] = {}
    delays = []
    for finding in findings:
        if calendar.utc(finding.ts) < recent:
            continue
        if interval == "1d":
            day, exchange = finding.ts.tz_localize(None).normalize(), profiles[finding.symbol].exchange
            if (day, exchange) not in closes:
                closes[(day, exchange)] = calendar.session_bounds(pd.DatetimeIndex([day]), exchange)[1].iloc[0]
            end = closes[(day, exchange)]
        else:
            end = calendar.utc(finding.ts) + pd.Timedelta(interval.replace("m", "min"))
        if pd.notna(end) and pd.Timedelta(0) <= now - end <= pd.Timedelta(days=1):
            delays.append((now - end).total_seconds())
    return delays


def _key(finding: checks.Finding) -> tuple:
    return finding.symbol, finding.type, finding.ts.to_pydatetime()


def _first_sightings(findings: list[checks.Finding], interval: str, scan: Scan) -> set[tuple]:
    """Keys of findings no earlier scan reported; they are entered in the ledger now."""
    if not findings:
        return set()
    keys = {_key(f) for f in findings}
    stamps = [key[2] for key in keys]
    seen = set(PublishedAnomaly.objects.filter(
        interval=interval, ts__gte=min(stamps), ts__lte=max(stamps),
        anomaly_type__in={key[1] for key in keys},
    ).values_list("symbol", "anomaly_type", "ts"))
    new = keys - seen
    PublishedAnomaly.objects.bulk_create(
        [PublishedAnomaly(symbol=s, anomaly_type=t, interval=interval, ts=ts, scan=scan) for s, t, ts in new],
        ignore_conflicts=True, batch_size=2000,
    )
    return new


def _means(rows: list[dict]) -> dict:
    if not rows:
        return {}
    names = ("price_score", "volume_score", "freshness_score", "overall_score")
    return {name: round(sum(row[name] for row in rows) / len(rows), 2) for name in names}


def scan_completed_payload(scan: Scan) -> dict:
    """What every scan, daily or intraday, tells when it is done (docs/events.md); the day's summary is
    `summary.build_daily_summary`'s."""
    return {
        "scan_id": scan.pk, "kind": scan.kind, "interval": scan.interval, "as_of": scan.as_of,
        "symbols_scanned": scan.symbols_scanned, "anomaly_counts": scan.anomaly_counts,
        "duration_s": round(scan.duration_s, 3), "mean_scores": scan.mean_scores,
    }


def fingerprint(kind: str, symbol: str, interval: str) -> str:
    return f"quality:{kind}:{symbol}" + ("" if interval == "1d" else f":{interval}")


def _alert(findings, scanned, interval, types, scan, profiles) -> None:
    """One alert per (type, symbol), notified as one digest per type and exchange; a source stale for most of its
    symbols raises one source-level alert that inhibits their per-symbol ones; alerts of types this scan checked
    and no longer found are resolved."""
    worst: dict[tuple[str, str], checks.Finding] = {}
    for finding in findings:
        if finding.severity not in ALERT_SEVERITIES:
            continue
        key = (finding.type, finding.symbol)
        if key not in worst or scoring.PENALTY[finding.severity] > scoring.PENALTY[worst[key].severity]:
            worst[key] = finding
    firings = [
        alerts.Firing(source_fingerprint(source, interval), source="quality", severity="critical",
                      title=f"source {source} is stale: {count} of {len(scanned)} symbols have no fresh "
                            f"{interval} bars",
                      labels={"anomaly_type": "data_stale", "source": source, "interval": interval,
                              "scan_id": scan.pk, "symbols": count})
        for source, count in _stale_sources(findings, scanned).items()
    ] + [
        alerts.Firing(fingerprint(kind, symbol, interval), source="quality", severity=finding.severity,
                      title=f"{symbol} {kind.replace('_', ' ')}: {finding.detail}"[:300],
                      labels={"symbol": symbol, "anomaly_type": kind, "interval": interval, "scan_id": scan.pk,
                              "source": finding.source, "exchange": profiles[symbol].exchange,
                              "equity_type": profiles[symbol].equity_type,
                              "ts": scoring.label(finding.ts, interval)})
        for (kind, symbol), finding in worst.items()
    ]
    with alerts.grouped():
        alerts.fire_many(firings)
    firing = {item.fingerprint for item in firings}
    scanned_set = set(scanned)
    alerts.resolve_many([
        fp for fp, labels in alerts.open_alerts("quality", "quality:")
        if fp not in firing and labels.get("interval", "1d") == interval and labels.get("anomaly_type") in types
        and ("symbol" not in labels or labels["symbol"] in scanned_set)
    ])


def source_fingerprint(source: str, interval: str) -> str:
    return f"quality:data_stale:source:{source}:{interval}"


def _stale_sources(findings, scanned) -> dict[str, int]:
    """Sources stale for at least QUALITY_SOURCE_STALE_SHARE of the scanned symbols (and QUALITY_MIN_PEERS)."""
    stale = Counter(f.source for f in findings if f.type == "data_stale")
    total = max(len(scanned), 1)
    return {source: count for source, count in stale.items()
            if count >= conf.get("QUALITY_MIN_PEERS") and count / total >= conf.get("QUALITY_SOURCE_STALE_SHARE")}
