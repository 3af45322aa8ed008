"""Reading a bars CSV. A plain file (no quotes, every row complete and valid) is read by pandas' C parser; any
other file row by row with the csv module, so that each rejected row is reported by its line number."""

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from monitors.quality import conf
from monitors.quality.loader.results import LoadError, LoadResult, RowError
from monitors.quality.loader.validation import COLUMNS
from monitors.quality.loader.writer import RepeatedAcrossChunks, store_chunks
from monitors.quality.models import INTERVALS
from tickstock_ops.progress import ProgressCallback


def load_bars_file(path: str | Path, *, source: str | None = None, interval: str = "1d",
                   progress: ProgressCallback | None = None) -> LoadResult:
    """Import the bars CSV at `path`; `progress` hears how many of its rows have been read, then that they are
    being stored."""
    source = _checked(source, interval)
    try:
        return _load_clean_file(path, source, interval, progress)
    except _RowByRow:
        pass
    try:
        # A stray non-UTF-8 byte must cost its row (rejected by validation), not the whole file.
        handle = open(path, newline="", encoding="utf-8-sig", errors="replace")  # noqa: SIM115 - closed below
        total = _line_count(path) - 1 if progress else None
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    with handle:
        return load_bars(handle, source=source, interval=interval, progress=progress, total=total)


def load_bars(lines: Iterable[str], *, source: str | None = None, interval: str = "1d",
              progress: ProgressCallback | None = None, total: int | None = None) -> LoadResult:
    """Validate and upsert the bars CSV in `lines` (docs/commands.md) under `source` and `interval`; `progress`
    hears of the rows read (of `total`, when known)."""
    source = _checked(source, interval)
    result = LoadResult()
    reader = csv.reader(lines)
    positions, width = _header_positions(reader)
    chunks = _read_chunks(reader, positions, width, result, conf.get("QUALITY_LOAD_CHUNK_ROWS"))
    store_chunks(_reported(chunks, result, total, progress, "reading row by row"), result, source, interval)
    _note_empty(result)
    return result


def _reported(chunks: Iterable, result: LoadResult, total: int | None, progress: ProgressCallback | None,
              stage: str) -> Iterator:
    """The chunks, passed on; `progress` hears how many rows have been read before each, and when all have."""
    for chunk in chunks:
        if progress:
            progress(result.rows, total, stage)
        yield chunk
    if progress:
        progress(result.rows, total or result.rows, "storing")


def _line_count(path: str | Path, block: int = 1 << 23) -> int:
    newlines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while data := handle.read(block):
            newlines += data.count(b"\n")
            last = data[-1:]
    return newlines + (last != b"\n")


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


def _load_clean_file(path: str | Path, source: str, interval: str, progress: ProgressCallback | None) -> LoadResult:
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
    try:
        return _load_plain_file(path, positions, width, lines, source, interval, progress, streamed=True)
    except RepeatedAcrossChunks:
        return _load_plain_file(path, positions, width, lines, source, interval, progress, streamed=False)


def _load_plain_file(path: str | Path, positions: list[int], width: int, lines: int, source: str, interval: str,
                     progress: ProgressCallback | None, *, streamed: bool) -> LoadResult:
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

    store_chunks(_reported(chunks(), result, lines - 1, progress, "reading"), result, source, interval,
                 streamed=streamed)
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



def _header_positions(reader) -> tuple[list[int], int]:
    """Where each of COLUMNS is in the file, and how many fields a row has."""
    names = header(reader, COLUMNS)
    return [names.index(name) for name in COLUMNS], len(names)


def header(reader, columns: list[str], kind: str = "") -> list[str]:
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
    twice = sorted({name for name in names if name and names.count(name) > 1})
    if twice:
        raise LoadError(f"line 1: {kind}header names {', '.join(twice)} twice: which one holds the data?")
    return names


def _read_chunks(reader, positions: list[int], width: int, result: LoadResult,
                 size: int) -> Iterator[tuple[list, list[int]]]:
    """The data rows as lists of column values (in COLUMNS order) with their line numbers, `size` rows at a time;
    rows that are not CSV or have the wrong number of fields are reported here."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    for line, row in records(reader, result.errors):
        if row is None:
            result.rows += 1
            continue
        if len(row) != width:
            result.rows += 1
            result.errors.append(RowError(line, f"expected {width} fields, found {len(row)}"))
            continue
        result.rows += 1
        rows.append(row)
        numbers.append(line)
        if len(rows) >= size:
            yield _columns(rows, positions), numbers
            rows, numbers = [], []
    if rows:
        yield _columns(rows, positions), numbers


def records(reader, errors: list[RowError]) -> Iterator[tuple[int, list[str] | None]]:
    """Each non-blank record with the line it starts on (a quoted field may span lines: the record is reported
    at its first line). A record the csv module cannot read is reported in `errors` and yielded as None."""
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as error:  # the reader goes on with the next line
            errors.append(RowError(first_line, f"unreadable row: {error}"))
            yield first_line, None
            continue
        if row and not (len(row) == 1 and not row[0].strip()):
            yield first_line, row


def _columns(rows: list[list[str]], positions: list[int]) -> list[tuple]:
    transposed = list(zip(*rows, strict=True))
    return [transposed[i] for i in positions]

