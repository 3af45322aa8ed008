"""Importing bars and corporate actions. Rows are read as a stream in chunks, validated column-wise with pandas,
and upserted: on PostgreSQL each chunk is COPYed into a staging table and one INSERT … ON CONFLICT moves the
whole file into the bar table; elsewhere each chunk is upserted with executemany. One transaction per file:
a file either loads (minus its rejected rows, which are reported by line number) or changes nothing."""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import connection, transaction

from monitors.quality import conf
from monitors.quality.models import INTERVALS, Bar, CorporateAction

COLUMNS = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]
ACTION_COLUMNS = ["symbol", "date", "kind", "ratio"]
SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-/^]{0,19}$")
DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"
WITH_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


class LoadError(Exception):
    """The file as a whole cannot be loaded (unreadable, no header, wrong columns, unknown interval)."""


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class LoadResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.rows - len(self.errors)


def load_bars_file(path: str | Path, *, source: str | None = None, interval: str = "1d") -> LoadResult:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below, after streaming
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    with handle:
        return load_bars(handle, source=source, interval=interval)


def load_bars(lines: Iterable[str], *, source: str | None = None, interval: str = "1d") -> LoadResult:
    """Validate and upsert the bars CSV in `lines` (CONTRACT §3) under `source` and `interval`."""
    if interval not in INTERVALS:
        raise LoadError(f"unknown interval {interval!r}: use one of {', '.join(INTERVALS)}")
    source = (source or conf.get("QUALITY_DEFAULT_SOURCE")).strip()
    if not source or len(source) > 30:
        raise LoadError("--source must be 1 to 30 characters")
    result = LoadResult()
    chunks = _read_chunks(lines, result, conf.get("QUALITY_LOAD_CHUNK_ROWS"))
    writer = _PostgresWriter if connection.vendor == "postgresql" else _PortableWriter
    with transaction.atomic():
        sink = writer(source, interval)
        for frame in chunks:
            valid = _validate(frame, interval, result)
            if len(valid):
                sink.add(valid)
        sink.finish(result)
    result.errors.sort(key=lambda error: error.line)
    if result.rows == 0:
        result.notes.append("the file has a header but no data rows")
    return result


def _read_chunks(lines: Iterable[str], result: LoadResult, size: int) -> Iterator[pd.DataFrame]:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as error:
        raise LoadError(f"line 1: unreadable header: {error}") from error
    if header is None or not any(cell.strip() for cell in header):
        raise LoadError("the file is empty: expected the header " + ",".join(COLUMNS))
    names = [cell.strip().lower() for cell in header]
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        raise LoadError(f"line 1: header lacks {', '.join(missing)} (expected {','.join(COLUMNS)})")
    positions = [names.index(name) for name in COLUMNS]
    width = len(names)
    rows: list[list[str]] = []
    numbers: list[int] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except (csv.Error, UnicodeDecodeError) as error:
            result.rows += 1
            result.errors.append(RowError(reader.line_num, f"unreadable row: {error}"))
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        result.rows += 1
        if len(row) != width:
            result.errors.append(RowError(reader.line_num, f"expected {width} fields, found {len(row)}"))
            continue
        rows.append([row[i] for i in positions])
        numbers.append(reader.line_num)
        if len(rows) >= size:
            yield _frame(rows, numbers)
            rows, numbers = [], []
    if rows:
        yield _frame(rows, numbers)


