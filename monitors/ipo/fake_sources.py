"""A loopback HTTP server that answers like Polygon, SEC EDGAR, Nasdaq and a news feed, from data in memory,
with faults on demand. Tests and `bench/ipo_scan.py` point the source settings at it; nothing leaves 127.0.0.1.
"""

import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

UNDECLARED_TOOL_PAGE = (
    "<!DOCTYPE html><html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body>"
    "<h1>Your Request Originates from an Undeclared Automated Tool</h1><p>To allow for equitable access to all "
    "users, SEC reserves the right to limit requests originating from undeclared automated tools. Your request "
    "has been identified as part of a network of automated tools outside of the acceptable policy and will be "
    "managed until action is taken to declare your traffic.</p></body></html>"
)
RATE_LIMIT_JSON = '{"status":"ERROR","request_id":"x","error":"You\'ve exceeded the maximum requests per minute, ' \
                  'please wait or upgrade your subscription to continue. https://polygon.io/pricing"}'
MASTER_HEADER = (
    "Description:           Daily Index of EDGAR Dissemination Feed by Company Name\n"
    "Last Data Received:    {day}\nComments:              webmaster@sec.gov\n"
    "Anonymous FTP:         ftp://ftp.sec.gov/edgar/\n\n\n\n"
    "CIK|Company Name|Form Type|Date Filed|File Name\n"
    "--------------------------------------------------------------------------------\n"
)


@dataclass
class Fault:
    """One canned answer served instead of the real one (status, headers, body), or a stall of `delay` s."""

    status: int = 500
    body: str | bytes = ""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class SourceData:
    polygon_ipos: list[dict] = field(default_factory=list)
    tickers: dict[str, dict] = field(default_factory=dict)
    bars: dict[str, list[dict]] = field(default_factory=dict)
    sec_index: dict[date, list[tuple]] = field(default_factory=dict)  # (cik, name, form, yyyymmdd, file name)
    submissions: dict[str, dict] = field(default_factory=dict)  # by unpadded CIK
    submission_pages: dict[str, dict] = field(default_factory=dict)  # older pages (`filings.files`) by name
    nasdaq: dict[str, dict] = field(default_factory=dict)  # by "YYYY-MM": the `data` object
    feeds: dict[str, str] = field(default_factory=dict)  # by path: RSS/Atom text
    polygon_page_size: int = 1000
    api_key: str = "test-key"
    empty_index_when_missing: bool = False  # a day without recorded filings: an empty index instead of a 404


def master_index(day: date, rows: list[tuple]) -> str:
    lines = [f"{cik}|{name}|{form}|{filed}|{path}" for cik, name, form, filed, path in rows]
    return MASTER_HEADER.format(day=day.strftime("%b %d, %Y")) + "\n".join(lines) + "\n"


def empty_calendar(month: str) -> dict:
    year, number = month.split("-")
    return {"priced": {"rows": None}, "upcoming": {"upcomingTable": {"rows": None}}, "filed": {"rows": None},
            "withdrawn": {"rows": None}, "month": int(number), "year": int(year)}


