"""Unrecorded splits told apart from real moves. A large move near a split ratio is only a hypothesis: it stays a
`price_anomaly` (with the hypothesis in its detail) until the data confirm it the way real splits do and crashes
do not — open and close both on the new basis, a move the market and the sector did not make, a split day's
share volume near N× its old level rather than a panic's 20×, and over the following sessions share volume that
stays near N× and a price that holds. Confirmed, it becomes a `corporate_action` and the series is adjusted."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from monitors.quality import conf
from monitors.quality.checks.arrays import ffill, rolling_mean, shift
from monitors.quality.checks.findings import Finding

if TYPE_CHECKING:
    from monitors.quality.checks.panel import Panel

# New shares per old in the forward splits of US listings (5:4 and 4:3 in older decades, Apple's 7:1 of 2014,
# Chipotle's 50:1 of 2024); reverse splits are their inverses.
SPLIT_RATIOS = (1.25, 4 / 3, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0,
                50.0, 100.0, 200.0)
SPLIT_TOLERANCE = 0.06  # the close within 6% of the old close divided by the ratio
SPLIT_OPEN_TOLERANCE = 0.10  # the open within 10% of it: the day traded on the new basis
# A split day's share volume is about N× the old average (N = new shares per old), within this factor either way;
# a crash on a profit warning trades many times that.
SPLIT_DAY_VOLUME_BAND = 4.0


@dataclass
class Verdicts:
    confirmed: np.ndarray  # bool (bars × symbols): the split days the data confirm
    pending: dict[tuple[int, int], float] = field(default_factory=dict)  # (row, col) → ratio, not yet confirmed
    # The bad prints on the prices judged; the panel's own when no split was confirmed (its prices unchanged).
    outliers: np.ndarray | None = None


@dataclass
class _Candidate:
    row: int
    col: int
    ratio: float  # new shares per old: the old close / the new close


def judge(panel: Panel, factor: tuple[np.ndarray, np.ndarray]) -> Verdicts:
    """Judge every move near a split ratio. Confirmed splits adjust both parts of `factor`; a pending one adjusts
    only the volumes, so that volume checks judge the sessions after it on its basis."""
    price_factor, volume_factor = factor
    verdicts = Verdicts(confirmed=np.zeros_like(panel.traded))
    evidence = _Evidence(panel, price_factor, volume_factor)
    if panel.universe.peers is not None:
        evidence.peers()  # every shard of a scan takes part in each exchange, candidates or not
    for candidate in evidence.candidates():
        outcome = evidence.outcome(candidate)
        row, col, ratio = candidate.row, candidate.col, candidate.ratio
        if outcome == "confirmed":
            verdicts.confirmed[row, col] = True
            price_factor[:row, col] /= ratio
            volume_factor[:row, col] *= ratio
            evidence.report(candidate)
        elif outcome == "pending":
            verdicts.pending[(row, col)] = ratio
            volume_factor[:row, col] *= ratio
    verdicts.outliers = evidence.outliers
    return verdicts


class _Evidence:
    def __init__(self, panel: Panel, price_factor: np.ndarray, volume_factor: np.ndarray):
        self.panel = panel
        self.close = np.where(panel.traded, panel.close * price_factor, np.nan)
        self.open = panel.open * price_factor
        self.prev = shift(ffill(self.close))
        self.volume = np.where(panel.traded, panel.volume * volume_factor, np.nan)
        self.outliers = panel.bad_prints(self.close, self.open, self.prev)
        self.after_outlier = shift(ffill(np.where(panel.traded, self.outliers.astype(float), np.nan))) == 1
        # Share volumes are log-normal: their typical level is the mean of their logs (an average is pulled up by
        # the busiest days, which would make a real split's N× look smaller than it is).
        with np.errstate(invalid="ignore", divide="ignore"):
            self.log_volume = np.log(np.where(self.volume > 0, self.volume, np.nan))
        clean = np.where(self.outliers, np.nan, self.log_volume)
        self.baseline = shift(rolling_mean(clean, conf.get("QUALITY_VOLUME_WINDOW"), panel.min_history))
        self.sessions_needed = conf.get("QUALITY_SPLIT_CONFIRM_SESSIONS")
        self.limit = np.log1p(panel.threshold("price_move_pct")[0] / 100)
        self._peers = None

    def candidates(self) -> list[_Candidate]:
        """Big moves whose close is near a split ratio, or whose open is and whose close then moved less than the
        price threshold on the new basis: a split takes effect at the open, and the day trades on (Tesla's 5:1
        split day closed 12.6% up: 4.44× below the old close, nearer 4:1 than 5:1 by the close alone)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            jump = self.prev / self.close
            gap = self.prev / self.open
            big = self.panel.traded & (np.abs(np.log(jump)) > 0.9 * self.limit[None, :])
        found = []
        for row, col in zip(*np.nonzero(np.nan_to_num(big, nan=0).astype(bool)), strict=True):
            ratio = _nearest_ratio(jump[row, col])
            if abs(jump[row, col] / ratio - 1) > SPLIT_TOLERANCE:
                ratio = _nearest_ratio(gap[row, col])
                day = abs(np.log(ratio / jump[row, col]))
                if not (abs(gap[row, col] / ratio - 1) <= SPLIT_OPEN_TOLERANCE and day < self.limit[col]):
                    continue
            found.append(_Candidate(int(row), int(col), float(ratio)))
        return found

    def outcome(self, c: _Candidate) -> str:
        """"confirmed", "pending" (plausible, not yet confirmable) or "refuted"."""
        log_ratio = np.log(c.ratio)
        if self.outliers[c.row, c.col] or self.after_outlier[c.row, c.col]:
            return "refuted"  # a bad print, or the return from one
        if abs(np.log(self.open[c.row, c.col] * c.ratio / self.prev[c.row, c.col])) > np.log1p(SPLIT_OPEN_TOLERANCE):
            return "refuted"  # the day opened on the old basis: the price fell (or rose) during the session
        if self._moved_with_peers(c):
            return "refuted"
        after = self._following(c)
        if len(after) and abs(np.log(self.close[after[0], c.col] / self.close[c.row, c.col])) > abs(log_ratio) / 2:
            return "refuted"  # the next bar went back: a bad print
        if self.panel.intraday:
            return "pending"  # minute bars alone never confirm a split; the daily scan does
        baseline = self.baseline[c.row, c.col]
        if not np.isfinite(baseline):
            return "pending"  # no volume history to judge by
        day = self.log_volume[c.row, c.col] - baseline
        if not abs(day - log_ratio) <= np.log(SPLIT_DAY_VOLUME_BAND):
            return "refuted"  # a split day's volume is near N× its average, not a panic's (or a drought's)
        if len(after) < self.sessions_needed:
            return "pending"
        return "confirmed" if self._held(c, after, baseline) else "refuted"

    def _held(self, c: _Candidate, after: np.ndarray, baseline: float) -> bool:
        """Share volume stayed near N× its old level and the price on the new basis."""
        log_ratio = np.log(c.ratio)
        volume = np.nanmean(self.log_volume[after, c.col]) - baseline
        prices = np.abs(np.log(self.close[after, c.col] / self.close[c.row, c.col]))
        return bool(abs(volume - log_ratio) <= abs(log_ratio) / 2 and (prices <= abs(log_ratio) / 2).all())

    def _following(self, c: _Candidate) -> np.ndarray:
        rows = np.nonzero(self.panel.traded[c.row + 1:, c.col])[0] + c.row + 1
        return rows[:self.sessions_needed]

    def peers(self) -> tuple[np.ndarray, np.ndarray]:
        """The market's and sectors' log moves, computed when a candidate first needs them."""
        if self._peers is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                self._peers = self.panel.benchmark(np.log(self.close / self.prev))
        return self._peers

    def _moved_with_peers(self, c: _Candidate) -> bool:
        move = np.log(self.close[c.row, c.col] / self.prev[c.row, c.col])
        half = self.limit[c.col] / 2
        return any(np.isfinite(peer[c.row, c.col]) and np.sign(peer[c.row, c.col]) == np.sign(move)
                   and abs(peer[c.row, c.col]) >= half for peer in self.peers())

    def report(self, c: _Candidate) -> None:
        panel = self.panel
        after = self._following(c)
        certain_at = panel.index[after[-1]]
        if not panel.in_window(certain_at):
            return
        row, col = c.row, c.col
        close, prev, opened = panel.close[row, col], self._prev_as_traded(c), panel.open[row, col]
        volume = np.exp(np.nanmean(self.log_volume[after, col]) - self.baseline[row, col])
        label = ratio_label(c.ratio)
        panel.findings.append(Finding(
            symbol=panel.symbols[col], type="corporate_action", severity="info", ts=panel.index[row],
            value=round(c.ratio, 4), threshold=None, certain_at=certain_at,
            detail=(f"opened {opened:.4g} and closed {close:.4g} after {prev:.4g} ({close / prev - 1:+.1%}), as "
                    f"traded; share volume ×{volume:.1f} its old level over the {len(after)} sessions since "
                    f"and the price held: an unrecorded {label} split — record it"),
            extra={"ratio": label, "confirmed": f"{certain_at:%Y-%m-%d}"},
        ))

    def _prev_as_traded(self, c: _Candidate) -> float:
        earlier = np.nonzero(self.panel.traded[:c.row, c.col])[0]
        return float(self.panel.close[earlier[-1], c.col])


RATIOS = np.array([*SPLIT_RATIOS, *(1 / r for r in SPLIT_RATIOS)])


def _nearest_ratio(move: float) -> float:
    """The split ratio nearest `move` (old price ÷ new) in log terms; a NaN move (no open) matches none."""
    if not np.isfinite(move) or move <= 0:
        return np.nan
    return float(RATIOS[np.argmin(np.abs(np.log(move / RATIOS)))])


def ratio_label(ratio: float) -> str:
    """"2:1", "3:2", "5:4", "1:10": new shares for old."""
    fraction = Fraction(max(ratio, 1 / ratio)).limit_denominator(12)
    new, old = fraction.numerator, fraction.denominator
    return f"{new}:{old}" if ratio >= 1 else f"{old}:{new}"
