"""Price moves and overnight gaps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from monitors.quality.checks.panel import Panel


def check(panel: Panel) -> None:
    limit = panel.threshold("price_move_pct") / 100
    market, sector = panel.benchmark(panel.returns)
    with np.errstate(invalid="ignore"):
        big = np.abs(panel.returns) > limit
    explained = panel.moved_with_peers(panel.returns, market, sector, limit)
    severity = np.where(explained, "info", np.where(np.abs(panel.returns) >= 2 * limit, "critical", "warning"))

    def detail(row, col):
        text = (f"close {panel.close[row, col]:.4g} after {panel.prev_close[row, col]:.4g}: "
                f"{panel.returns[row, col]:+.1%}")
        peers = [f"{name} {values[row, col]:+.1%}" for name, values in (("market", market), ("sector", sector))
                 if np.isfinite(values[row, col])]
        return text + (f" ({', '.join(peers)})" if peers else "")

    panel.emit("price_anomaly", big, panel.returns * 100, limit * 100, severity, detail)
    panel.price_flagged = big.copy()

    gap_limit = panel.threshold("gap_pct") / 100
    new_session = np.ones(len(panel.index), dtype=bool)
    new_session[1:] = panel.sessions[1:] != panel.sessions[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = np.where(panel.traded & new_session[:, None], panel.open / panel.prev_close - 1, np.nan)
        gapped = np.abs(gaps) > gap_limit
    gap_market, gap_sector = panel.benchmark(gaps)
    gap_explained = panel.moved_with_peers(gaps, gap_market, gap_sector, gap_limit)
    gap_severity = np.where(gap_explained, "info", "warning")
    panel.emit("price_gap", gapped, gaps * 100, gap_limit * 100, gap_severity,
              lambda row, col: f"opened {panel.open[row, col]:.4g} after a close of {panel.prev_close[row, col]:.4g}:"
                               f" gap {gaps[row, col]:+.1%}")
    panel.price_flagged |= gapped

