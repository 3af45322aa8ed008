"""The panel the series checks work on: one (bars × symbols) matrix per field of each symbol's primary source,
split-adjusted, so that returns, rolling baselines and the market's and sectors' moves are column- and row-wise
numpy operations."""

import numpy as np
import pandas as pd

from monitors.quality import calendar, conf
from monitors.quality.checks import price, splits, trend, volume
from monitors.quality.checks.arrays import ffill, matrix, next_traded, peer_median, shift
from monitors.quality.checks.findings import Finding, Universe


class Panel:
    """Bars × symbols matrices of one interval, split-adjusted, with the series checks as methods."""

    def __init__(self, primary: pd.DataFrame, universe: Universe):
        self.universe = universe
        columns, symbols = pd.factorize(primary["symbol"], sort=True)
        rows, stamps = pd.factorize(primary["ts"], sort=True)
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
        evident = splits.evident_splits(self, factor)
        self._adjust(factor)
        price.check(self)
        if evident is not None:
            self.price_flagged |= evident
        volume.check(self)
        trend.volatility(self)
        trend.technical(self)
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
            back = np.abs(next_traded(traded_close) / self.prev_close - 1) <= self.threshold("price_move_pct") / 200
        # A bad print (a jump that the next bar takes straight back) is no base for the next bar's return.
        self.outliers = self.traded & big & back
        self.prev_close = shift(ffill(np.where(self.outliers, np.nan, traded_close)))
        with np.errstate(invalid="ignore", divide="ignore"):
            self.returns = np.where(self.traded, self.close / self.prev_close - 1, np.nan)

    def benchmark(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

