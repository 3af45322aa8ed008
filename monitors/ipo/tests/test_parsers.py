"""Parsers against recorded payloads: every field may be missing or odd, nothing may crash."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from monitors.ipo import names
from monitors.ipo.sources import nasdaq, news, polygon, sec
from monitors.ipo.sources.values import date_or_none, decimal_or_none, exchange_mic, int_or_none, price_range

FIXTURES = Path(__file__).parent / "fixtures"


def test_values_survive_odd_inputs():
    assert decimal_or_none("$210,000,000") == Decimal("210000000")
    assert int_or_none("13,125,000") == 13125000
    assert decimal_or_none(None) is None and decimal_or_none("n/a") is None and decimal_or_none(True) is None
    assert price_range("4.00-6.00") == (Decimal("4.00"), Decimal("6.00"))
    assert price_range("16.00") == (Decimal("16.00"), Decimal("16.00"))
    assert price_range(None) == (None, None)
    assert date_or_none("7/02/2024") == date(2024, 7, 2)
    assert date_or_none("2024-06-07") == date(2024, 6, 7)
    assert date_or_none("20260930") == date(2026, 9, 30)
    assert date_or_none("soon") is None and date_or_none(None) is None


def test_exchange_names_become_mics():
    assert exchange_mic("NASDAQ Global Select") == "XNAS"
    assert exchange_mic("NASDAQ Capital") == "XNAS"
    assert exchange_mic("NYSE") == "XNYS"
    assert exchange_mic("NYSE MKT") == "XASE"
    assert exchange_mic("NYSE American") == "XASE"
    assert exchange_mic("XNAS") == "XNAS"
    assert exchange_mic("Moon Exchange") is None


def test_nasdaq_reference_calendar_with_null_sections():
    body = json.loads((FIXTURES / "nasdaq_ipo_calendar_2024-07.json").read_text())
    candidates, errors = nasdaq.calendar_candidates(body["data"], "2024-07")
    assert errors == []
    assert [c.ticker for c in candidates] == ["ZENA", "PGHL", "OSTX", "MJID", "EHGO"]
    zena, pghl, ostx = candidates[:3]
    assert zena.status == "expected" and zena.price_low is None and zena.shares_offered == 102481427
    assert (pghl.price_low, pghl.price_high, pghl.exchange) == (Decimal("4.00"), Decimal("6.00"), "XNAS")
    assert pghl.expected_date == date(2024, 7, 12)
    assert ostx.exchange == "XASE" and ostx.offer_price is None


def test_nasdaq_reference_priced_rows():
    rows = json.loads((FIXTURES / "nasdaq_ipo_calendar_2024-06_priced_rows.json").read_text())["rows"]
    candidates, _ = nasdaq.calendar_candidates({"priced": {"rows": rows}}, "2024-06")
    alms = candidates[0]
    assert (alms.ticker, alms.status, alms.offer_price, alms.listing_date) == (
        "ALMS", "priced", Decimal("16.00"), date(2024, 6, 28))
    assert all(c.exchange in {"XNAS", "XNYS", "XASE"} for c in candidates)


def test_nasdaq_rows_with_missing_or_broken_fields():
    data = {"priced": {"rows": [{"dealID": "1"}, {"companyName": "No Ticker Co", "pricedDate": "someday"}, "junk"]},
            "upcoming": None, "filed": {"rows": None}}
    candidates, errors = nasdaq.calendar_candidates(data, "2024-01")
    assert [c.company_name for c in candidates] == ["No Ticker Co"]
    assert candidates[0].listing_date is None
    assert len(errors) == 1 and "not an object" in errors[0][1]


def test_nasdaq_spac_units_are_flagged():
    row = {"proposedTickerSymbol": "CEDBU", "companyName": "Cedar Bay Acquisition Corp", "proposedSharePrice": "10.00"}
    assert nasdaq.candidate(row, "upcoming", "expected").security_type == "UNIT"


def test_polygon_item_with_only_a_ticker_and_status():
    client = polygon.PolygonClient(api_key="k", per_minute=0)
    item = client.candidate({"ticker": "ABC", "ipo_status": "pending"})
    assert item.ticker == "ABC" and item.status == "filed" and item.listing_date is None  # no date: not expected
    dated = client.candidate({"ticker": "ABC", "ipo_status": "pending", "listing_date": "2026-12-01"})
    assert dated.status == "expected" and dated.expected_date == date(2026, 12, 1)
    assert client.candidate({"ipo_status": "new"}) is None
    history = client.candidate({"ticker": "RAPP", "issuer_name": "Rapport Therapeutics Inc.", "ipo_status": "history",
                                "listing_date": "2024-06-07", "final_issue_price": 17, "primary_exchange": "XNAS",
                                "security_type": "CS", "shares_outstanding": 35376457})
    assert history.status == "priced" and history.listing_date == date(2024, 6, 7)
    assert history.offer_price == Decimal("17") and history.shares_outstanding == 35376457


def test_polygon_bars_parse_and_skip_rows_without_time():
    bars = polygon.parse_bars([{"o": 74.06, "c": 75.0875, "h": 75.15, "l": 73.7975, "v": 135647456, "t": 1577941200000},
                               {"o": 1}, "junk"])
    assert len(bars) == 1 and bars[0].day == date(2020, 1, 2) and bars[0].volume == 135647456


MASTER = """Description:           Daily Index of EDGAR Dissemination Feed by Company Name
Last Data Received:    Sep 30, 2026

