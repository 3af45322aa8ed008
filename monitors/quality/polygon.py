"""Polygon daily aggregates as a second way in for bars, through the one Polygon client (monitors.ipo.api).
The bars go through the same validation and upsert as a CSV import."""

from dataclasses import dataclass, field
from datetime import date

from monitors.ipo.api import PolygonClient
from monitors.quality import loader
from tickstock_ops.http import SourceError


@dataclass
class FetchResult:
    loaded: loader.LoadResult
    rejected: list[str] = field(default_factory=list)  # "AAA 2025-03-04: close is outside low..high"
    failures: dict[str, str] = field(default_factory=dict)  # symbol → why its request failed


def fetch_daily_bars(symbols: list[str], start: date, end: date, *, source: str = "polygon",
                     adjusted: bool = False, client: PolygonClient | None = None) -> FetchResult:
    """Import `symbols`' daily bars from `start` to `end`. Unadjusted by default, as traded, so that splits show
    in the data and the checks judge them like any other source's bars. A symbol whose request fails is
    reported and the others still load."""
    client = client or PolygonClient.from_settings()
    if client is None:
        raise loader.LoadError("POLYGON_API_KEY is not set: the Polygon source is disabled")
    rows: list[list[str]] = []
    labels: list[str] = []
    failures: dict[str, str] = {}
    for symbol in symbols:
        try:
            bars = client.daily_aggregates(symbol, start, end, adjusted=adjusted)
        except SourceError as error:
            failures[symbol] = str(error)
            continue
        for bar in bars:
            rows.append([symbol, bar.day.isoformat(), *(_text(value) for value in (
                bar.open, bar.high, bar.low, bar.close, bar.volume))])
            labels.append(f"{symbol} {bar.day.isoformat()}")
    result = loader.LoadResult(rows=len(rows))
    chunks = [(list(zip(*rows, strict=True)), list(range(1, len(rows) + 1)))] if rows else []
    loader.store_chunks(chunks, result, source, "1d")
    rejected = [f"{labels[error.line - 1]}: {error.message}" for error in result.errors]
    return FetchResult(loaded=result, rejected=rejected, failures=failures)


def _text(value) -> str:
    return "" if value is None else str(value)
