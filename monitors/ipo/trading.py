"""The trading-activity check: has a priced or expected IPO traded yet? Its first daily bar says so."""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from equity_rules import api as rules_api
from monitors.ipo import conf, enrich, ingest
from monitors.ipo.clock import new_york_today
from monitors.ipo.models import IPO, ScanRun
from monitors.ipo.sources.polygon import Bar, PolygonClient, details_candidate
from tickstock_ops.http import DEADLINE, SourceError

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 5  # a deal's listing date may be a day or two off between sources


@dataclass
class TradingResult:
    date: date
    checked: int = 0
    started: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    disabled: str = ""
    touched: list[int] = field(default_factory=list)  # deals whose trading record changed

    def as_json(self) -> dict:
        """docs/commands.md: `{"date", "checked", "started": [ticker], "errors": [..]}`."""
        errors = [self.disabled] if self.disabled else []
        return {"date": self.date.isoformat(), "checked": self.checked, "started": list(self.started),
                "errors": errors + list(self.errors)}


def due(day: date, since: date | None = None) -> list[IPO]:
    """Deals that may have started trading by `day` (due from their listing or expected date until
    IPO_TRADING_CHECK_DAYS after it, or since `since` for a backfill), and trading deals still collecting their
    first sessions."""
    since = since or day
    oldest = since - timedelta(days=conf.get("IPO_TRADING_CHECK_DAYS"))
    waiting = [ipo for ipo in IPO.objects.filter(status__in=[IPO.Status.PRICED, IPO.Status.EXPECTED])
               .exclude(ticker=None).order_by("pk")
               if (ipo.listing_date or ipo.expected_date) and oldest <= (ipo.listing_date or ipo.expected_date) <= day]
    recent = oldest - timedelta(days=3 * conf.get("IPO_FIRST_DAYS"))
    young = [ipo for ipo in IPO.objects.filter(status=IPO.Status.TRADING, first_trade_date__gte=recent,
                                               first_trade_date__lte=day).exclude(ticker=None).order_by("pk")
             if len(ipo.first_days_volumes) < conf.get("IPO_FIRST_DAYS")]
    return [ipo for ipo in waiting + young if not _checked_through(ipo, day)]


def _checked_through(ipo: IPO, day: date) -> bool:
    checked = ipo.trading_checked or {}
    return checked.get("ticker") == ipo.ticker and str(checked.get("through") or "") >= day.isoformat()


def check_trading(day: date | None = None, client: PolygonClient | None = None, ipos: list[IPO] | None = None,
                  *, since: date | None = None, within_scan: bool = False) -> TradingResult:
    """The trading-activity check as of `day` (default today in New York), with bars up to that day. On its
    own it keeps a run record and announces `validated`; `within_scan`, the scan does both for it."""
    day = day or new_york_today()
    result = TradingResult(day)
    client = client or PolygonClient.from_settings()
    if client is None:
        result.disabled = "POLYGON_API_KEY is not set: trading activity cannot be checked"
        return result
    nothing_new = []
    for ipo, bars in _bars_of(ipos if ipos is not None else due(day, since), client, day):
        result.checked += 1
        try:
            if isinstance(bars, SourceError):
                raise bars
            changed, started = _record(ipo, bars, client)
        except SourceError as error:
            out_of_time = error.status == DEADLINE
            result.errors.append(error.message if out_of_time else f"{ipo.ticker}: {error.message}")
            with transaction.atomic():
                ingest.report_error("polygon", f"trading check of {ipo.ticker}: {error.message}",
                                    retryable=error.retryable, ticker=ipo.ticker, alert=out_of_time)
            if out_of_time:
                break
            continue
        if changed:
            result.touched.append(ipo.pk)
        else:
            nothing_new.append(ipo)
        if started:
            result.started.append(ipo.ticker)
    if day < new_york_today():  # a past day's bars are final; today's may still come
        ingest.mark_trading_checked(nothing_new, day)
    if not within_scan:
        ingest.announce_validated(result.touched)
        ScanRun.objects.create(kind=ScanRun.Kind.TRADING, start_date=since or day, end_date=day, sources=["polygon"],
                               stats={"polygon": {"fetched": result.checked, "errors": len(result.errors),
                                                  "requests": client.requests_made}},
                               errors=result.errors, ipos_touched=len(result.touched), finished_at=timezone.now())
    return result


def _bars_of(ipos: list[IPO], client: PolygonClient, day: date):
    """(deal, its daily bars with volume up to `day`, or the SourceError that stopped us), in order. The requests
    run on a few threads (within the client's throttle); the writes stay on the caller's."""
    def fetch(ipo: IPO):
        start = (ipo.first_trade_date or ipo.listing_date or ipo.expected_date or day) - timedelta(days=LOOKBACK_DAYS)
        try:
            return [bar for bar in client.daily_aggregates(ipo.ticker, start, day) if bar.volume and bar.day <= day]
        except SourceError as error:
            return error

    with ThreadPoolExecutor(max_workers=conf.get("IPO_TRADING_FETCH_THREADS")) as pool:
        yield from zip(ipos, pool.map(fetch, ipos), strict=True)


def _record(ipo: IPO, bars: list[Bar], client: PolygonClient) -> tuple[bool, bool]:
    """Hand over the deal's first sessions when they are new: (whether its trading record changed, whether it
    started trading now)."""
    volumes = [bar.volume for bar in bars[:conf.get("IPO_FIRST_DAYS")]]
    if not bars or (ipo.status == IPO.Status.TRADING and volumes == ipo.first_days_volumes):
        return False, False
    details = client.ticker_details(ipo.ticker) if not ipo.sic_code or not ipo.shares_outstanding else None
    return True, record_bars(ipo, bars, details)


def record_bars(ipo: IPO, bars: list[Bar], details: dict | None = None) -> bool:
    """Hand the deal's first sessions (and its ticker details) to the writer; a deal that trades joins the
    equity universe. True when it started trading now. The caller announces `validated`."""
    sessions = [bar for bar in bars if bar.volume][:conf.get("IPO_FIRST_DAYS")]
    if not sessions:
        return False
    first = sessions[0]
    with transaction.atomic():
        ipo, started = ingest.record_first_sessions(
            ipo.pk, first.day, first.open, [bar.volume for bar in sessions],
            details_candidate(details, ipo.ticker) if details else None)
        _join_universe(ipo)
    return started


def _join_universe(ipo: IPO) -> None:
    average = sum(ipo.first_days_volumes) / len(ipo.first_days_volumes)
    try:
        with transaction.atomic():
            rules_api.upsert_security(ipo.ticker, name=ipo.company_name, equity_type=enrich.equity_type(ipo),
                                      exchange=ipo.exchange, sector=ipo.sector,
                                      average_volume=Decimal(average).quantize(Decimal("1")),
                                      listing_date=ipo.first_trade_date)
    except (LookupError, ValueError, ValidationError) as error:
        ingest.report_error("polygon", f"{ipo.ticker} trades but cannot join the universe: {error}"[:1000],
                            retryable=False, ticker=ipo.ticker)
