"""Volume spikes and droughts against a baseline that learns from clean bars: daily bars against the trailing
average; minute bars (regular hours only) against the same time of day over the previous sessions, since volume
has a shape over the session (heavy open and close, quiet lunch). A listing's first sessions are left out of
every baseline, so the decay after an IPO day is no drought."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from monitors.quality import calendar, conf
from monitors.quality.checks.arrays import nanos, rolling_mean, shift

if TYPE_CHECKING:
    from monitors.quality.checks.panel import Panel

# Minute bars this close to the session's close are compared by their distance to the close, so that a half day's
# closing minutes meet other closing minutes, not the middle of a full day.
CLOSE_STRETCH_MINUTES = 30


def check(panel: Panel) -> None:
    spike_limit = panel.threshold("volume_spike_ratio")
    drought_limit = panel.threshold("volume_drought_ratio")
    floor = conf.get("QUALITY_MIN_SESSION_VOLUME") * panel.bar_minutes / 390
    usable = np.where(panel.traded, panel.volume, np.nan)
    clean = np.where(panel.price_flagged | listing_sessions(panel), np.nan, usable)
    average = _time_of_day if panel.intraday else _trailing
    with np.errstate(invalid="ignore", divide="ignore"):
        first_ratio = usable / average(panel, clean)
        first_pass = (first_ratio >= spike_limit) | (first_ratio <= drought_limit)
        baseline = average(panel, np.where(first_pass, np.nan, clean))
        ratio = usable / baseline
    judged = panel.traded & (baseline >= floor)
    with np.errstate(invalid="ignore"):
        spike = judged & (ratio >= spike_limit)
        drought = judged & (ratio <= drought_limit) & panel.full_sessions()[:, None]
    market, _ = panel.benchmark(np.where(judged, ratio, np.nan))
    against = _describe(panel)
    panel.emit("volume_spike", spike, ratio, spike_limit,
               lambda row, col: "info" if market[row, col] >= spike_limit[0, col] / 2 else (
                   "critical" if ratio[row, col] >= 4 * spike_limit[0, col] else "warning"),
               lambda row, col: f"volume {panel.volume[row, col]:,.0f} is ×{ratio[row, col]:.1f} "
                                f"{against(row)} ({baseline[row, col]:,.0f})")
    panel.emit("volume_drought", drought, ratio, drought_limit,
               lambda row, col: "info" if market[row, col] <= drought_limit[0, col] * 2 else "warning",
               lambda row, col: f"volume {panel.volume[row, col]:,.0f} is ×{ratio[row, col]:.2f} "
                                f"{against(row)} ({baseline[row, col]:,.0f}) in a full regular session")
    panel.volume_flagged = spike | drought


def _describe(panel: Panel):
    if not panel.intraday:
        return lambda row: "its trailing average"
    local = panel.index.tz_convert(calendar.get_calendar(conf.get("QUALITY_DEFAULT_EXCHANGE")).tz)
    return lambda row: f"its {local[row]:%H:%M} average of the previous sessions"


def _trailing(panel: Panel, values: np.ndarray) -> np.ndarray:
    return shift(rolling_mean(values, conf.get("QUALITY_VOLUME_WINDOW"), panel.min_history))


def _time_of_day(panel: Panel, values: np.ndarray) -> np.ndarray:
    """Per bar, the mean volume of the same slot of the session (QUALITY_INTRADAY_VOLUME_BUCKET_MINUTES wide) over
    the previous QUALITY_INTRADAY_BASELINE_SESSIONS sessions with bars; NaN with fewer than
    QUALITY_INTRADAY_BASELINE_MIN_SESSIONS of them."""
    slots = _slots(panel)
    n_sessions, n_slots, n_symbols = panel.session_ids.max() + 1, slots.max() + 1, values.shape[1]
    key = panel.session_ids * n_slots + slots
    sums = np.zeros((n_sessions * n_slots, n_symbols))
    counts = np.zeros_like(sums)
    present = ~np.isnan(values)
    np.add.at(sums, key, np.where(present, values, 0.0))
    np.add.at(counts, key, present.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_session = (sums / counts).reshape(n_sessions, n_slots, n_symbols)  # NaN where a slot had no bar
    window = conf.get("QUALITY_INTRADAY_BASELINE_SESSIONS")
    seen = ~np.isnan(per_session)
    total = _previous_sessions_sum(np.where(seen, per_session, 0.0), window)
    number = _previous_sessions_sum(seen.astype(float), window)
    with np.errstate(invalid="ignore", divide="ignore"):
        baseline = np.where(number >= conf.get("QUALITY_INTRADAY_BASELINE_MIN_SESSIONS"), total / number, np.nan)
    return baseline[panel.session_ids, slots, :]


def _previous_sessions_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Along the first axis: the sum over the `window` entries before each (this one excluded)."""
    totals = np.cumsum(values, axis=0)
    before = np.zeros_like(totals)
    before[1:] = totals[:-1]
    before[window + 1:] -= totals[:-window - 1]
    return before


def _slots(panel: Panel) -> np.ndarray:
    """Each bar's slot of its session: minutes since the open in buckets, or, in the closing stretch, minutes to
    the close in buckets (so half days line up at both ends)."""
    bucket = conf.get("QUALITY_INTRADAY_VOLUME_BUCKET_MINUTES")
    days = pd.DatetimeIndex(np.unique(panel.session_days))
    opens, closes = calendar.session_bounds(days, conf.get("QUALITY_DEFAULT_EXCHANGE"))
    where = days.get_indexer(panel.session_days)
    stamps = nanos(panel.index)
    since_open = (stamps - nanos(opens)[where]) // 60_000_000_000
    to_close = (nanos(closes)[where] - stamps) // 60_000_000_000
    slot = np.where(to_close > CLOSE_STRETCH_MINUTES, since_open // bucket, 100_000 + (to_close - 1) // bucket)
    return pd.factorize(slot)[0]


def listing_sessions(panel: Panel) -> np.ndarray:
    """Bars in the first QUALITY_LISTING_SKIP_SESSIONS sessions of a listing: from the listing date the security
    universe knows, else from a symbol's first bar when that comes after the panel's first session."""
    skip = conf.get("QUALITY_LISTING_SKIP_SESSIONS")
    days = pd.DatetimeIndex(np.unique(panel.session_days))
    first_seen = np.argmax(panel.present, axis=0)
    starts = np.full(len(panel.symbols), -1)
    for col, symbol in enumerate(panel.symbols):
        listed = panel.universe.profiles[symbol].listing
        if listed is not None:
            starts[col] = days.searchsorted(pd.Timestamp(listed)) if pd.Timestamp(listed) >= days[0] else -1
        elif panel.session_ids[first_seen[col]] > 0:
            starts[col] = panel.session_ids[first_seen[col]]
    ids = panel.session_ids[:, None]
    return (starts[None, :] >= 0) & (ids >= starts[None, :]) & (ids < starts[None, :] + skip)
