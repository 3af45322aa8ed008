"""IPO news from RSS 2.0 and Atom feeds: "X prices IPO", "X files for IPO" headlines with ticker and company."""

import hashlib
import re
from datetime import date
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import ParseError

import feedparser
from defusedxml import ElementTree as defused
from defusedxml.common import DefusedXmlException
from django.conf import settings

from monitors.ipo import conf
from monitors.ipo.sources.record import Candidate, Fetch
from monitors.ipo.sources.values import date_or_none, decimal_or_none, exchange_mic, int_or_none, text_or_none
from tickstock_ops.http import SourceClient, SourceError

# Headline verb phrase → status; the company is the text before it.
PATTERNS = [
    (re.compile(r"\b(withdraws|withdrew|pulls|cancels)\b.{0,40}\b(IPO|initial public offering)", re.I), "withdrawn"),
    (re.compile(r"\b(postpones|delays|postponed)\b.{0,40}\b(IPO|initial public offering)", re.I), "postponed"),
    (re.compile(r"\b(prices|priced|announces pricing of|announces the pricing of)\b.{0,40}"
                r"\b(IPO|initial public offering)", re.I), "priced"),
    (re.compile(r"\b(sets terms|launches|announces launch of|launch of)\b.{0,40}\b(IPO|initial public offering)",
                re.I), "expected"),
    (re.compile(r"\b(files for|filed for|files to go public|submits draft registration|confidentially (files|"
                r"submits))\b.{0,40}\b(IPO|initial public offering|go public|registration statement)", re.I), "filed"),
]
TICKER = r"([A-Z]{1,5}(?:\.[A-Z]{1,2})?)"
LISTED = re.compile(r"\((NASDAQ|Nasdaq|NYSE American|NYSE MKT|NYSE)[^:)]*:\s*" + TICKER + r"\)")
SYMBOL = re.compile(r"(?:ticker|symbol)\s+(?:symbol\s+)?[\"“']?" + TICKER + r"\b")
BARE_TICKER = re.compile(r"\(([A-Z]{1,5}(?:\.[A-Z])?)\)")
PRICE = re.compile(r"(?:(?:shares|units|priced)\s+at\s+\$(\d+(?:\.\d+)?))|(?:at \$(\d+(?:\.\d+)?) (?:per|a) "
                   r"(?:share|unit))", re.I)
SHARES = re.compile(r"([\d,]{5,}) (?:shares|units)", re.I)
COMPANY_TAIL = re.compile(r"[\s,:;-]+$")


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return date_or_none(value[:10])


def parse_feed(body: bytes) -> list[dict]:
    """Items of an RSS or Atom feed as {guid, title, link, summary, published} (feedparser; the raw XML first
    goes through defusedxml, which refuses entity expansion and external references)."""
    try:
        defused.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise ValueError(f"not a feed we read: {type(error).__name__} ({error})") from None
    except ParseError:
        pass  # not well-formed: feedparser's lenient reading decides
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    if not version or not version.startswith(("rss", "atom", "cdf")):
        problem = parsed.get("bozo_exception")
        raise ValueError(f"not an RSS or Atom feed{f': {problem}' if problem else ''}")
    return [{"guid": entry.get("id") or None, "title": entry.get("title") or None,
             "link": entry.get("link") or None, "summary": entry.get("summary") or None,
             "published": entry.get("published") or entry.get("updated") or None} for entry in parsed.entries]


def classify(item: dict, feed: str) -> Candidate | None:
    """A candidate for a headline about an IPO, or None for any other news."""
    title = text_or_none(item.get("title")) or ""
    summary = re.sub(r"<[^>]+>", " ", item.get("summary") or "")
    found = next(((match, status) for pattern, status in PATTERNS if (match := pattern.search(title))), None)
    if found is None:
        return None
    match, status = found
    text = f"{title} {summary}"
    company = BARE_TICKER.sub("", LISTED.sub("", title[:match.start()]))
    company = COMPANY_TAIL.sub("", company).strip() or None
    listed = LISTED.search(text)
    ticker = listed.group(2) if listed else None
    if not ticker:
        symbol = SYMBOL.search(text) or BARE_TICKER.search(title)
        ticker = symbol.group(1) if symbol else None
    price = PRICE.search(text)
    shares = SHARES.search(text)
    published = _date(item.get("published"))
    key = item.get("guid") or item.get("link") or hashlib.sha256(f"{feed}|{title}".encode()).hexdigest()[:32]
    return Candidate(
        source="news", key=key[:200], raw={**item, "feed": feed}, kind=status, ticker=ticker, company_name=company,
        exchange=exchange_mic(listed.group(1)) if listed else None, status=status,
        filed_date=published if status == "filed" else None,
        offer_price=decimal_or_none(price.group(1) or price.group(2)) if price and status == "priced" else None,
        shares_offered=int_or_none(shares.group(1)) if shares else None,
        creates_ipo=bool(ticker and company),
        note="" if ticker and company else "a headline without both ticker and company only updates a known deal",
        extra={"published": published.isoformat() if published else None},
    )


class NewsClient(SourceClient):
    name = "news"

    def __init__(self, feeds: list[str] | None = None, per_second: float | None = None, **kwargs):
        kwargs.setdefault("limits", conf.http_limits())
        super().__init__("http://localhost/",
                         per_second=conf.get("NEWS_REQUESTS_PER_SECOND") if per_second is None else per_second,
                         headers={"User-Agent": "TickStock Ops IPO monitor",
                                  "Accept": "application/rss+xml, application/atom+xml, application/xml"}, **kwargs)
        self.feeds = list(settings.NEWS_FEED_URLS if feeds is None else feeds)

    @classmethod
    def from_settings(cls) -> "NewsClient | None":
        return cls() if settings.NEWS_FEED_URLS else None

    def fetch_window(self, days: list[date]) -> Fetch:
        """Every feed's IPO headlines published within `days` (undated ones too). A failing feed is an error of
        its own; the other feeds still count."""
        fetch = Fetch(self.name, days)
        first, last = min(days), max(days)
        failures = []
        for feed in self.feeds:
            try:
                response = self.get(feed)
                items = parse_feed(response.content)
            except SourceError as error:
                failures.append(error)
                continue
            except ValueError as error:
                failures.append(SourceError(self.name, f"{feed}: {error}", retryable=True))
                continue
            for item in items:
                candidate = classify(item, feed)
                if candidate is None:
                    continue
                published = date_or_none(candidate.extra.get("published"))
                if published is None or first <= published <= last:
                    fetch.candidates.append(candidate)
        if failures and len(failures) == len(self.feeds):
            raise SourceError(self.name, "; ".join(error.message for error in failures),
                              retryable=any(error.retryable for error in failures))
        fetch.errors.extend(failures)
        return fetch
