"""The one place where quality thresholds and symbols' profiles (equity type, sector, exchange) are resolved:
the equity type's `quality` rules first (None or absent = no override), then settings defaults (`conf.py`)."""

from dataclasses import dataclass
from datetime import date

from equity_rules.api import current_rules, securities
from monitors.quality import conf


@dataclass(frozen=True)
class Profile:
    equity_type: str
    sector: str | None
    exchange: str
    listing: date | None = None


def thresholds_for(equity_type: str) -> dict:
    """Thresholds of `equity_type`, resolved now (a rules change applies to the very next scan)."""
    resolved = conf.thresholds()
    overrides = (current_rules(equity_type) or {}).get("quality") or {}
    for key in resolved:
        value = overrides.get(key)
        if value is not None:
            resolved[key] = float(value)
    return resolved


def symbol_profiles(symbols: list[str]) -> dict[str, Profile]:
    """Each symbol's equity type, sector and exchange from the security universe; defaults where unknown."""
    default_type = conf.get("QUALITY_DEFAULT_EQUITY_TYPE")
    default_exchange = conf.get("QUALITY_DEFAULT_EXCHANGE")
    found = {symbol: Profile(equity_type or default_type, sector or None, exchange or default_exchange, listed)
             for symbol, (equity_type, sector, exchange, listed) in securities(symbols).items()}
    default = Profile(default_type, None, default_exchange)
    return {symbol: found.get(symbol, default) for symbol in symbols}
