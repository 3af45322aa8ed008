"""Bars two sources both have, compared."""

import pandas as pd

from monitors.quality.checks.findings import Finding, Universe


def source_mismatch(bars: pd.DataFrame, universe: Universe) -> list[Finding]:
    """Bars two sources both have, disagreeing on any price field beyond the symbol's tolerance."""
    in_window = bars["ts"] <= universe.as_of
    if universe.since is not None:
        in_window &= bars["ts"] > universe.since
    bars = bars[in_window]
    shared = bars.duplicated(["symbol", "ts"], keep=False)
    if not shared.any():
        return []
    bars = bars[shared]
    fields = ["open", "high", "low", "close"]
    grouped = bars.groupby(["symbol", "ts"], sort=False)[fields]
    spread = (grouped.max() / grouped.min() - 1) * 100
    worst_field = spread.idxmax(axis=1)
    worst = spread.max(axis=1)
    tolerance = pd.Series(
        [universe.thresholds[universe.profiles[symbol].equity_type]["source_tolerance_pct"]
         for symbol in worst.index.get_level_values("symbol")], index=worst.index)
    flagged = worst[worst > tolerance]
    findings = []
    if flagged.empty:
        return findings
    by_key = bars.set_index(["symbol", "ts"]).sort_index()
    for (symbol, ts), value in flagged.items():
        field_name = worst_field[(symbol, ts)]
        rows = by_key.loc[(symbol, ts)]
        quotes = ", ".join(f"{source} {price:.4g}" for source, price in zip(rows["source"], rows[field_name],
                                                                               strict=True))
        findings.append(Finding(
            symbol=symbol, type="source_mismatch", severity="critical" if value > 10 * tolerance[(symbol, ts)]
            else "warning", ts=ts, value=round(float(value), 4), threshold=float(tolerance[(symbol, ts)]),
            detail=f"{field_name} differs by {value:.2f}%: {quotes}",
            extra={"sources": sorted(rows["source"].tolist())},
        ))
    return findings

