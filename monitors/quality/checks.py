"""The data-quality checks of docs/quality-checks.md, computed over whole arrays at once.

A scan reads its bars once into a long frame (symbol, source, ts, OHLCV). The series checks work on a panel:
one (bars × symbols) matrix per field of each symbol's primary source, split-adjusted, so that returns, rolling
baselines and the market's and sectors' moves are column- and row-wise numpy operations. Baselines learn from
clean data: bars already flagged (price jumps, volume spikes, halts) are masked out of the trailing averages and
volatility windows that judge later bars.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitors.quality import calendar, conf
from monitors.quality.rules import Profile

PRICE_TYPES = ("price_anomaly", "price_gap", "volatility_cluster", "technical_break", "corporate_action",
               "source_mismatch")
VOLUME_TYPES = ("volume_spike", "volume_drought")
FRESHNESS_TYPES = ("data_stale", "coverage_gap")
SERIES_TYPES = (*PRICE_TYPES, *VOLUME_TYPES)
ALL_TYPES = (*PRICE_TYPES, *VOLUME_TYPES, *FRESHNESS_TYPES)
INTRADAY_TYPES = FRESHNESS_TYPES
SPLIT_RATIOS = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0)
SPLIT_TOLERANCE = 0.06
# Evidence of a split in the volume: the mean of the split bar and up to 4 after it, against the trailing mean,
# must move inversely to the price by at least half the ratio (in log terms) and at least this factor.
SPLIT_VOLUME_BARS = 5
SPLIT_MIN_VOLUME_MOVE = 1.5


@dataclass
class Finding:
    symbol: str
    type: str
    severity: str
    ts: pd.Timestamp
    value: float | None
    threshold: float | None
    detail: str
    source: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Universe:
    """What the checks need besides the bars: per-symbol profiles and thresholds, corporate actions, the window."""

    interval: str
    as_of: pd.Timestamp
    since: pd.Timestamp | None
    profiles: dict[str, Profile]
    thresholds: dict[str, dict]
    actions: pd.DataFrame  # symbol, date (Timestamp), kind, ratio
    types: tuple[str, ...] = ALL_TYPES


def run(bars: pd.DataFrame, universe: Universe) -> list[Finding]:
    """All findings on bars in (since, as_of] for the requested types."""
    findings: list[Finding] = []
    if bars.empty:
        return findings
    primary, sources = choose_primary(bars)
    if any(kind in universe.types for kind in SERIES_TYPES):
        panel = Panel(primary, universe)
        findings += panel.series_findings()
    if "source_mismatch" in universe.types:
        findings += source_mismatch(bars, universe)
    for exchange, symbols in _by_exchange(primary["symbol"].unique(), universe.profiles).items():
        subset = primary[primary["symbol"].isin(symbols)]
        if universe.interval == "1d":
            findings += daily_freshness(subset, universe, exchange, bars)
        else:
            findings += intraday_freshness(subset, universe, exchange)
    # Staleness is a condition of now: reported by every scan while it lasts (its event still goes out once per
    # newest bar). Everything else is about bars, reported by the scan whose window holds them.
    findings = [f for f in findings if f.type in universe.types and (f.type == "data_stale" or _in_window(
        f.ts, universe))]
    for finding in findings:
        finding.source = finding.source or sources.get(finding.symbol, "")
    return findings


def _in_window(ts: pd.Timestamp, universe: Universe) -> bool:
    return ts <= universe.as_of and (universe.since is None or ts > universe.since)


def choose_primary(bars: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Each symbol's series from the source with the most bars (ties: source name), and that choice."""
    counts = bars.groupby(["symbol", "source"], sort=True).size().reset_index(name="n")
    counts = counts.sort_values(["symbol", "n", "source"], ascending=[True, False, True])
    best = counts.drop_duplicates("symbol")
    chosen = dict(zip(best["symbol"], best["source"], strict=True))
    if len(counts) == len(best):
        return bars, chosen
    keep = bars["source"].to_numpy() == bars["symbol"].map(chosen).to_numpy()
    return bars[keep], chosen


