"""Nasdaq's (unofficial) IPO calendar: one month per request, four sections, every value a string."""

from datetime import date

from django.conf import settings

from monitors.ipo import conf
from monitors.ipo.sources.record import Candidate, Fetch
from monitors.ipo.sources.values import (
    date_or_none,
    decimal_or_none,
    exchange_mic,
    int_or_none,
    price_range,
    text_or_none,
)
from tickstock_ops.http import SourceClient, SourceError

SECTIONS = {"priced": "priced", "upcoming": "expected", "filed": "filed", "withdrawn": "withdrawn"}
DEAL_STATUS = {"priced": "priced", "expected": "expected", "filed": "filed", "withdrawn": "withdrawn",
               "postponed": "postponed"}
SPAC_UNIT_PRICE = 10


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def section_rows(data: dict, section: str) -> list:
    block = data.get(section) or {}
    if section == "upcoming":
        block = block.get("upcomingTable") or {}
    rows = block.get("rows") if isinstance(block, dict) else None
    return rows if isinstance(rows, list) else []


def calendar_candidates(data: dict, month: str) -> tuple[list[Candidate], list]:
    """Candidates from every section of one month's calendar `data`, one per deal (`latest_stages`)."""
    candidates, errors = [], []
    for section, status in SECTIONS.items():
        for row in section_rows(data, section):
            if not isinstance(row, dict):
                errors.append((None, f"calendar {month} {section}: a row that is not an object"))
                continue
            item = candidate(row, section, status)
            if item is not None:
                candidates.append(item)
    return latest_stages(candidates), errors


STAGE = {"filed": 0, "expected": 1, "postponed": 2, "withdrawn": 2, "priced": 3}
FIELDS = ("ticker", "company_name", "exchange", "filed_date", "expected_date", "listing_date", "offer_price",
          "price_low", "price_high", "shares_offered", "security_type")


def latest_stages(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per deal seen in several sections (or months) of one fetch: its most advanced stage — a
    withdrawal or postponement dated on or after the pricing wins over it — with every field any section gave."""
    by_deal: dict[str, list[Candidate]] = {}
    for item in candidates:
        by_deal.setdefault(item.key, []).append(item)
    return [_combine(items) if len(items) > 1 else items[0] for items in by_deal.values()]


def _combine(items: list[Candidate]) -> Candidate:
    ranked = sorted(items, key=_stage, reverse=True)
    best = ranked[0]
    for other in ranked[1:]:
        for name in FIELDS:
            if getattr(best, name) is None and getattr(other, name) is not None:
                setattr(best, name, getattr(other, name))
    best.raw = {**best.raw, "sections": {item.kind: item.raw for item in reversed(ranked)}}
    return best


def _stage(item: Candidate) -> tuple:
    stage = STAGE.get(item.status or "", 0)
    if item.status in ("withdrawn", "postponed"):
        ended = date_or_none(item.raw.get("withdrawDate")) or date_or_none(item.raw.get("postponedDate"))
        return (3 if ended else stage), ended or date.min, 1
    return stage, item.listing_date or item.expected_date or date.min, 0


class NasdaqClient(SourceClient):
    name = "nasdaq"

    def __init__(self, base_url: str | None = None, per_second: float | None = None, **kwargs):
        kwargs.setdefault("limits", conf.http_limits())
        super().__init__(base_url or settings.NASDAQ_BASE_URL,
                         per_second=conf.get("NASDAQ_REQUESTS_PER_SECOND") if per_second is None else per_second,
                         headers={"User-Agent": conf.get("NASDAQ_USER_AGENT"), "Accept": "application/json"},
                         **kwargs)

    @classmethod
    def from_settings(cls) -> "NasdaqClient":
        return cls()

    def calendar(self, month: str) -> dict:
        body = self.get_json("/api/ipo/calendar", {"date": month})
        if not isinstance(body, dict):
            raise SourceError(self.name, f"calendar {month}: not a JSON object", retryable=True)
        data = body.get("data")
        if not isinstance(data, dict):
            status = body.get("status") or {}
            message = status.get("developerMessage") or body.get("message") or "no data"
            raise SourceError(self.name, f"calendar {month}: {message}", retryable=True)
        return data

    def fetch_months(self, months: list[str], days: list[date]) -> Fetch:
        fetch = Fetch(self.name, days)
        candidates = []
        for month in months:
            found, errors = calendar_candidates(self.calendar(month), month)
            candidates += found
            fetch.errors += errors
        fetch.candidates = latest_stages(candidates)
        return fetch


def candidate(row: dict, section: str, status: str) -> Candidate | None:
    ticker = text_or_none(row.get("proposedTickerSymbol"))
    name = text_or_none(row.get("companyName"))
    if not ticker and not name:
        return None
    status = DEAL_STATUS.get(str(row.get("dealStatus") or "").strip().lower(), status)
    low, high = price_range(row.get("proposedSharePrice"))
    priced_on = date_or_none(row.get("pricedDate"))
    is_unit = bool(ticker and ticker.upper().endswith("U") and low == high == SPAC_UNIT_PRICE)
    deal = text_or_none(row.get("dealID")) or f"{ticker}|{name}"
    return Candidate(
        source=NasdaqClient.name, key=deal, raw=row, kind=section, ticker=ticker.upper() if ticker else None,
        company_name=name, exchange=exchange_mic(row.get("proposedExchange")), status=status,
        filed_date=date_or_none(row.get("filedDate")),
        expected_date=date_or_none(row.get("expectedPriceDate")) or priced_on,
        listing_date=priced_on if status == "priced" else None,
        offer_price=low if status == "priced" and low == high else None,
        price_low=low, price_high=high, shares_offered=int_or_none(row.get("sharesOffered")),
        security_type="UNIT" if is_unit else None,
        extra={"offer_amount": str(decimal_or_none(row.get("dollarValueOfSharesOffered")) or "")},
    )