def _frame(rows: list[list[str]], numbers: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    frame["line"] = np.asarray(numbers, dtype=np.int64)
    return frame


def _validate(frame: pd.DataFrame, interval: str, result: LoadResult) -> pd.DataFrame:
    """The chunk's valid rows, typed; every rejected row is added to `result.errors` with its first problem."""
    reason = pd.Series(None, index=frame.index, dtype=object)

    def reject(mask: pd.Series, message) -> None:
        mask = mask & reason.isna()
        if mask.any():
            reason[mask] = message(frame[mask]) if callable(message) else message

    symbol = frame["symbol"].str.strip().str.upper()
    reject(symbol == "", "symbol is empty")
    reject(~symbol.str.match(SYMBOL), lambda bad: "symbol " + bad["symbol"].map(repr) + " is not a ticker")

    raw_ts = frame["timestamp"].str.strip()
    if interval == "1d":
        reject(~raw_ts.str.match(DATE_ONLY),
               lambda bad: "timestamp " + bad["timestamp"].map(repr) + " is not a date (YYYY-MM-DD) for daily bars")
        ts = pd.to_datetime(raw_ts.where(reason.isna()), format="%Y-%m-%d", errors="coerce").dt.tz_localize("UTC")
    else:
        reject(~raw_ts.str.contains(WITH_OFFSET),
               lambda bad: "timestamp " + bad["timestamp"].map(repr) + " needs a UTC offset (e.g. -04:00)")
        ts = pd.to_datetime(raw_ts.where(reason.isna()), format="ISO8601", utc=True, errors="coerce")
    reject(ts.isna(), lambda bad: "timestamp " + bad["timestamp"].map(repr) + " is not a valid date/time")

    numbers = {}
    for name in [*PRICE_COLUMNS, "volume"]:
        values = pd.to_numeric(frame[name].str.strip(), errors="coerce").astype(float)
        values[~np.isfinite(values)] = np.nan
        reject(values.isna(), lambda bad, name=name: f"{name} " + bad[name].map(repr) + " is not a number")
        numbers[name] = values
    o, h, lo, c, v = (numbers[name] for name in ["open", "high", "low", "close", "volume"])
    reject(lo <= 0, "prices must be positive")
    reject(lo > h, "low is above high")
    reject((o < lo) | (o > h), "open is outside low..high")
    reject((c < lo) | (c > h), "close is outside low..high")
    reject(v < 0, "volume is negative")

    bad = reason.notna()
    if bad.any():
        result.errors.extend(RowError(int(line), message)
                             for line, message in zip(frame.loc[bad, "line"], reason[bad], strict=True))
    good = ~bad
    valid = pd.DataFrame({
        "symbol": symbol[good], "ts": ts[good], "open": o[good], "high": h[good], "low": lo[good],
        "close": c[good], "volume": v[good].round().astype(np.int64), "line": frame.loc[good, "line"],
    })
    repeated = valid.duplicated(["symbol", "ts"], keep="last")
    if repeated.any():
        result.duplicates += int(repeated.sum())
        valid = valid[~repeated]
    return valid


class _PostgresWriter:
    """COPY each chunk into a temporary staging table; one INSERT … ON CONFLICT at the end."""

    def __init__(self, source: str, interval: str):
        self.source, self.interval = source, interval
        self.staged = 0
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE quality_bar_staging (line bigint, symbol text, ts timestamptz, open float8,"
                " high float8, low float8, close float8, volume bigint) ON COMMIT DROP"
            )

    def add(self, frame: pd.DataFrame) -> None:
        buffer = io.StringIO()
        out = frame[["line", "symbol", "ts", "open", "high", "low", "close", "volume"]].copy()
        out["ts"] = out["ts"].dt.strftime("%Y-%m-%d %H:%M:%S+00")
        out.to_csv(buffer, header=False, index=False, float_format="%.10g")
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                "COPY quality_bar_staging (line, symbol, ts, open, high, low, close, volume)"
                " FROM STDIN WITH (FORMAT csv)",
                buffer,
            )
        self.staged += len(frame)

    def finish(self, result: LoadResult) -> None:
        if self.staged:
            self._upsert(result)
        with connection.cursor() as cursor:
            # ON COMMIT DROP alone is not enough when the caller's transaction loads several files.
            cursor.execute("DROP TABLE quality_bar_staging")

    def _upsert(self, result: LoadResult) -> None:
        table = Bar._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH src AS MATERIALIZED (
                    SELECT DISTINCT ON (symbol, ts) symbol, ts, open, high, low, close, volume
                    FROM quality_bar_staging ORDER BY symbol, ts, line DESC
                ), up AS (
                    INSERT INTO {table} AS bar (symbol, source, interval, ts, open, high, low, close, volume)
                    SELECT symbol, %s, %s, ts, open, high, low, close, volume FROM src
                    ON CONFLICT (symbol, source, interval, ts) DO UPDATE SET
                        open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
                        close = EXCLUDED.close, volume = EXCLUDED.volume
                    WHERE (bar.open, bar.high, bar.low, bar.close, bar.volume)
                        IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT (SELECT count(*) FROM src),
                       count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
                FROM up
                """,
                [self.source, self.interval],
            )
            distinct, inserted, updated = cursor.fetchone()
        result.duplicates += self.staged - distinct
        result.inserted, result.updated = inserted, updated
        result.unchanged = distinct - inserted - updated


class _PortableWriter:
    """SQLite and other backends: an upsert per chunk (chunks arrive in file order, so the last row wins)."""

    def __init__(self, source: str, interval: str):
        self.source, self.interval = source, interval
        self.before = self._count()
        self.changed = 0
        self.repeated = 0
        self.keys: set[tuple[str, pd.Timestamp]] = set()

    def _count(self) -> int:
        return Bar.objects.filter(source=self.source, interval=self.interval).count()

    def add(self, frame: pd.DataFrame) -> None:
        table = Bar._meta.db_table
        keys = list(zip(frame["symbol"], frame["ts"], strict=True))
        self.repeated += sum(1 for key in keys if key in self.keys)
        self.keys.update(keys)
        adapt = connection.ops.adapt_datetimefield_value
        params = [
            (s, self.source, self.interval, adapt(t.to_pydatetime()), o, h, lo, c, int(v))
            for s, t, o, h, lo, c, v in zip(frame["symbol"], frame["ts"], frame["open"], frame["high"],
                                            frame["low"], frame["close"], frame["volume"], strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"""INSERT INTO {table} (symbol, source, interval, ts, open, high, low, close, volume)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (symbol, source, interval, ts) DO UPDATE SET
                    open = excluded.open, high = excluded.high, low = excluded.low,
                    close = excluded.close, volume = excluded.volume
                WHERE open IS NOT excluded.open OR high IS NOT excluded.high OR low IS NOT excluded.low
                    OR close IS NOT excluded.close OR volume IS NOT excluded.volume""",
                params,
            )
            self.changed += max(cursor.rowcount, 0)

    def finish(self, result: LoadResult) -> None:
        result.duplicates += self.repeated
        result.inserted = self._count() - self.before
        result.updated = self.changed - result.inserted
        result.unchanged = len(self.keys) - result.inserted - result.updated


def upsert_frame(frame: pd.DataFrame, *, source: str, interval: str) -> LoadResult:
    """Store already-typed bars (columns symbol, ts (UTC), open, high, low, close, volume), e.g. from an API."""
    result = LoadResult(rows=len(frame))
    frame = frame.reset_index(drop=True).copy()
    frame["line"] = np.arange(1, len(frame) + 1)
    writer = _PostgresWriter if connection.vendor == "postgresql" else _PortableWriter
    with transaction.atomic():
        sink = writer(source, interval)
        if len(frame):
            sink.add(frame)
        sink.finish(result)
    return result


@dataclass
class ActionsResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


def load_actions_file(path: str | Path) -> ActionsResult:
    """Import splits and dividends (`symbol,date,kind,ratio`); a split's ratio is `2`, `2:1`, `1:10` or `0.5`."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    result = ActionsResult()
    with handle, transaction.atomic():
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise LoadError("the actions file is empty: expected the header " + ",".join(ACTION_COLUMNS))
        names = [cell.strip().lower() for cell in header]
        missing = [name for name in ACTION_COLUMNS if name not in names]
        if missing:
            raise LoadError(f"line 1: actions header lacks {', '.join(missing)}")
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            result.rows += 1
            line = reader.line_num
            if len(row) != len(names):
                result.errors.append(RowError(line, f"expected {len(names)} fields, found {len(row)}"))
                continue
            values = dict(zip(names, (cell.strip() for cell in row), strict=True))
            try:
                action = _parse_action(values)
            except ValueError as error:
                result.errors.append(RowError(line, str(error)))
                continue
            _, created = CorporateAction.objects.update_or_create(
                symbol=action["symbol"], date=action["date"], kind=action["kind"],
                defaults={"ratio": action["ratio"]},
            )
            if created:
                result.created += 1
            else:
                result.updated += 1
    return result


def _parse_action(values: dict) -> dict:
    symbol = values["symbol"].upper()
    if not SYMBOL.match(symbol):
        raise ValueError(f"symbol {values['symbol']!r} is not a ticker")
    try:
        when = date.fromisoformat(values["date"])
    except ValueError:
        raise ValueError(f"date {values['date']!r} is not a date (YYYY-MM-DD)") from None
    kind = values["kind"].lower()
    if kind not in CorporateAction.Kind.values:
        raise ValueError(f"kind {values['kind']!r} is not split or dividend")
    ratio = parse_ratio(values["ratio"])
    if ratio is None or ratio <= 0:
        raise ValueError(f"ratio {values['ratio']!r} is not a positive number or a:b")
    if kind == "split" and ratio == 1:
        raise ValueError("a 1:1 split changes nothing")
    return {"symbol": symbol, "date": when, "kind": kind, "ratio": ratio}


def parse_ratio(text: str) -> float | None:
    match = re.fullmatch(r"\s*([0-9.]+)\s*(?:[:/]|-for-)\s*([0-9.]+)\s*", text)
    try:
        if match:
            return float(match.group(1)) / float(match.group(2))
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None
