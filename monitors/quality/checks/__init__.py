"""The data-quality checks of docs/quality-checks.md, computed over whole arrays at once.

A scan reads its bars once into a long frame (symbol, source, ts, OHLCV). The series checks (price, volume,
volatility, technical, unrecorded splits) work on a `Panel` of each symbol's primary source; freshness and
cross-source checks work on the long frame. Baselines learn from clean data: bars already flagged (price jumps,
volume spikes, halts) are masked out of the trailing averages and volatility windows that judge later bars.
"""

import dataclasses

import pandas as pd

from monitors.quality.checks import extended
from monitors.quality.checks.cross_source import source_mismatch
from monitors.quality.checks.findings import (
    ALL_TYPES,
    FRESHNESS_TYPES,
    INTRADAY_TYPES,
    PRICE_TYPES,
    SERIES_TYPES,
    TREND_TYPES,
    VOLUME_TYPES,
    Finding,
    Universe,
)
from monitors.quality.checks.freshness import daily_freshness, intraday_freshness
from monitors.quality.checks.panel import Panel
from monitors.quality.thresholds import Profile

__all__ = ["ALL_TYPES", "FRESHNESS_TYPES", "INTRADAY_TYPES", "PRICE_TYPES", "SERIES_TYPES", "TREND_TYPES",
           "VOLUME_TYPES",
           "Finding", "Universe", "choose_primary", "run"]


def run(bars: pd.DataFrame, universe: Universe) -> list[Finding]:
    """All findings on bars in (since, as_of] for the requested types."""
    findings: list[Finding] = []
    if bars.empty:
        return findings
    primary, sources = choose_primary(bars)
    universe = dataclasses.replace(universe, lowers=_lowers(sources, universe))
    series = primary
    if universe.interval != "1d":
        regular = extended.regular_hours(primary["ts"])
        series = primary[regular]
        if "price_anomaly" in universe.types:
            findings += extended.bad_prints(primary, regular, universe)
    if any(kind in universe.types for kind in SERIES_TYPES) and not series.empty:
        findings += Panel(series, universe).series_findings()
    # `choose_primary` hands back `bars` itself when every symbol has one source: no two sources to compare.
    if "source_mismatch" in universe.types and primary is not bars:
        findings += source_mismatch(bars, universe)
    exchanges = _by_exchange(primary["symbol"].unique(), universe.profiles)
    for exchange, symbols in exchanges.items():
        # One exchange (the usual case): its bars are all of them, no copy needed.
        subset = primary if len(exchanges) == 1 else primary[primary["symbol"].isin(symbols)]
        if universe.interval == "1d":
            findings += daily_freshness(subset, universe, exchange, bars)
        else:
            findings += intraday_freshness(subset, universe, exchange)
    # Staleness is a condition of now: reported by every scan while it lasts (its event still goes out once per
    # newest bar). Everything else is reported by the scan whose window holds the moment it became certain.
    # A finding on a bar is judged from the symbol's watermark (a bar that arrived late is still judged once).
    findings = [f for f in findings if f.type in universe.types and (f.type == "data_stale" or _in_window(
        f.certain_at if f.certain_at is not None else f.ts, universe.as_of,
        universe.since if f.at_close else universe.since_for(f.symbol)))]
    for finding in findings:
        finding.source = finding.source or sources.get(finding.symbol, "")
    return findings


def _in_window(ts: pd.Timestamp, as_of: pd.Timestamp, since: pd.Timestamp | None) -> bool:
    return ts <= as_of and (since is None or ts > since)


def _lowers(primary_sources: dict[str, str], universe: Universe) -> dict[str, pd.Timestamp]:
    """symbol → its primary source's watermark, where that lies before `since`."""
    if universe.since is None or not universe.watermarks:
        return {}
    lowers = {}
    for symbol, source in primary_sources.items():
        mark = universe.watermarks.get((symbol, source))
        if mark is not None and mark < universe.since:
            lowers[symbol] = mark
    return lowers


def choose_primary(bars: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Each symbol's series from the source with the most bars (ties: source name), and that choice."""
    counts = bars.groupby(["symbol", "source"], sort=True).size().reset_index(name="n")
    counts = counts.sort_values(["symbol", "n", "source"], ascending=[True, False, True])
    best = counts.drop_duplicates("symbol")
    chosen = dict(zip(best["symbol"], best["source"], strict=True))
    if len(counts) == len(best):
        return bars, chosen
    keep = bars["source"].to_numpy() == bars["symbol"].map(chosen).to_numpy()
    return bars[keep], chosen


def _by_exchange(symbols, profiles: dict[str, Profile]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for symbol in symbols:
        groups.setdefault(profiles[symbol].exchange, []).append(symbol)
    return groups
