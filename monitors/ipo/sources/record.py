"""What a source client hands to the merge: one normalised item, with the raw payload it came from."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from tickstock_ops.symbols import SymbolError, normalise_symbol


@dataclass
class Candidate:
    source: str
    key: str  # the item's identity within its source (deal id, accession number, feed guid …)
    raw: dict
    kind: str = ""  # form type, calendar section, Polygon ipo_status …
    ticker: str | None = None
    cik: str | None = None
    company_name: str | None = None
    exchange: str | None = None  # MIC
    status: str | None = None  # one of IPO.Status, or None when the item says nothing about it
    filed_date: date | None = None
    expected_date: date | None = None
    listing_date: date | None = None
    offer_price: Decimal | None = None
    price_low: Decimal | None = None
    price_high: Decimal | None = None
    shares_offered: int | None = None
    shares_outstanding: int | None = None
    sic_code: str | None = None
    description: str | None = None
    security_type: str | None = None
    creates_ipo: bool = True  # False: may only update a deal another item created (EFFECT, RW, S-1MEF …)
    note: str = ""  # why it creates no deal (kept on the record when it matches none, or when a follow-on)
    follow_on: bool = False  # a later filing of an already-listed company: a note on its deal, nothing more
    extra: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what was refused from the item, for the scan to report

    def __post_init__(self):
        if self.ticker is not None:  # every IPO ticker enters here, from every source
            try:
                self.ticker = normalise_symbol(self.ticker)
            except SymbolError as error:
                self.problems.append(f"{self.source} {self.key}: ticker refused: {error}")
                self.ticker = None
        if self.status == "expected" and self.expected_date is None and self.listing_date is None:
            self.status = "filed"  # `expected` means a date is set: until then the deal is only filed

    def parsed(self) -> dict:
        """The normalised fields as JSON-ready values (kept on the SourceRecord)."""
        out = {}
        for name in ("ticker", "cik", "company_name", "exchange", "status", "filed_date", "expected_date",
                     "listing_date", "offer_price", "price_low", "price_high", "shares_offered",
                     "shares_outstanding", "sic_code", "description", "security_type"):
            value = getattr(self, name)
            if value is None or value == "":
                continue
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            out[name] = value
        return out


@dataclass
class Fetch:
    """The outcome of one source's work for one unit (a day, a month, a window)."""

    source: str
    days: list[date]
    candidates: list[Candidate] = field(default_factory=list)
    errors: list = field(default_factory=list)  # SourceError for the unit, or (key, message) for a bad item
    note: str = ""
