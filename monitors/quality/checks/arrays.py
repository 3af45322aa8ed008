"""Rolling-window and shifting helpers over (bars × symbols) matrices, NaN-aware, without Python loops per bar."""


import warnings

import numpy as np
import pandas as pd


def matrix(values: np.ndarray, rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A long column as a (bars × symbols) matrix, NaN where a symbol has no bar."""
    matrix = np.full(shape, np.nan)
    matrix[rows, columns] = values
    return matrix


def nanos(values) -> np.ndarray:
    """UTC nanoseconds of tz-aware timestamps, without going through Python objects."""
    return pd.DatetimeIndex(values).tz_convert("UTC").as_unit("ns").asi8



def rolling_mean(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Mean of the last `window` rows (this row included), ignoring NaN; NaN with fewer than `min_periods`."""
    present = ~np.isnan(values)
    sums = _window_sum(np.where(present, values, 0.0), window)
    counts = _window_sum(present.astype(float), window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts >= min_periods, sums / counts, np.nan)


def rolling_stds(values: np.ndarray, windows: list[tuple[int, int]]) -> list[np.ndarray]:
    """Rolling standard deviations of `values` (ignoring NaN; NaN with fewer than `min_periods` values or fewer
    than 2), one per (window, min_periods), from one set of cumulative sums."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    totals = [_cumsum_rows(part) for part in (present.astype(float), filled, filled * filled)]
    stds = []
    for window, min_periods in windows:
        counts, sums, squares = (_windowed(total, window) for total in totals)
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = (squares - sums * sums / counts) / (counts - 1)
            stds.append(np.where(counts >= max(min_periods, 2), np.sqrt(np.clip(variance, 0, None)), np.nan))
    return stds


def rolling_extremes(values: np.ndarray, windows: list[int], pick=np.fmin) -> list[np.ndarray]:
    """Rolling min (`np.fmin`) or max (`np.fmax`) over the last `window` rows, NaN unless all are present, for
    each of `windows`. Built by doubling spans (1, 2, 4 …, shared by the windows) and joining two overlapping ones:
    log2(window) array operations."""
    spans = {1: values}
    span = 1
    while span * 2 <= max(windows):
        previous = spans[span]
        spans[span * 2] = pick(previous, _shift_fill(previous, span))
        span *= 2
    present = _cumsum_rows((~np.isnan(values)).astype(float))
    extremes = []
    for window in windows:
        span = 1 << (window.bit_length() - 1)
        widest = spans[span]
        result = pick(widest, _shift_fill(widest, window - span)) if window > span else widest.copy()
        complete = _windowed(present, window) >= window
        complete[:window - 1] = False
        extremes.append(np.where(complete, result, np.nan))
    return extremes


def _shift_fill(values: np.ndarray, periods: int) -> np.ndarray:
    return shift(values, periods) if periods else values


def _window_sum(values: np.ndarray, window: int) -> np.ndarray:
    totals = _cumsum_rows(values)
    totals[window:] = totals[window:] - totals[:-window]
    return totals


def _windowed(totals: np.ndarray, window: int) -> np.ndarray:
    """`_window_sum` from the cumulative sums `totals` (left as they are)."""
    sums = totals.copy()
    sums[window:] = totals[window:] - totals[:-window]
    return sums


def shift(values: np.ndarray, periods: int = 1) -> np.ndarray:
    out = np.full_like(values, np.nan, dtype=float)
    if periods < len(values):
        out[periods:] = values[:len(values) - periods]
    return out


# From this many columns on, a loop over the rows beats one whole-matrix numpy call (a daily panel of 5,000 symbols:
# 3-4× faster for cumulative sums and forward fills); narrower, taller matrices (minute bars) stay whole-matrix.
ROW_LOOP_MIN_COLUMNS = 256


def _cumsum_rows(values: np.ndarray) -> np.ndarray:
    """`np.cumsum(values, axis=0)`, the same sums (each column added in row order either way)."""
    if values.ndim != 2 or values.shape[1] < ROW_LOOP_MIN_COLUMNS:
        return np.cumsum(values, axis=0)
    totals = np.array(values, dtype=float)
    for row in range(1, len(totals)):
        np.add(totals[row - 1], totals[row], out=totals[row])
    return totals


def ffill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column."""
    if values.ndim == 2 and values.shape[1] >= ROW_LOOP_MIN_COLUMNS:
        filled = values.copy()
        for row in range(1, len(filled)):
            np.copyto(filled[row], filled[row - 1], where=np.isnan(filled[row]))
        return filled
    rows = np.where(~np.isnan(values), np.arange(len(values))[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    return values[rows, np.arange(values.shape[1])]


def group_medians(values: np.ndarray, groups: list[np.ndarray], min_peers: int) -> list[np.ndarray]:
    """Per row, the median of each group's columns; NaN with fewer than `min_peers` values."""
    medians = []
    for columns in groups:
        block = values[:, columns]
        counts = (~np.isnan(block)).sum(axis=1)
        medians.append(np.where(counts >= min_peers, nanmedian_rows(block, counts), np.nan))
    return medians


def peer_median(values: np.ndarray, groups: list[np.ndarray], min_peers: int) -> np.ndarray:
    """Per row, the median of each group's columns, broadcast back to its columns; NaN with too few peers."""
    out = np.full_like(values, np.nan)
    for columns, median in zip(groups, group_medians(values, groups, min_peers), strict=True):
        out[:, columns] = median[:, None]
    return out


def nanmedian_rows(block: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`np.nanmedian(block, axis=1)` (the same values) for a row count where that takes a Python loop per row:
    one sort, NaN last, then the middle one or two of each row's `counts` numbers."""
    if not block.shape[1]:
        return np.full(len(block), np.nan)
    ordered = np.sort(block, axis=1)
    rows = np.arange(len(block))
    low = ordered[rows, np.clip((counts - 1) // 2, 0, None)]
    high = ordered[rows, np.minimum(counts // 2, block.shape[1] - 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        middle = np.where(counts % 2 == 1, low, (low + high) / 2)
    return np.where(counts > 0, middle, np.nan)


def sector_columns(sectors: list[str | None]) -> dict[str, np.ndarray]:
    """The columns of each sector named in `sectors` (None or "": no sector)."""
    groups: dict[str, list[int]] = {}
    for column, sector in enumerate(sectors):
        if sector:
            groups.setdefault(sector, []).append(column)
    return {sector: np.array(columns) for sector, columns in groups.items()}


def peer_benchmark(values: np.ndarray, sectors: list[str | None], min_peers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the market's median of `values` (every column) and each column's sector's (columns named by
    `sectors`), each NaN with fewer than `min_peers` values."""
    market = peer_median(values, [np.arange(values.shape[1])], min_peers)
    groups = sector_columns(sectors)
    if not groups:
        return market, np.full_like(values, np.nan)
    return market, peer_median(values, list(groups.values()), min_peers)


def next_traded(traded_close: np.ndarray) -> np.ndarray:
    """Per bar, the close of the next traded bar of the same symbol."""
    following = ffill(traded_close[::-1])[::-1]
    return np.vstack([following[1:], np.full((1, traded_close.shape[1]), np.nan)])

