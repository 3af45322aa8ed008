"""Daily scans and backfills of all four sources against the loopback server, written to the real database."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitors.ipo import scan
from monitors.ipo.fake_sources import Fault
from monitors.ipo.models import IPO, Conflict, ScanRun, SourceDay, SourceRecord
from tickstock_ops.models import Alert, OutboxEvent

DAY = date(2026, 11, 24)
ALL = ["polygon", "sec", "nasdaq", "news"]
CONTRACT_KEYS = {"ticker", "cik", "company_name", "exchange", "listing_date", "status", "sic_code", "sector",
                 "offer_price", "shares_outstanding", "market_cap_estimate", "eligible", "sources"}

pytestmark = pytest.mark.django_db


def events(kind: str) -> list[dict]:
    return list(OutboxEvent.objects.filter(type=f"tickstock.ipo.{kind}").values_list("payload", flat=True))


def scan_json(*args: str) -> dict:
    out = StringIO()
    call_command("scan_ipos", *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_daily_scan_merges_the_sources_into_deals(fake):
    result = scan_json("--date", DAY.isoformat())
    assert set(result) == {"date", "sources", "ipos"} and result["date"] == "2026-11-24"
    assert set(result["sources"]) == set(ALL)
    assert all(set(s) == {"fetched", "errors"} and s["errors"] == 0 for s in result["sources"].values())
    assert result["sources"]["sec"]["fetched"] == 5  # IPO forms only, out of 10 filings
    by_ticker = {ipo["ticker"]: ipo for ipo in result["ipos"]}
    assert all(set(ipo) == CONTRACT_KEYS for ipo in result["ipos"])
    assert len(result["ipos"]) == len(by_ticker)
    assert set(by_ticker) == {"NWRB", "SGSW", "CEDBU", "LMNO", "GPEP", "HBVL"}
    nwrb = by_ticker["NWRB"]
    assert nwrb == {**nwrb, "cik": "2012347", "company_name": "Northwind Robotics Inc.", "exchange": "XNAS",
                    "status": "priced", "sic_code": "3569", "sector": "Industrials", "offer_price": 18.0,
                    "shares_outstanding": 62500000, "market_cap_estimate": 1125000000.0, "eligible": False,
                    "listing_date": "2026-11-25"}
    assert nwrb["sources"] == ["polygon", "nasdaq", "sec", "news"]
    assert by_ticker["LMNO"]["sector"] == "Health Care" and by_ticker["LMNO"]["status"] == "expected"
    assert by_ticker["HBVL"]["status"] == "withdrawn"
    assert by_ticker["GPEP"]["status"] == "postponed"


def test_amendments_dedupe_spac_units_are_one_deal_and_non_ipo_forms_create_nothing(fake):
    scan.scan(DAY, ALL)
    assert IPO.objects.filter(cik="2014410").count() == 1  # S-1/A joins the deal Nasdaq/Polygon/news know
    cedar = IPO.objects.get(name_key="cedar bay acquisition")
    assert cedar.ticker == "CEDBU" and cedar.is_spac and cedar.sector == "Financials"
    assert "SPAC" in cedar.sector_reason
    assert set(cedar.records.values_list("source", flat=True)) == {"polygon", "nasdaq", "sec"}
    assert not IPO.objects.filter(company_name__icontains="Orbital").exists()  # resale S-1 of a reporting co.
    assert not IPO.objects.filter(cik__in=["70858", "886982", "1001039", "200406", "1652044"]).exists()
    resale = SourceRecord.objects.get(key="0001490873-26-000031")
    assert resale.ipo is None and "already reported (10-K filed 2026-03-12)" in resale.note


def test_withdrawal_moves_status_with_history(fake):
    scan.scan(date(2026, 11, 23), ["sec"])
    harbor = IPO.objects.get(cik="2009911")
    assert harbor.status == "filed"
    scan.scan(DAY, ["sec"])
    harbor.refresh_from_db()
    assert harbor.status == "withdrawn"
    assert list(harbor.status_changes.values_list("from_status", "to_status", "source")) == [
        ("", "filed", "sec"), ("filed", "withdrawn", "sec")]


def test_conflicts_are_kept_visible_with_the_winner(fake):
    scan.scan(DAY, ALL)
    conflict = Conflict.objects.get(ipo__ticker="SGSW", field="listing_date")
    assert conflict.values == {"polygon": "2026-11-20", "nasdaq": "2026-11-19"}
    assert conflict.chosen_source == "polygon" and not conflict.resolved
    assert IPO.objects.get(ticker="SGSW").listing_date == date(2026, 11, 20)


def test_detected_once_per_deal_and_never_on_rescans(fake):
    scan.scan(DAY, ALL)
    detected = events("detected")
    assert sorted(e["ticker"] for e in detected) == ["CEDBU", "GPEP", "HBVL", "LMNO", "NWRB", "SGSW"]
    assert all({"ticker", "company_name", "exchange", "expected_date", "status", "sources"} <= set(e)
               for e in detected)
    validated = events("validated")
    assert sorted(e["ticker"] for e in validated) == ["CEDBU", "LMNO", "NWRB", "SGSW"]
    assert all({"ticker", "company_name", "exchange", "listing_date", "sector", "sic_code", "offer_price",
                "shares_outstanding", "market_cap_estimate", "eligible"} <= set(e) for e in validated)
    count = OutboxEvent.objects.count()
    again = scan.scan(DAY, ALL)
    assert OutboxEvent.objects.count() == count
    assert len(again.ipo_ids) == 6


def test_one_source_down_for_the_whole_scan(fake, settings):
    settings.IPO_HTTP_RETRIES = 1
    fake.fail("/api/ipo/calendar", Fault(502, "<html><title>502 Bad Gateway</title></html>",
                                         {"Content-Type": "text/html"}), times=10)
    result = scan_json("--date", DAY.isoformat())
    assert result["sources"]["nasdaq"] == {"fetched": 0, "errors": 1}
    assert result["sources"]["sec"]["errors"] == 0 and result["sources"]["polygon"]["fetched"] == 5
    assert {ipo["ticker"] for ipo in result["ipos"]} == {"NWRB", "SGSW", "CEDBU", "LMNO", "GPEP"}
    (error,) = events("error")
    assert error["source"] == "nasdaq" and error["retryable"] is True and "502" in error["error"]
    alert = Alert.objects.get(fingerprint="ipo:source:nasdaq")
    assert alert.state == "firing" and "502" in alert.title
    run = ScanRun.objects.latest("started_at")
    assert run.errors[0]["source"] == "nasdaq"
    assert not SourceDay.objects.filter(source="nasdaq").exists()
    fake.faults.clear()
    scan.scan(DAY, ["nasdaq"])
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_a_source_down_loses_no_known_deal(fake, settings):
    scan.scan(DAY, ALL)
    settings.IPO_HTTP_RETRIES = 0
    fake.fail("/api/ipo/calendar", Fault(500, "down"), times=10)
    fake.fail("/vX/", Fault(500, "down"), times=10)
    result = scan.scan(DAY, ALL)
    assert result.stats["nasdaq"]["errors"] == 1 and result.stats["polygon"]["errors"] == 1
    assert IPO.objects.count() == 6
    assert IPO.objects.get(ticker="HBVL").status == "withdrawn"
    assert IPO.objects.get(ticker="SGSW").sources == ["polygon", "nasdaq"]


def test_a_withdrawal_seen_before_its_deal_applies_once_the_deal_is_known(fake):
    scan.scan(DAY, ["sec"])
    withdrawal = SourceRecord.objects.get(key="0001640334-26-002201")
    assert withdrawal.ipo is None
    scan.scan(date(2026, 11, 23), ["sec"])
    scan.scan(DAY, ["sec"])
    withdrawal.refresh_from_db()
    assert withdrawal.ipo.cik == "2009911" and withdrawal.ipo.status == "withdrawn"


def test_a_record_that_cannot_be_written_is_reported_and_the_rest_are_kept(fake):
    fake.data.polygon_ipos.append({"ticker": "BADX", "issuer_name": "Overflow Inc", "ipo_status": "pending",
                                   "listing_date": "2026-11-27", "shares_outstanding": 10**20})
    result = scan.scan(DAY, ["polygon"])
    assert result.stats["polygon"]["errors"] == 1
    (error,) = events("error")
    assert error["ticker"] == "BADX" and error["retryable"] is False
    assert IPO.objects.filter(ticker="NWRB").exists()


def test_polygon_without_key_is_skipped_with_a_clear_line(fake, settings):
    settings.POLYGON_API_KEY = ""
    err = StringIO()
    call_command("scan_ipos", "--date", DAY.isoformat(), "--sources", "polygon,sec", stdout=StringIO(), stderr=err)
    assert "polygon: source disabled: POLYGON_API_KEY is not set" in err.getvalue()
    assert IPO.objects.filter(cik="2012347").exists()


def test_bad_arguments_are_clear_errors(fake):
    with pytest.raises(CommandError, match="not a date"):
        call_command("scan_ipos", "--date", "24/11/2026")
    with pytest.raises(CommandError, match="unknown source"):
        call_command("scan_ipos", "--sources", "polygon,bloomberg")
    with pytest.raises(CommandError, match="must be 1 to 3660"):
        call_command("backfill_ipos", "--days", "0")


def test_backfill_is_resumable_and_force_redoes(fake, settings):
    settings.IPO_HTTP_RETRIES = 0
    fake.fail("/Archives/edgar/daily-index/2026/QTR4/master.20261124", Fault(500, "oops"))
    out = StringIO()
    call_command("backfill_ipos", "--days", "5", "--end", "2026-11-24", "--json", stdout=out, stderr=StringIO())
    first = json.loads(out.getvalue())
    assert set(first) == {"date", "sources", "ipos"} and first["sources"]["sec"]["errors"] == 2  # 24th, 20th
    done = set(SourceDay.objects.filter(source="sec").values_list("day", flat=True))
    assert done == {date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)}
    fake.data.sec_index[date(2026, 11, 20)] = []
    before = dict(fake.requests)
    second = scan.backfill(5, DAY, ALL)
    assert second.stats["sec"]["errors"] == 0 and second.skipped_days == 3 * 5 + 3
    assert fake.requests["nasdaq"] == before["nasdaq"]  # nasdaq's days were all done
    assert IPO.objects.get(cik="2009911").status == "withdrawn"
    assert SourceDay.objects.filter(source="sec").count() == 5
    third = scan.backfill(5, DAY, ALL, force=True)
    assert third.skipped_days == 0 and fake.requests["nasdaq"] == before["nasdaq"] + 1
    assert IPO.objects.count() == 6 and len(events("detected")) == 6


def test_scan_of_a_day_marks_it_done_for_backfills(fake):
    scan.scan(DAY, ["sec"])
    assert SourceDay.objects.filter(source="sec", day=DAY).exists()
    result = scan.backfill(1, DAY, ["sec"])
    assert result.skipped_days == 1 and result.stats["sec"]["requests"] == 0


def test_status_moves_forward_only_whatever_order_sources_arrive_in(fake):
    scan.scan(DAY, ["sec"])
    scan.scan(DAY, ["nasdaq"])
    cedar = IPO.objects.get(cik="2015098")
    assert [(c.from_status, c.to_status, c.source) for c in cedar.status_changes.all()] == [
        ("", "filed", "sec"), ("filed", "expected", "nasdaq")]
    fake.data.submissions["2015098"]["name"] = "Cedar Bay Acquisition Corp."  # a changed record, same status
    fake.data.sec_index[DAY].append(("2015098", "Cedar Bay Acquisition Corp", "S-1/A", "20261124",
                                     "edgar/data/2015098/0001213900-26-110099.txt"))
    scan.scan(DAY, ["sec"])
    cedar.refresh_from_db()
    assert cedar.status == "expected" and cedar.status_changes.count() == 2
    assert cedar.records.filter(source="sec").count() == 2


def test_malformed_json_from_a_source_is_an_error_event_and_the_scan_finishes(fake, settings):
    settings.IPO_HTTP_RETRIES = 0
    fake.fail("/vX/reference/ipos", Fault(200, '{"status": "OK", "results": [{"ticker": "NW'))
    result = scan.scan(DAY, ALL)
    (error,) = events("error")
    assert error["source"] == "polygon" and "malformed JSON" in error["error"] and error["retryable"] is True
    assert result.stats["sec"]["fetched"] == 5 and IPO.objects.filter(ticker="NWRB").exists()


def test_a_filer_whose_submissions_fail_still_gives_its_deal(fake, settings):
    settings.IPO_HTTP_RETRIES = 0
    fake.fail("/submissions/CIK0002014410.json", Fault(500, "down"))
    result = scan.scan(DAY, ["sec"])
    lumen = IPO.objects.get(cik="2014410")
    assert lumen.company_name == "Lumen Oncology, Inc." and lumen.sic_code == ""
    (error,) = events("error")
    assert "CIK 2014410" in error["error"] and error["ticker"] is None
    assert result.stats["sec"]["errors"] == 1


def test_postponed_deal_moves_on_when_it_gets_a_new_date(fake):
    fake.data.polygon_ipos[3]["ipo_status"] = "postponed"  # Lumen
    scan.scan(DAY, ["polygon"])
    scan.scan(DAY, ["nasdaq"])  # still lists the old date: not a reason to leave "postponed"
    lumen = IPO.objects.get(ticker="LMNO")
    assert lumen.status == "postponed"
    fake.data.polygon_ipos[3].update(ipo_status="pending", listing_date="2026-12-10")
    scan.scan(DAY, ["polygon"])
    lumen.refresh_from_db()
    assert lumen.status == "expected" and lumen.expected_date == date(2026, 12, 10)
    assert [c.to_status for c in lumen.status_changes.all()][-2:] == ["postponed", "expected"]


@pytest.mark.django_db(transaction=True)
def test_redis_down_the_scan_still_writes_and_says_events_wait(fake, private_redis):
    private_redis.stop()
    err = StringIO()
    call_command("scan_ipos", "--date", DAY.isoformat(), "--sources", "sec", stdout=StringIO(), stderr=err)
    assert IPO.objects.filter(cik="2012347").exists()
    waiting = OutboxEvent.objects.filter(published_at__isnull=True).count()
    assert waiting > 0 and f"{waiting} events wait in the outbox" in err.getvalue()


def test_daily_scan_also_finds_pending_deals_without_a_date(fake):
    fake.data.polygon_ipos.append({"ticker": "NODT", "issuer_name": "Undated Pending Inc.", "ipo_status": "pending",
                                   "primary_exchange": "XNAS", "security_type": "CS"})
    fake.data.polygon_ipos.append({"ticker": "OLDX", "issuer_name": "Old History Co", "ipo_status": "history",
                                   "listing_date": "2025-01-10"})
    scan.scan(DAY, ["polygon"])
    undated = IPO.objects.get(ticker="NODT")
    assert undated.status == "filed" and undated.expected_date is None
    assert "no expected or listing date" in undated.validation_errors
    assert not IPO.objects.filter(ticker="OLDX").exists()
    assert IPO.objects.filter(ticker="NWRB").count() == 1
