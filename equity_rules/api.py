"""What other apps may ask of the rules engine. Keep these signatures: monitors/ depends on them."""

from decimal import Decimal


def current_rules(equity_type: str) -> dict | None:
    """The committed `processing_rules` of an equity type as of now (never a stale cache), or None if unknown.

    Keys of equity types: etf, common_stock, adr, reit, preferred, closed_end_fund, warrant, unit.
    """
    raise NotImplementedError("implemented by the rules engine (issue 4)")


def upsert_security(symbol: str, *, name: str, equity_type: str, exchange: str, sector: str | None = None,
                    average_volume: Decimal | None = None, listing_date=None) -> None:
    """Add or update a security in the universe; IPOs call this when they start trading."""
    raise NotImplementedError("implemented by the rules engine (issue 4)")
