"""Each client against a real HTTP server on 127.0.0.1 that misbehaves the way the real sources do."""

import time
from datetime import date

import pytest

from monitors.ipo.fake_sources import RATE_LIMIT_JSON, UNDECLARED_TOOL_PAGE, Fault
from monitors.ipo.sources import SourceError
from monitors.ipo.sources.nasdaq import NasdaqClient
from monitors.ipo.sources.news import NewsClient
from monitors.ipo.sources.polygon import PolygonClient
from monitors.ipo.sources.sec import SecClient

IPOS = "/vX/reference/ipos"


def polygon(fake) -> PolygonClient:
    return PolygonClient.from_settings()


def test_polygon_429_with_retry_after_waits_that_long(fake, settings):
    settings.IPO_HTTP_BACKOFF_BASE = 0.0
    fake.fail(IPOS, Fault(429, RATE_LIMIT_JSON, {"Retry-After": "1"}))
    started = time.monotonic()
    rows = polygon(fake).list_ipos()
    assert time.monotonic() - started >= 0.95
    assert {row["ticker"] for row in rows} >= {"NWRB", "SGSW"}
    assert fake.requests["polygon"] == 2


def test_polygon_429_without_retry_after_backs_off_then_gives_a_retryable_error(fake, settings):
    settings.IPO_HTTP_RETRIES = 2
    fake.fail(IPOS, Fault(429, RATE_LIMIT_JSON), times=3)
    with pytest.raises(SourceError) as caught:
        polygon(fake).list_ipos()
    assert caught.value.retryable and caught.value.status == 429
    assert "exceeded the maximum requests" in caught.value.message
    assert fake.requests["polygon"] == 3


