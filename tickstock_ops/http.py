"""The HTTP client every data source shares: throttle, timeouts, retries with backoff honouring Retry-After,
a total deadline however slowly bytes arrive, and content checks (SEC and Nasdaq answer some errors with an
HTML page, sometimes with status 200). docs/ipo.md describes the limits."""

import json
import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

import requests

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
DEADLINE = -1  # the `status` of a SourceError raised because a deadline passed
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


@dataclass(frozen=True)
class Limits:
    """How long one client waits and how often it retries (each app fills these from its own settings)."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0  # per socket read: a server dripping bytes never trips it, the deadline does
    retries: int = 3  # after the first attempt, for 429, 5xx, timeouts
    backoff_base: float = 1.0  # doubles per attempt, capped at backoff_max
    backoff_max: float = 60.0
    retry_after_max: float = 120.0  # a longer Retry-After is not waited for: the request fails as retryable
    request_deadline: float = 0.0  # seconds for one request with its retries and whole body; 0 = none


CHUNK = 65536


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
    """One `requests.Session` per source. Subclasses name the source and add its endpoints and parsers.

    `within(seconds)` bounds everything the client does inside it (a source's whole fetch) by one deadline;
    `cancel()` (from another thread) makes its next read or request fail."""

    name = "source"

    def __init__(self, base_url: str, *, per_second: float, headers: dict | None = None,
                 limits: Limits | None = None, sleep=time.sleep):
        self.base_url = base_url.rstrip("/") + "/"
        self.throttle = Throttle(per_second, sleep=sleep)
        self.limits = limits or Limits()
        self.timeout = (self.limits.connect_timeout, self.limits.read_timeout)
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.requests_made = 0
        self._count_lock = threading.Lock()
        self._deadline: tuple[float, str] | None = None  # (monotonic moment, what it bounds)
        self._cancelled = threading.Event()

    @contextmanager
    def within(self, seconds: float, what: str):
        """Everything inside takes at most `seconds` (0 = no limit), else SourceError naming `what`."""
        previous = self._deadline
        if seconds > 0:
            moment = time.monotonic() + seconds
            if previous is None or moment < previous[0]:
                self._deadline = (moment, f"{what} exceeded its {seconds:g}s deadline")
        try:
            yield
        finally:
            self._deadline = previous

    def cancel(self) -> None:
        self._cancelled.set()

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
        with self.within(self.limits.request_deadline, f"request {self._safe(url)}"):
            attempt = 0
            while True:
                self.throttle.wait()
                problem, wait, response = self._attempt(url, params, missing_ok)
                if problem is None:
                    return None if response.status_code == 404 else response
                if not problem.retryable or problem.status == DEADLINE or attempt >= self.limits.retries:
                    raise problem
                delay = wait if wait is not None else min(self.limits.backoff_max,
                                                          self.limits.backoff_base * 2 ** attempt)
                if delay > self.limits.retry_after_max:
                    raise SourceError(self.name, f"{problem.message} (not waiting {delay:.0f}s here: more than "
                                      f"{self.limits.retry_after_max:.0f}s)", retryable=True, status=problem.status)
                self._check_deadline(delay)
                log.info("%s: %s; retry %d/%d in %.1fs", self.name, problem.message, attempt + 1,
                         self.limits.retries, delay)
                self.sleep(delay)
                attempt += 1

    def _attempt(self, url: str, params: dict | None, missing_ok: bool):
        """(problem, seconds to wait before retrying, response) of one request."""
        with self._count_lock:
            self.requests_made += 1
        try:
            self._check_deadline()
            response = self.session.get(url, params=params, timeout=self._timeout(), stream=True)
            self._read_body(response)
        except SourceError as problem:
            return problem, None, None
        except requests.Timeout:
            return SourceError(self.name, f"timed out after {self.timeout[1]:g}s: {self._safe(url)}",
                               retryable=True), None, None
        except requests.RequestException as error:
            return SourceError(self.name, f"cannot reach {self._safe(url)}: {type(error).__name__}",
                               retryable=True), None, None
        problem, wait = self._check(response, missing_ok)
        return problem, wait, response

    def _timeout(self) -> tuple[float, float]:
        if self._deadline is None:
            return self.timeout
        remaining = max(0.05, self._deadline[0] - time.monotonic())
        return min(self.timeout[0], remaining), min(self.timeout[1], remaining)

    def _check_deadline(self, extra: float = 0.0) -> None:
        if self._cancelled.is_set():
            raise SourceError(self.name, "cancelled: the scan's deadline passed", retryable=True, status=DEADLINE)
        if self._deadline is not None and time.monotonic() + extra >= self._deadline[0]:
            raise SourceError(self.name, self._deadline[1], retryable=True, status=DEADLINE)

    def _read_body(self, response: requests.Response) -> None:
        """Read the body chunk by chunk (each read returns what has arrived), checking the deadline between
        reads: `requests`' read timeout bounds one read, not the response."""
        chunks = []
        try:
            while True:
                self._check_deadline()
                chunk = response.raw.read1(CHUNK, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
        except SourceError:
            response.close()
            raise
        except Exception as error:  # urllib3's read errors: a timeout, a reset, a truncated body
            response.close()
            if "timed out" in str(error).lower():
                raise requests.Timeout(str(error)) from None
            raise requests.ConnectionError(str(error)) from None
        response._content = b"".join(chunks)
        response._content_consumed = True

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
