"""The one place where quality thresholds and symbols' profiles (equity type, sector, exchange) are resolved:
the equity type's `quality` rules first, then settings defaults (`conf.py`)."""

import logging
from dataclasses import dataclass

from monitors.quality import conf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Profile:
    equity_type: str
    sector: str | None
    exchange: str


def thresholds_for(equity_type: str) -> dict:
    """Thresholds of `equity_type`: its rules' `quality` overrides (None = no override), then the defaults."""
    resolved = conf.thresholds()
    overrides = _quality_rules(equity_type)
    for key in resolved:
        value = overrides.get(key)
        if value is not None:
            resolved[key] = float(value)
    return resolved


def _quality_rules(equity_type: str) -> dict:
    from equity_rules.api import current_rules

    try:
        rules = current_rules(equity_type)
    except NotImplementedError:
        return {}
    return (rules or {}).get("quality") or {}


def symbol_profiles(symbols: list[str]) -> dict[str, Profile]:
    """Each symbol's equity type, sector and exchange from the security universe, defaults where unknown."""
    default = Profile(conf.get("QUALITY_DEFAULT_EQUITY_TYPE"), None, conf.get("QUALITY_DEFAULT_EXCHANGE"))
    known = _universe(symbols)
    return {symbol: known.get(symbol, default) for symbol in symbols}


def _universe(symbols: list[str]) -> dict[str, Profile]:
    try:
        from equity_rules.models import Security
    except ImportError:
        return {}
    default_type = conf.get("QUALITY_DEFAULT_EQUITY_TYPE")
    default_exchange = conf.get("QUALITY_DEFAULT_EXCHANGE")
    found = {}
    for start in range(0, len(symbols), 5000):
        rows = Security.objects.filter(symbol__in=symbols[start:start + 5000]).select_related("equity_type")
        for security in rows:
            found[security.symbol] = Profile(
                equity_type=getattr(security.equity_type, "equity_type", None) or default_type,
                sector=security.sector or None,
                exchange=security.exchange or default_exchange,
            )
    return found
