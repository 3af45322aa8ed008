"""A deal's lifecycle through the commands: the latest Nasdaq stage wins, the scan of a listing day moves the deal
to trading, the trading check alone, the offline demo, refused tickers, and deadlines against a dripping server."""

import json
import socket
import threading
import time
from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from equity_rules import api as rules_api
from equity_rules.models import EquityType, Security
from monitors.ipo import scan
from monitors.ipo.fake_sources import FakeSources, SourceData, empty_calendar
from monitors.ipo.models import IPO, ScanRun
from monitors.ipo.sources import news
from monitors.ipo.sources.nasdaq import NasdaqClient
from tickstock_ops.http import DEADLINE, SourceError
from tickstock_ops.models import Alert, OutboxEvent
from tickstock_ops.symbols import SymbolError

pytestmark = pytest.mark.django_db
LISTING = date(2024, 6, 28)


def events(kind: str) -> list[dict]:
    return list(OutboxEvent.objects.filter(type=f"tickstock.ipo.{kind}").values_list("payload", flat=True))


def command(name: str, *args: str) -> tuple[dict, str]:
    out, err = StringIO(), StringIO()
    call_command(name, *args, "--json", stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def daily_bar(day: date, open_, high, low, close, volume) -> dict:
    """Polygon's daily aggregate: `t` is the session's start in New York, in Unix milliseconds."""
    start = datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)  # 00:00 New York (EDT)
    return {"o": open_, "h": high, "l": low, "c": close, "v": volume, "vw": round((high + low + close) / 3, 4),
            "n": volume // 150, "t": int(start.timestamp() * 1000)}


def june_2024() -> dict:
    """Alumis in two sections of one month: `priced` (price, exchange, date) and `filed` (its filing)."""
    month = empty_calendar("2024-06")
    month["priced"]["rows"] = [
        {"dealID": "1147940-110414", "proposedTickerSymbol": "ALMS", "companyName": "ALUMIS INC.",
         "proposedExchange": "NASDAQ Global", "proposedSharePrice": "16.00", "sharesOffered": "13,125,000",
         "pricedDate": "6/28/2024", "dollarValueOfSharesOffered": "$210,000,000", "dealStatus": "Priced"}]
    month["filed"]["rows"] = [
        {"dealID": "1147940-110414", "proposedTickerSymbol": "ALMS", "companyName": "ALUMIS INC.",
         "proposedExchange": None, "proposedSharePrice": "15.00-17.00", "sharesOffered": "13,125,000",
         "filedDate": "5/31/2024", "dollarValueOfSharesOffered": "$210,000,000"},
        {"dealID": "1281399-110022", "proposedTickerSymbol": "WBTN", "companyName": "WEBTOON Entertainment Inc.",
         "proposedExchange": "NASDAQ Global Select", "proposedSharePrice": "18.00-21.00",
         "sharesOffered": "15,000,000", "filedDate": "6/17/2024", "dollarValueOfSharesOffered": "$315,000,000"}]
    month["withdrawn"]["rows"] = [
        {"dealID": "1281399-110022", "proposedTickerSymbol": "WBTN", "companyName": "WEBTOON Entertainment Inc.",
         "proposedExchange": "NASDAQ Global Select", "sharesOffered": "15,000,000", "withdrawDate": "6/25/2024"}]
    return month


def listing_data() -> SourceData:
    data = SourceData(nasdaq={"2024-06": june_2024()})
    data.polygon_ipos = [{
        "ticker": "ALMS", "issuer_name": "Alumis Inc.", "listing_date": "2024-06-28", "ipo_status": "new",
        "final_issue_price": 16.0, "lowest_offer_price": 16.0, "highest_offer_price": 18.0,
        "max_shares_offered": 13125000, "shares_outstanding": 48_800_000, "primary_exchange": "XNAS",
        "security_type": "CS", "currency_code": "USD", "isin": "US0222911002", "us_code": "022291100"}]
    data.bars["ALMS"] = [daily_bar(date(2024, 6, 28), 16.2, 16.9, 13.1, 13.35, 6_873_400),
                         daily_bar(date(2024, 7, 1), 13.5, 14.1, 12.8, 13.9, 1_204_100)]
    return data


@pytest.fixture
def sources(fast_http):
    with FakeSources(listing_data()) as fake:
        for name, value in fake.settings().items():
            setattr(fast_http, name, value)
        yield fake


def test_a_deal_in_two_sections_takes_its_latest_stage_with_every_field(sources):
    scan.scan(LISTING, ["nasdaq"])
    alumis = IPO.objects.get(ticker="ALMS")
    assert (alumis.status, alumis.exchange, alumis.offer_price, alumis.listing_date, alumis.filed_date) == (
        "priced", "XNAS", 16, LISTING, date(2024, 5, 31))
    webtoon = IPO.objects.get(ticker="WBTN")  # filed, then withdrawn: the withdrawal is its latest stage
    assert webtoon.status == "withdrawn" and webtoon.filed_date == date(2024, 6, 17)


def test_the_scan_of_a_listing_day_moves_the_deal_to_trading(sources):
    result, _ = command("scan_ipos", "--date", "2024-06-28", "--sources", "polygon,nasdaq")
    (alumis,) = [ipo for ipo in result["ipos"] if ipo["ticker"] == "ALMS"]
    assert (alumis["status"], alumis["listing_date"], alumis["exchange"]) == ("trading", "2024-06-28", "XNAS")
    assert events("trading_active") == [{"ticker": "ALMS", "listing_date": "2024-06-28", "open_price": 16.2,
                                         "first_day_volume": 6873400}]
    deal = IPO.objects.get(ticker="ALMS")
    assert deal.first_days_volumes == [6873400]  # bars up to the scanned day, not today's
    assert Security.objects.get(symbol="ALMS").listing_date == LISTING
    command("scan_ipos", "--date", "2024-07-01", "--sources", "polygon,nasdaq")
    deal.refresh_from_db()
    assert deal.first_days_volumes == [6873400, 1204100] and len(events("trading_active")) == 1


def test_check_ipo_trading_alone(sources):
    scan.scan(LISTING, ["nasdaq"])  # no Polygon: no trading check in the scan
    result, _ = command("check_ipo_trading", "--date", "2024-06-27")
    assert result == {"date": "2024-06-27", "checked": 0, "started": [], "errors": []}
    result, _ = command("check_ipo_trading", "--date", "2024-06-28")
    assert result == {"date": "2024-06-28", "checked": 1, "started": ["ALMS"], "errors": []}
    assert ScanRun.objects.filter(kind="trading").count() == 2


def test_a_backfill_carries_deals_to_trading(sources):
    result, _ = command("backfill_ipos", "--days", "5", "--end", "2024-07-01", "--sources", "polygon,nasdaq")
    (alumis,) = [ipo for ipo in result["ipos"] if ipo["ticker"] == "ALMS"]
    assert alumis["status"] == "trading" and len(events("trading_active")) == 1
    assert IPO.objects.get(ticker="ALMS").first_days_volumes == [6873400, 1204100]


def test_demo_scan_and_backfill_run_offline_and_say_so(settings):
    settings.POLYGON_API_KEY = ""  # nothing configured: the demo brings its own sources
    result, err = command("scan_ipos", "--demo")
    assert result["demo"] is True and result["date"] == "2026-11-24" and "DEMO DATA" in err
    statuses = {ipo["ticker"]: ipo["status"] for ipo in result["ipos"]}
    assert statuses["SGSW"] == "trading" and statuses["NWRB"] == "priced"
    result, err = command("backfill_ipos", "--demo", "--days", "3")
    assert result["demo"] is True and "DEMO DATA" in err
    assert all(source["errors"] == 0 for source in result["sources"].values())


def test_a_ticker_with_markup_is_refused_everywhere_it_enters(sources):
    for section in ("priced", "filed"):
        sources.data.nasdaq["2024-06"][section]["rows"][0]["proposedTickerSymbol"] = "<B>X</B>"
    scan.scan(LISTING, ["nasdaq"])
    assert not IPO.objects.filter(ticker__contains="<").exists()
    assert IPO.objects.get(company_name="ALUMIS INC.").ticker is None
    error = next(e for e in events("error") if "ticker refused" in e["error"])
    assert "'<B>X</B>' contains '<>'" in error["error"] and error["ticker"] is None
    kind = EquityType.objects.get(equity_type="common_stock")
    with pytest.raises(ValidationError, match="contains"):
        Security(symbol="<B>X</B>", name="X", equity_type=kind, exchange="XNAS").full_clean()
    with pytest.raises(SymbolError, match="contains"):
        rules_api.upsert_security("<B>X</B>", name="X", equity_type="common_stock", exchange="XNAS")
    assert not Security.objects.filter(symbol__contains="<").exists()


def test_a_feed_with_entity_expansion_is_refused():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>
<rss version="2.0"><channel><item><title>&b; prices IPO (NYSE: BOOM)</title></item></channel></rss>"""
    with pytest.raises(ValueError, match="EntitiesForbidden"):
        news.parse_feed(bomb)


class DrippingServer:
    """Answers every request with headers, then one byte every `interval` seconds, for ever."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0

    def __enter__(self) -> "DrippingServer":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
                while not self.stop.wait(self.interval):
                    conn.sendall(b" ")
            except OSError:
                return


def test_a_dripping_server_is_cut_off_at_the_request_deadline(fast_http):
    fast_http.IPO_HTTP_REQUEST_DEADLINE = 1.5
    with DrippingServer() as drip:
        started = time.monotonic()
        with pytest.raises(SourceError) as caught:
            NasdaqClient(base_url=drip.url).calendar("2024-06")
        assert 1.4 < time.monotonic() - started < 4
        assert caught.value.status == DEADLINE and "1.5s deadline" in caught.value.message
        assert drip.requests == 1  # a deadline is not retried


@pytest.mark.parametrize("limit", ["IPO_FETCH_DEADLINE", "IPO_SCAN_DEADLINE"])
def test_a_scan_with_a_dripping_source_finishes_with_an_error_and_keeps_the_others(sources, fast_http, limit):
    fast_http.IPO_HTTP_REQUEST_DEADLINE = 0
    setattr(fast_http, limit, 2.0)
    with DrippingServer() as drip:
        fast_http.NASDAQ_BASE_URL = drip.url
        started = time.monotonic()
        result = scan.scan(LISTING, ["polygon", "nasdaq"])
        assert time.monotonic() - started < 10
    assert result.run.finished_at is not None
    assert result.stats["nasdaq"]["errors"] == 1 and result.stats["polygon"]["fetched"] == 1
    # Polygon's deal is kept; the fetch deadline leaves time for the trading check, the spent scan deadline not
    expected = "trading" if limit == "IPO_FETCH_DEADLINE" else "priced"
    assert IPO.objects.get(ticker="ALMS").status == expected
    (error,) = [e for e in events("error") if e["source"] == "nasdaq"]
    assert error["retryable"] and "deadline" in error["error"]
    assert Alert.objects.get(fingerprint="ipo:source:nasdaq").state == "firing"


def test_a_past_day_checked_without_bars_is_not_asked_again(sources):
    IPO.objects.create(company_name="Quiet Harbor Inc.", ticker="QHBR", status="priced", listing_date=LISTING)
    result, _ = command("check_ipo_trading", "--date", "2024-06-28")
    assert result["checked"] == 1 and result["started"] == []
    asked = sources.requests["polygon"]
    result, _ = command("check_ipo_trading", "--date", "2024-06-28")
    assert result["checked"] == 0 and sources.requests["polygon"] == asked
    result, _ = command("check_ipo_trading", "--date", "2024-07-01")  # a later day may bring its first bar
    assert result["checked"] == 1 and sources.requests["polygon"] == asked + 1
