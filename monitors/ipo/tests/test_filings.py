"""Each SEC filing judged as of its own date, from realistic EDGAR submissions served on 127.0.0.1: follow-ons
of listed companies are notes on their deal, never new deals; older submissions pages are read when `recent`
does not reach back; a pricing attaches to the deal it prices."""

from datetime import date

import pytest

from monitors.ipo import scan
from monitors.ipo.fake_sources import FakeSources, SourceData
from monitors.ipo.models import IPO, SourceRecord
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db


def events(kind: str) -> list[dict]:
    return list(OutboxEvent.objects.filter(type=f"tickstock.ipo.{kind}").values_list("payload", flat=True))


def accession(cik: str, when: date, form: str) -> str:
    """Unique per filer, day and form, in EDGAR's shape (filer agent, year, sequence)."""
    return f"{int(cik):010d}-{when:%y}-{when:%m%d}{sum(map(ord, form)) % 100:02d}"


def submissions(cik: str, name: str, sic: str, filings: list[tuple[str, str]], *, tickers=(), exchanges=(),
                older: list[tuple[str, str]] | None = None) -> dict:
    """A submissions JSON as data.sec.gov serves it: `recent` newest first, older filings on a page of their own
    (returned second, as `{name: page}`)."""
    def block(rows):
        rows = sorted(((form, date.fromisoformat(day)) for form, day in rows), key=lambda r: r[1], reverse=True)
        return {"accessionNumber": [accession(cik, day, form) for form, day in rows],
                "filingDate": [day.isoformat() for _form, day in rows],
                "reportDate": ["" for _ in rows], "acceptanceDateTime": [f"{day}T16:05:12.000Z" for _f, day in rows],
                "act": ["33" for _ in rows], "form": [form for form, _day in rows],
                "primaryDocument": ["d123.htm" for _ in rows], "isXBRL": [0 for _ in rows]}
    body = {"cik": cik, "entityType": "operating", "sic": sic, "sicDescription": "", "name": name,
            "tickers": list(tickers), "exchanges": list(exchanges), "ein": "123456789", "stateOfIncorporation": "DE",
            "filings": {"recent": block(filings), "files": []}}
    if older:
        page = f"CIK{int(cik):010d}-submissions-001.json"
        days = sorted(day for _form, day in older)
        body["filings"]["files"] = [{"name": page, "filingCount": len(older), "filingFrom": days[0],
                                     "filingTo": days[-1]}]
        return body, {page: block(older)}
    return body, {}


def index_row(cik: str, name: str, form: str, day: str) -> tuple:
    when = date.fromisoformat(day)
    return (cik, name, form, f"{when:%Y%m%d}", f"edgar/data/{cik}/{accession(cik, when, form)}.txt")


# A technology company: IPO in 2021, then 10-Qs/10-Ks/8-Ks, and follow-on S-1s in 2023 and 2024.
ACME = ("1845123", "Acme Cloud Systems, Inc.", "7372")
ACME_HISTORY = [("S-1", "2021-05-03"), ("S-1/A", "2021-05-24"), ("EFFECT", "2021-06-09"), ("424B4", "2021-06-10"),
                ("8-K", "2021-06-15"), ("10-Q", "2021-08-12"), ("10-Q", "2021-11-10"), ("10-K", "2022-03-01"),
                ("10-Q", "2022-05-10"), ("S-1", "2023-04-17"), ("424B4", "2023-04-27"), ("10-K", "2024-02-28"),
                ("S-1", "2024-09-09")]
# A SPAC: units IPO in 2021, then periodic reports, then an S-4 for its merger and a resale S-1 after it.
SPAC = ("1833456", "Harborline Acquisition Corp", "6770")
SPAC_HISTORY = [("S-1", "2021-01-08"), ("S-1/A", "2021-02-01"), ("EFFECT", "2021-02-09"), ("424B4", "2021-02-11"),
                ("8-K", "2021-02-17"), ("10-Q", "2021-05-14"), ("10-K", "2022-03-30"), ("S-4", "2022-08-15"),
                ("S-4/A", "2022-10-03"), ("S-1", "2023-01-20")]
# A foreign private issuer: F-1 in 2022, then 20-F and 6-Ks, an F-3 shelf in 2024 and an F-1 follow-on.
FPI = ("1901234", "Nordlys Therapeutics AS", "2834")
FPI_HISTORY = [("DRS", "2022-02-01"), ("F-1", "2022-05-02"), ("F-1/A", "2022-06-13"), ("EFFECT", "2022-06-22"),
               ("424B4", "2022-06-23"), ("6-K", "2022-08-30"), ("20-F", "2023-04-28"), ("F-3", "2024-06-03"),
               ("F-1", "2024-10-07")]