def test_retry_after_beyond_the_limit_is_not_waited_for(fake, settings):
    settings.IPO_HTTP_RETRY_AFTER_MAX = 5
    fake.fail(IPOS, Fault(429, RATE_LIMIT_JSON, {"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        polygon(fake).list_ipos()
    assert time.monotonic() - started < 2
    assert caught.value.retryable and "3600" in caught.value.message


def test_5xx_then_success(fake):
    fake.fail("/api/ipo/calendar", Fault(503, "Service Unavailable"), times=2)
    data = NasdaqClient.from_settings().calendar("2026-11")
    assert data["priced"]["rows"][0]["proposedTickerSymbol"] == "NWRB"
    assert fake.requests["nasdaq"] == 3


def test_a_timeout_is_retried_and_then_reported(fake, settings):
    settings.IPO_HTTP_RETRIES = 1
    fake.fail("/api/ipo/calendar", Fault(200, "{}", delay=1.5), times=2)
    with pytest.raises(SourceError) as caught:
        NasdaqClient.from_settings().calendar("2026-11")
    assert caught.value.retryable and "timed out" in caught.value.message


def test_timeout_once_then_success(fake):
    fake.fail("/api/ipo/calendar", Fault(200, "{}", delay=1.5))
    assert NasdaqClient.from_settings().calendar("2026-11")["month"] == 11


def test_sec_undeclared_automated_tool_page_without_a_contact_is_a_clear_permanent_error(fake, settings):
    settings.SEC_USER_AGENT = "python-requests/2.34"
    with pytest.raises(SourceError) as caught:
        SecClient.from_settings().daily_index(date(2026, 11, 24))
    assert not caught.value.retryable and caught.value.status == 403
    assert "undeclared automated tool" in caught.value.message and "SEC_USER_AGENT" in caught.value.message
    assert fake.requests["sec"] == 1


def test_sec_undeclared_automated_tool_page_despite_a_contact_is_a_block_to_wait_out(fake):
    fake.fail("/Archives/", Fault(403, UNDECLARED_TOOL_PAGE, {"Content-Type": "text/html"}))
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        SecClient.from_settings().daily_index(date(2026, 11, 24))
    assert time.monotonic() - started < 2 and fake.requests["sec"] == 1  # no hammering during the block
    assert caught.value.retryable and "about 10 minutes" in caught.value.message


def test_sec_rate_limit_page_in_html_is_retried(fake):
    page = "<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head></html>"
    fake.fail("/Archives/", Fault(403, page, {"Content-Type": "text/html"}))
    rows = SecClient.from_settings().daily_index(date(2026, 11, 24))
    assert any(row.form_type == "424B4" for row in rows)


def test_html_page_with_status_200_is_not_data(fake, settings):
    settings.IPO_HTTP_RETRIES = 0
    fake.fail("/api/ipo/calendar", Fault(200, "<!DOCTYPE html><html><title>Access Denied</title></html>",
                                         {"Content-Type": "text/html"}))
    with pytest.raises(SourceError) as caught:
        NasdaqClient.from_settings().calendar("2026-11")
    assert "HTML page" in caught.value.message and "Access Denied" in caught.value.message


def test_malformed_json(fake):
    fake.fail("/submissions/", Fault(200, '{"cik": "2012347", "name": "Northw'))
    with pytest.raises(SourceError) as caught:
        SecClient.from_settings().company("2012347")
    assert caught.value.retryable and "malformed JSON" in caught.value.message


def test_next_url_without_the_key_gets_it_again(fake):
    fake.data.polygon_page_size = 2
    rows = polygon(fake).list_ipos()
    assert len(rows) == len(fake.data.polygon_ipos)
    pages = [line for line in fake.log if line.startswith(IPOS)]
    assert len(pages) == 3 and all("apiKey=test-key" in line for line in pages)


def test_next_url_that_repeats_stops_paging_keeps_results_and_warns(fake):
    looping = '{"status": "OK", "results": [{"ticker": "LOOP", "issuer_name": "Loop Inc"}], ' \
              f'"next_url": "{fake.url}/vX/reference/ipos?cursor=same"}}'
    fake.fail(IPOS, Fault(200, looping), times=5)
    client = polygon(fake)
    fetch = client.fetch_window([date(2026, 11, 24)])
    assert [c.ticker for c in fetch.candidates] == ["LOOP", "LOOP"]
    assert len(fetch.errors) == 1 and "repeats" in fetch.errors[0].message
    assert fake.requests["polygon"] == 2


def test_polygon_error_status_in_body(fake):
    fake.fail(IPOS, Fault(200, '{"status": "ERROR", "error": "Unknown API Key"}'))
    with pytest.raises(SourceError, match="Unknown API Key"):
        polygon(fake).list_ipos()


def test_missing_daily_index_on_a_weekend_is_no_error(fake):
    fetch = SecClient.from_settings().fetch_day(date(2026, 11, 28))
    assert fetch.candidates == [] and fetch.errors == [] and "closed" in fetch.note


def test_missing_daily_index_on_a_trading_day_is_a_retryable_error(fake):
    with pytest.raises(SourceError) as caught:
        SecClient.from_settings().fetch_day(date(2026, 11, 20))
    assert caught.value.retryable and caught.value.status == 404


def test_ticker_details_404_means_not_known_yet(fake):
    assert polygon(fake).ticker_details("NWRB") is None
    assert polygon(fake).ticker_details("SGSW")["sic_code"] == "7372"


def test_polygon_without_a_key_is_disabled_with_a_log_line(settings, caplog):
    settings.POLYGON_API_KEY = ""
    assert PolygonClient.from_settings() is None
    assert "POLYGON_API_KEY is not set" in caplog.text


def test_one_feed_down_the_other_still_counts(fake, settings):
    settings.NEWS_FEED_URLS = [f"{fake.url}/missing.xml", *settings.NEWS_FEED_URLS]
    fetch = NewsClient.from_settings().fetch_window([date(2026, 11, 24)])
    assert {c.ticker for c in fetch.candidates} == {"NWRB", "LMNO"}
    assert len(fetch.errors) == 1 and "404" in fetch.errors[0].message


def test_unreachable_source(settings, fast_http):
    from tickstock_ops.testing import free_port

    settings.NASDAQ_BASE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceError) as caught:
        NasdaqClient.from_settings().calendar("2026-11")
    assert caught.value.retryable and "cannot reach" in caught.value.message


def test_throttle_spaces_requests(fake, settings):
    settings.SEC_REQUESTS_PER_SECOND = 10
    client = SecClient.from_settings()
    started = time.monotonic()
    for _ in range(4):
        client.get_json(f"{fake.url}/submissions/CIK0002012347.json")
    assert time.monotonic() - started >= 0.29


def test_retry_after_as_an_http_date(fake, settings):
    from email.utils import formatdate

    settings.IPO_HTTP_BACKOFF_BASE = 0.0
    fake.fail(IPOS, Fault(503, "busy", {"Retry-After": formatdate(time.time() + 2, usegmt=True)}))
    started = time.monotonic()
    polygon(fake).list_ipos()
    assert time.monotonic() - started >= 0.9
