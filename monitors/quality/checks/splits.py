"""Unrecorded splits told apart from real moves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from monitors.quality import conf
from monitors.quality.checks.arrays import ffill, next_traded, rolling_mean, shift
from monitors.quality.checks.findings import Finding

if TYPE_CHECKING:
    from monitors.quality.checks.panel import Panel

SPLIT_RATIOS = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0)
SPLIT_TOLERANCE = 0.06
# Evidence of a split in the volume: the mean of the split bar and up to 4 after it, against the trailing mean,
# must move inversely to the price by at least half the ratio (in log terms) and at least this factor.
SPLIT_VOLUME_BARS = 5
SPLIT_MIN_VOLUME_MOVE = 1.5


def evident_splits(panel: Panel, factor: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """A price ratio near k:1 (or 1:k) with volume moving inversely: an unrecorded split. Adjusts `factor`."""
    price, volume_factor = factor
    close = panel.close * price
    prev = shift(ffill(np.where(panel.traded, close, np.nan)))
    volume = panel.volume * volume_factor
    baseline = shift(rolling_mean(np.where(panel.traded, volume, np.nan), conf.get("QUALITY_VOLUME_WINDOW"),
                                  panel.min_history))
    traded_close = np.where(panel.traded, close, np.nan)
    earlier = shift(ffill(np.where(panel.traded, shift(ffill(traded_close)), np.nan)))
    traded_volume = np.where(panel.traded, volume, np.nan)
    from_here = rolling_mean(traded_volume[::-1], SPLIT_VOLUME_BARS, 1)[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        jump = prev / close
        volume_ratio = from_here / baseline
        afterwards = next_traded(traded_close) / close
        recovered = earlier / close
    ratios = np.array([*SPLIT_RATIOS, *(1 / r for r in SPLIT_RATIOS)])
    candidates = panel.traded & (np.abs(np.log(jump)) > np.log(1 + panel.threshold("price_move_pct") / 100) * 0.9)
    rows, cols = np.nonzero(np.nan_to_num(candidates, nan=0).astype(bool))
    found = np.zeros_like(panel.traded)
    for row, col in zip(rows, cols, strict=True):
        ratio = ratios[np.argmin(np.abs(np.log(jump[row, col] / ratios)))]
        if abs(jump[row, col] / ratio - 1) > SPLIT_TOLERANCE:
            continue
        moved = volume_ratio[row, col]
        needed = max(0.5 * abs(np.log(ratio)), np.log(SPLIT_MIN_VOLUME_MOVE))
        if not np.isfinite(moved) or np.sign(np.log(moved)) != np.sign(np.log(ratio)) or abs(
                np.log(moved)) < needed:
            continue
        if np.isfinite(afterwards[row, col]) and np.log(afterwards[row, col]) * np.log(ratio) > 0.25 * np.log(
                ratio) ** 2:
            continue  # the price went straight back: a bad print, not a split
        if np.isfinite(recovered[row, col]) and abs(np.log(recovered[row, col])) < 0.5 * abs(np.log(ratio)):
            continue  # back to where it was two bars ago: the end of a bad print
        found[row, col] = True
        price[:row, col] /= ratio
        volume_factor[:row, col] *= ratio
        label = _ratio_label(ratio)
        if panel.window_mask[row]:
            panel.findings.append(Finding(
                symbol=panel.symbols[col], type="corporate_action", severity="info", ts=panel.index[row],
                value=round(float(ratio), 4), threshold=None,
                detail=(f"close {panel.close[row, col]:.4g} after {prev[row, col]:.4g} "
                        f"({1 / jump[row, col] - 1:+.1%}) with volume since ×{moved:.1f} its average: "
                        f"looks like an unrecorded {label} split"),
                extra={"ratio": label},
            ))
    return found


def _ratio_label(ratio: float) -> str:
    if ratio >= 1:
        return f"{ratio:g}:1" if ratio == int(ratio) else f"{int(ratio * 2)}:2"
    return f"1:{1 / ratio:g}"