def serve(settings, data: SourceData) -> FakeSources:
    fake = FakeSources(data)
    for name, value in fake.settings().items():
        setattr(settings, name, value)
    settings.IPO_HTTP_RETRIES = 0
    return fake


def sec_data(*companies: tuple[tuple, list, dict]) -> SourceData:
    data = SourceData(empty_index_when_missing=True)
    for (cik, name, sic), history, options in companies:
        body, pages = submissions(cik, name, sic, history, **options)
        data.submissions[cik] = body
        data.submission_pages.update(pages)
        for form, day in history + options.get("older", []):
            data.sec_index.setdefault(date.fromisoformat(day), []).append(index_row(cik, name.upper(), form, day))
    return data


def scan_day(day: str):
    return scan.scan(date.fromisoformat(day), ["sec"])


def test_a_listed_companys_follow_on_s1s_create_no_deal(settings):
    data = sec_data((ACME, ACME_HISTORY, {"tickers": ["ACLD"], "exchanges": ["Nasdaq"]}))
    with serve(settings, data):
        for day in ("2023-04-17", "2023-04-27", "2024-09-09"):
            scan_day(day)
        assert not IPO.objects.exists() and events("detected") == []
        notes = dict(SourceRecord.objects.filter(source="sec").values_list("kind", "note"))
        assert "already reported (8-K filed 2021-06-15)" in notes["S-1"]
        assert "not an IPO pricing" in notes["424B4"]
        # The same company's own IPO, judged as of 2021, is an IPO
        scan_day("2021-05-03")
        (acme,) = IPO.objects.all()
        assert (acme.cik, acme.status, acme.filed_date) == ("1845123", "filed", date(2021, 5, 3))
        assert [e["company_name"] for e in events("detected")] == ["Acme Cloud Systems, Inc."]


def test_a_follow_on_is_a_note_on_the_listed_companys_deal(settings):
    data = sec_data((ACME, ACME_HISTORY, {"tickers": ["ACLD"], "exchanges": ["Nasdaq"]}))
    with serve(settings, data):
        for day in ("2021-05-03", "2021-06-10"):
            scan_day(day)
        acme = IPO.objects.get()
        assert acme.status == "priced"
        IPO.objects.filter(pk=acme.pk).update(status="trading", first_trade_date=date(2021, 6, 11))
        scan_day("2024-09-09")
        acme.refresh_from_db()
        assert (acme.status, acme.filed_date) == ("trading", date(2021, 5, 3))  # nothing moved
        follow_on = SourceRecord.objects.get(source="sec", raw__index__date_filed="2024-09-09")
        assert follow_on.ipo == acme and "follow-on" in follow_on.note and "2021-06-11" in follow_on.note
        assert len(events("detected")) == 1


def test_a_spac_after_its_ipo_files_an_s4_and_a_resale_s1(settings):
    data = sec_data((SPAC, SPAC_HISTORY, {"tickers": ["HLAC", "HLACU", "HLACW"], "exchanges": ["Nasdaq"] * 3}))
    with serve(settings, data):
        scan_day("2021-01-08")
        spac = IPO.objects.get()
        assert spac.is_spac and spac.sector == "Financials"
        for day in ("2022-08-15", "2022-10-03", "2023-01-20"):
            result = scan_day(day)
        assert result.stats["sec"]["fetched"] == 1  # the S-4s are no IPO forms at all
        assert IPO.objects.count() == 1 and len(events("detected")) == 1
        resale = SourceRecord.objects.get(source="sec", raw__index__date_filed="2023-01-20")
        assert resale.ipo == spac and "already reported (8-K filed 2021-02-17)" in resale.note
        spac.refresh_from_db()
        assert spac.filed_date == date(2021, 1, 8)


def test_a_foreign_private_issuer_f1_then_20f_then_f3(settings):
    data = sec_data((FPI, FPI_HISTORY, {"tickers": ["NRDL"], "exchanges": ["Nasdaq"]}))
    with serve(settings, data):
        for day in ("2022-05-02", "2022-06-23"):
            scan_day(day)
        nordlys = IPO.objects.get()
        assert (nordlys.status, nordlys.sector, nordlys.ticker) == ("priced", "Health Care", "NRDL")
        for day in ("2024-06-03", "2024-10-07"):
            scan_day(day)
        assert IPO.objects.count() == 1 and len(events("detected")) == 1
        follow_on = SourceRecord.objects.get(source="sec", kind="F-1", raw__index__date_filed="2024-10-07")
        assert follow_on.ipo == nordlys and "already reported (6-K filed 2022-08-30)" in follow_on.note


