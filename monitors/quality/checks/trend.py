"""Volatility clusters and technical breaks (moving average, support and resistance)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from monitors.quality import conf
from monitors.quality.checks.arrays import rolling_extremes, rolling_mean, rolling_stds, shift

if TYPE_CHECKING:
    from monitors.quality.checks.panel import Panel


def volatility(panel: Panel) -> None:
    short = conf.get("QUALITY_VOLATILITY_SHORT_WINDOW")
    long = conf.get("QUALITY_VOLATILITY_LONG_WINDOW")
    limit = panel.threshold("volatility_ratio")
    with np.errstate(invalid="ignore", divide="ignore"):
        log_returns = np.where(panel.price_flagged, np.nan, np.log1p(panel.returns))
    short_vol, long_vol = rolling_stds(log_returns, [(short, short), (long, max(panel.min_history, long * 2 // 3))])
    long_vol = shift(long_vol, short)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = short_vol / long_vol
        hot = (ratio >= limit) & (short_vol * 100 >= conf.get("QUALITY_VOLATILITY_FLOOR_PCT"))
    onset = hot & ~np.vstack([np.zeros((1, hot.shape[1]), dtype=bool), hot[:-1]])
    market, _ = panel.benchmark(np.where(np.isfinite(ratio), ratio, np.nan))
    panel.emit("volatility_cluster", onset, ratio, limit,
              lambda row, col: "info" if market[row, col] >= limit[0, col] / 2 else "warning",
              lambda row, col: f"{short}-bar volatility {short_vol[row, col]:.2%} is ×{ratio[row, col]:.1f} "
                               f"its {long}-bar level {long_vol[row, col]:.2%}")



def technical(panel: Panel) -> None:
    window = conf.get("QUALITY_MA_WINDOW")
    limit = panel.threshold("ma_distance_pct") / 100
    closes = np.where(panel.traded & ~panel.price_flagged, panel.close, np.nan)
    average = shift(rolling_mean(closes, window, window))
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.where(panel.traded, panel.close / average - 1, np.nan)
        far = np.abs(distance) >= limit
    onset = far & ~np.vstack([np.zeros((1, far.shape[1]), dtype=bool), far[:-1]])
    market, sector = panel.benchmark(distance)
    explained = panel.moved_with_peers(distance, market, sector, limit)
    panel.emit("technical_break", onset, distance * 100, limit * 100,
              lambda row, col: "info" if explained[row, col] else "warning",
              lambda row, col: f"close {panel.close[row, col]:.4g} is {distance[row, col]:+.1%} from its "
                               f"{window}-bar average {average[row, col]:.4g}")
    _level_breaks(panel, far)



def _level_breaks(panel: Panel, already: np.ndarray) -> None:
    """Closes through a support (resistance) set at least LEVEL_AGE bars ago and not touched since."""
    window, age = conf.get("QUALITY_LEVEL_WINDOW"), conf.get("QUALITY_LEVEL_AGE")
    margin = conf.get("QUALITY_LEVEL_BREAK_PCT") / 100
    if len(panel.index) <= window:
        return
    lows = np.where(panel.traded, panel.low, np.nan)
    highs = np.where(panel.traded, panel.high, np.nan)
    old_span = window - age
    support, recent_low = rolling_extremes(lows, [old_span, age], np.fmin)
    resistance, recent_high = rolling_extremes(highs, [old_span, age], np.fmax)
    support, resistance = shift(support, age + 1), shift(resistance, age + 1)
    recent_low, recent_high = shift(recent_low), shift(recent_high)
    with np.errstate(invalid="ignore"):
        down = (recent_low >= support) & (panel.close < support * (1 - margin))
        up = (recent_high <= resistance) & (panel.close > resistance * (1 + margin))
    down &= panel.traded & ~already
    up &= panel.traded & ~already
    level = np.where(down, support, resistance)
    with np.errstate(invalid="ignore", divide="ignore"):
        beyond = (panel.close / level - 1) * 100
    panel.emit("technical_break", down | up, beyond, np.full((1, down.shape[1]), margin * 100), lambda row, col: "info",
              lambda row, col: (f"close {panel.close[row, col]:.4g} broke "
                                f"{'below support' if down[row, col] else 'above resistance'} "
                                f"{level[row, col]:.4g} held for {window} bars"))

