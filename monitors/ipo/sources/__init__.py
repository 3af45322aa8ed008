"""One client per IPO data source. `enabled_clients()` builds the configured ones and says which are off."""

import logging

from monitors.ipo.sources.nasdaq import NasdaqClient
from monitors.ipo.sources.news import NewsClient
from monitors.ipo.sources.polygon import PolygonClient
from monitors.ipo.sources.sec import SecClient
from tickstock_ops.http import SourceClient, SourceError

log = logging.getLogger(__name__)

CLIENTS = {"polygon": PolygonClient, "sec": SecClient, "nasdaq": NasdaqClient, "news": NewsClient}
DISABLED_REASON = {"polygon": "POLYGON_API_KEY is not set", "news": "NEWS_FEED_URLS is empty"}

__all__ = ["CLIENTS", "SourceClient", "SourceError", "enabled_clients", "parse_source_names"]


def parse_source_names(value: str | None) -> list[str]:
    """`"polygon,sec"` → ["polygon", "sec"]; None or "" → every source. Unknown names raise ValueError."""
    if not value:
        return list(CLIENTS)
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in CLIENTS]
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}: choose from {', '.join(CLIENTS)}")
    return list(dict.fromkeys(names))


def enabled_clients(names: list[str]) -> tuple[dict[str, SourceClient], dict[str, str]]:
    """({name: client} for the sources that can run, {name: why not} for those that are off)."""
    clients, disabled = {}, {}
    for name in names:
        client = CLIENTS[name].from_settings()
        if client is None:
            disabled[name] = DISABLED_REASON.get(name, "not configured")
            log.warning("%s: source disabled: %s", name, disabled[name])
        else:
            clients[name] = client
    return clients, disabled
