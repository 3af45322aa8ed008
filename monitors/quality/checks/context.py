"""What an incremental read must hold before a symbol's window for the scheduled intraday scan's checks to judge
the window's bars exactly as a read of the whole look-back would (docs/quality-scans.md).

The freshness checks look one bar back. A price move or gap is measured from the previous real close: the
newest earlier traded bar that is not a bad print, and whether a bar is a bad print depends on the bar before it
and the bars after it. So a suffix of a symbol's bars (everything from some moment on) judges its window alike
when, before the window, it holds a regular-hours traded bar other than its first that cannot be a bad print — its
move is within the smallest price-move threshold, or the next traded bar does not take it back — since then
nothing before that bar matters.
"""

import numpy as np
import pandas as pd

from monitors.quality.checks.arrays import nanos
from monitors.quality.checks.extended import regular_hours


def lacking(bars: pd.DataFrame, start: pd.Timestamp, move_pct: float) -> set[str]:
    """Symbols of `bars` (one source each, a suffix of each symbol's bars, sorted by symbol and time) with bars
    after `start` (the earliest bar judged: also the peers' moves on judged bars count) whose values could depend
    on earlier bars.
    (The same rule serves the freshness checks: such a bar is inside the session, so the suffix also tells which
    sessions the symbol traded in.)"""
    if bars.empty:
        return set()
    symbols = bars["symbol"].astype(str).to_numpy()
    stamps = nanos(bars["ts"])
    judged = set(symbols[stamps > start.value])
    halted = (bars["volume"].to_numpy() == 0) & (bars["high"].to_numpy() == bars["low"].to_numpy())
    traded = regular_hours(bars["ts"]) & ~halted
    close, names, at = bars["close"].to_numpy()[traded], symbols[traded], stamps[traded]
    same_before = np.r_[False, names[1:] == names[:-1]]
    same_after = np.r_[names[1:] == names[:-1], False]
    previous = np.where(same_before, np.roll(close, 1), np.nan)
    following = np.where(same_after, np.roll(close, -1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        move = np.abs(np.log(close / previous))
        taken_back = np.abs(np.log(following / previous)) <= 0.25 * move
    # As `Panel.bad_prints` measures: a bad print moved more than its threshold, and the next bar took it back.
    sure = same_before & ((move <= np.log1p(move_pct / 100)) | ~taken_back) & (at <= start.value)
    return judged - set(names[sure])
