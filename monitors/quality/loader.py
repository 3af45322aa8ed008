"""Importing bars and corporate actions. A plain file (no quotes, every row complete and valid) is read by
pandas' C parser; any other file row by row with the csv module, so that each rejected row is reported by its
line number. Either way the rows are validated column-wise in chunks and upserted: on PostgreSQL each chunk is
COPYed into a staging table and two statements move the whole file into the bar table; elsewhere each chunk is
upserted with executemany. One transaction per file: a file either loads (minus its rejected rows) or changes
nothing."""

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
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
MAX_VOLUME = 1e15


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


def load_bars_file(path: str | Path, *, source: str | None = None, interval: str = "1d") -> LoadResult:
    source = _checked(source, interval)
    try:
        return _load_clean_file(path, source, interval)
    except _RowByRow:
        pass
    try:
        # A stray non-UTF-8 byte must cost its row (rejected by validation), not the whole file.
        handle = open(path, newline="", encoding="utf-8-sig", errors="replace")  # noqa: SIM115 - closed below
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    with handle:
        return load_bars(handle, source=source, interval=interval)


def load_bars(lines: Iterable[str], *, source: str | None = None, interval: str = "1d") -> LoadResult:
    """Validate and upsert the bars CSV in `lines` (docs/commands.md) under `source` and `interval`."""
    source = _checked(source, interval)
    result = LoadResult()
    reader = csv.reader(lines)
    positions, width = _header_positions(reader)
    store_chunks(_read_chunks(reader, positions, width, result, conf.get("QUALITY_LOAD_CHUNK_ROWS")), result,
                 source, interval)
    _note_empty(result)
    return result


def _checked(source: str | None, interval: str) -> str:
    if interval not in INTERVALS:
        raise LoadError(f"unknown interval {interval!r}: use one of {', '.join(INTERVALS)}")
    source = (source or conf.get("QUALITY_DEFAULT_SOURCE")).strip()
    if not source or len(source) > 30:
        raise LoadError("--source must be 1 to 30 characters")
    return source


def _note_empty(result: LoadResult) -> None:
    if result.rows == 0:
        result.notes.append("the file has a header but no data rows")


class _RowByRow(Exception):
    """The file needs the row-by-row reader: it has a row to reject, or a shape the fast path does not take."""


