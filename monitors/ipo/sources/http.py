"""The HTTP client every source shares: throttle, timeouts, retries with backoff honouring Retry-After,
and content checks (SEC and Nasdaq answer some errors with an HTML page, sometimes with status 200)."""

import json
import logging
import re
import threading
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

import requests

from monitors.ipo import conf

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
SEC_BLOCK_SECONDS = 600.0
HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body)", re.IGNORECASE)
TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
RATE_LIMIT_PAGE = re.compile(rb"request rate threshold exceeded|too many requests", re.IGNORECASE)
UNDECLARED_TOOL_PAGE = re.compile(rb"undeclared automated tool", re.IGNORECASE)


class SourceError(Exception):
    """A source could not give an answer. `retryable` says whether trying again later may help."""

    def __init__(self, source: str, message: str, *, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.source = source
        self.message = message
        self.retryable = retryable
        self.status = status

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


class Throttle:
    """At most `per_second` requests a second from this client, across threads; 0 means no limit."""

    def __init__(self, per_second: float, clock=time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def html_title(body: bytes) -> str:
    match = TITLE.search(body[:4000])
    if match:
        return re.sub(rb"\s+", b" ", match.group(1)).strip().decode("utf-8", "replace")
    text = re.sub(rb"<[^>]+>", b" ", body[:2000])
    return re.sub(rb"\s+", b" ", text).strip()[:120].decode("utf-8", "replace")


class SourceClient:
    """One `requests.Session` per source. Subclasses name the source and add its endpoints and parsers."""

    name = "source"

    def __init__(self, base_url: str, *, per_second: float, headers: dict | None = None,
                 timeout: tuple[float, float] | None = None, retries: int | None = None,
                 backoff_base: float | None = None, sleep=time.sleep):
        self.base_url = base_url.rstrip("/") + "/"
        self.throttle = Throttle(per_second, sleep=sleep)
        self.timeout = timeout or (conf.get("IPO_HTTP_CONNECT_TIMEOUT"), conf.get("IPO_HTTP_READ_TIMEOUT"))
        self.retries = conf.get("IPO_HTTP_RETRIES") if retries is None else retries
        self.backoff_base = conf.get("IPO_HTTP_BACKOFF_BASE") if backoff_base is None else backoff_base
        self.backoff_max = conf.get("IPO_HTTP_BACKOFF_MAX")
        self.retry_after_max = conf.get("IPO_HTTP_RETRY_AFTER_MAX")
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.requests_made = 0
        self._count_lock = threading.Lock()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else urljoin(self.base_url, path.lstrip("/"))

    def get_json(self, path: str, params: dict | None = None, *, missing_ok: bool = False):
        """The decoded JSON body, or None for a 404 when `missing_ok`."""
        response = self.get(path, params, missing_ok=missing_ok)
        if response is None:
            return None
        try:
            return json.loads(response.content)
        except ValueError as error:
            raise SourceError(self.name, f"malformed JSON from {self._safe(response.url)}: {error}",
                              retryable=True, status=response.status_code) from None

    def get_text(self, path: str, params: dict | None = None, *, missing_ok: bool = False) -> str | None:
        response = self.get(path, params, missing_ok=missing_ok)
        if response is None:
            return None
        return response.content.decode(response.encoding or "utf-8", "replace")

    def get(self, path: str, params: dict | None = None, *, missing_ok: bool = False) -> requests.Response | None:
        url = self.url(path)
        attempt = 0
        while True:
            self.throttle.wait()
            with self._count_lock:
                self.requests_made += 1
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except requests.Timeout:
                problem = SourceError(self.name, f"timed out after {self.timeout[1]:g}s: {self._safe(url)}",
                                      retryable=True)
                wait = None
            except requests.RequestException as error:
                problem = SourceError(self.name, f"cannot reach {self._safe(url)}: {type(error).__name__}",
                                      retryable=True)
                wait = None
            else:
                problem, wait = self._check(response, missing_ok)
                if problem is None:
                    return None if response.status_code == 404 else response
            if not problem.retryable or attempt >= self.retries:
                raise problem
            delay = wait if wait is not None else min(self.backoff_max, self.backoff_base * 2 ** attempt)
            if delay > self.retry_after_max:
                raise SourceError(self.name, f"{problem.message} (not waiting {delay:.0f}s here: more than "
                                  f"{self.retry_after_max:.0f}s)", retryable=True, status=problem.status)
            log.info("%s: %s; retry %d/%d in %.1fs", self.name, problem.message, attempt + 1, self.retries, delay)
            self.sleep(delay)
            attempt += 1

    def _check(self, response: requests.Response, missing_ok: bool) -> tuple[SourceError | None, float | None]:
        """(problem, seconds the server asked us to wait) for a response; (None, None) when it is usable."""
        status = response.status_code
        body = response.content or b""
        is_html = self._is_html(response, body)
        where = self._safe(response.url)
        if is_html and UNDECLARED_TOOL_PAGE.search(body[:20000]):
            if "@" not in self.session.headers.get("User-Agent", ""):
                return SourceError(self.name, f"refused as an undeclared automated tool ({status}) at {where}: "
                                   "set SEC_USER_AGENT to 'Company contact@example.com'", retryable=False,
                                   status=status), None
            # Declared, yet over SEC's fair-access rate: SEC blocks the client for about ten minutes, so a retry
            # now would only extend the block. The next scan tries again.
            return SourceError(self.name, f"rate-limited as an undeclared automated tool ({status}) at {where} "
                               "although SEC_USER_AGENT is declared: SEC blocks for about 10 minutes; lower "
                               "SEC_REQUESTS_PER_SECOND", retryable=True, status=status), SEC_BLOCK_SECONDS
        if status in RETRY_STATUSES or (status == 403 and RATE_LIMIT_PAGE.search(body[:20000])):
            detail = html_title(body) if is_html else body[:200].decode("utf-8", "replace").strip()
            return SourceError(self.name, f"HTTP {status} at {where}: {detail}", retryable=True,
                               status=status), retry_after_seconds(response.headers.get("Retry-After"))
        if status == 404 and missing_ok:
            return None, None
        if status >= 400:
            detail = html_title(body) if is_html else body[:200].decode("utf-8", "replace").strip()
            return SourceError(self.name, f"HTTP {status} at {where}: {detail}", retryable=False,
                               status=status), None
        if is_html:
            return SourceError(self.name, f"an HTML page instead of data at {where}: {html_title(body)}",
                               retryable=True, status=status), None
        return None, None

    @staticmethod
    def _is_html(response: requests.Response, body: bytes) -> bool:
        """No source serves data as HTML, but some feeds are labelled text/html: trust the body first."""
        start = body[:200].lstrip().lower()
        if HTML_START.match(start):
            return True
        looks_like_data = start[:1] in (b"{", b"[") or start.startswith((b"<?xml", b"<rss", b"<feed"))
        return "html" in response.headers.get("Content-Type", "").lower() and not looks_like_data and bool(start)

    def _safe(self, url: str) -> str:
        """The URL as it may appear in logs and events: without credentials."""
        return re.sub(r"(apiKey=)[^&]+", r"\1***", url)
