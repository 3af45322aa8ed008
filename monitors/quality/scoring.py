"""Scores and recommendations of a symbol's report.

Scores (0–100, 100 is clean) — each anomaly reported in the scan's window costs its category points by severity:

    penalty = 40 (critical) | 20 (warning) | 5 (info)
    price_score     = max(0, 100 − Σ penalties of price_anomaly, price_gap, volatility_cluster, technical_break,
                                      corporate_action, source_mismatch)
    volume_score    = max(0, 100 − Σ penalties of volume_spike, volume_drought)
    freshness_score = max(0, 100 − Σ penalties of data_stale, coverage_gap)
    overall_score   = min(0.4·price + 0.3·volume + 0.3·freshness,  lowest category score + 30)

The cap keeps one collapsed category visible: a symbol whose data stopped arriving (freshness 0) cannot score
above 30 overall however clean its last prices were.
"""

from monitors.quality.checks import FRESHNESS_TYPES, PRICE_TYPES, VOLUME_TYPES, Finding

PENALTY = {"critical": 40, "warning": 20, "info": 5}
WEIGHTS = {"price": 0.4, "volume": 0.3, "freshness": 0.3}
CATEGORY_CAP_MARGIN = 30


def scores(findings: list[Finding]) -> dict[str, float]:
    lost = {"price": 0, "volume": 0, "freshness": 0}
    for finding in findings:
        lost[category(finding.type)] += PENALTY[finding.severity]
    result = {name: float(max(0, 100 - points)) for name, points in lost.items()}
    weighted = sum(WEIGHTS[name] * result[name] for name in WEIGHTS)
    overall = min(weighted, min(result.values()) + CATEGORY_CAP_MARGIN)
    return {
        "price_score": result["price"], "volume_score": result["volume"],
        "freshness_score": result["freshness"], "overall_score": round(overall, 1),
    }


def category(kind: str) -> str:
    if kind in PRICE_TYPES:
        return "price"
    if kind in VOLUME_TYPES:
        return "volume"
    if kind in FRESHNESS_TYPES:
        return "freshness"
    raise ValueError(f"unknown anomaly type {kind!r}")


def recommendations(findings: list[Finding], interval: str, other_sources: list[str]) -> list[str]:
    """What an operator should do about the findings, most urgent first, without repeats."""
    secondary = other_sources[0] if other_sources else "the secondary source"
    advice: list[str] = []
    for finding in sorted(findings, key=lambda f: (-PENALTY[f.severity], f.ts)):
        when = label(finding.ts, interval)
        text = _advice(finding, when, secondary)
        if text and text not in advice:
            advice.append(text)
    return advice


def _advice(finding: Finding, when: str, secondary: str) -> str:
    kind = finding.type
    if kind == "corporate_action":
        return f"record the {finding.extra.get('ratio', '')} split of {finding.symbol} effective {when} " \
               "(load_bars --actions)"
    if kind == "source_mismatch":
        sources = " and ".join(finding.extra.get("sources", [])) or "the sources"
        return f"re-fetch {when} from the secondary source ({sources} disagree)"
    if kind == "price_anomaly" and "possible_split" in finding.extra:
        return f"if {finding.symbol} split {finding.extra['possible_split']} effective {when}, record it " \
               f"(load_bars --actions); otherwise re-fetch {when} from {secondary} to confirm the close"
    if kind in ("price_anomaly", "price_gap"):
        if finding.severity == "info":
            return ""
        return f"re-fetch {when} from {secondary} to confirm the {'close' if kind == 'price_anomaly' else 'open'}"
    if kind == "coverage_gap":
        return f"backfill {finding.extra.get('span', when)} from {secondary}"
    if kind == "data_stale":
        newest = finding.extra.get("newest", when)
        return f"check the {finding.source or 'primary'} feed for {finding.symbol}: no new bars since {newest}"
    if kind == "volume_spike":
        return f"confirm the {when} volume with {secondary} and check news for {finding.symbol}"
    if kind == "volume_drought":
        return f"re-fetch {when} from {secondary}: the bar may be partial"
    return ""


def label(ts, interval: str) -> str:
    """How a bar's time is written in reports and events: a date for daily bars, ISO-8601 UTC otherwise."""
    if interval == "1d":
        return f"{ts:%Y-%m-%d}"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts.tzinfo is not None else ts.isoformat()
