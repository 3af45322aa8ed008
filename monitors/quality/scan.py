"""One quality scan: read the bars once, run every check over arrays, score, store, publish, alert."""

import io
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from monitors.quality import calendar, checks, conf, pgcopy, scoring
from monitors.quality.models import Anomaly, Bar, CorporateAction, PublishedAnomaly, Report, Scan
from monitors.quality.thresholds import symbol_profiles, thresholds_for
from tickstock_ops import alerts, slo
from tickstock_ops.events import publish, publish_many
from tickstock_ops.progress import ProgressCallback

BAR_COLUMNS = ["symbol", "source", "ts", "open", "high", "low", "close", "volume"]
READ_ROW = np.dtype([
    ("fields", ">i2"), ("symbol_len", ">i4"), ("symbol", "S20"), ("source_len", ">i4"), ("source", "S30"),
    ("ts_len", ">i4"), ("ts", ">i8"), ("open_len", ">i4"), ("open", ">f8"), ("high_len", ">i4"), ("high", ">f8"),
    ("low_len", ">i4"), ("low", ">f8"), ("close_len", ">i4"), ("close", ">f8"), ("volume_len", ">i4"),
    ("volume", ">i8"),
])
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


def run_scan(*, as_of: datetime | None = None, since: datetime | None = None, symbols: list[str] | None = None,
             interval: str = "1d", kind: str = Scan.Kind.FULL, progress: ProgressCallback | None = None) -> ScanResult:
    """Scan bars of `interval` as of `as_of` (default now), reporting anomalies on bars in (since, as_of];
    `progress` hears of each of the scan's four stages."""
    step = progress or (lambda done, total, stage="": None)
    step(0, 4, "reading bars")
    started = time.perf_counter()
    as_of_ts = calendar.utc(as_of or timezone.now())
    since_ts = calendar.utc(since) if since is not None else _previous_as_of(as_of_ts, interval, kind)
    types = checks.ALL_TYPES if kind == Scan.Kind.FULL else checks.INTRADAY_TYPES
    bars = read_bars(interval, _read_start(interval, since_ts, as_of_ts, kind), as_of_ts, symbols)
    found = set(bars["symbol"].unique())
    scanned = sorted(found | set(symbols or []))
    profiles = symbol_profiles(scanned)
    thresholds = {equity_type: thresholds_for(equity_type) for equity_type in {p.equity_type for p in
                                                                                 profiles.values()}}
    universe = checks.Universe(interval=interval, as_of=as_of_ts, since=since_ts, profiles=profiles,
                               thresholds=thresholds, actions=read_actions(scanned), types=types)
    step(1, 4, f"checking {len(scanned)} symbols")
    findings = checks.run(bars, universe)
    findings += _absent(symbols or [], found, as_of_ts, interval)
    sources: dict[str, list[str]] = defaultdict(list)
    for symbol, source in bars[["symbol", "source"]].drop_duplicates().itertuples(index=False):
        sources[symbol].append(source)
    step(2, 4, "storing reports")
    scan, reports = _store(findings, scanned, profiles, sources, as_of_ts, since_ts, interval, kind, started)
    step(3, 4, "alerting")
    _alert(findings, scanned, interval, types, scan, profiles)
    step(4, 4, "done")
    return ScanResult(scan, reports)


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


