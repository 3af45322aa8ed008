"""The trading-activity check, enrichment and eligibility, with the rules engine's thresholds."""

from datetime import date
from decimal import Decimal

import pytest

from equity_rules.models import EquityType, Security
from monitors.ipo import conf, enrich, scan, trading
from monitors.ipo.fake_sources import Fault
from monitors.ipo.models import IPO
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 24)


def events(kind: str) -> list[dict]:
    return list(OutboxEvent.objects.filter(type=f"tickstock.ipo.{kind}").values_list("payload", flat=True))


def test_first_bar_moves_to_trading_once_and_joins_the_universe(fake):
    result = trading.check_trading(DAY)  # nothing known yet
    assert result.checked == 0 and result.started == []
    result = scan.scan(DAY, ["polygon", "nasdaq"]).trading_check  # the scan runs the check as of its day
    assert result.started == ["SGSW"] and result.errors == []
    sgsw = IPO.objects.get(ticker="SGSW")
    assert sgsw.status == "trading"
    assert (sgsw.first_trade_date, sgsw.first_trade_open, sgsw.first_day_volume) == (
        date(2026, 11, 20), Decimal("29.1000"), 18450210)
    assert sgsw.market_cap_estimate == Decimal("2328000000.00") and "opening price" in sgsw.market_cap_basis
    assert (sgsw.sic_code, sgsw.sector, sgsw.sector_method, sgsw.cik) == ("7372", "Information Technology", "sic",
                                                                        "2011873")
    assert sgsw.eligible and "common_stock threshold 50,000" in sgsw.eligibility_reason
    (active,) = events("trading_active")
    assert active == {"ticker": "SGSW", "listing_date": "2026-11-20", "open_price": 29.1, "first_day_volume": 18450210}
    security = Security.objects.get(symbol="SGSW")
    assert security.equity_type.equity_type == "common_stock" and security.exchange == "XNYS"
    assert security.sector == "Information Technology" and security.average_volume == Decimal("10500983")
    assert sgsw.status_changes.last().to_status == "trading"
    again = trading.check_trading(DAY)
    assert again.started == [] and len(events("trading_active")) == 1


def test_deals_without_bars_stay_priced(fake):
    scan.scan(DAY, ["polygon", "nasdaq", "sec"])
    trading.check_trading(date(2026, 11, 26))
    nwrb = IPO.objects.get(ticker="NWRB")
    assert nwrb.status == "priced" and not nwrb.eligible and nwrb.eligibility_reason == "status priced: not trading yet"


def test_a_failing_check_is_an_error_event_and_the_others_go_on(fake, settings):
    settings.IPO_HTTP_RETRIES = 0
    scan.scan(DAY, ["nasdaq"])  # without Polygon the scan runs no trading check
    fake.fail("/v2/aggs/ticker/NWRB", Fault(500, "boom"))
    result = trading.check_trading(date(2026, 11, 26))
    assert result.started == ["SGSW"] and len(result.errors) == 1
    (error,) = events("error")
    assert error["ticker"] == "NWRB" and error["retryable"] is True


def test_trading_check_without_polygon_says_so(settings):
    settings.POLYGON_API_KEY = ""
    assert "POLYGON_API_KEY" in trading.check_trading(DAY).disabled


def ipo(**fields) -> IPO:
    base = {"company_name": "Test Co", "ticker": "TST", "status": "trading", "security_type": "CS",
            "first_days_volumes": [60_000, 40_000]}
    return IPO(**{**base, **fields})


def test_volume_threshold_comes_from_the_equity_types_rules():
    rules = EquityType.objects.get(equity_type="adr").processing_rules
    assert conf.volume_threshold("adr") == rules["validation_rules"]["volume_threshold"]


def test_volume_threshold_falls_back_to_the_setting_when_the_rules_have_none(settings):
    settings.IPO_DEFAULT_VOLUME_THRESHOLD = 1234
    assert conf.volume_threshold("no_such_type") == 1234
    EquityType.objects.filter(equity_type="common_stock").delete()
    item = ipo(first_days_volumes=[1000, 1500])
    enrich.judge_eligibility(item)
    assert item.eligible and "threshold 1,234" in item.eligibility_reason


@pytest.mark.parametrize(("fields", "eligible", "reason"), [
    ({}, True, "average volume 50,000 over 2 session(s) ≥ common_stock threshold 50,000"),
    ({"first_days_volumes": [10_000]}, False, "< common_stock threshold"),
    ({"security_type": "ADRC"}, True, "adr threshold"),
    ({"security_type": "UNIT"}, False, "security type unit is not eligible"),
    ({"security_type": "WARRANT"}, False, "security type warrant is not eligible"),
    ({"security_type": "RIGHT"}, False, "security type right is not eligible"),
    ({"status": "priced"}, False, "status priced: not trading yet"),
    ({"first_days_volumes": []}, False, "no trading volume yet"),
])
def test_eligibility(fields, eligible, reason):
    item = ipo(**fields)
    enrich.judge_eligibility(item)
    assert item.eligible is eligible and reason in item.eligibility_reason


def test_market_cap_uses_offer_price_or_range_midpoint_before_trading():
    item = ipo(status="expected", shares_outstanding=1_000_000, price_low=Decimal("14"), price_high=Decimal("16"))
    enrich.estimate_market_cap(item)
    assert item.market_cap_estimate == Decimal("15000000.00") and item.market_cap_basis.endswith("range midpoint")
    item.offer_price = Decimal("17")
    enrich.estimate_market_cap(item)
    assert item.market_cap_estimate == Decimal("17000000.00")
    item.shares_outstanding = None
    enrich.estimate_market_cap(item)
    assert item.market_cap_estimate is None and item.market_cap_basis == "no shares outstanding"


def test_sector_from_description_when_no_sic():
    item = ipo(description="A clinical-stage biopharmaceutical company developing oncology therapeutics.")
    enrich.classify_sector(item)
    assert (item.sector, item.sector_method) == ("Health Care", "description")
    bare = ipo()
    enrich.classify_sector(bare)
    assert bare.sector is None and bare.sector_method == "none" and "no SIC code" in bare.sector_reason


def test_validation_errors_name_what_is_missing():
    item = ipo(ticker=None, exchange="", status="withdrawn")
    assert enrich.validation_errors(item) == ["no ticker yet", "no exchange", "no expected or listing date",
                                              "deal withdrawn"]
