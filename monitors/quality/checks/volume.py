"""Volume spikes and droughts against a trailing baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from monitors.quality import conf
from monitors.quality.checks.arrays import rolling_mean, shift

if TYPE_CHECKING:
    from monitors.quality.checks.panel import Panel


def check(panel: Panel) -> None:
    window = conf.get("QUALITY_VOLUME_WINDOW")
    spike_limit = panel.threshold("volume_spike_ratio")
    drought_limit = panel.threshold("volume_drought_ratio")
    floor = conf.get("QUALITY_MIN_SESSION_VOLUME") * panel.bar_minutes / 390
    usable = np.where(panel.traded, panel.volume, np.nan)
    clean = np.where(panel.price_flagged, np.nan, usable)
    with np.errstate(invalid="ignore", divide="ignore"):
        first_ratio = usable / shift(rolling_mean(clean, window, panel.min_history))
        first_pass = (first_ratio >= spike_limit) | (first_ratio <= drought_limit)
        baseline = shift(rolling_mean(np.where(first_pass, np.nan, clean), window, panel.min_history))
        ratio = usable / baseline
    judged = panel.traded & (baseline >= floor)
    with np.errstate(invalid="ignore"):
        spike = judged & (ratio >= spike_limit)
        drought = judged & (ratio <= drought_limit) & panel.full_sessions()[:, None]
    market, _ = panel.benchmark(np.where(judged, ratio, np.nan))
    panel.emit("volume_spike", spike, ratio, spike_limit,
              np.where(market >= spike_limit / 2, "info", np.where(ratio >= 4 * spike_limit, "critical",
                                                                   "warning")),
              lambda row, col: f"volume {panel.volume[row, col]:,.0f} is ×{ratio[row, col]:.1f} its trailing "
                               f"average {baseline[row, col]:,.0f}")
    panel.emit("volume_drought", drought, ratio, drought_limit,
              np.where(market <= drought_limit * 2, "info", "warning"),
              lambda row, col: f"volume {panel.volume[row, col]:,.0f} is ×{ratio[row, col]:.2f} its trailing "
                               f"average {baseline[row, col]:,.0f} in a full session")
    panel.volume_flagged = spike | drought

