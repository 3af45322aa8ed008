"""The trading-activity check: has a priced or expected IPO traded yet? Its first daily bar says so."""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from equity_rules import api as rules_api
from monitors.ipo import conf, enrich, ingest, merge
from monitors.ipo.models import IPO, ScanRun, SourceRecord
from monitors.ipo.scan import new_york_today
from monitors.ipo.sources import SourceError
from monitors.ipo.sources.polygon import Bar, PolygonClient
from monitors.ipo.sources.record import Candidate
from tickstock_ops.events import publish

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


def store_details(ipo: IPO, details: dict) -> None:
    """Keep Polygon's ticker details as a record of the deal: it brings SIC, CIK, description, shares."""
    from monitors.ipo.sources.values import exchange_mic, int_or_none, text_or_none

    cik = text_or_none(details.get("cik"))
    candidate = Candidate(
        source="polygon", key=f"details:{details.get('ticker') or ipo.ticker}", raw=details, kind="ticker_details",
        cik=str(int(cik)) if cik and cik.isdigit() else None, company_name=text_or_none(details.get("name")),
        exchange=exchange_mic(details.get("primary_exchange")), sic_code=text_or_none(details.get("sic_code")),
        description=text_or_none(details.get("description")),
        shares_outstanding=int_or_none(details.get("share_class_shares_outstanding")
                                       or details.get("weighted_shares_outstanding")),
        security_type=text_or_none(details.get("type")),
    )
    SourceRecord.objects.update_or_create(
        source="polygon", key=candidate.key,
        defaults={"ipo": ipo, "kind": candidate.kind, "raw": details, "parsed": candidate.parsed(),
                  "content_hash": merge.content_hash(candidate), "fetched_at": timezone.now()})


def check_one(ipo: IPO, client: PolygonClient, today: date) -> bool:
    """Look for the deal's first bars; True when this check saw it start trading."""
    start = (ipo.listing_date or ipo.expected_date or today) - timedelta(days=LOOKBACK_DAYS)
    bars = client.daily_aggregates(ipo.ticker, start, today)
    if not any(bar.volume for bar in bars):
        return False
    details = client.ticker_details(ipo.ticker) if not ipo.sic_code or not ipo.shares_outstanding else None
    return record_bars(ipo, bars, details)


def record_bars(ipo: IPO, bars: list[Bar], details: dict | None = None) -> bool:
    """Keep the deal's first sessions; the first bar moves it to trading. True when it started now."""
    bars = [bar for bar in bars if bar.volume]
    if not bars:
        return False
    first = bars[0]
    with transaction.atomic():
        ipo = IPO.objects.select_for_update().get(pk=ipo.pk)
        if details:
            store_details(ipo, details)
        ipo.first_trade_date, ipo.first_trade_open, ipo.first_day_volume = first.day, first.open, first.volume
        ipo.first_days_volumes = [bar.volume for bar in bars[:conf.get("IPO_FIRST_DAYS")]]
        if ipo.listing_date is None:
            ipo.listing_date = first.day
        started = merge.move_status(ipo, IPO.Status.TRADING, "polygon", f"first bar {first.day}")
        ingest.finish(ipo)
        if started:
            publish("tickstock.ipo.trading_active", {
                "ticker": ipo.ticker, "listing_date": first.day.isoformat(),
                "open_price": float(first.open) if first.open is not None else None,
                "first_day_volume": first.volume})
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
    ingest.announce_validated([ipo.pk])
    return started
