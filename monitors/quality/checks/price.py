"""Price moves (close to close) and overnight gaps (open against the previous close), from real prices: the base
of a return or a gap is the previous real close; only a bad print (a move the next bars take back) is left out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from monitors.quality.checks.arrays import ffill, shift
from monitors.quality.checks.splits import Verdicts, ratio_label

if TYPE_CHECKING:
    from monitors.quality.checks.panel import Panel

LOWER = {"critical": "warning", "warning": "info", "info": "info"}


def check(panel: Panel, verdicts: Verdicts) -> None:
    limit = panel.threshold("price_move_pct") / 100
    with np.errstate(invalid="ignore"):
        big = (np.abs(panel.returns) > limit) & ~verdicts.confirmed
    market, sector = panel.benchmark(panel.returns)
    explained = _explained(panel.returns, market, sector, limit)

    def severity(row, col):
        name = "critical" if abs(panel.returns[row, col]) >= 2 * limit[0, col] else "warning"
        return LOWER[name] if explained[row, col] else name

    def detail(row, col):
        text = (f"close {panel.as_traded(panel.close, row, col):.4g} after "
                f"{panel.as_traded(panel.prev_close, row, col):.4g}: {panel.returns[row, col]:+.1%}")
        peers = [f"{name} {values[row, col]:+.1%}" for name, values in (("market", market), ("sector", sector))
                 if np.isfinite(values[row, col])]
        text += f" ({', '.join(peers)})" if peers else ""
        if panel.outliers[row, col]:
            text += "; the next bars take it back: a bad print"
        if (row, col) in verdicts.pending:
            text += f"; if this is a {ratio_label(verdicts.pending[(row, col)])} split, record it"
        return text

    def extra(row, col):
        pending = verdicts.pending.get((row, col))
        return {"possible_split": ratio_label(pending)} if pending else {}

    panel.emit("price_anomaly", big, panel.returns * 100, limit * 100, severity, detail, extra)
    panel.price_flagged = big | verdicts.confirmed
    _gaps(panel, verdicts)


def _explained(move: np.ndarray, market: np.ndarray, sector: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """The market or the sector moved the same way by at least half the limit, and the move beyond theirs is
    within the limit: the symbol went with its peers."""
    with np.errstate(invalid="ignore", divide="ignore"):
        explained = np.zeros(move.shape, dtype=bool)
        for peer in (market, sector):
            beyond = np.abs(np.log1p(move) - np.log1p(peer)) <= np.log1p(limit)
            explained |= (np.sign(peer) == np.sign(move)) & (np.abs(peer) >= limit / 2) & beyond
    return explained


def _gaps(panel: Panel, verdicts: Verdicts) -> None:
    gap_limit = panel.threshold("gap_pct") / 100
    # A symbol's first bar of a session (its previous traded bar is from an earlier one): overnight.
    session = np.broadcast_to(panel.session_ids[:, None].astype(float), panel.traded.shape)
    previous_session = shift(ffill(np.where(panel.traded, session, np.nan)))
    with np.errstate(invalid="ignore", divide="ignore"):
        first = panel.traded & (previous_session != session)
        gaps = np.where(first, panel.open / panel.prev_close - 1, np.nan)
        gapped = (np.abs(gaps) > gap_limit) & ~verdicts.confirmed
    gap_market, gap_sector = panel.benchmark(gaps)
    gap_explained = panel.moved_with_peers(gaps, gap_market, gap_sector, gap_limit)
    panel.emit("price_gap", gapped, gaps * 100, gap_limit * 100,
               lambda row, col: "info" if gap_explained[row, col] else "warning",
               lambda row, col: f"opened {panel.as_traded(panel.open, row, col):.4g} after a close of "
                                f"{panel.as_traded(panel.prev_close, row, col):.4g}: gap {gaps[row, col]:+.1%}")
    panel.price_flagged |= gapped