def _matrix(values: np.ndarray, rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A long column as a (bars × symbols) matrix, NaN where a symbol has no bar."""
    matrix = np.full(shape, np.nan)
    matrix[rows, columns] = values
    return matrix


def nanos(values) -> np.ndarray:
    """UTC nanoseconds of tz-aware timestamps, without going through Python objects."""
    return pd.DatetimeIndex(values).tz_convert("UTC").as_unit("ns").asi8


def _by_exchange(symbols, profiles: dict[str, Profile]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for symbol in symbols:
        groups.setdefault(profiles[symbol].exchange, []).append(symbol)
    return groups


def rolling_mean(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Mean of the last `window` rows (this row included), ignoring NaN; NaN with fewer than `min_periods`."""
    present = ~np.isnan(values)
    sums = _window_sum(np.where(present, values, 0.0), window)
    counts = _window_sum(present.astype(float), window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts >= min_periods, sums / counts, np.nan)


def rolling_std(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    counts = _window_sum(present.astype(float), window)
    sums = _window_sum(filled, window)
    squares = _window_sum(filled * filled, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (squares - sums * sums / counts) / (counts - 1)
        return np.where(counts >= max(min_periods, 2), np.sqrt(np.clip(variance, 0, None)), np.nan)


def rolling_extreme(values: np.ndarray, window: int, pick=np.fmin) -> np.ndarray:
    """Rolling min (`np.fmin`) or max (`np.fmax`) over the last `window` rows, NaN unless all are present.
    Built by doubling spans (1, 2, 4 …) and joining two overlapping ones: log2(window) array operations."""
    spans = {1: values}
    span = 1
    while span * 2 <= window:
        previous = spans[span]
        spans[span * 2] = pick(previous, _shift_fill(previous, span))
        span *= 2
    widest = spans[span]
    result = pick(widest, _shift_fill(widest, window - span)) if window > span else widest.copy()
    complete = _window_sum((~np.isnan(values)).astype(float), window) >= window
    complete[:window - 1] = False
    return np.where(complete, result, np.nan)


def _shift_fill(values: np.ndarray, periods: int) -> np.ndarray:
    return shift(values, periods) if periods else values


def _window_sum(values: np.ndarray, window: int) -> np.ndarray:
    totals = np.cumsum(values, axis=0)
    totals[window:] = totals[window:] - totals[:-window]
    return totals


def shift(values: np.ndarray, periods: int = 1) -> np.ndarray:
    out = np.full_like(values, np.nan, dtype=float)
    if periods < len(values):
        out[periods:] = values[:len(values) - periods]
    return out


def ffill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column."""
    rows = np.where(~np.isnan(values), np.arange(len(values))[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    return values[rows, np.arange(values.shape[1])]


def peer_median(values: np.ndarray, groups: list[np.ndarray], min_peers: int) -> np.ndarray:
    """Per row, the median of each group's columns, broadcast back to its columns; NaN with too few peers."""
    out = np.full_like(values, np.nan)
    for columns in groups:
        block = values[:, columns]
        enough = (~np.isnan(block)).sum(axis=1) >= min_peers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(block, axis=1)
        out[:, columns] = np.where(enough, median, np.nan)[:, None]
    return out


class Panel:
    """Bars × symbols matrices of one interval, split-adjusted, with the series checks as methods."""

    def __init__(self, primary: pd.DataFrame, universe: Universe):
        self.universe = universe
        columns, symbols = pd.factorize(primary["symbol"], sort=True)
        rows, stamps = pd.factorize(primary["ts"], sort=True)
        self.index: pd.DatetimeIndex = pd.DatetimeIndex(stamps)
        self.symbols: list[str] = [str(symbol) for symbol in symbols]
        self.open, self.high, self.low, self.close, self.volume = (
            _matrix(primary[name].to_numpy(dtype=float), rows, columns, (len(stamps), len(symbols)))
            for name in ["open", "high", "low", "close", "volume"]
        )
        self.present = ~np.isnan(self.close)
        self.halted = self.present & (self.volume == 0) & (self.high == self.low)
        self.traded = self.present & ~self.halted
        self.findings: list[Finding] = []
        self.thresholds = pd.DataFrame(
            [universe.thresholds[universe.profiles[symbol].equity_type] for symbol in self.symbols]
        )
        self.min_history = conf.get("QUALITY_MIN_HISTORY")
        self.window_mask = self._window_rows()
        minutes = (self.index.to_series().diff().min().total_seconds() / 60) if len(self.index) > 1 else 390
        self.bar_minutes = 390.0 if universe.interval == "1d" else min(390.0, max(1.0, minutes))
        self.session_days = self._session_days()
        self.sessions = np.asarray(self.session_days.asi8)

    def _window_rows(self) -> np.ndarray:
        mask = self.index <= self.universe.as_of
        if self.universe.since is not None:
            mask &= self.index > self.universe.since
        return np.asarray(mask)

    def _session_days(self) -> pd.DatetimeIndex:
        """Each bar's session date (naive), in the exchange's time zone for intraday bars."""
        if self.universe.interval == "1d":
            return self.index.tz_convert(None).normalize()
        exchange = conf.get("QUALITY_DEFAULT_EXCHANGE")
        return self.index.tz_convert(calendar.get_calendar(exchange).tz).tz_localize(None).normalize()

    def threshold(self, key: str) -> np.ndarray:
        return self.thresholds[key].to_numpy(dtype=float)[None, :]

    def emit(self, kind: str, mask: np.ndarray, value: np.ndarray, threshold: np.ndarray,
             severity: np.ndarray, detail) -> None:
        rows, cols = np.nonzero(mask & self.window_mask[:, None])
        for row, col in zip(rows, cols, strict=True):
            self.findings.append(Finding(
                symbol=self.symbols[col], type=kind, severity=str(severity[row, col]), ts=self.index[row],
                value=round(float(value[row, col]), 4), threshold=float(threshold[0, col]),
                detail=detail(row, col),
            ))

    def series_findings(self) -> list[Finding]:
        factor = self._recorded_adjustments()
        evident = self._evident_splits(factor)
        self._adjust(factor)
        self._price_checks()
        if evident is not None:
            self.price_flagged |= evident
        self._volume_checks()
        self._volatility_checks()
        self._technical_checks()
        return self.findings

    def _recorded_adjustments(self) -> tuple[np.ndarray, np.ndarray]:
        """Multipliers that put earlier prices (and volumes) on the basis of the newest bar."""
        price = np.ones_like(self.close)
        volume = np.ones_like(self.close)
        actions = self.universe.actions
        if actions.empty:
            return price, volume
        columns = {symbol: i for i, symbol in enumerate(self.symbols)}
        bar_dates = self.index.tz_convert(None).normalize() if self.index.tz is not None else self.index.normalize()
        for symbol, when, kind, ratio in actions[["symbol", "date", "kind", "ratio"]].itertuples(index=False):
            col = columns.get(symbol)
            if col is None:
                continue
            before = np.asarray(bar_dates < when)
            if not before.any():
                continue
            if kind == "split":
                price[before, col] /= ratio
                volume[before, col] *= ratio
            else:
                last = np.nonzero(before & self.present[:, col])[0]
                if len(last) and self.close[last[-1], col] > ratio:
                    price[before, col] *= 1 - ratio / self.close[last[-1], col]
        return price, volume

    def _adjust(self, factor: tuple[np.ndarray, np.ndarray]) -> None:
        price, volume = factor
        self.open, self.high, self.low, self.close = (m * price for m in (self.open, self.high, self.low, self.close))
        self.volume = self.volume * volume
        traded_close = np.where(self.traded, self.close, np.nan)
        self.prev_close = shift(ffill(traded_close))
        with np.errstate(invalid="ignore", divide="ignore"):
            returns = self.close / self.prev_close - 1
            big = np.abs(returns) > self.threshold("price_move_pct") / 100
            back = np.abs(_next_traded(traded_close) / self.prev_close - 1) <= self.threshold("price_move_pct") / 200
        # A bad print (a jump that the next bar takes straight back) is no base for the next bar's return.
        self.outliers = self.traded & big & back
        self.prev_close = shift(ffill(np.where(self.outliers, np.nan, traded_close)))
        with np.errstate(invalid="ignore", divide="ignore"):
            self.returns = np.where(self.traded, self.close / self.prev_close - 1, np.nan)

    def _evident_splits(self, factor: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
        """A price ratio near k:1 (or 1:k) with volume moving inversely: an unrecorded split. Adjusts `factor`."""
        price, volume_factor = factor
        close = self.close * price
        prev = shift(ffill(np.where(self.traded, close, np.nan)))
        volume = self.volume * volume_factor
        baseline = shift(rolling_mean(np.where(self.traded, volume, np.nan), conf.get("QUALITY_VOLUME_WINDOW"),
                                      self.min_history))
        traded_close = np.where(self.traded, close, np.nan)
        earlier = shift(ffill(np.where(self.traded, shift(ffill(traded_close)), np.nan)))
        traded_volume = np.where(self.traded, volume, np.nan)
        from_here = rolling_mean(traded_volume[::-1], SPLIT_VOLUME_BARS, 1)[::-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            jump = prev / close
            volume_ratio = from_here / baseline
            afterwards = _next_traded(traded_close) / close
            recovered = earlier / close
        ratios = np.array([*SPLIT_RATIOS, *(1 / r for r in SPLIT_RATIOS)])
        candidates = self.traded & (np.abs(np.log(jump)) > np.log(1 + self.threshold("price_move_pct") / 100) * 0.9)
        rows, cols = np.nonzero(np.nan_to_num(candidates, nan=0).astype(bool))
        found = np.zeros_like(self.traded)
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
            if self.window_mask[row]:
                self.findings.append(Finding(
                    symbol=self.symbols[col], type="corporate_action", severity="info", ts=self.index[row],
                    value=round(float(ratio), 4), threshold=None,
                    detail=(f"close {self.close[row, col]:.4g} after {prev[row, col]:.4g} "
                            f"({1 / jump[row, col] - 1:+.1%}) with volume since ×{moved:.1f} its average: "
                            f"looks like an unrecorded {label} split"),
                    extra={"ratio": label},
                ))
        return found

    def _benchmark(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The market's and the symbol's sector's median of `values` per bar."""
        min_peers = conf.get("QUALITY_MIN_PEERS")
        everyone = [np.arange(len(self.symbols))]
        market = peer_median(values, everyone, min_peers)
        sectors: dict[str, list[int]] = {}
        for i, symbol in enumerate(self.symbols):
            sector = self.universe.profiles[symbol].sector
            if sector:
                sectors.setdefault(sector, []).append(i)
        sector = peer_median(values, [np.array(c) for c in sectors.values()], min_peers) if sectors else (
            np.full_like(values, np.nan))
        return market, sector

    def _moved_with_peers(self, move: np.ndarray, market: np.ndarray, sector: np.ndarray,
                          limit: np.ndarray) -> np.ndarray:
        """True where the market or the sector moved the same way by at least half the limit."""
        same_market = (np.sign(market) == np.sign(move)) & (np.abs(market) >= limit / 2)
        same_sector = (np.sign(sector) == np.sign(move)) & (np.abs(sector) >= limit / 2)
        return same_market | same_sector

    def _price_checks(self) -> None:
        limit = self.threshold("price_move_pct") / 100
        market, sector = self._benchmark(self.returns)
        with np.errstate(invalid="ignore"):
            big = np.abs(self.returns) > limit
        explained = self._moved_with_peers(self.returns, market, sector, limit)
        severity = np.where(explained, "info", np.where(np.abs(self.returns) >= 2 * limit, "critical", "warning"))

        def detail(row, col):
            text = (f"close {self.close[row, col]:.4g} after {self.prev_close[row, col]:.4g}: "
                    f"{self.returns[row, col]:+.1%}")
            peers = [f"{name} {values[row, col]:+.1%}" for name, values in (("market", market), ("sector", sector))
                     if np.isfinite(values[row, col])]
            return text + (f" ({', '.join(peers)})" if peers else "")

        self.emit("price_anomaly", big, self.returns * 100, limit * 100, severity, detail)
        self.price_flagged = big.copy()

        gap_limit = self.threshold("gap_pct") / 100
        new_session = np.ones(len(self.index), dtype=bool)
        new_session[1:] = self.sessions[1:] != self.sessions[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            gaps = np.where(self.traded & new_session[:, None], self.open / self.prev_close - 1, np.nan)
            gapped = np.abs(gaps) > gap_limit
        gap_market, gap_sector = self._benchmark(gaps)
        gap_explained = self._moved_with_peers(gaps, gap_market, gap_sector, gap_limit)
        gap_severity = np.where(gap_explained, "info", "warning")
        self.emit("price_gap", gapped, gaps * 100, gap_limit * 100, gap_severity,
                  lambda row, col: f"opened {self.open[row, col]:.4g} after a close of {self.prev_close[row, col]:.4g}:"
                                   f" gap {gaps[row, col]:+.1%}")
        self.price_flagged |= gapped

    def _volume_checks(self) -> None:
        window = conf.get("QUALITY_VOLUME_WINDOW")
        spike_limit = self.threshold("volume_spike_ratio")
        drought_limit = self.threshold("volume_drought_ratio")
        floor = conf.get("QUALITY_MIN_SESSION_VOLUME") * self.bar_minutes / 390
        usable = np.where(self.traded, self.volume, np.nan)
        clean = np.where(self.price_flagged, np.nan, usable)
        with np.errstate(invalid="ignore", divide="ignore"):
            first_ratio = usable / shift(rolling_mean(clean, window, self.min_history))
            first_pass = (first_ratio >= spike_limit) | (first_ratio <= drought_limit)
            baseline = shift(rolling_mean(np.where(first_pass, np.nan, clean), window, self.min_history))
            ratio = usable / baseline
        judged = self.traded & (baseline >= floor)
        with np.errstate(invalid="ignore"):
            spike = judged & (ratio >= spike_limit)
            drought = judged & (ratio <= drought_limit) & self._full_sessions()[:, None]
        market, _ = self._benchmark(np.where(judged, ratio, np.nan))
        self.emit("volume_spike", spike, ratio, spike_limit,
                  np.where(market >= spike_limit / 2, "info", np.where(ratio >= 4 * spike_limit, "critical",
                                                                       "warning")),
                  lambda row, col: f"volume {self.volume[row, col]:,.0f} is ×{ratio[row, col]:.1f} its trailing "
                                   f"average {baseline[row, col]:,.0f}")
        self.emit("volume_drought", drought, ratio, drought_limit,
                  np.where(market <= drought_limit * 2, "info", "warning"),
                  lambda row, col: f"volume {self.volume[row, col]:,.0f} is ×{ratio[row, col]:.2f} its trailing "
                                   f"average {baseline[row, col]:,.0f} in a full session")
        self.volume_flagged = spike | drought

    def _full_sessions(self) -> np.ndarray:
        """Per bar: does it belong to a full-length session (not a half day)?"""
        exchange = conf.get("QUALITY_DEFAULT_EXCHANGE")
        days = self.session_days
        calendar_days = calendar.sessions(days.min(), days.max(), exchange) if len(days) else days
        full = calendar.full_session_mask(calendar_days, exchange)
        return np.asarray(full.reindex(days, fill_value=False).to_numpy(dtype=bool))

    def _volatility_checks(self) -> None:
        short = conf.get("QUALITY_VOLATILITY_SHORT_WINDOW")
        long = conf.get("QUALITY_VOLATILITY_LONG_WINDOW")
        limit = self.threshold("volatility_ratio")
        with np.errstate(invalid="ignore", divide="ignore"):
            log_returns = np.where(self.price_flagged, np.nan, np.log1p(self.returns))
        short_vol = rolling_std(log_returns, short, short)
        long_vol = shift(rolling_std(log_returns, long, max(self.min_history, long * 2 // 3)), short)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = short_vol / long_vol
            hot = (ratio >= limit) & (short_vol * 100 >= conf.get("QUALITY_VOLATILITY_FLOOR_PCT"))
        onset = hot & ~np.vstack([np.zeros((1, hot.shape[1]), dtype=bool), hot[:-1]])
        market, _ = self._benchmark(np.where(np.isfinite(ratio), ratio, np.nan))
        self.emit("volatility_cluster", onset, ratio, limit, np.where(market >= limit / 2, "info", "warning"),
                  lambda row, col: f"{short}-bar volatility {short_vol[row, col]:.2%} is ×{ratio[row, col]:.1f} "
                                   f"its {long}-bar level {long_vol[row, col]:.2%}")

    def _technical_checks(self) -> None:
        window = conf.get("QUALITY_MA_WINDOW")
        limit = self.threshold("ma_distance_pct") / 100
        closes = np.where(self.traded & ~self.price_flagged, self.close, np.nan)
        average = shift(rolling_mean(closes, window, window))
        with np.errstate(invalid="ignore", divide="ignore"):
            distance = np.where(self.traded, self.close / average - 1, np.nan)
            far = np.abs(distance) >= limit
        onset = far & ~np.vstack([np.zeros((1, far.shape[1]), dtype=bool), far[:-1]])
        market, sector = self._benchmark(distance)
        explained = self._moved_with_peers(distance, market, sector, limit)
        self.emit("technical_break", onset, distance * 100, limit * 100, np.where(explained, "info", "warning"),
                  lambda row, col: f"close {self.close[row, col]:.4g} is {distance[row, col]:+.1%} from its "
                                   f"{window}-bar average {average[row, col]:.4g}")
        self._level_breaks(far)

    def _level_breaks(self, already: np.ndarray) -> None:
        """Closes through a support (resistance) set at least LEVEL_AGE bars ago and not touched since."""
        window, age = conf.get("QUALITY_LEVEL_WINDOW"), conf.get("QUALITY_LEVEL_AGE")
        margin = conf.get("QUALITY_LEVEL_BREAK_PCT") / 100
        if len(self.index) <= window:
            return
        lows = np.where(self.traded, self.low, np.nan)
        highs = np.where(self.traded, self.high, np.nan)
        old_span = window - age
        support = shift(rolling_extreme(lows, old_span, np.fmin), age + 1)
        resistance = shift(rolling_extreme(highs, old_span, np.fmax), age + 1)
        recent_low = shift(rolling_extreme(lows, age, np.fmin))
        recent_high = shift(rolling_extreme(highs, age, np.fmax))
        with np.errstate(invalid="ignore"):
            down = (recent_low >= support) & (self.close < support * (1 - margin))
            up = (recent_high <= resistance) & (self.close > resistance * (1 + margin))
        down &= self.traded & ~already
        up &= self.traded & ~already
        level = np.where(down, support, resistance)
        severity = np.full(down.shape, "info", dtype=object)
        with np.errstate(invalid="ignore", divide="ignore"):
            beyond = (self.close / level - 1) * 100
        self.emit("technical_break", down | up, beyond, np.full((1, down.shape[1]), margin * 100), severity,
                  lambda row, col: (f"close {self.close[row, col]:.4g} broke "
                                    f"{'below support' if down[row, col] else 'above resistance'} "
                                    f"{level[row, col]:.4g} held for {window} bars"))


def _next_traded(traded_close: np.ndarray) -> np.ndarray:
    """Per bar, the close of the next traded bar of the same symbol."""
    following = ffill(traded_close[::-1])[::-1]
    return np.vstack([following[1:], np.full((1, traded_close.shape[1]), np.nan)])


def _ratio_label(ratio: float) -> str:
    if ratio >= 1:
        return f"{ratio:g}:1" if ratio == int(ratio) else f"{int(ratio * 2)}:2"
    return f"1:{1 / ratio:g}"


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


def daily_freshness(primary: pd.DataFrame, universe: Universe, exchange: str, all_bars: pd.DataFrame) -> list[Finding]:
    """Missing sessions between a symbol's first and newest daily bar; a newest bar older than the last close."""
    findings: list[Finding] = []
    last_closed = calendar.last_closed_session(universe.as_of, exchange)
    if last_closed is None or primary.empty:
        return findings
    dates = primary["ts"].dt.tz_convert(None).dt.normalize()
    first = dates.groupby(primary["symbol"]).min()
    newest = dates.groupby(primary["symbol"]).max()
    sessions = calendar.sessions(first.min(), last_closed, exchange)
    if not len(sessions):
        return findings
    codes, names = pd.factorize(primary["symbol"], sort=True)
    symbols = list(names)
    rows = sessions.searchsorted(dates.to_numpy())
    on_session = (rows < len(sessions)) & (sessions.to_numpy()[np.clip(rows, 0, len(sessions) - 1)] == dates.to_numpy())
    present = np.zeros((len(sessions), len(symbols)), dtype=bool)
    present[rows[on_session], codes[on_session]] = True
    position = np.arange(len(sessions))[:, None]
    first_pos = sessions.searchsorted(first.reindex(symbols).to_numpy())[None, :]
    newest_pos = sessions.searchsorted(newest.reindex(symbols).to_numpy(), side="right")[None, :] - 1
    missing = ~present & (position > first_pos) & (position < newest_pos)
    if universe.since is not None:
        missing &= np.asarray(sessions > universe.since.tz_convert(None))[:, None]
    gapped = np.nonzero(missing.any(axis=0))[0]
    others = all_bars[all_bars["symbol"].isin([symbols[col] for col in gapped])]
    elsewhere = set(zip(others["symbol"], others["ts"].dt.tz_convert(None).dt.normalize(), strict=True))
    for col in gapped:
        rows = np.nonzero(missing[:, col])[0]
        breaks = np.nonzero(np.diff(rows) > 1)[0]
        for run in np.split(rows, breaks + 1):
            start, end = sessions[run[0]], sessions[run[-1]]
            symbol = symbols[col]
            count = len(run)
            span = f"{start:%Y-%m-%d}" if count == 1 else f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
            other = sum((symbol, day) in elsewhere for day in sessions[run])
            findings.append(Finding(
                symbol=symbol, type="coverage_gap", severity="critical" if count >= 3 else "warning",
                ts=start.tz_localize("UTC"), value=float(count), threshold=0.0,
                detail=f"no bar for {count} session{'s' if count > 1 else ''} ({span})"
                       + (f"; another source has {other}" if other else ""),
                extra={"span": span, "other_source": bool(other)},
            ))
    closed_at = calendar.get_calendar(exchange).session_close(last_closed)
    for symbol, newest_day in newest.items():
        if newest_day >= last_closed:
            continue
        limit = universe.thresholds[universe.profiles[symbol].equity_type]["stale_minutes"]
        if universe.as_of < closed_at + pd.Timedelta(minutes=limit):
            continue
        behind = len(calendar.sessions(newest_day + pd.Timedelta(days=1), last_closed, exchange))
        findings.append(Finding(
            symbol=symbol, type="data_stale", severity="critical" if behind >= 3 else "warning",
            ts=last_closed.tz_localize("UTC"), value=float(behind), threshold=limit,
            detail=f"newest bar is {newest_day:%Y-%m-%d}, {behind} session{'s' if behind > 1 else ''} behind "
                   f"the close of {last_closed:%Y-%m-%d} ({closed_at:%H:%M} UTC)",
            extra={"newest": f"{newest_day:%Y-%m-%d}"},
        ))
    return findings


def intraday_freshness(primary: pd.DataFrame, universe: Universe, exchange: str) -> list[Finding]:
    """Staleness while the market is open, and holes of over QUALITY_INTRADAY_GAP_MINUTES inside sessions."""
    findings: list[Finding] = []
    if primary.empty:
        return findings
    bar = pd.Timedelta(minutes=_interval_minutes(universe.interval))
    as_of = universe.as_of
    ts = primary["ts"]
    symbols = primary["symbol"].to_numpy()
    newest = ts.groupby(symbols).max()
    session = calendar.current_session(as_of, exchange)
    if session is not None:
        opened = calendar.get_calendar(exchange).session_open(session)
        for symbol, last in newest.items():
            limit = universe.thresholds[universe.profiles[symbol].equity_type]["stale_minutes"]
            reference = max(last + bar, opened)
            age = (as_of - reference).total_seconds() / 60
            if age > limit:
                findings.append(Finding(
                    symbol=symbol, type="data_stale", severity="critical" if age > 6 * limit else "warning",
                    ts=last, value=round(age, 1), threshold=limit,
                    detail=f"newest bar {last:%Y-%m-%d %H:%M} UTC is {age:.0f} minutes old while {exchange} is open",
                    extra={"newest": f"{last:%Y-%m-%d %H:%M} UTC"},
                ))

    start = ts.min().tz_convert(None).normalize()
    sessions = calendar.sessions(start, as_of.tz_convert(None), exchange)
    if not len(sessions):
        return findings
    opens, closes = calendar.session_bounds(sessions, exchange)
    open_ns, close_ns, stamps = nanos(opens), nanos(closes), nanos(ts)
    which = np.searchsorted(open_ns, stamps, side="right") - 1
    inside = (which >= 0) & (stamps < close_ns[np.clip(which, 0, None)])
    frame = pd.DataFrame({"symbol": symbols[inside], "session": which[inside], "t": stamps[inside]})
    frame = frame.sort_values(["symbol", "t"], kind="stable")
    limit_ns = conf.get("QUALITY_INTRADAY_GAP_MINUTES") * 60 * 10**9
    bar_ns = bar.value
    as_of_ns = as_of.value
    t = frame["t"].to_numpy()
    sym = frame["symbol"].to_numpy()
    ses = frame["session"].to_numpy()
    starts_group = np.ones(len(t), dtype=bool)
    starts_group[1:] = (sym[1:] != sym[:-1]) | (ses[1:] != ses[:-1])
    ends_group = np.roll(starts_group, -1)
    if len(ends_group):
        ends_group[-1] = True
    previous_end = np.where(starts_group, open_ns[ses], np.roll(t, 1) + bar_ns)
    hole = t - previous_end
    session_over = close_ns[ses] <= as_of_ns
    tail = np.where(ends_group & session_over, close_ns[ses] - (t + bar_ns), 0)
    # A hole becomes certain when the next bar arrives (or the session closes): that moment is its ts, so a scan
    # reporting on (since, as_of] reports each hole exactly once.
    for mask, begin, length in ((hole > limit_ns, previous_end, hole), (tail > limit_ns, t + bar_ns, tail)):
        for i in np.nonzero(mask)[0]:
            begin_ts = pd.Timestamp(begin[i], tz="UTC")
            findings.append(_intraday_gap(sym[i], begin_ts, length[i] / 60e9, universe.interval))

    seen = frame.groupby("symbol")["session"].agg(["min", "unique"])
    last_session = np.searchsorted(open_ns, as_of_ns, side="right") - 1
    for symbol, (first_session, present) in seen.iterrows():
        for missing in sorted(set(range(first_session + 1, last_session + 1)) - set(present)):
            if close_ns[missing] > as_of_ns:
                continue
            findings.append(Finding(
                symbol=symbol, type="coverage_gap", severity="critical", ts=closes.iloc[missing],
                value=float((close_ns[missing] - open_ns[missing]) / 60e9), threshold=0.0,
                detail=f"no {universe.interval} bars in the session of {sessions[missing]:%Y-%m-%d}",
                extra={"span": f"{sessions[missing]:%Y-%m-%d}"},
            ))
    return findings


def _intraday_gap(symbol: str, begin: pd.Timestamp, minutes: float, interval: str) -> Finding:
    end = begin + pd.Timedelta(minutes=minutes)
    return Finding(
        symbol=symbol, type="coverage_gap", severity="warning", ts=end, value=round(minutes, 1),
        threshold=float(conf.get("QUALITY_INTRADAY_GAP_MINUTES")),
        detail=f"no {interval} bars {begin:%Y-%m-%d %H:%M}–{end:%H:%M} UTC ({minutes:.0f} minutes) inside the session",
        extra={"span": f"{begin:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"},
    )


def _interval_minutes(interval: str) -> int:
    from monitors.quality.models import INTERVALS

    return INTERVALS[interval] or 390
