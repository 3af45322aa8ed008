"""Demo data for `make run`: about 100 symbols of daily bars with a handful of real-world problems planted in
them, and a scan over them. The bars end at the last closed session, so the daily data are as current as the
intraday demo feed's; deterministic for a given day (a fixed seed), no network, idempotent."""

from datetime import datetime

import numpy as np
import pandas as pd
from django.utils import timezone

from monitors.quality import calendar, loader
from monitors.quality.models import CorporateAction, Scan

DEMO_SOURCE = "demo"
SECONDARY_SOURCE = "demo-secondary"
SECTORS = ["Information Technology", "Health Care", "Financials", "Energy", "Industrials"]


def random_walk_bars(symbols: list[str], sessions: pd.DatetimeIndex, seed: int = 7) -> pd.DataFrame:
    """Daily bars (symbol, ts, OHLCV) following a market factor plus noise, with lognormal volumes."""
    rng = np.random.default_rng(seed)
    n, m = len(sessions), len(symbols)
    market = rng.normal(0.0003, 0.008, size=(n, 1))
    returns = market + rng.normal(0, 0.012, size=(n, m))
    start = rng.uniform(10, 300, size=m)
    close = start * np.exp(np.cumsum(returns, axis=0))
    open_ = close / np.exp(returns) * np.exp(rng.normal(0, 0.003, size=(n, m)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, size=(n, m)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, size=(n, m)))
    volume = np.round(rng.uniform(2e5, 5e6, size=m) * np.exp(rng.normal(0, 0.25, size=(n, m))))
    ts = sessions.tz_localize("UTC") if sessions.tz is None else sessions
    return pd.DataFrame({
        "symbol": np.tile(np.asarray(symbols, dtype=object), n),
        "ts": np.repeat(ts, m),
        "open": open_.ravel(), "high": high.ravel(), "low": low.ravel(), "close": close.ravel(),
        "volume": volume.ravel().astype(np.int64),
    })


def demo_symbols(count: int = 100) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [f"D{letters[i // 26 % 26]}{letters[i % 26]}" for i in range(count)]


def demo_end(now: datetime | None = None) -> pd.Timestamp:
    """The session the demo's daily bars end at: the last closed one."""
    return calendar.last_closed_session(now or timezone.now())


def demo_bars(end: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The primary and the secondary source's bars up to the session `end`, with the planted anomalies."""
    sessions = calendar.sessions(end - pd.Timedelta(days=200), end)
    symbols = demo_symbols()
    bars = random_walk_bars(symbols, sessions)
    last = sessions.tz_localize("UTC")

    def rows(symbol, since=None):
        mask = bars["symbol"] == symbol
        if since is not None:
            mask &= bars["ts"] >= since
        return mask

    # DAA: a bad print, close 35% off for one day.
    target = rows("DAA") & (bars["ts"] == last[-5])
    bars.loc[target, ["close", "low"]] = bars.loc[target, ["close", "low"]] * 0.65
    # DAB: an unrecorded 2:1 split 15 sessions ago (prices halve, volume doubles).
    after = rows("DAB", last[-15])
    bars.loc[after, ["open", "high", "low", "close"]] /= 2
    bars.loc[after, "volume"] *= 2
    # DAC: a recorded 3:1 split, so nothing to flag.
    after = rows("DAC", last[-40])
    bars.loc[after, ["open", "high", "low", "close"]] /= 3
    bars.loc[after, "volume"] *= 3
    # DAD: volume spike (×12); DAE: a drought (×0.05) on a full session.
    bars.loc[rows("DAD") & (bars["ts"] == last[-3]), "volume"] *= 12
    bars.loc[rows("DAE") & (bars["ts"] == last[-4]), "volume"] //= 20
    # DAF: three sessions missing; DAG: the feed stopped four sessions ago.
    bars = bars[~(rows("DAF") & bars["ts"].isin(last[-12:-9]))]
    bars = bars[~(rows("DAG", last[-4]))]
    # DAH: an overnight gap up of 15% that holds.
    after = rows("DAH", last[-7])
    bars.loc[after, ["open", "high", "low", "close"]] *= 1.15
    # DAI: a volatile week.
    wild = rows("DAI") & bars["ts"].isin(last[-8:-3])
    swing = np.array([1.09, 0.9, 1.1, 0.91, 1.08])
    factor = np.cumprod(swing)
    idx = bars.index[wild]
    for position, i in enumerate(idx):
        bars.loc[i, ["open", "high", "low", "close"]] *= factor[position]
    later = rows("DAI", last[-3])
    bars.loc[later, ["open", "high", "low", "close"]] *= factor[-1]
    bars["high"] = bars[["open", "high", "low", "close"]].max(axis=1)
    bars["low"] = bars[["open", "high", "low", "close"]].min(axis=1)

    secondary = bars[bars["symbol"].isin(symbols[:20])].copy()
    # The secondary source disagrees on DAJ's close two sessions ago (1.5%).
    wrong = (secondary["symbol"] == "DAJ") & (secondary["ts"] == last[-2])
    secondary.loc[wrong, "close"] *= 1.015
    secondary.loc[wrong, "high"] = secondary.loc[wrong, ["high", "close"]].max(axis=1)
    return bars.reset_index(drop=True), secondary.reset_index(drop=True)


def load(now: datetime | None = None) -> pd.Timestamp:
    """Load the demo's daily bars up to the last closed session and scan them; returns that session."""
    end = demo_end(now)
    primary, secondary = demo_bars(end)
    loader.upsert_frame(primary, source=DEMO_SOURCE, interval="1d")
    loader.upsert_frame(secondary, source=SECONDARY_SOURCE, interval="1d")
    sessions = calendar.sessions(end - pd.Timedelta(days=200), end)
    # The recorded split moves with the window (a load on a later day): the old record would explain nothing.
    CorporateAction.objects.filter(symbol="DAC", kind="split").exclude(date=sessions[-40].date()).delete()
    CorporateAction.objects.update_or_create(symbol="DAC", date=sessions[-40].date(), kind="split",
                                             defaults={"ratio": 3.0})
    as_of = calendar.get_calendar().session_close(end) + pd.Timedelta(minutes=30)
    if not Scan.objects.filter(interval="1d", as_of=as_of).exists():
        from monitors.quality.scan import run_scan

        run_scan(as_of=as_of, since=as_of - pd.Timedelta(days=30))
    return end