def read_bars(interval: str, start: pd.Timestamp | None, end: pd.Timestamp,
              symbols: list[str] | None = None) -> pd.DataFrame:
    """Every bar of `interval` in [start, end] (of `symbols`, when given) in one query, as a typed frame."""
    adapt = connection.ops.adapt_datetimefield_value
    where = ["interval = %s", "ts <= %s"]
    params: list = [interval, adapt(end.to_pydatetime())]
    if start is not None:
        where.append("ts >= %s")
        params.append(adapt(start.to_pydatetime()))
    if symbols:
        where.append("symbol IN (" + ", ".join(["%s"] * len(symbols)) + ")")
        params.extend(symbols)
    sql = (f"SELECT symbol, source, ts, open, high, low, close, volume FROM {Bar._meta.db_table} "
           f"WHERE {' AND '.join(where)}")
    if connection.vendor == "postgresql":
        frame = _copy_out(sql, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            frame = pd.DataFrame(cursor.fetchall(), columns=BAR_COLUMNS)
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
        frame = frame.astype({"symbol": "category", "source": "category"})
    for name in ("open", "high", "low", "close", "volume"):
        frame[name] = frame[name].astype(float)
    return frame.sort_values(["symbol", "source", "ts"], kind="stable", ignore_index=True)


def _copy_out(sql: str, params: list) -> pd.DataFrame:
    """PostgreSQL: stream the rows out with a binary COPY of fixed-width rows, read by numpy without parsing."""
    buffer = io.BytesIO()
    fixed = sql.replace("SELECT symbol, source,", "SELECT symbol::char(20), source::char(30),", 1)
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(fixed, params).decode()
        cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH BINARY", buffer)
    body = pgcopy.rows_of(buffer)
    rows = np.frombuffer(body, dtype=READ_ROW) if len(body) % READ_ROW.itemsize == 0 else None
    if rows is None or not _fixed_width(rows):
        return _copy_out_csv(sql, params)  # a symbol or source with multi-byte characters: not fixed width
    frame = pd.DataFrame({
        "symbol": _categories(rows["symbol"]), "source": _categories(rows["source"]),
        "ts": pd.to_datetime((rows["ts"].astype(np.int64) + pgcopy.PG_EPOCH_US) * 1000, utc=True),
    })
    for name in ("open", "high", "low", "close", "volume"):
        frame[name] = rows[name].astype(np.float64)
    return frame


def _fixed_width(rows: np.ndarray) -> bool:
    expected = {"fields": 8, "symbol_len": 20, "source_len": 30, "ts_len": 8, "open_len": 8, "high_len": 8,
                "low_len": 8, "close_len": 8, "volume_len": 8}
    return all(bool((rows[name] == value).all()) for name, value in expected.items())


def _categories(padded: np.ndarray) -> pd.Categorical:
    """Space-padded names as categories. Names of up to 8 bytes (nearly every ticker) are factorized as integers."""
    padded = np.ascontiguousarray(padded)
    raw = padded.view(np.uint8).reshape(len(padded), padded.itemsize)
    if len(padded) and (raw[:, 8:] == ord(" ")).all():
        keys = np.ascontiguousarray(raw[:, :8]).view("<u8").ravel()
    else:
        keys = padded.astype(object)
    codes, distinct = pd.factorize(keys)
    first = np.empty(len(distinct), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return pd.Categorical.from_codes(codes, [padded[i].decode().rstrip() for i in first])


def _copy_out_csv(sql: str, params: list) -> pd.DataFrame:
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(sql, params).decode()
        cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    buffer.seek(0)
    frame = pd.read_csv(buffer, names=BAR_COLUMNS, header=None, dtype={"symbol": "category", "source": "category"},
                        keep_default_na=False, na_values=[])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    return frame


def read_actions(symbols: list[str]) -> pd.DataFrame:
    rows = []
    for start in range(0, len(symbols), 5000):
        rows += list(CorporateAction.objects.filter(symbol__in=symbols[start:start + 5000])
                     .values_list("symbol", "date", "kind", "ratio"))
    frame = pd.DataFrame(rows, columns=["symbol", "date", "kind", "ratio"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


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
            rows.append(Report(scan=scan, symbol=symbol, equity_type=profiles[symbol].equity_type,
                               recommendations=advice, **score))
            payloads.append({"symbol": symbol, **score, "anomalies": [anomaly_dict(f, interval) for f in mine],
                             "recommendations": advice})
        reports = Report.objects.bulk_create(rows, batch_size=2000)
        report_ids = {report.symbol: report.pk for report in reports}
        if any(pk is None for pk in report_ids.values()):
            report_ids = dict(Report.objects.filter(scan=scan).values_list("symbol", "pk"))
        new = _first_sightings(findings, interval, scan)
        Anomaly.objects.bulk_create([
            Anomaly(report_id=report_ids[f.symbol], symbol=f.symbol, anomaly_type=f.type, severity=f.severity,
                    interval=interval, source=f.source, ts=f.ts.to_pydatetime(), value=f.value,
                    threshold=f.threshold, detail=f.detail, context=f.extra, first_seen=_key(f) in new)
            for f in findings
        ], batch_size=2000)
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


def _detection_delays(findings: list[checks.Finding], interval: str, profiles) -> list[float]:
    """Seconds from the end of each anomalous bar to now, for bars that ended within the last day: a scan of old
    history measures nothing."""
    now = pd.Timestamp.now(tz="UTC")
    closes: dict[tuple, pd.Timestamp] = {}
    delays = []
    for finding in findings:
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


def _means(rows: list[Report]) -> dict:
    if not rows:
        return {}
    names = ("price_score", "volume_score", "freshness_score", "overall_score")
    return {name: round(sum(getattr(r, name) for r in rows) / len(rows), 2) for name in names}


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
