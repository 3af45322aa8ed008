"""Bars two sources both have, compared: prices beyond the symbol's `source_tolerance_pct` and share volume beyond
its `source_volume_tolerance_pct` (relative to the larger volume). One finding per bar, reporting every source's
value."""

import numpy as np
import pandas as pd

from monitors.quality.checks.findings import Finding, Universe

PRICE_FIELDS = ["open", "high", "low", "close"]


def source_mismatch(bars: pd.DataFrame, universe: Universe) -> list[Finding]:
    in_window = bars["ts"] <= universe.as_of
    if universe.since is not None:
        in_window &= bars["ts"] > universe.since
    bars = bars[in_window]
    shared = bars.duplicated(["symbol", "ts"], keep=False)
    if not shared.any():
        return []
    bars = bars[shared]
    grouped = bars.groupby(["symbol", "ts"], sort=False, observed=True)
    prices = grouped[PRICE_FIELDS]
    spread = (prices.max() / prices.min() - 1) * 100
    worst_field, worst = spread.idxmax(axis=1), spread.max(axis=1)
    volumes = grouped["volume"]
    with np.errstate(invalid="ignore", divide="ignore"):
        volume_spread = ((volumes.max() - volumes.min()) / volumes.max() * 100).fillna(0.0)
    limits = pd.DataFrame([universe.thresholds[universe.profiles[symbol].equity_type]
                           for symbol in worst.index.get_level_values("symbol")], index=worst.index)
    price_off = worst > limits["source_tolerance_pct"]
    volume_off = volume_spread > limits["source_volume_tolerance_pct"]
    flagged = worst.index[price_off | volume_off]
    if flagged.empty:
        return []
    by_key = bars.set_index(["symbol", "ts"]).sort_index()
    findings = []
    for key in flagged:
        rows = by_key.loc[key]
        findings.append(_finding(key, rows, worst_field[key], worst[key], volume_spread[key], limits.loc[key],
                                 bool(price_off[key]), bool(volume_off[key])))
    return findings


def _finding(key: tuple, rows: pd.DataFrame, field_name: str, price_spread: float, volume_spread: float,
             limits: pd.Series, price_off: bool, volume_off: bool) -> Finding:
    symbol, ts = key
    sources = rows["source"].tolist()
    parts = []
    if price_off:
        quotes = ", ".join(f"{source} {price:.4g}" for source, price in zip(sources, rows[field_name], strict=True))
        parts.append(f"{field_name} differs by {price_spread:.2f}%: {quotes}")
    if volume_off:
        quotes = ", ".join(f"{source} {volume:,.0f}" for source, volume in zip(sources, rows["volume"], strict=True))
        parts.append(f"volume differs by {volume_spread:.1f}%: {quotes}")
    tolerance = limits["source_tolerance_pct"] if price_off else limits["source_volume_tolerance_pct"]
    value = price_spread if price_off else volume_spread
    critical = price_off and price_spread > 10 * limits["source_tolerance_pct"]
    return Finding(
        symbol=symbol, type="source_mismatch", severity="critical" if critical else "warning", ts=ts,
        value=round(float(value), 4), threshold=float(tolerance), detail="; ".join(parts),
        extra={"sources": sorted(sources), "fields": (["price"] if price_off else []) + (["volume"] if volume_off
                                                                                          else []),
               "volumes": {source: float(volume) for source, volume in zip(sources, rows["volume"], strict=True)}},
    )
