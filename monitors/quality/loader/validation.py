"""Validating bars column-wise, a chunk at a time: every rejected row is reported with its first problem."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitors.quality.loader import bounds
from monitors.quality.loader.results import LoadResult, RowError
from tickstock_ops.symbols import SymbolError, normalise_symbol

COLUMNS = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]
DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"
WITH_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
# Intraday: a date-time to the minute, second or microsecond (finer would not survive being stored) with an offset.
DATE_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?" + WITH_OFFSET


@dataclass
class Chunk:
    """Validated bars as arrays: line numbers, symbols, UTC nanoseconds, prices, volumes."""

    line: np.ndarray
    symbol: np.ndarray
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.line)

    def take(self, mask: np.ndarray) -> "Chunk":
        return Chunk(*(getattr(self, name)[mask] for name in self.__dataclass_fields__))



class _Rejections:
    """The first problem of each rejected row of a chunk."""

    def __init__(self, size: int):
        self.bad = np.zeros(size, dtype=bool)
        self.messages: dict[int, str] = {}

    def add(self, mask: np.ndarray, message) -> None:
        new = mask & ~self.bad
        for index in np.nonzero(new)[0]:
            self.messages[int(index)] = message(index) if callable(message) else message
        self.bad |= new


def validate(columns: list, lines: Sequence[int], interval: str, result: LoadResult) -> Chunk:
    """The chunk's valid rows as arrays; every rejected row is added to `result.errors` with its first problem.
    Symbols and timestamps repeat a lot, so they are parsed once per distinct value."""
    raw_symbol, raw_ts, *raw_numbers = columns
    rejected = _Rejections(len(lines))
    limits = bounds.bar_bounds()
    symbols, same_symbol = _symbols(raw_symbol, rejected)
    stamps = _timestamps(raw_ts, interval, limits, rejected)
    o, h, lo, c, v = _numbers(raw_numbers, limits, rejected)

    result.errors.extend(RowError(lines[index], message) for index, message in rejected.messages.items())
    good = ~rejected.bad
    chunk = Chunk(np.asarray(lines, dtype=np.int64), symbols, stamps, o, h, lo, c,
                  np.where(good, v, 0).astype(np.int64)).take(good)
    repeated = pd.DataFrame({"s": same_symbol[good], "t": chunk.ts}).duplicated(keep="last").to_numpy()
    if repeated.any():
        result.duplicates += int(repeated.sum())
        chunk = chunk.take(~repeated)
    return chunk


def _symbols(raw_symbol, rejected: _Rejections) -> tuple[np.ndarray, np.ndarray]:
    """Normalised symbols (docs/symbols.md), and a code per row that is equal for "aaa" and "AAA " (one symbol)."""
    codes, distinct = pd.factorize(np.asarray(raw_symbol, dtype=object))
    cleaned = np.empty(len(distinct), dtype=object)
    problems = {}
    for index, value in enumerate(distinct):
        try:
            cleaned[index] = normalise_symbol(value)
        except SymbolError as error:
            cleaned[index], problems[index] = "", str(error)
    unusable = np.zeros(len(distinct), dtype=bool)
    unusable[list(problems)] = True
    rejected.add(unusable[codes], lambda i: problems[codes[i]])
    return cleaned[codes], pd.factorize(cleaned)[0][codes]


def _timestamps(raw_ts, interval: str, limits: bounds.Bounds, rejected: _Rejections) -> np.ndarray:
    """UTC nanoseconds. The year is bounded on the text before pandas parses it: pandas keeps a date outside
    1677-2262 at microseconds, and converting that to nanoseconds wraps around silently."""
    ts_codes, ts_distinct = pd.factorize(np.asarray(raw_ts, dtype=object))
    texts = pd.Series(ts_distinct, dtype=object).str.strip()
    if interval == "1d":
        shape_ok = texts.str.match(DATE_ONLY).to_numpy(dtype=bool)
        rejected.add(~shape_ok[ts_codes],
                     lambda i: f"timestamp {raw_ts[i]!r} is not a date (YYYY-MM-DD) for daily bars")
    else:
        has_offset = texts.str.contains(WITH_OFFSET).to_numpy(dtype=bool)
        rejected.add(~has_offset[ts_codes], lambda i: f"timestamp {raw_ts[i]!r} needs a UTC offset (e.g. -04:00)")
        shape_ok = texts.str.match(DATE_TIME).to_numpy(dtype=bool)
        rejected.add(~shape_ok[ts_codes], lambda i: f"timestamp {raw_ts[i]!r} is not an ISO-8601 date-time "
                                                    "(YYYY-MM-DDTHH:MM[:SS[.ffffff]]±HH:MM)")
    years = pd.to_numeric(texts.str.slice(0, 4).where(shape_ok), errors="coerce").to_numpy()
    with np.errstate(invalid="ignore"):
        in_years = (years >= limits.earliest.year - 1) & (years <= limits.latest.year + 1)
    usable = texts.where(shape_ok & in_years)
    if interval == "1d":
        parsed = pd.to_datetime(usable, format="%Y-%m-%d", errors="coerce").dt.tz_localize("UTC")
    else:
        parsed = pd.to_datetime(usable, format="ISO8601", utc=True, errors="coerce")
    unparsed = (parsed.isna().to_numpy() & in_years)[ts_codes]
    rejected.add(unparsed, lambda i: f"timestamp {raw_ts[i]!r} is not a valid date/time")
    with np.errstate(invalid="ignore"):
        outside = ~in_years | ((parsed < limits.earliest) | (parsed > limits.latest)).to_numpy()
    rejected.add(outside[ts_codes],
                 lambda i: f"timestamp {raw_ts[i]!r} is outside the accepted range {limits.describe_time()}")
    return parsed.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").view(np.int64)[ts_codes]


def _numbers(raw_numbers: list, limits: bounds.Bounds, rejected: _Rejections) -> list[np.ndarray]:
    """open, high, low, close and volume as floats: finite, prices within the bounds, volumes whole."""
    values = {}
    for name, raw in zip([*PRICE_COLUMNS, "volume"], raw_numbers, strict=True):
        numbers = _floats(raw)
        rejected.add(~np.isfinite(numbers), lambda i, raw=raw, name=name: f"{name} {raw[i]!r} is not a number")
        values[name] = numbers
    o, h, lo, c, v = (values[name] for name in ["open", "high", "low", "close", "volume"])
    with np.errstate(invalid="ignore"):
        rejected.add(np.minimum.reduce([o, h, lo, c]) <= 0, "prices must be positive")
        for name, raw in zip(PRICE_COLUMNS, raw_numbers[:4], strict=True):
            price = values[name]
            rejected.add((price < limits.price_min) | (price > limits.price_max),
                         lambda i, raw=raw, name=name: f"{name} {raw[i]!r} is outside the accepted price range "
                                                       f"{limits.price_min:g} … {limits.price_max:g}")
        rejected.add(lo > h, "low is above high")
        rejected.add((o < lo) | (o > h), "open is outside low..high")
        rejected.add((c < lo) | (c > h), "close is outside low..high")
        rejected.add(v < 0, "volume is negative")
        rejected.add(v != np.floor(v), lambda i: f"volume {raw_numbers[4][i]!r} is not a whole number of shares")
        rejected.add(v > limits.max_volume, "volume is not a plausible share count")
    return [o, h, lo, c, v]


def _floats(raw: tuple) -> np.ndarray:
    """Parse a column of numbers; anything unparseable (or not finite) becomes NaN."""
    try:
        numbers = np.array(raw, dtype=np.float64)
    except ValueError:
        numbers = pd.to_numeric(pd.Series(raw, dtype=object).str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(numbers), numbers, np.nan)

