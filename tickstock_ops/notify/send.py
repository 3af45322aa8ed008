"""Handing a message to a receiver's Apprise URLs; what went wrong comes from Apprise's own log lines."""

import logging
import re
import time
from dataclasses import dataclass

# Apprise URLs may carry commas in their query (`?to=a@x.com,b@x.com`): split only where a new URL starts.
URL_SPLIT = re.compile(r"[,\s]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")
# Apprise's notify types (its NotifyType values): they pick the colour or icon where a service has one.
NOTIFY_TYPES = {"critical": "failure", "warning": "warning", "info": "info", "resolved": "success"}


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    severity: str  # critical, warning, info, or resolved


@dataclass(frozen=True)
class SendResult:
    ok: bool
    latency_ms: float
    error: str = ""


def split_urls(value: str) -> list[str]:
    return [url.strip() for url in URL_SPLIT.split(value or "") if url.strip()]


def invalid_urls(urls: list[str]) -> list[str]:
    """The URLs Apprise does not understand, shown without what follows the scheme (it may hold secrets)."""
    import apprise  # imported when used: it takes over a second, and most processes never send

    return [redact(url) for url in urls if not apprise.Apprise().add(url)]


def redact(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…" if rest else url[:20]


def send(urls: list[str], message: Message) -> SendResult:
    """Send to every URL; succeeds only if all of them accepted the message."""
    import apprise

    client = apprise.Apprise()
    bad = [redact(url) for url in urls if not client.add(url)]
    if bad or not urls:
        return SendResult(False, 0.0, f"Apprise cannot use: {', '.join(bad)}" if bad else "no URLs configured")
    started = time.perf_counter()
    with apprise.LogCapture(level=logging.WARNING) as log:
        result = client.notify(title=message.title, body=message.body,
                               notify_type=NOTIFY_TYPES.get(message.severity, "info"))
    latency = round((time.perf_counter() - started) * 1000, 2)
    ok = bool(result)
    error = "" if ok else (log.getvalue().strip() or "the receiver did not accept the notification")
    return SendResult(ok, latency, _without_timestamps(error)[:2000])


def _without_timestamps(text: str) -> str:
    return re.sub(r"^\d{4}-\d\d-\d\d [\d:,]+ - (?:[A-Z]+ - )?", "", text, flags=re.MULTILINE)
