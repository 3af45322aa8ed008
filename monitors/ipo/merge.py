"""Merging what the sources say into IPO rows.

Matching: the same deal is the IPO with the same CIK, else the same ticker (a SPAC's units `ABCDU` also match
`ABCD`), else the same normalised company name — never one whose CIK differs.

Field precedence (first source that has a value wins; within a source, its most recent record):
ticker, exchange, dates, prices and shares: Polygon > Nasdaq > SEC > news — the exchanges' own reference data
first; CIK, company name and SIC: SEC > Polygon > Nasdaq > news — the filer's own registration first.
A value an operator set in the admin wins over every source (kept as the deal's `manual` record).
Where sources disagree the winner is used and the disagreement is kept as a `Conflict` until they agree.

Status follows the deal's lifecycle, whichever source reports it: filed → expected → priced → trading, never
backwards; a withdrawal or postponement moves any deal not yet trading; a postponed deal that gets a new date
or a price moves on again; a withdrawn deal only comes back when a source says it priced.
"""

import hashlib
import json
from decimal import Decimal
from typing import NamedTuple

from django.utils import timezone

from monitors.ipo.models import IPO, Conflict
from monitors.ipo.names import name_key, unit_root
from monitors.ipo.sources.record import Candidate
from monitors.ipo.sources.values import date_or_none, decimal_or_none, int_or_none

MANUAL = "manual"  # an operator's correction in the admin: it wins over every source
LISTING_FIRST = (MANUAL, "polygon", "nasdaq", "sec", "news")
FILER_FIRST = (MANUAL, "sec", "polygon", "nasdaq", "news")
PRECEDENCE = {
    "ticker": LISTING_FIRST,
    "exchange": LISTING_FIRST,
    "listing_date": LISTING_FIRST,
    "expected_date": LISTING_FIRST,
    "offer_price": LISTING_FIRST,
    "price_low": LISTING_FIRST,
    "price_high": LISTING_FIRST,
    "shares_offered": LISTING_FIRST,
    "shares_outstanding": LISTING_FIRST,
    "security_type": LISTING_FIRST,
    "filed_date": FILER_FIRST,
    "cik": FILER_FIRST,
    "company_name": FILER_FIRST,
    "sic_code": FILER_FIRST,
    "description": FILER_FIRST,
}
CONFLICT_FIELDS = ("ticker", "cik", "exchange", "listing_date", "offer_price", "shares_offered", "shares_outstanding",
                   "sic_code", "company_name")
DECIMAL_FIELDS = {"offer_price", "price_low", "price_high"}
INT_FIELDS = {"shares_offered", "shares_outstanding"}
DATE_FIELDS = {"listing_date", "expected_date", "filed_date"}

RECORD_FIELDS = ("ipo_id", "source", "parsed", "fetched_at")  # what a merge reads of a record


class RecordView(NamedTuple):
    ipo_id: int
    source: str
    parsed: dict
    fetched_at: object


def record_views(queryset) -> list[RecordView]:
    """Records as the merge reads them: lighter than model instances, for deals with many records."""
    return [RecordView(*row) for row in queryset.values_list(*RECORD_FIELDS)]


RANK = {"filed": 0, "expected": 1, "postponed": 1, "priced": 2, "trading": 3, "withdrawn": 1}

