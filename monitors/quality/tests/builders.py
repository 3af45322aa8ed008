"""Small builders of bar frames and scan universes for the quality tests."""

import numpy as np
import pandas as pd

from monitors.quality import calendar, checks, conf
from monitors.quality.thresholds import Profile


def sessions(start: str, count: int) -> pd.DatetimeIndex:
    found = calendar.sessions(pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=count * 2 + 10))
    return found[:count]


def daily(symbol: str, closes, *, start: str = "2025-01-02", volume=1_000_000, source: str = "csv",
          opens=None, days: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Daily bars with the given closes; open = previous close unless given; high/low around them."""
    closes = np.asarray(closes, dtype=float)
    days = days if days is not None else sessions(start, len(closes))
    opens = np.asarray(opens, dtype=float) if opens is not None else np.concatenate([[closes[0]], closes[:-1]])
    volume = np.broadcast_to(np.asarray(volume, dtype=float), closes.shape)
    return pd.DataFrame({
        "symbol": symbol, "source": source, "ts": days.tz_localize("UTC"),
        "open": opens, "high": np.maximum(opens, closes) * 1.002, "low": np.minimum(opens, closes) * 0.998,
        "close": closes, "volume": volume.astype(float),
    })


def calm(count: int, *, start_price: float = 100.0, seed: int = 1, daily_vol: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start_price * np.exp(np.cumsum(rng.normal(0, daily_vol, count)))


def noisy_volume(count: int, *, level: float = 1_000_000, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(level * np.exp(rng.normal(0, 0.15, count)))


def universe(bars: pd.DataFrame, as_of, *, since=None, interval: str = "1d", types=checks.ALL_TYPES,
             actions: pd.DataFrame | None = None, profiles: dict | None = None,
             thresholds: dict | None = None) -> checks.Universe:
    symbols = sorted(set(bars["symbol"]))
    default = Profile("common_stock", None, "XNYS")
    return checks.Universe(
        interval=interval, as_of=calendar.utc(as_of), since=calendar.utc(since) if since is not None else None,
        profiles={s: (profiles or {}).get(s, default) for s in symbols},
        thresholds={"common_stock": {**conf.thresholds(), **(thresholds or {})}},
        actions=actions if actions is not None else pd.DataFrame(columns=["symbol", "date", "kind", "ratio"]),
        types=types,
    )


def run(bars: pd.DataFrame, as_of, **options) -> list[checks.Finding]:
    return checks.run(bars.sort_values(["symbol", "source", "ts"], ignore_index=True),
                      universe(bars, as_of, **options))


def of_type(findings, kind: str, symbol: str | None = None) -> list[checks.Finding]:
    return [f for f in findings if f.type == kind and (symbol is None or f.symbol == symbol)]


def intraday(symbol: str, day: str, *, start: str = "09:30", end: str | None = None, minutes: int = 1,
             skip: tuple[str, str] | None = None, source: str = "csv", price: float = 50.0,
             volume: float = 5_000) -> pd.DataFrame:
    """One-minute bars of `symbol` on `day` (New York time) from `start` until the session's close (or `end`)."""
    session = pd.Timestamp(day)
    open_, close = calendar.session_bounds(pd.DatetimeIndex([session]))
    first = pd.Timestamp(f"{day} {start}", tz="America/New_York").tz_convert("UTC")
    last = pd.Timestamp(f"{day} {end}", tz="America/New_York").tz_convert("UTC") if end else close.iloc[0]
    stamps = pd.date_range(max(first, open_.iloc[0]), last, freq=f"{minutes}min", inclusive="left")
    if skip:
        low = pd.Timestamp(f"{day} {skip[0]}", tz="America/New_York")
        high = pd.Timestamp(f"{day} {skip[1]}", tz="America/New_York")
        stamps = stamps[(stamps < low) | (stamps >= high)]
    n = len(stamps)
    prices = np.full(n, price)
    return pd.DataFrame({"symbol": symbol, "source": source, "ts": stamps, "open": prices, "high": prices * 1.001,
                         "low": prices * 0.999, "close": prices, "volume": np.full(n, float(volume))})
