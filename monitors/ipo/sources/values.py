"""Tolerant parsers for the values sources send: every field may be missing, empty or oddly formatted."""

import functools
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
UNSIGNED = re.compile(r"\d+(?:\.\d+)?")


def decimal_or_none(value) -> Decimal | None:
    """`16`, `16.5`, `"16.00"`, `"$210,000,000"` → Decimal; anything else → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    match = NUMBER.search(str(value).replace(",", "").replace("$", ""))
    if not match:
        return None
    try:
        return Decimal(match.group())
    except InvalidOperation:
        return None


def int_or_none(value) -> int | None:
    number = decimal_or_none(value)
    return int(number) if number is not None else None


def price_range(value) -> tuple[Decimal | None, Decimal | None]:
    """`"4.00-6.00"` → (4, 6); `"16.00"` → (16, 16); None → (None, None)."""
    if value is None:
        return None, None
    numbers = [Decimal(n) for n in UNSIGNED.findall(str(value).replace(",", "").replace("$", ""))]
    if not numbers:
        return None, None
    return min(numbers), max(numbers)


def date_or_none(value) -> date | None:
    """ISO `2024-06-07`, US `6/28/2024` or `7/02/2024`, compact `20260930` → date; else None."""
    if not value or not isinstance(value, str):
        return None
    return _parse_date(value.strip())


@functools.lru_cache(maxsize=16384)
def _parse_date(text: str) -> date | None:
    for layout in ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d"):
        try:
            return datetime.strptime(text[:10] if layout == "%Y-%m-%d" else text, layout).date()
        except ValueError:
            continue
    return None


def text_or_none(value) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


EXCHANGE_MICS = {
    "XNAS": "XNAS", "XNYS": "XNYS", "XASE": "XASE", "ARCX": "ARCX", "BATS": "BATS",
    "NASDAQ": "XNAS", "NASDAQ GLOBAL SELECT": "XNAS", "NASDAQ GLOBAL": "XNAS", "NASDAQ CAPITAL": "XNAS",
    "NASDAQ GLOBAL MARKET": "XNAS", "NASDAQ CAPITAL MARKET": "XNAS", "NASDAQ GLOBAL SELECT MARKET": "XNAS",
    "NYSE": "XNYS", "NEW YORK STOCK EXCHANGE": "XNYS",
    "NYSE MKT": "XASE", "NYSE AMERICAN": "XASE", "AMEX": "XASE", "NYSE ARCA": "ARCX", "CBOE": "BATS",
}


def exchange_mic(value) -> str | None:
    """An exchange as its ISO 10383 MIC, from a MIC or any name a source uses; None when unknown."""
    if not value:
        return None
    return EXCHANGE_MICS.get(" ".join(str(value).upper().replace("-", " ").split()))
