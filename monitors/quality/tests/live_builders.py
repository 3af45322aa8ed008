"""Realistic minute bars for the live-stream tests and benchmark: a session of a universe, extended hours included."""

import numpy as np
import pandas as pd


def minute_bars(symbols: int | list[str], minutes: int, *, start: str = "2026-11-27 09:00", source: str = "tickstock",
                seed: int = 5, tz: str = "America/New_York") -> pd.DataFrame:
    """`minutes` one-minute bars per symbol from `start` (New York time, so pre-market bars come first when it is
    before 09:30), a random walk with intraday volume that is thin before the open and heavy around it."""
    names = symbols if isinstance(symbols, list) else [f"S{i:04d}" for i in range(symbols)]
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(pd.Timestamp(start, tz=tz), periods=minutes, freq="min")
    n, m = len(names), minutes
    returns = rng.normal(0, 0.0009, size=(m, n)) + rng.normal(0, 0.0004, size=(m, 1))
    close = rng.uniform(5, 400, size=n) * np.exp(np.cumsum(returns, axis=0))
    opened = close / np.exp(returns)
    high = np.maximum(opened, close) * (1 + rng.uniform(0, 0.0006, size=(m, n)))
    low = np.minimum(opened, close) * (1 - rng.uniform(0, 0.0006, size=(m, n)))
    regular = np.asarray((stamps.hour * 60 + stamps.minute) >= 570)[:, None]
    volume = np.round(rng.uniform(200, 20_000, size=n) * np.where(regular, 1.0, 0.05)
                      * np.exp(rng.normal(0, 0.4, size=(m, n))))
    return pd.DataFrame({
        "symbol": np.tile(np.asarray(names, dtype=object), m), "ts": np.repeat(stamps, n),
        "open": opened.ravel().round(4), "high": high.ravel().round(4), "low": low.ravel().round(4),
        "close": close.ravel().round(4), "volume": volume.ravel().astype(np.int64), "source": source,
    })
