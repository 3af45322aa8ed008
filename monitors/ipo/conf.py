"""The IPO monitor's own settings, each overridable in Django settings (and so in tests)."""

from equity_rules import api
from tickstock_ops.conf import setting
from tickstock_ops.http import Limits

DEFAULTS = {
    # Seconds to connect / read before a source request counts as a timeout.
    "IPO_HTTP_CONNECT_TIMEOUT": 5.0,
    "IPO_HTTP_READ_TIMEOUT": 20.0,
    # Retries after the first attempt for 429, 5xx and timeouts; backoff doubles from the base, capped.
    "IPO_HTTP_RETRIES": 3,
    "IPO_HTTP_BACKOFF_BASE": 1.0,
    "IPO_HTTP_BACKOFF_MAX": 60.0,
    # A Retry-After longer than this is not waited for: the request fails as retryable instead.
    "IPO_HTTP_RETRY_AFTER_MAX": 120.0,
    # Total seconds for one request with its retries and its whole body, however slowly the bytes arrive.
    "IPO_HTTP_REQUEST_DEADLINE": 120.0,
    # Total seconds for one source's unit of work (a day's index and its filers, a calendar month, a window),
    # and for a whole scan or backfill: the schedule runs a scan twice a day, a backfill is run by hand.
    "IPO_FETCH_DEADLINE": 900.0,
    "IPO_SCAN_DEADLINE": 3600.0,
    "IPO_BACKFILL_DEADLINE": 6 * 3600.0,
    # Nasdaq hangs on unknown agents: look like a browser.
    "NASDAQ_USER_AGENT": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
    ),
    "NEWS_REQUESTS_PER_SECOND": 2.0,
    "NASDAQ_REQUESTS_PER_SECOND": 1.0,
    # Trading eligibility: the average volume of an IPO's first sessions must reach the equity type's
    # `volume_threshold`; this default applies where the rules engine has none for the type.
    "IPO_DEFAULT_VOLUME_THRESHOLD": 100_000,
    "IPO_FIRST_DAYS": 5,
    # The trading check looks for a deal's first bar from its listing (or expected) date until this many days
    # after it; a deal still without bars then is left as it is (an operator can re-fetch it).
    "IPO_TRADING_CHECK_DAYS": 14,
    # Threads asking Polygon for the due deals' bars at once (within its throttle; the writes stay on one).
    "IPO_TRADING_FETCH_THREADS": 4,
    # The daily scan asks Polygon for IPOs listing from this many days before the scanned day (their status
    # moves on after listing) to this many days after it (the pipeline).
    "IPO_RECENT_DAYS": 7,
    "IPO_UPCOMING_DAYS": 30,
    # A backfill asks Polygon for at most this many days in one (paged) request.
    "IPO_POLYGON_BACKFILL_CHUNK_DAYS": 31,
}


def get(name: str):
    return setting(name, DEFAULTS)


def http_limits() -> Limits:
    """The IPO sources' HTTP limits (also used by the Polygon client when other apps borrow it)."""
    return Limits(connect_timeout=get("IPO_HTTP_CONNECT_TIMEOUT"), read_timeout=get("IPO_HTTP_READ_TIMEOUT"),
                  retries=get("IPO_HTTP_RETRIES"), backoff_base=get("IPO_HTTP_BACKOFF_BASE"),
                  backoff_max=get("IPO_HTTP_BACKOFF_MAX"), retry_after_max=get("IPO_HTTP_RETRY_AFTER_MAX"),
                  request_deadline=get("IPO_HTTP_REQUEST_DEADLINE"))


def volume_threshold(equity_type: str) -> int:
    """The first-days average volume an IPO of `equity_type` needs: the rules engine's `volume_threshold`
    for that type, else IPO_DEFAULT_VOLUME_THRESHOLD."""
    rules = api.current_rules(equity_type) or {}
    threshold = (rules.get("validation_rules") or {}).get("volume_threshold")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        return int(threshold)
    return int(get("IPO_DEFAULT_VOLUME_THRESHOLD"))