class FakeSources:
    """`with FakeSources(data) as fake:` → `fake.url`; `fake.fail(prefix, Fault(...), times=n)` for faults."""

    def __init__(self, data: SourceData | None = None):
        self.data = data or SourceData()
        self.faults: list[tuple[str, Fault]] = []
        self.requests: Counter = Counter()
        self.log: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakeSources":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, path_prefix: str, fault: Fault, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([(path_prefix, fault)] * times)

    def settings(self) -> dict:
        """Source settings pointing every client here, with throttles off."""
        return {"POLYGON_BASE_URL": self.url, "POLYGON_API_KEY": self.data.api_key, "SEC_BASE_URL": self.url,
                "SEC_DATA_URL": self.url, "NASDAQ_BASE_URL": self.url,
                "NEWS_FEED_URLS": [self.url + path for path in self.data.feeds] or [],
                "POLYGON_REQUESTS_PER_MINUTE": 0, "SEC_REQUESTS_PER_SECOND": 0, "NEWS_REQUESTS_PER_SECOND": 0,
                "NASDAQ_REQUESTS_PER_SECOND": 0}

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for i, (prefix, fault) in enumerate(self.faults):
                if path.startswith(prefix):
                    del self.faults[i]
                    return fault
        return None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/__requests":  # the counters, for a server running in another process
                    with fake.lock:
                        counts = dict(fake.requests)
                        if "reset" in query:
                            fake.requests.clear()
                    return self.reply(200, json.dumps(counts), {})
                source = fake.source_of(parts.path)
                with fake.lock:
                    fake.requests[source] += 1
                    fake.log.append(self.path)
                fault = fake._take_fault(parts.path)
                if fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    return self.reply(fault.status, fault.body, fault.headers)
                try:
                    status, body, headers = fake.route(parts.path, query, self.headers)
                except Exception as error:  # the fake's own bug shows as a 500 with the reason
                    status, body, headers = 500, f"fake server error: {error!r}", {}
                self.reply(status, body, headers)

            def reply(self, status, body, headers):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                content_type = headers.get("Content-Type") or (
                    "text/html; charset=utf-8" if data.lstrip()[:1] == b"<" and b"<html" in data[:300].lower()
                    else "application/json")
                self.send_header("Content-Type", content_type)
                for name, value in headers.items():
                    if name != "Content-Type":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        return Handler

    @staticmethod
    def source_of(path: str) -> str:
        if path.startswith(("/vX/", "/v3/", "/v2/")):
            return "polygon"
        if path.startswith(("/Archives/", "/submissions/")):
            return "sec"
        if path.startswith("/api/ipo/"):
            return "nasdaq"
        return "news"

    def route(self, path: str, query: dict, headers) -> tuple[int, str, dict]:
        data = self.data
        source = self.source_of(path)
        if source == "polygon" and query.get("apiKey") != data.api_key:
            return 401, json.dumps({"status": "ERROR", "error": "Unknown API Key"}), {}
        if source == "sec" and "@" not in (headers.get("User-Agent") or ""):
            return 403, UNDECLARED_TOOL_PAGE, {"Content-Type": "text/html"}
        if path == "/vX/reference/ipos":
            return 200, json.dumps(self._ipos_page(query)), {}
        if path.startswith("/v3/reference/tickers/"):
            found = data.tickers.get(path.rsplit("/", 1)[-1])
            if found is None:
                return 404, json.dumps({"status": "NOT_FOUND", "message": "Ticker not found."}), {}
            return 200, json.dumps({"status": "OK", "results": found}), {}
        if path.startswith("/v2/aggs/ticker/"):
            ticker = path.split("/")[4]
            start, end = path.split("/")[-2:]
            rows = [b for b in data.bars.get(ticker, [])
                    if start <= time.strftime("%Y-%m-%d", time.gmtime(b["t"] / 1000)) <= end]
            return 200, json.dumps({"ticker": ticker, "status": "OK", "resultsCount": len(rows), "results": rows}), {}
        if path.startswith("/Archives/edgar/daily-index/"):
            stamp = path.rsplit(".", 2)[-2]
            day = date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))
            if day not in data.sec_index and data.empty_index_when_missing and day.weekday() < 5:
                return 200, master_index(day, []), {"Content-Type": "text/plain"}
            if day not in data.sec_index:
                return 404, "<html><head><title>SEC.gov | File Not Found Error Alert (404)</title></head></html>", \
                    {"Content-Type": "text/html"}
            return 200, master_index(day, data.sec_index[day]), {"Content-Type": "text/plain"}
        if path.startswith("/submissions/") and path.removeprefix("/submissions/") in data.submission_pages:
            return 200, json.dumps(data.submission_pages[path.removeprefix("/submissions/")]), {}
        if path.startswith("/submissions/CIK"):
            cik = str(int(path.removeprefix("/submissions/CIK").removesuffix(".json")))
            if cik not in data.submissions:
                return 404, "<html><title>Not found</title></html>", {"Content-Type": "text/html"}
            return 200, json.dumps(data.submissions[cik]), {}
        if path == "/api/ipo/calendar":
            month = query.get("date", "")
            body = {"data": data.nasdaq.get(month) or empty_calendar(month), "message": None,
                    "status": {"rCode": 200, "bCodeMessage": None, "developerMessage": None}}
            return 200, json.dumps(body), {}
        if path in data.feeds:
            return 200, data.feeds[path], {"Content-Type": "application/rss+xml"}
        return 404, json.dumps({"status": "NOT_FOUND"}), {}

    def _ipos_page(self, query: dict) -> dict:
        rows = self.data.polygon_ipos
        for op, test in (("gte", lambda a, b: a >= b), ("lte", lambda a, b: a <= b), ("gt", lambda a, b: a > b),
                         ("lt", lambda a, b: a < b)):
            bound = query.get(f"listing_date.{op}")
            if bound:
                rows = [r for r in rows if r.get("listing_date") and test(r["listing_date"], bound)]
        if query.get("ipo_status"):
            rows = [r for r in rows if r.get("ipo_status") == query["ipo_status"]]
        if query.get("ticker"):
            rows = [r for r in rows if r.get("ticker") == query["ticker"]]
        rows = sorted(rows, key=lambda r: r.get("listing_date") or "")
        size = min(int(query.get("limit", 10)), self.data.polygon_page_size)
        offset = int(query.get("cursor", 0))
        page = {"status": "OK", "request_id": "fake", "results": rows[offset:offset + size]}
        if offset + size < len(rows):
            rest = {k: v for k, v in query.items() if k not in ("apiKey", "cursor")}
            page["next_url"] = f"{self.url}/vX/reference/ipos?{urlencode({**rest, 'cursor': offset + size})}"
        return page
