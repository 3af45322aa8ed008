from datetime import date

import pytest

from equity_rules import processing, queue, versions
from equity_rules.models import EquityType, ProcessingJob, ProcessingResult
from equity_rules.tests.conftest import make_security
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db


def etf_rules() -> dict:
    return EquityType.objects.get(equity_type="etf").processing_rules


def test_a_large_cheap_etf_passes_and_gets_nav_premium_and_sector_allocation():
    spy = make_security("SPY", sector_weights={"Information Technology": 31.5, "Financials": 13.5, "Energy": 0})
    evaluation = processing.evaluate(spy, etf_rules())
    assert evaluation.passed and evaluation.reasons == []
    assert evaluation.enrichments == {
        "nav": 598.1, "nav_source": "reported",
        "premium_discount_pct": pytest.approx((598.32 - 598.10) / 598.10 * 100, abs=1e-4),
        "sector_allocation": {"Information Technology": 70.0, "Financials": 30.0},
    }


def test_each_failed_validation_rule_gives_its_reason():
    tiny = make_security("TINY", aum=21_000_000, expense_ratio="2.45", average_volume=14_000)
    evaluation = processing.evaluate(tiny, etf_rules())
    assert not evaluation.passed
    assert evaluation.reasons == [
        "aum 21000000 < aum_minimum 50000000",
        "average_volume 14000 < volume_threshold 100000",
        "expense_ratio 2.4500 > expense_ratio_max 2.0",
    ]


def test_missing_data_fails_validation_with_unknown_and_nav_is_derived_when_possible():
    fund = make_security("NEWF", nav=None, aum=100_000_000, shares_outstanding=4_000_000, last_close="24.00",
                         expense_ratio=None, average_volume=None)
    evaluation = processing.evaluate(fund, etf_rules())
    assert evaluation.reasons == ["average_volume unknown (volume_threshold 100000)",
                                  "expense_ratio unknown (expense_ratio_max 2.0)"]
    assert evaluation.enrichments["nav"] == 25.0
    assert evaluation.enrichments["nav_source"] == "aum / shares_outstanding"
    assert evaluation.enrichments["premium_discount_pct"] == -4.0


def test_closed_end_fund_discount_beyond_its_limit_fails():
    gof = make_security("GOF", equity_type="closed_end_fund", aum=2_200_000_000, expense_ratio="2.8", nav="10.90",
                        last_close="15.20", average_volume=1_300_000)
    rules_ = EquityType.objects.get(equity_type="closed_end_fund").processing_rules
    evaluation = processing.evaluate(gof, rules_)
    assert evaluation.reasons == ["premium/discount 39.45% beyond ±25% (premium_discount_max_pct)"]


def test_stock_rules_compute_market_cap_liquidity_and_listing_age():
    aapl = make_security("AAPL", equity_type="common_stock", last_close="229.87", shares_outstanding=15_100_000_000,
                         average_volume=52_000_000, aum=None, nav=None, expense_ratio=None,
                         sector="Information Technology", listing_date=date(2026, 11, 1))
    rules_ = dict(EquityType.objects.get(equity_type="common_stock").processing_rules)
    rules_["validation_rules"] = {**rules_["validation_rules"], "min_days_listed": 30}
    evaluation = processing.evaluate(aapl, rules_, today=date(2026, 11, 29))
    assert evaluation.reasons == ["listed 28 days < min_days_listed 30"]
    assert evaluation.enrichments == {"market_cap": pytest.approx(229.87 * 15_100_000_000),
                                      "liquidity_tier": "high",
                                      "sector_allocation": {"Information Technology": 100.0}}


def test_run_batch_stores_results_and_publishes_processed_under_the_current_version():
    make_security("SPY")
    make_security("TINY", aum=21_000_000)
    assert queue.enqueue(EquityType.objects.get(equity_type="etf").securities.all()) == 2

    report = processing.run_batch("test-worker")

    assert (report.claimed, report.processed, report.versions) == (2, 2, {"etf": 1})
    assert set(ProcessingJob.objects.values_list("state", flat=True)) == {"done"}
    results = {r.symbol: r for r in ProcessingResult.objects.all()}
    assert results["SPY"].passed is True and results["TINY"].passed is False
    assert results["TINY"].reasons == ["aum 21000000 < aum_minimum 50000000"]
    events = {e.payload["symbol"]: e.payload for e in OutboxEvent.objects.filter(type="tickstock.equity.processed")}
    assert set(events) == {"SPY", "TINY"}
    assert {key: events["SPY"][key] for key in ("equity_type", "rules_version", "attempts", "error")} == {
        "equity_type": "etf", "rules_version": 1, "attempts": 1, "error": None}
    assert events["SPY"]["duration_ms"] > 0


def test_a_rule_change_applies_to_the_next_batch():
    tiny = make_security("TINY", aum=21_000_000)
    queue.enqueue([tiny])
    processing.run_batch("w")
    etf = EquityType.objects.get(equity_type="etf")
    etf.processing_rules["validation_rules"]["aum_minimum"] = 10_000_000
    versions.save(etf)
    queue.enqueue([tiny])
    processing.run_batch("w")
    first, second = ProcessingResult.objects.order_by("id")
    assert (first.rules_version, first.passed) == (1, False)
    assert (second.rules_version, second.passed) == (2, True)