def test_history_older_than_recent_is_read_from_the_older_pages(settings):
    # A company listed on another venue for years: its recent block is all insider filings; its 10-Ks are on
    # the older page. Its 2026 "IPO" registration is an uplisting, not an IPO.
    recent = [("4", f"2025-{month:02d}-15") for month in range(1, 13)] + [("S-1", "2026-02-02")]
    older = [("10-K", "2019-03-29"), ("10-Q", "2019-05-14"), ("10-K", "2020-03-30")]
    data = sec_data((("1200001", "Old Frontier Mining Corp", "1040"), recent, {"older": older}))
    with serve(settings, data) as fake:
        scan_day("2026-02-02")
        assert not IPO.objects.exists()
        record = SourceRecord.objects.get(source="sec", kind="S-1")
        assert "already reported (10-K filed 2019-03-29)" in record.note
        assert any("submissions-001.json" in path for path in fake.log)


def test_a_pricing_whose_registration_is_only_on_an_older_page_creates_its_deal(settings):
    recent = [("SC 13G", f"2025-{month:02d}-10") for month in range(1, 13)] + [("424B4", "2026-01-22")]
    older = [("S-1", "2024-11-04"), ("S-1/A", "2024-12-16")]
    data = sec_data((("1200002", "Quietwater Biosciences Inc", "2836"), recent, {"older": older}))
    data.sec_index = {date(2026, 1, 22): data.sec_index[date(2026, 1, 22)]}
    with serve(settings, data):
        scan_day("2026-01-22")
        deal = IPO.objects.get()
        assert (deal.cik, deal.status) == ("1200002", "priced")


def test_a_pricing_attaches_to_its_deal_when_submissions_cannot_be_read(settings):
    cik, name, _sic = FPI
    data = sec_data((FPI, FPI_HISTORY[:3], {}))
    with serve(settings, data):
        scan_day("2022-05-02")
        deal = IPO.objects.get()
        del data.submissions[cik]  # data.sec.gov answers 404 from now on
        data.sec_index[date(2022, 6, 23)] = [index_row(cik, name.upper(), "424B4", "2022-06-23")]
        result = scan_day("2022-06-23")
        deal.refresh_from_db()
        assert deal.status == "priced" and result.stats["sec"]["errors"] == 1
        # … and a pricing nobody knows, without submissions, creates nothing
        data.sec_index[date(2022, 6, 24)] = [index_row("1999999", "UNKNOWN HOLDINGS", "424B4", "2022-06-24")]
        scan_day("2022-06-24")
        assert IPO.objects.count() == 1
        record = SourceRecord.objects.get(source="sec", raw__index__cik="1999999")
        assert record.ipo is None and "could not be read" in record.note


def test_a_pricing_attaches_by_ticker_when_the_deal_has_no_cik_yet(settings):
    cik, name, sic = ("1200003", "Brightpath Learning Inc", "8200")
    history = [("S-1", "2026-03-02"), ("424B4", "2026-04-08")]
    data = sec_data(((cik, name, sic), history, {"tickers": ["BPLN"], "exchanges": ["NYSE"]}))
    data.sec_index = {date(2026, 4, 8): data.sec_index[date(2026, 4, 8)]}
    IPO.objects.create(company_name="Brightpath Learning", ticker="BPLN", status="expected",
                       expected_date=date(2026, 4, 8))
    with serve(settings, data):
        scan_day("2026-04-08")
    deal = IPO.objects.get()
    assert (deal.cik, deal.status, deal.exchange) == (cik, "priced", "XNYS")


def test_every_day_of_a_window_is_judged_as_of_that_day(settings):
    data = sec_data((ACME, ACME_HISTORY, {"tickers": ["ACLD"], "exchanges": ["Nasdaq"]}))
    with serve(settings, data):
        end = date(2021, 6, 10)
        scan.backfill((end - date(2021, 4, 20)).days + 1, end, ["sec"])
        deal = IPO.objects.get()
        assert (deal.status, deal.filed_date) == ("priced", date(2021, 5, 24))  # its latest amendment
        scan.backfill(30, date(2023, 5, 5), ["sec"])
        scan.backfill(5, date(2024, 9, 10), ["sec"])
        deal.refresh_from_db()
        assert IPO.objects.count() == 1 and (deal.status, deal.filed_date) == ("priced", date(2021, 5, 24))
        assert SourceRecord.objects.filter(ipo=deal, note__contains="not an IPO").count() == 3
