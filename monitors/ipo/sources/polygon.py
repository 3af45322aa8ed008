"""Polygon.io / Massive: the IPO list, ticker details and daily aggregates.

`PolygonClient.daily_aggregates()` is public: other apps (data quality) may use it for daily bars.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

from monitors.ipo import conf
from monitors.ipo.sources.record import Candidate, Fetch
from monitors.ipo.sources.values import date_or_none, decimal_or_none, exchange_mic, int_or_none, text_or_none
from tickstock_ops.http import SourceClient, SourceError

log = logging.getLogger(__name__)

# Polygon's lifecycle → ours. `new` (listing day) and `history` (listed) are "priced": the trading-activity
# check moves a deal to `trading` when its first bar is there.
STATUS = {
    "rumor": "expected", "pending": "expected", "direct_listing_process": "expected", "new": "priced",
    "history": "priced", "postponed": "postponed", "withdrawn": "withdrawn",
}
PAGE_LIMIT = 1000


@dataclass(frozen=True)
class Bar:
    day: date
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal | None
    volume: int | None
    vwap: Decimal | None
    trades: int | None


def parse_bars(rows: list) -> list[Bar]:
    """Aggregates `results` as Bars, oldest first; rows without a timestamp are skipped."""
    bars = []
    for row in rows:
        stamp = row.get("t") if isinstance(row, dict) else None
        if not isinstance(stamp, (int, float)):
            continue
        # A daily bar is stamped at the session's start in New York: noon UTC of that stamp is the same day.
        day = (datetime.fromtimestamp(stamp / 1000, tz=UTC) + timedelta(hours=12)).date()
        bars.append(Bar(day=day, open=decimal_or_none(row.get("o")), high=decimal_or_none(row.get("h")),
                        low=decimal_or_none(row.get("l")), close=decimal_or_none(row.get("c")),
                        volume=int_or_none(row.get("v")), vwap=decimal_or_none(row.get("vw")),
                        trades=int_or_none(row.get("n"))))
    return sorted(bars, key=lambda bar: bar.day)


class PolygonClient(SourceClient):
    name = "polygon"

    def __init__(self, api_key: str, base_url: str | None = None, per_minute: float | None = None, **kwargs):
        per_minute = settings.POLYGON_REQUESTS_PER_MINUTE if per_minute is None else per_minute
        kwargs.setdefault("limits", conf.http_limits())
        super().__init__(base_url or settings.POLYGON_BASE_URL, per_second=per_minute / 60.0,
                         headers={"Accept": "application/json"}, **kwargs)
        self.api_key = api_key
        self.warnings: list[str] = []

    @classmethod
    def from_settings(cls) -> "PolygonClient | None":
        """The configured client, or None (with a log line saying so) when no API key is set."""
        if not settings.POLYGON_API_KEY:
            log.warning("polygon: POLYGON_API_KEY is not set; the Polygon/Massive source is disabled")
            return None
        return cls(settings.POLYGON_API_KEY)

    def _with_key(self, url: str) -> str:
        """Polygon's `next_url` cursors come without the key: put it (back) on every URL."""
        parts = urlsplit(self.url(url))
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "apiKey"]
        query.append(("apiKey", self.api_key))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def _pages(self, path: str, params: dict) -> list[dict]:
        """Every result across `next_url` pages. A cursor that repeats ends the walk with a warning."""
        results = []
        url = self._with_key(f"{path}?{urlencode(params)}")
        seen = set()
        while url:
            seen.add(url)
            body = self.get_json(url)
            if not isinstance(body, dict):
                raise SourceError(self.name, f"unexpected response shape from {path}", retryable=True)
            if body.get("status") == "ERROR":
                raise SourceError(self.name, f"{path}: {body.get('error') or body.get('message')}", retryable=True)
            page = body.get("results") or []
            results.extend(item for item in page if isinstance(item, dict))
            next_url = body.get("next_url")
            url = self._with_key(next_url) if next_url else None
            if url in seen:
                self.warnings.append(f"next_url repeats after {len(results)} results ({path}); stopped paging")
                log.warning("polygon: %s", self.warnings[-1])
                break
        return results

    def list_ipos(self, **filters) -> list[dict]:
        """`/vX/reference/ipos` with filters such as `listing_date.gte`; every page."""
        params = {"limit": PAGE_LIMIT, "order": "asc", "sort": "listing_date", **filters}
        return self._pages("/vX/reference/ipos", params)

    def ticker_details(self, ticker: str) -> dict | None:
        """`/v3/reference/tickers/{ticker}` results, or None when Polygon does not know it (yet)."""
        body = self.get_json(self._with_key(f"/v3/reference/tickers/{ticker}"), missing_ok=True)
        if not isinstance(body, dict):
            return None
        results = body.get("results")
        return results if isinstance(results, dict) else None

    def daily_aggregates(self, ticker: str, start: date, end: date, *, adjusted: bool = True) -> list[Bar]:
        """Daily bars of `ticker` from `start` to `end` inclusive, oldest first (empty when none yet).

        Bars whose timestamp is missing are skipped; any other field may be None.
        """
        path = f"/v2/aggs/ticker/{ticker}/range/1/day/{start.isoformat()}/{end.isoformat()}"
        rows = self._pages(path, {"adjusted": str(adjusted).lower(), "sort": "asc", "limit": 50000})
        return parse_bars(rows)

    # The scan's units of work

    def fetch_window(self, days: list[date], *, upcoming: bool = False) -> Fetch:
        """IPOs listing on any of `days` (for a live scan, also in the days before and the weeks after)."""
        fetch = Fetch(self.name, days)
        first = min(days) - timedelta(days=conf.get("IPO_RECENT_DAYS") if upcoming else 0)
        last = max(days) + timedelta(days=conf.get("IPO_UPCOMING_DAYS") if upcoming else 0)
        self.warnings = []
        rows = self.list_ipos(**{"listing_date.gte": first.isoformat(), "listing_date.lte": last.isoformat()})
        if upcoming:  # pending deals without a listing date yet escape the date filter
            rows += [row for row in self.list_ipos(ipo_status="pending") if not row.get("listing_date")]
        for row in rows:
            try:
                candidate = self.candidate(row)
            except Exception as error:  # one odd item must not sink the page
                fetch.errors.append((row.get("ticker"), f"unreadable IPO item: {error!r}"))
                continue
            if candidate is not None:
                fetch.candidates.append(candidate)
        fetch.errors.extend(SourceError(self.name, warning, retryable=True) for warning in self.warnings)
        return fetch

    def candidate(self, row: dict) -> Candidate | None:
        ticker = text_or_none(row.get("ticker"))
        name = text_or_none(row.get("issuer_name"))
        if not ticker and not name:
            return None
        status = STATUS.get(str(row.get("ipo_status") or "").lower())
        listing = date_or_none(row.get("listing_date"))
        security_type = (text_or_none(row.get("security_type")) or "").upper() or None
        identity = row.get("us_code") or row.get("isin") or name
        return Candidate(
            source=self.name, key=f"{ticker}|{identity}", raw=row, kind=str(row.get("ipo_status") or ""),
            ticker=ticker.upper() if ticker else None, company_name=name,
            exchange=exchange_mic(row.get("primary_exchange")), status=status,
            expected_date=listing if status in ("expected", "postponed") else None,
            listing_date=listing if status == "priced" else None,
            offer_price=decimal_or_none(row.get("final_issue_price")),
            price_low=decimal_or_none(row.get("lowest_offer_price")),
            price_high=decimal_or_none(row.get("highest_offer_price")),
            shares_offered=int_or_none(row.get("max_shares_offered") or row.get("min_shares_offered")),
            shares_outstanding=int_or_none(row.get("shares_outstanding")),
            security_type=security_type,
        )


def details_candidate(details: dict, ticker: str | None) -> Candidate:
    """Ticker details (`/v3/reference/tickers/{ticker}`) as what Polygon says about a known deal: SIC, CIK,
    description, shares outstanding."""
    cik = text_or_none(details.get("cik"))
    return Candidate(
        source=PolygonClient.name, key=f"details:{details.get('ticker') or ticker}", raw=details,
        kind="ticker_details", cik=str(int(cik)) if cik and cik.isdigit() else None,
        company_name=text_or_none(details.get("name")), exchange=exchange_mic(details.get("primary_exchange")),
        sic_code=text_or_none(details.get("sic_code")), description=text_or_none(details.get("description")),
        shares_outstanding=int_or_none(details.get("share_class_shares_outstanding")
                                       or details.get("weighted_shares_outstanding")),
        security_type=text_or_none(details.get("type")), creates_ipo=False,
    )