def _load_clean_file(path: str | Path, source: str, interval: str) -> LoadResult:
    """The fast path, for a plain file with nothing to reject: pandas' C parser reads the columns already typed.
    Anything it would have to guess about (quotes, a wrong field count, an empty or non-numeric value, a row the
    checks reject) raises _RowByRow, which rolls the load back so that the row-by-row reader reports it by line."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            positions, width = _header_positions(csv.reader(handle))
        lines = _plain_lines(path, width)
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    if lines is None:
        raise _RowByRow
    result = LoadResult()

    def chunks() -> Iterator[tuple[list, np.ndarray]]:
        try:
            frames = pd.read_csv(
                path, skiprows=1, header=None, names=range(width), index_col=False, engine="c",
                chunksize=conf.get("QUALITY_LOAD_CHUNK_ROWS"), na_filter=False, skip_blank_lines=False,
                dtype={i: (np.float64 if i in positions[2:] else object) for i in range(width)},
                encoding="utf-8-sig", encoding_errors="replace",
            )
            for frame in frames:
                first_line = result.rows + 2
                result.rows += len(frame)
                yield [frame[i].to_numpy() for i in positions], np.arange(first_line, result.rows + 2)
                if result.errors:  # store_chunks has checked the chunk; raised inside its transaction
                    raise _RowByRow
        except ValueError as error:  # pandas' ParserError and EmptyDataError are ValueErrors too
            raise _RowByRow from error
        if result.rows != lines - 1:
            raise _RowByRow

    store_chunks(chunks(), result, source, interval)
    _note_empty(result)
    return result


def _plain_lines(path: str | Path, width: int, block: int = 1 << 23) -> int | None:
    """The file's line count when every line has exactly `width` fields and nothing is quoted, else None.
    pandas drops surplus fields of the first row and pads short rows, and refuses surplus fields on any later
    row: so a first data row of `width` fields and `width - 1` commas per line on average mean every row has
    exactly `width` fields."""
    commas = newlines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        next(handle, None)
        if next(handle, b"").count(b",") != width - 1:
            return None
        handle.seek(0)
        while data := handle.read(block):
            if b'"' in data:
                return None
            commas += data.count(b",")
            newlines += data.count(b"\n")
            last = data[-1:]
    lines = newlines + (last != b"\n")
    return lines if commas == (width - 1) * lines else None


def store_chunks(chunks: Iterable[tuple[list, Sequence[int]]], result: LoadResult, source: str, interval: str) -> None:
    """Validate each chunk of text columns (COLUMNS order, with row numbers) and upsert the valid rows."""
    writer = _PostgresWriter if connection.vendor == "postgresql" else _PortableWriter
    with transaction.atomic():
        sink = writer(source, interval)
        for columns, numbers in chunks:
            valid = _validate(columns, numbers, interval, result)
            if len(valid):
                sink.add(valid)
        sink.finish(result)
    result.errors.sort(key=lambda error: error.line)


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


def _header_positions(reader) -> tuple[list[int], int]:
    """Where each of COLUMNS is in the file, and how many fields a row has."""
    names = _header(reader, COLUMNS)
    return [names.index(name) for name in COLUMNS], len(names)


def _header(reader, columns: list[str], kind: str = "") -> list[str]:
    """The header's column names, normalised; a clear error when it is unreadable or lacks one of `columns`."""
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as error:
        raise LoadError(f"line 1: unreadable {kind}header: {error}") from error
    if header is None or not any(cell.strip() for cell in header):
        raise LoadError(f"the {kind}file is empty: expected the header " + ",".join(columns))
    names = [cell.strip().lower() for cell in header]
    missing = [name for name in columns if name not in names]
    if missing:
        raise LoadError(f"line 1: {kind}header lacks {', '.join(missing)} (expected {','.join(columns)})")
    return names


