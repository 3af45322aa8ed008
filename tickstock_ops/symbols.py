"""Ticker symbols: the one check every way a symbol enters the project goes through (IPO sources, securities,
bars). docs/symbols.md states the rule.

A symbol is 1–10 upper-case letters or digits, optionally after an index or market prefix (`^GSPC`, `I:SPX`) and
followed by up to two share-class, instrument or venue suffixes after `.`, `-`, `/` or `=` (`BRK.B`, `BF-B`,
`ABC.WS`, `XYZ/U`, `AGM.PR.D`, `AAPL.US`), at most 20 characters. Input is trimmed and upper-cased first, so
`brk.b ` is `BRK.B`; anything else (markup, spaces inside, other punctuation) is refused."""

import re

from django.core.exceptions import ValidationError

MAX_LENGTH = 20
PATTERN = re.compile(r"(?:\^|[A-Z]:)?[A-Z0-9]{1,10}(?:[.\-/=][A-Z0-9]{1,5}){0,2}")
PUNCTUATION = ".-/=^:"


class SymbolError(ValueError):
    """A value that is not a ticker symbol; the message says why."""


def normalise_symbol(value) -> str:
    """The symbol `value` names, trimmed and upper-cased, or SymbolError saying why it is not one."""
    if not isinstance(value, str):
        raise SymbolError(f"symbol {value!r} is not text")
    text = value.strip().upper()
    if not text:
        raise SymbolError("symbol is empty")
    if len(text) > MAX_LENGTH:
        raise SymbolError(f"symbol {text[:40]!r} is longer than {MAX_LENGTH} characters")
    if not PATTERN.fullmatch(text):
        odd = sorted({char for char in text if not (char.isascii() and (char.isalnum() or char in PUNCTUATION))})
        why = f"contains {''.join(odd)!r}" if odd else "is not letters/digits with at most two .-/= suffixes"
        raise SymbolError(f"symbol {text!r} {why}")
    return text


def validate_symbol(value) -> None:
    """A Django field validator: a stored symbol must already be in its normalised form."""
    try:
        normal = normalise_symbol(value)
    except SymbolError as error:
        raise ValidationError(str(error), code="invalid_symbol") from None
    if normal != value:
        raise ValidationError(f"symbol {value!r} must be written {normal!r}", code="invalid_symbol")
