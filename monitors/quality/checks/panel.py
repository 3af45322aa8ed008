"""The panel the series checks work on: one (bars × symbols) matrix per field of each symbol's primary source,
adjusted for recorded and confirmed splits (and dividends), so that returns, rolling baselines and the market's
and sectors' moves are column- and row-wise numpy operations. Intraday panels hold regular-hours bars only."""

from collections.abc import Callable

import numpy as np
import pandas as pd

from monitors.quality import calendar, conf
from monitors.quality.checks import price, splits, trend, volume
from monitors.quality.checks.arrays import ffill, matrix, nanos, next_traded, peer_benchmark, shift
from monitors.quality.checks.findings import TREND_TYPES, VOLUME_TYPES, Finding, Universe


class Panel:
    """Bars × symbols matrices of one interval with the state the series checks share."""

    def __init__(self, primary: pd.DataFrame, universe: Universe):
        self.universe = universe
        columns, symbols = pd.factorize(primary["symbol"], sort=True)
        rows, stamps = pd.factorize(primary["ts"], sort=True)
        if universe.peers is not None:  # a shard of a scan: the rows of every shard's bars
            stamps = universe.peers.stamps(pd.DatetimeIndex(stamps))
            rows = stamps.searchsorted(primary["ts"])
        self.index: pd.DatetimeIndex = pd.DatetimeIndex(stamps)
        self.symbols: list[str] = [str(symbol) for symbol in symbols]
        self.open, self.high, self.low, self.close, self.volume = (
            matrix(primary[name].to_numpy(dtype=float), rows, columns, (len(stamps), len(symbols)))
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
        self.intraday = universe.interval != "1d"
        minutes = (self.index.to_series().diff().min().total_seconds() / 60) if len(self.index) > 1 else 390
        self.bar_minutes = min(390.0, max(1.0, minutes)) if self.intraday else 390.0
        self.session_days = self._session_days()
        self.session_ids = pd.factorize(self.session_days, sort=True)[0]
        self.basis = np.ones_like(self.close)  # multiplier from a bar's own price basis to the newest bar's

    def _window_rows(self) -> np.ndarray:
        """(bars × symbols): is the bar in its symbol's window (after its watermark or `since`, up to `as_of`)?"""
        mask = np.asarray(self.index <= self.universe.as_of)[:, None]
        if self.universe.since is None:
            return np.broadcast_to(mask, (len(self.index), len(self.symbols)))
        stamps = nanos(self.index)[:, None]
        lowers = np.array([self.universe.since_for(symbol).value for symbol in self.symbols], dtype=np.int64)
        return mask & (stamps > lowers[None, :])

    def _session_days(self) -> pd.DatetimeIndex:
        """Each bar's session date (naive), in the exchange's time zone for intraday bars."""
        if not self.intraday:
            return self.index.tz_convert(None).normalize()
        exchange = conf.get("QUALITY_DEFAULT_EXCHANGE")
        return self.index.tz_convert(calendar.get_calendar(exchange).tz).tz_localize(None).normalize()

    def in_window(self, moment: pd.Timestamp) -> bool:
        return moment <= self.universe.as_of and (self.universe.since is None or moment > self.universe.since)

    def threshold(self, key: str) -> np.ndarray:
        return self.thresholds[key].to_numpy(dtype=float)[None, :]

    def as_traded(self, values: np.ndarray, row: int, col: int) -> float:
        """A price of the adjusted panel on the price basis of bar `row` (as traded that day)."""
        return float(values[row, col] / self.basis[row, col])

    def emit(self, kind: str, mask: np.ndarray, value: np.ndarray, threshold: np.ndarray,
             severity: Callable[[int, int], str], detail, extra=None) -> None:
        """A finding per bar of `mask` in the window; `severity`, `detail` and `extra` are asked of those bars
        only (not computed for the whole panel)."""
        rows, cols = np.nonzero(mask & self.window_mask)
        for row, col in zip(rows, cols, strict=True):
            self.findings.append(Finding(
                symbol=self.symbols[col], type=kind, severity=severity(row, col), ts=self.index[row],
                value=round(float(value[row, col]), 4), threshold=float(threshold[0, col]),
                detail=detail(row, col), extra=extra(row, col) if extra else {},
            ))

    def series_findings(self) -> list[Finding]:
        factor = self._recorded_adjustments()
        verdicts = splits.judge(self, factor)
        self._adjust(factor, None if verdicts.confirmed.any() else verdicts.outliers)
        price.check(self, verdicts)
        types = self.universe.types
        if any(kind in types for kind in VOLUME_TYPES):
            volume.check(self)
        if any(kind in types for kind in TREND_TYPES):
            trend.volatility(self)
            trend.technical(self)
        return self.findings

    def _recorded_adjustments(self) -> tuple[np.ndarray, np.ndarray]:
        """Multipliers that put earlier prices (and volumes) on the basis of the newest bar."""
        price_factor = np.ones_like(self.close)
        volume_factor = np.ones_like(self.close)
        actions = self.universe.actions
        if actions.empty:
            return price_factor, volume_factor
        columns = {symbol: i for i, symbol in enumerate(self.symbols)}
        for symbol, when, kind, ratio in actions[["symbol", "date", "kind", "ratio"]].itertuples(index=False):
            col = columns.get(symbol)
            if col is None:
                continue
            before = np.asarray(self.session_days < when)
            if not before.any():
                continue
            if kind == "split":
                price_factor[before, col] /= ratio
                volume_factor[before, col] *= ratio
            else:
                last = np.nonzero(before & self.present[:, col])[0]
                if len(last) and self.close[last[-1], col] > ratio:
                    price_factor[before, col] *= 1 - ratio / self.close[last[-1], col]
        return price_factor, volume_factor

    def _adjust(self, factor: tuple[np.ndarray, np.ndarray], outliers: np.ndarray | None) -> None:
        """Apply the adjustments; returns and gap bases from real prices, leaving out only bad prints: a large
        move that the next bar takes back (see `bad_prints`; `outliers` when the split judge found them on these
        same prices already)."""
        price_factor, volume_factor = factor
        self.basis = price_factor
        self.open, self.high, self.low, self.close = (m * price_factor
                                                      for m in (self.open, self.high, self.low, self.close))
        self.volume = self.volume * volume_factor
        traded_close = np.where(self.traded, self.close, np.nan)
        self.outliers = self.bad_prints(traded_close, self.open) if outliers is None else outliers
        self.prev_close = shift(ffill(np.where(self.outliers, np.nan, traded_close)))
        with np.errstate(invalid="ignore", divide="ignore"):
            self.returns = np.where(self.traded, self.close / self.prev_close - 1, np.nan)

    def bad_prints(self, traded_close: np.ndarray, opens: np.ndarray,
                   prev: np.ndarray | None = None) -> np.ndarray:
        """Bars whose close moved more than the price threshold and that the following bars contradict: the next
        close is back within a quarter of the move (in log terms) of the close before, and so is the next open or
        the close after that. A large move that holds is a real price."""
        prev = shift(ffill(traded_close))
        following = next_traded(traded_close)
        after_that = next_traded(following)
        next_open = next_traded(np.where(self.traded, opens, np.nan))
        limit = np.log1p(self.threshold("price_move_pct") / 100)
        with np.errstate(invalid="ignore", divide="ignore"):
            move = np.abs(np.log(traded_close / prev))
            band = 0.25 * move
            back = np.abs(np.log(following / prev)) <= band
            stays = (np.abs(np.log(next_open / prev)) <= band) | (np.abs(np.log(after_that / prev)) <= band)
            return self.traded & (move > limit) & back & stays

    def benchmark(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The market's and the symbol's sector's median of `values` per bar: over the panel's symbols, or in a
        sharded scan over every shard's (monitors/quality/spread.py)."""
        min_peers = conf.get("QUALITY_MIN_PEERS")
        sectors = [self.universe.profiles[symbol].sector for symbol in self.symbols]
        if self.universe.peers is not None:
            return self.universe.peers.benchmark(values, sectors, min_peers)
        return peer_benchmark(values, sectors, min_peers)

    def moved_with_peers(self, move: np.ndarray, market: np.ndarray, sector: np.ndarray,
                         limit: np.ndarray) -> np.ndarray:
        """True where the market or the sector moved the same way by at least half the limit."""
        same_market = (np.sign(market) == np.sign(move)) & (np.abs(market) >= limit / 2)
        same_sector = (np.sign(sector) == np.sign(move)) & (np.abs(sector) >= limit / 2)
        return same_market | same_sector

    def full_sessions(self) -> np.ndarray:
        """Per bar: does it belong to a full-length session (not a half day)?"""
        exchange = conf.get("QUALITY_DEFAULT_EXCHANGE")
        days = self.session_days
        calendar_days = calendar.sessions(days.min(), days.max(), exchange) if len(days) else days
        full = calendar.full_session_mask(calendar_days, exchange)
        return np.asarray(full.reindex(days, fill_value=False).to_numpy(dtype=bool))