def _read_chunks(reader, positions: list[int], width: int, result: LoadResult,
                 size: int) -> Iterator[tuple[list, list[int]]]:
    """The data rows as lists of column values (in COLUMNS order) with their line numbers, `size` rows at a time;
    rows that are not CSV or have the wrong number of fields are reported here."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    while True:
        try:
            for row in reader:
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    result.rows += 1
                    result.errors.append(RowError(reader.line_num, f"expected {width} fields, found {len(row)}"))
                    continue
                result.rows += 1
                rows.append(row)
                numbers.append(reader.line_num)
                if len(rows) >= size:
                    yield _columns(rows, positions), numbers
                    rows, numbers = [], []
            break
        except (csv.Error, UnicodeDecodeError) as error:  # the reader goes on with the next line
            result.rows += 1
            result.errors.append(RowError(reader.line_num, f"unreadable row: {error}"))
    if rows:
        yield _columns(rows, positions), numbers


def _columns(rows: list[list[str]], positions: list[int]) -> list[tuple]:
    transposed = list(zip(*rows, strict=True))
    return [transposed[i] for i in positions]


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


def _validate(columns: list, lines: Sequence[int], interval: str, result: LoadResult) -> Chunk:
    """The chunk's valid rows as arrays; every rejected row is added to `result.errors` with its first problem.
    Symbols and timestamps repeat a lot, so they are parsed once per distinct value."""
    raw_symbol, raw_ts, *raw_numbers = columns
    rejected = _Rejections(len(lines))

    codes, distinct = pd.factorize(np.asarray(raw_symbol, dtype=object))
    cleaned = np.array([value.strip().upper() for value in distinct], dtype=object)
    empty = np.array([value == "" for value in cleaned], dtype=bool)
    unusable = np.array([not SYMBOL.match(value) for value in cleaned], dtype=bool)
    rejected.add(empty[codes], "symbol is empty")
    rejected.add(unusable[codes], lambda i: f"symbol {raw_symbol[i]!r} is not a ticker")
    symbols = cleaned[codes]

    ts_codes, ts_distinct = pd.factorize(np.asarray(raw_ts, dtype=object))
    texts = pd.Series(ts_distinct, dtype=object).str.strip()
    if interval == "1d":
        shape_ok = texts.str.match(DATE_ONLY).to_numpy(dtype=bool)
        rejected.add(~shape_ok[ts_codes],
                     lambda i: f"timestamp {raw_ts[i]!r} is not a date (YYYY-MM-DD) for daily bars")
        parsed = pd.to_datetime(texts.where(shape_ok), format="%Y-%m-%d", errors="coerce").dt.tz_localize("UTC")
    else:
        shape_ok = texts.str.contains(WITH_OFFSET).to_numpy(dtype=bool)
        rejected.add(~shape_ok[ts_codes], lambda i: f"timestamp {raw_ts[i]!r} needs a UTC offset (e.g. -04:00)")
        parsed = pd.to_datetime(texts.where(shape_ok), format="ISO8601", utc=True, errors="coerce")
    rejected.add(parsed.isna().to_numpy()[ts_codes], lambda i: f"timestamp {raw_ts[i]!r} is not a valid date/time")
    stamps = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").view(np.int64)[ts_codes]

    values = {}
    for name, raw in zip([*PRICE_COLUMNS, "volume"], raw_numbers, strict=True):
        numbers = _floats(raw)
        rejected.add(~np.isfinite(numbers), lambda i, raw=raw, name=name: f"{name} {raw[i]!r} is not a number")
        values[name] = numbers
    o, h, lo, c, v = (values[name] for name in ["open", "high", "low", "close", "volume"])
    with np.errstate(invalid="ignore"):
        rejected.add(lo <= 0, "prices must be positive")
        rejected.add(lo > h, "low is above high")
        rejected.add((o < lo) | (o > h), "open is outside low..high")
        rejected.add((c < lo) | (c > h), "close is outside low..high")
        rejected.add(v < 0, "volume is negative")
        rejected.add(v > MAX_VOLUME, "volume is not a plausible share count")

    result.errors.extend(RowError(lines[index], message) for index, message in rejected.messages.items())
    good = ~rejected.bad
    chunk = Chunk(np.asarray(lines, dtype=np.int64), symbols, stamps, o, h, lo, c,
                  np.rint(np.where(good, v, 0)).astype(np.int64)).take(good)
    same_symbol = pd.factorize(cleaned)[0][codes]  # "aaa" and "AAA " are one symbol
    repeated = pd.DataFrame({"s": same_symbol[good], "t": chunk.ts}).duplicated(keep="last").to_numpy()
    if repeated.any():
        result.duplicates += int(repeated.sum())
        chunk = chunk.take(~repeated)
    return chunk


def _floats(raw: tuple) -> np.ndarray:
    """Parse a column of numbers; anything unparseable (or not finite) becomes NaN."""
    try:
        numbers = np.array(raw, dtype=np.float64)
    except ValueError:
        numbers = pd.to_numeric(pd.Series(raw, dtype=object).str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(numbers), numbers, np.nan)


PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's binary timestamp origin
COPY_ROW = np.dtype([
    ("fields", ">i2"),
    ("line_len", ">i4"), ("line", ">i8"), ("code_len", ">i4"), ("code", ">i4"), ("ts_len", ">i4"), ("ts", ">i8"),
    ("open_len", ">i4"), ("open", ">f8"), ("high_len", ">i4"), ("high", ">f8"), ("low_len", ">i4"), ("low", ">f8"),
    ("close_len", ">i4"), ("close", ">f8"), ("volume_len", ">i4"), ("volume", ">i8"),
])
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
COPY_TRAILER = b"\xff\xff"


class _PostgresWriter:
    """Each chunk goes into a temporary staging table with a binary COPY built straight from the arrays
    (symbols as small integer codes, their names in a second staging table); one INSERT … ON CONFLICT at the end
    moves the file into the bar table."""

    def __init__(self, source: str, interval: str):
        self.source, self.interval = source, interval
        self.staged = 0
        self.codes: dict[str, int] = {}
        self.keys_code: list[np.ndarray] = []
        self.keys_ts: list[np.ndarray] = []
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE quality_bar_staging (line bigint, code integer, ts timestamptz, open float8,"
                " high float8, low float8, close float8, volume bigint) ON COMMIT DROP"
            )
            cursor.execute('CREATE TEMP TABLE quality_symbol_staging (code integer PRIMARY KEY,'
                           ' symbol varchar(20) COLLATE "C") ON COMMIT DROP')

    def add(self, chunk: Chunk) -> None:
        local, names = pd.factorize(chunk.symbol)
        # Staged in key order, so the final INSERT fills the index front to back without a sort of its own.
        name_rank = np.argsort(np.argsort(np.asarray(names, dtype=str)))
        in_key_order = np.lexsort((chunk.ts, name_rank[local]))
        chunk, local = chunk.take(in_key_order), local[in_key_order]
        new = [name for name in names if name not in self.codes]
        for name in new:
            self.codes[name] = len(self.codes)
        rows = np.empty(len(chunk), dtype=COPY_ROW)
        rows["fields"] = 8
        for name, size in (("line", 8), ("code", 4), ("ts", 8), ("open", 8), ("high", 8), ("low", 8), ("close", 8),
                           ("volume", 8)):
            rows[f"{name}_len"] = size
        rows["line"] = chunk.line
        rows["code"] = codes = np.array([self.codes[name] for name in names], dtype=np.int32)[local]
        self.keys_code.append(codes)
        self.keys_ts.append(chunk.ts)
        rows["ts"] = chunk.ts // 1000 - PG_EPOCH_US
        for name in ("open", "high", "low", "close", "volume"):
            rows[name] = getattr(chunk, name)
        with connection.cursor() as cursor:
            if new:
                listing = "".join(f"{self.codes[name]}\t{name}\n" for name in new)
                cursor.cursor.copy_expert("COPY quality_symbol_staging (code, symbol) FROM STDIN",
                                          io.StringIO(listing))
            cursor.cursor.copy_expert(
                "COPY quality_bar_staging (line, code, ts, open, high, low, close, volume) FROM STDIN WITH BINARY",
                io.BytesIO(COPY_HEADER + rows.tobytes() + COPY_TRAILER),
            )
        self.staged += len(chunk)

    def finish(self, result: LoadResult) -> None:
        if self.staged:
            self._upsert(result)
        with connection.cursor() as cursor:
            # ON COMMIT DROP alone is not enough when the caller's transaction loads several files.
            cursor.execute("DROP TABLE quality_bar_staging, quality_symbol_staging")

    def _upsert(self, result: LoadResult) -> None:
        """Rows equal to the stored bar are left alone (a re-import writes nothing); when the file repeats a bar
        across chunks, the later row of each bar is kept. Changed bars are updated and new ones inserted by two
        plain statements, not one INSERT … ON CONFLICT, which costs twice as much per row: the advisory lock keeps
        a concurrent import of the same source and interval from inserting the same bars in between."""
        keys = pd.DataFrame({"code": np.concatenate(self.keys_code), "ts": np.concatenate(self.keys_ts)})
        repeated = int(keys.duplicated().sum())
        # The file's time span bounds the stored rows compared (the BRIN index on ts finds them).
        span = [pd.Timestamp(keys["ts"].min(), tz="UTC").to_pydatetime(),
                pd.Timestamp(keys["ts"].max(), tz="UTC").to_pydatetime()]
        table = Bar._meta.db_table
        stored_match = ("stored.symbol = s.symbol AND stored.source = %s AND stored.interval = %s"
                        " AND stored.ts = src.ts AND stored.ts BETWEEN %s AND %s")
        match_params = [self.source, self.interval, *span]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                           [table, f"{self.source}/{self.interval}"])
            cursor.execute("SET LOCAL work_mem = '256MB'")  # the sorts and joins below stay in memory
            if repeated:
                cursor.execute("DELETE FROM quality_bar_staging earlier USING quality_bar_staging later"
                               " WHERE later.code = earlier.code AND later.ts = earlier.ts"
                               " AND later.line > earlier.line")
            cursor.execute("ANALYZE quality_bar_staging")
            cursor.execute(
                f"""
                UPDATE {table} AS stored SET open = src.open, high = src.high, low = src.low, close = src.close,
                    volume = src.volume
                FROM quality_bar_staging src JOIN quality_symbol_staging s USING (code)
                WHERE {stored_match}
                    AND (stored.open, stored.high, stored.low, stored.close, stored.volume)
                        IS DISTINCT FROM (src.open, src.high, src.low, src.close, src.volume)
                """,
                match_params,
            )
            result.updated = cursor.rowcount
            cursor.execute(
                f"""
                INSERT INTO {table} (symbol, source, interval, ts, open, high, low, close, volume)
                SELECT s.symbol, %s, %s, src.ts, src.open, src.high, src.low, src.close, src.volume
                FROM quality_bar_staging src JOIN quality_symbol_staging s USING (code)
                WHERE NOT EXISTS (SELECT FROM {table} stored WHERE {stored_match})
                """,
                [self.source, self.interval, *match_params],
            )
            result.inserted = cursor.rowcount
        result.duplicates += repeated
        result.unchanged = self.staged - repeated - result.inserted - result.updated


class _PortableWriter:
    """SQLite and other backends: an upsert per chunk (chunks arrive in file order, so the last row wins)."""

    def __init__(self, source: str, interval: str):
        self.source, self.interval = source, interval
        self.before = self._count()
        self.changed = 0
        self.repeated = 0
        self.keys: set[tuple[str, int]] = set()

    def _count(self) -> int:
        return Bar.objects.filter(source=self.source, interval=self.interval).count()

    def add(self, chunk: Chunk) -> None:
        table = Bar._meta.db_table
        keys = list(zip(chunk.symbol.tolist(), chunk.ts.tolist(), strict=True))
        self.repeated += sum(1 for key in keys if key in self.keys)
        self.keys.update(keys)
        adapt = connection.ops.adapt_datetimefield_value
        stamps = pd.to_datetime(chunk.ts, utc=True).to_pydatetime()
        params = [
            (s, self.source, self.interval, adapt(t), o, h, lo, c, v)
            for s, t, o, h, lo, c, v in zip(chunk.symbol.tolist(), stamps, chunk.open.tolist(), chunk.high.tolist(),
                                            chunk.low.tolist(), chunk.close.tolist(), chunk.volume.tolist(),
                                            strict=True)
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
    stamps = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
    chunk = Chunk(np.arange(1, len(frame) + 1, dtype=np.int64), frame["symbol"].to_numpy(dtype=object),
                  stamps.view(np.int64), *(frame[name].to_numpy(dtype=np.float64) for name in PRICE_COLUMNS),
                  np.rint(frame["volume"].to_numpy(dtype=np.float64)).astype(np.int64))
    writer = _PostgresWriter if connection.vendor == "postgresql" else _PortableWriter
    with transaction.atomic():
        sink = writer(source, interval)
        if len(chunk):
            sink.add(chunk)
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
        handle = open(path, newline="", encoding="utf-8-sig", errors="replace")  # noqa: SIM115 - closed below
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    result = ActionsResult()
    with handle, transaction.atomic():
        reader = csv.reader(handle)
        names = _header(reader, ACTION_COLUMNS, "actions ")
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
