"""What other apps may ask of the rules engine. Keep these signatures: monitors/ depends on them."""

from decimal import Decimal

from django.db import transaction

from equity_rules import sla
from equity_rules.models import EquityType, Security, SlaStatus
from tickstock_ops.symbols import normalise_symbol


def current_rules(equity_type: str) -> dict | None:
    """The committed `processing_rules` of an equity type as of now (never a stale cache), or None if unknown.

    Keys of equity types: etf, common_stock, adr, reit, preferred, closed_end_fund, warrant, unit.
    """
    return EquityType.objects.filter(equity_type=equity_type).values_list("processing_rules", flat=True).first()


def securities(symbols: list[str]) -> dict[str, tuple]:
    """(equity type, sector, exchange, listing date) of each of `symbols` found in the security universe; others
    are absent."""
    found = {}
    for start in range(0, len(symbols), 5000):
        rows = (Security.objects.filter(symbol__in=symbols[start:start + 5000])
                .values_list("symbol", "equity_type__equity_type", "sector", "exchange", "listing_date"))
        for symbol, *attributes in rows:
            found[symbol] = tuple(attributes)
    return found


def upsert_security(symbol: str, *, name: str, equity_type: str, exchange: str, sector: str | None = None,
                    average_volume: Decimal | None = None, listing_date=None) -> None:
    """Add or update a security in the universe; IPOs call this when they start trading.

    Attributes not given (None) keep their stored value, so a partial update never erases what an operator
    entered. An unknown equity type is a LookupError naming the known ones.
    """
    kind = EquityType.objects.filter(equity_type=equity_type).first()
    if kind is None:
        known = ", ".join(EquityType.objects.values_list("equity_type", flat=True))
        raise LookupError(f"unknown equity type {equity_type!r} for {symbol}; known: {known}")
    symbol = normalise_symbol(symbol)  # a SymbolError (a ValueError) says why it is no symbol
    with transaction.atomic():
        security, _ = Security.objects.select_for_update().get_or_create(
            symbol=symbol, defaults={"name": name, "equity_type": kind, "exchange": exchange}
        )
        security.name, security.equity_type, security.exchange = name, kind, exchange
        if sector is not None:
            security.sector = sector
        if average_volume is not None:
            security.average_volume = Decimal(average_volume)
        if listing_date is not None:
            security.listing_date = listing_date
        security.full_clean(validate_unique=False)
        security.save()


def sla_verdict(status: SlaStatus | None) -> sla.Verdict:
    """The verdict on an equity type's SLA status ("too few samples to judge", "within target" …) and why."""
    return sla.verdict(status)