CIK|Company Name|Form Type|Date Filed|File Name
--------------------------------------------------------------------------------
2012347|PRICED IPO CORP|424B4|20260930|edgar/data/2012347/0001193125-26-400003.txt
19617|JPMORGAN CHASE & CO|424B2|20260930|edgar/data/19617/0001213900-26-105577.txt
a broken line
1234|ODD|1-A POS|20260930|edgar/data/1234/0000001234-26-000001.txt
"""


def test_master_index_rows():
    rows = sec.parse_master_index(MASTER)
    assert [(r.cik, r.form_type) for r in rows] == [("2012347", "424B4"), ("19617", "424B2"), ("1234", "1-A POS")]
    assert rows[0].accession == "0001193125-26-400003" and rows[0].date_filed == date(2026, 9, 30)


def test_non_ipo_forms_give_no_candidates_and_resale_s1_creates_nothing():
    rows = sec.parse_master_index(MASTER) + [sec.IndexRow("55", "OLD CO", "S-1", date(2026, 9, 30), "x/1.txt")]
    history = {"form": ["424B4", "S-1"], "filingDate": ["2026-09-30", "2026-08-01"]}
    companies = {"55": {"filings": {"recent": {"form": ["10-K"], "filingDate": ["2026-03-01"]}}},
                 "2012347": {"name": "Priced IPO Corp", "tickers": ["PIPO"], "exchanges": ["Nasdaq"], "sic": "7372",
                             "filings": {"recent": history}}}
    candidates, errors = sec.ipo_candidates(rows, companies.__getitem__)
    assert errors == []
    assert [c.kind for c in candidates] == ["424B4", "S-1"]
    priced, resale = candidates
    assert priced.creates_ipo and priced.status == "priced" and priced.ticker == "PIPO" and priced.exchange == "XNAS"
    assert not resale.creates_ipo and "already reported (10-K filed 2026-03-01)" in resale.note


def test_withdrawal_only_moves_known_deals():
    item = sec.candidate(sec.IndexRow("9", "X LTD", "RW", date(2026, 1, 2), "a/b.txt"), None)
    assert item.status == "withdrawn" and not item.creates_ipo


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel>
<item><title>Acme Robotics Prices IPO of 5,000,000 Shares at $12.00 (NYSE: ACMR)</title><guid>g1</guid>
<pubDate>Tue, 24 Nov 2026 21:05:00 -0500</pubDate></item>
<item><title>Zeta Bio files for initial public offering</title><link>https://x/zeta</link></item>
<item><title>Beta Corp postpones IPO amid volatility</title><guid>g3</guid></item>
<item><title>Markets rally</title><guid>g4</guid></item>
<item><guid>no-title</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<entry><id>tag:x,2026:1</id><title>Gamma Inc. Announces Pricing of Initial Public Offering</title>
<summary>to trade under the ticker symbol "GAMA" at $15.00 per share</summary>
<link href="https://x/gamma"/><updated>2026-11-24T12:00:00Z</updated></entry></feed>"""


def test_news_rss_headlines():
    items = [news.classify(item, "feed") for item in news.parse_feed(RSS)]
    acme, zeta, beta, markets, empty = items
    assert (acme.status, acme.ticker, acme.company_name, acme.exchange, acme.offer_price) == (
        "priced", "ACMR", "Acme Robotics", "XNYS", Decimal("12.00"))
    assert acme.shares_offered == 5000000 and acme.creates_ipo
    assert zeta.status == "filed" and zeta.ticker is None and not zeta.creates_ipo
    assert beta.status == "postponed"
    assert markets is None and empty is None


def test_news_atom_entry():
    (gamma,) = [news.classify(item, "feed") for item in news.parse_feed(ATOM)]
    assert (gamma.status, gamma.ticker, gamma.company_name) == ("priced", "GAMA", "Gamma Inc.")
    assert gamma.key == "tag:x,2026:1"


def test_news_not_a_feed():
    for body in (b"<html><body>hi</body></html>", b"not xml at all"):
        try:
            news.parse_feed(body)
        except ValueError as error:
            assert "feed" in str(error)
        else:
            raise AssertionError("parse_feed accepted a non-feed")


def test_company_names_normalise_for_matching():
    assert names.name_key("Primega Group Holdings Ltd") == names.name_key("PRIMEGA GROUP HOLDINGS LIMITED /KY/")
    assert names.name_key("Lumen Oncology, Inc.") == names.name_key("LUMEN ONCOLOGY INC")
    assert names.name_key("Cedar Bay Acquisition Corp - Units") == "cedar bay acquisition"
    assert names.name_key("Acme Corp") != names.name_key("Acme Bank Corp")