def content_hash(candidate: Candidate) -> str:
    body = json.dumps({"raw": candidate.raw, "parsed": candidate.parsed(), "note": candidate.note}, sort_keys=True,
                      default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class DealIndex:
    """Lookup of known deals by CIK, ticker and name, loaded once per run and kept current as it writes."""

    def __init__(self):
        self.by_cik: dict[str, int] = {}
        self.by_ticker: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        self.ciks: dict[int, str | None] = {}
        for ipo_id, cik, ticker, key, is_spac in IPO.objects.values_list("id", "cik", "ticker", "name_key",
                                                                            "is_spac").order_by("id"):
            self.add(ipo_id, cik, ticker, key, is_spac)

    def add(self, ipo_id: int, cik, ticker, key, is_spac: bool = False) -> None:
        if cik:
            self.by_cik.setdefault(cik, ipo_id)
        if ticker:
            self.by_ticker.setdefault(ticker, ipo_id)
            root = unit_root(ticker) if is_spac else None
            if root:
                self.by_ticker.setdefault(root, ipo_id)
        if key:
            self.by_name.setdefault(key, ipo_id)
        self.ciks[ipo_id] = cik or self.ciks.get(ipo_id)

    def snapshot(self) -> tuple:
        return dict(self.by_cik), dict(self.by_ticker), dict(self.by_name), dict(self.ciks)

    def restore(self, state: tuple) -> None:
        self.by_cik, self.by_ticker, self.by_name, self.ciks = (dict(part) for part in state)

    def rename(self, ids: dict[int, int]) -> None:
        """Replace provisional ids (of deals about to be inserted in bulk) with their real ones."""
        for table in (self.by_cik, self.by_ticker, self.by_name):
            for key, value in table.items():
                if value in ids:
                    table[key] = ids[value]
        for old, new in ids.items():
            self.ciks[new] = self.ciks.pop(old, None)

    def remember(self, ipo: IPO) -> None:
        self.add(ipo.id, ipo.cik, ipo.ticker, ipo.name_key, ipo.is_spac)

    def find(self, candidate: Candidate) -> int | None:
        if candidate.cik and candidate.cik in self.by_cik:
            return self.by_cik[candidate.cik]
        tickers = [candidate.ticker] if candidate.ticker else []
        if candidate.security_type == "UNIT" and unit_root(candidate.ticker):
            tickers.append(unit_root(candidate.ticker))
        for found in (self.by_ticker.get(t) for t in tickers):
            if found is not None and self._cik_compatible(found, candidate):
                return found
        key = name_key(candidate.company_name)
        found = self.by_name.get(key) if key else None
        if found is not None and self._cik_compatible(found, candidate):
            return found
        return None

    def _cik_compatible(self, ipo_id: int, candidate: Candidate) -> bool:
        known = self.ciks.get(ipo_id)
        return not (known and candidate.cik and known != candidate.cik)


def _typed(field: str, value):
    if value is None:
        return None
    if field in DECIMAL_FIELDS:
        return decimal_or_none(value)
    if field in INT_FIELDS:
        return int_or_none(value)
    if field in DATE_FIELDS:
        return date_or_none(value)
    return value


def _same(field: str, a, b) -> bool:
    if field == "company_name":
        return name_key(a) == name_key(b)
    if field in DECIMAL_FIELDS:
        return abs(Decimal(str(a)) - Decimal(str(b))) < Decimal("0.005")
    return a == b


def recompute(ipo: IPO, records: list[RecordView] | None = None,
              conflicts: dict[str, Conflict] | None = None) -> None:
    """Set the merged fields of `ipo` from all its records by precedence; keep disagreements as conflicts.
    `records` and `conflicts` (by field) may be given when the caller loaded them in bulk."""
    records = record_views(ipo.records.all()) if records is None else list(records)
    records.sort(key=lambda r: (r.parsed.get("filed_date") or "", r.fetched_at), reverse=True)
    now = timezone.now()
    seen_sources = []
    for record in records:
        if record.source not in seen_sources and record.source != MANUAL:
            seen_sources.append(record.source)
    ipo.sources = sorted(seen_sources, key=LISTING_FIRST.index)
    if conflicts is None:
        conflicts = {c.field: c for c in ipo.conflicts.all()} if ipo.pk else {}
    existing = conflicts
    for field, order in PRECEDENCE.items():
        by_source: dict[str, object] = {}
        for record in records:
            value = record.parsed.get(field)
            if value not in (None, "") and record.source not in by_source:
                by_source[record.source] = value
        if not by_source:
            continue
        winner = next(source for source in order if source in by_source)
        setattr(ipo, field, _typed(field, by_source[winner]))
        if field not in CONFLICT_FIELDS:
            continue
        disagree = any(not _same(field, by_source[winner], value) for value in by_source.values())
        conflict = existing.get(field)
        if disagree:
            if conflict is None:
                Conflict.objects.create(ipo=ipo, field=field, values=by_source, chosen_source=winner,
                                        chosen_value=by_source[winner], first_seen=now, last_seen=now)
            elif conflict.values != by_source or conflict.resolved:
                conflict.values, conflict.chosen_source, conflict.chosen_value = by_source, winner, by_source[winner]
                conflict.resolved, conflict.last_seen = False, now
                conflict.save()
        elif conflict is not None and not conflict.resolved:
            conflict.resolved, conflict.last_seen = True, now
            conflict.save(update_fields=["resolved", "last_seen"])


def allowed(current: str, new: str) -> bool:
    """Whether the lifecycle lets a deal move from `current` to `new` (see the module's docstring)."""
    if current == IPO.Status.TRADING:
        return False
    if new in (IPO.Status.WITHDRAWN, IPO.Status.POSTPONED):
        return current != IPO.Status.WITHDRAWN or new == IPO.Status.WITHDRAWN
    if current == IPO.Status.WITHDRAWN:
        return new in (IPO.Status.PRICED, IPO.Status.TRADING)
    if current == IPO.Status.POSTPONED:
        return new in (IPO.Status.EXPECTED, IPO.Status.PRICED, IPO.Status.TRADING)
    return RANK[new] > RANK[current]
