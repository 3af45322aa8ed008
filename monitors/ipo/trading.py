"""The trading-activity check: has a priced or expected IPO traded yet? Its first daily bar says so."""

import logging
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
from monitors.ipo.sources import SourceError
from monitors.ipo.sources.polygon import Bar, PolygonClient, details_candidate

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 5  # a deal's listing date may be a day or two off between sources


@dataclass
class TradingResult:
    checked: int = 0
    started: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    disabled: str = ""


def due(today: date):
    """Deals that may have started trading, and trading deals still collecting their first sessions."""
    waiting = IPO.objects.filter(status__in=[IPO.Status.PRICED, IPO.Status.EXPECTED]).exclude(ticker=None)
    waiting = [ipo for ipo in waiting if (ipo.listing_date or ipo.expected_date)
               and (ipo.listing_date or ipo.expected_date) <= today]
    recent = today - timedelta(days=3 * conf.get("IPO_FIRST_DAYS"))
    young = [ipo for ipo in IPO.objects.filter(status=IPO.Status.TRADING, first_trade_date__gte=recent)
             .exclude(ticker=None) if len(ipo.first_days_volumes) < conf.get("IPO_FIRST_DAYS")]
    return waiting + young


def check_trading(today: date | None = None, client: PolygonClient | None = None,
                  ipos: list[IPO] | None = None) -> TradingResult:
    today = today or new_york_today()
    result = TradingResult()
    client = client or PolygonClient.from_settings()
    if client is None:
        result.disabled = "POLYGON_API_KEY is not set: trading activity cannot be checked"
        return result
    run = ScanRun.objects.create(kind=ScanRun.Kind.TRADING, start_date=today, end_date=today, sources=["polygon"])
    for ipo in ipos if ipos is not None else due(today):
        result.checked += 1
        try:
            if check_one(ipo, client, today):
                result.started.append(ipo.ticker)
        except SourceError as error:
            result.errors.append(f"{ipo.ticker}: {error.message}")
            with transaction.atomic():
                ingest.report_error("polygon", f"trading check of {ipo.ticker}: {error.message}",
                                    retryable=error.retryable, ticker=ipo.ticker)
    run.stats = {"polygon": {"fetched": result.checked, "errors": len(result.errors),
                             "requests": client.requests_made}}
    run.errors, run.ipos_touched, run.finished_at = result.errors, result.checked, timezone.now()
    run.save()
    return result


def check_one(ipo: IPO, client: PolygonClient, today: date) -> bool:
    """Look for the deal's first bars; True when this check saw it start trading."""
    start = (ipo.listing_date or ipo.expected_date or today) - timedelta(days=LOOKBACK_DAYS)
    bars = client.daily_aggregates(ipo.ticker, start, today)
    if not any(bar.volume for bar in bars):
        return False
    details = client.ticker_details(ipo.ticker) if not ipo.sic_code or not ipo.shares_outstanding else None
    return record_bars(ipo, bars, details)


def record_bars(ipo: IPO, bars: list[Bar], details: dict | None = None) -> bool:
    """Hand the deal's first sessions (and its ticker details) to the writer; a deal that trades joins the
    equity universe. True when it started trading now."""
    sessions = [bar for bar in bars if bar.volume][:conf.get("IPO_FIRST_DAYS")]
    if not sessions:
        return False
    first = sessions[0]
    with transaction.atomic():
        ipo, started = ingest.record_first_sessions(
            ipo.pk, first.day, first.open, [bar.volume for bar in sessions],
            details_candidate(details, ipo.ticker) if details else None)
        _join_universe(ipo)
    ingest.announce_validated([ipo.pk])
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
