"""Reading bars out of the database for a scan: one query for a whole universe (a binary COPY on PostgreSQL), and
the newest bar of symbols up to a moment (for the incremental read, `monitors/quality/incremental.py`)."""

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from django.db import connection
from pandas.api.types import union_categoricals

from monitors.quality import pgcopy
from monitors.quality.models import Bar, CorporateAction, LatestBar

BAR_COLUMNS = ["symbol", "source", "ts", "open", "high", "low", "close", "volume"]
# A read of this many symbols or more is worth a second connection (`read_bars(split=True)`).
SPLIT_MIN_SYMBOLS = 1000
BARS, LATEST = Bar._meta.db_table, LatestBar._meta.db_table
READ_ROW = np.dtype([
    ("fields", ">i2"), ("symbol_len", ">i4"), ("symbol", "S20"), ("source_len", ">i4"), ("source", "S30"),
    ("ts_len", ">i4"), ("ts", ">i8"), ("open_len", ">i4"), ("open", ">f8"), ("high_len", ">i4"), ("high", ">f8"),
    ("low_len", ">i4"), ("low", ">f8"), ("close_len", ">i4"), ("close", ">f8"), ("volume_len", ">i4"),
    ("volume", ">i8"),
])

SymbolRange = tuple[str | None, str | None]


def read_bars(interval: str, start: pd.Timestamp | None, end: pd.Timestamp,
              symbols: list[str] | None = None, split: bool = False,
              shard: SymbolRange | None = None) -> pd.DataFrame:
    """Every bar of `interval` in [start, end] (of `symbols`, when given; of the symbols in [low, high) when
    `shard` is (low, high), None leaving that side open) in one query, as a typed frame; with `split`, a large
    read on PostgreSQL outside a transaction is two COPYs side by side (`_read_split`)."""
    adapt = connection.ops.adapt_datetimefield_value
    where = ["interval = %s", "ts <= %s"]
    params: list = [interval, adapt(end.to_pydatetime())]
    if start is not None:
        where.append("ts >= %s")
        params.append(adapt(start.to_pydatetime()))
    if symbols:
        where.append(_in("symbol", symbols))
        params.extend(symbols)
    for bound, operator in zip(shard or (), (">=", "<"), strict=False):
        if bound is not None:  # the key leads with symbol: a shard's read is a range of it
            where.append(f"symbol {operator} %s")
            params.append(bound)
    sql = f"SELECT symbol, source, ts, open, high, low, close, volume FROM {BARS} WHERE {' AND '.join(where)}"
    middle = _middle_symbol(interval, symbols) if split else None
    return _read(sql, params) if middle is None else _read_split(sql, params, middle)


def universe_symbols(interval: str, symbols: list[str] | None) -> list[str]:
    """The symbols a read of `interval` covers, in the key's order: those requested, or the arrival state's."""
    return sorted(set(symbols) if symbols else
                  set(LatestBar.objects.filter(interval=interval).values_list("symbol", flat=True)))


def symbol_ranges(names: list[str], count: int) -> list[SymbolRange]:
    """`count` contiguous ranges [low, high) of symbols, each holding an equal share of `names` (sorted), that
    together cover every symbol, named or not (the first and last are open-ended)."""
    cuts = [names[len(names) * part // count] if names else "" for part in range(1, count)]
    bounds = [None, *cuts, None]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _middle_symbol(interval: str, symbols: list[str] | None) -> str | None:
    """The symbol that halves a read of at least SPLIT_MIN_SYMBOLS symbols (from the arrival state); None when the
    read should stay one query: other connections cannot see a transaction's own writes."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    names = universe_symbols(interval, symbols)
    return names[len(names) // 2] if len(names) >= SPLIT_MIN_SYMBOLS else None


def _read_split(sql: str, params: list, middle: str) -> pd.DataFrame:
    """The symbols before `middle` read on a second connection while this one reads the rest: PostgreSQL formats
    the two COPYs on two cores (a read of 1.26 M daily bars 0.8-1.2 s instead of 1.3-1.5 s)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        before = pool.submit(_fetch_elsewhere, f"{sql} AND symbol < %s", [*params, middle])
        after = _fetch(f"{sql} AND symbol >= %s", [*params, middle])
        parts = [before.result(), after]
    # An empty half's categories have no dtype of their own, which union_categoricals refuses to join.
    parts = [part for part in parts if len(part)] or parts[:1]
    frame = pd.DataFrame({name: union_categoricals([part[name] for part in parts]) for name in ("symbol", "source")})
    for name in BAR_COLUMNS[2:]:
        frame[name] = pd.concat([part[name] for part in parts], ignore_index=True)
    return _typed(frame)


def _fetch_elsewhere(sql: str, params: list) -> pd.DataFrame:
    """`_fetch` on this thread's own connection, closed afterwards."""
    try:
        return _fetch(sql, params)
    finally:
        connection.close()


def newest_up_to(interval: str, since: pd.Timestamp, start: pd.Timestamp, symbols: list[str]) -> pd.DataFrame:
    """Per symbol and source, its newest bar up to `since` if that is not before `start`: the arrival state's own
    bar when nothing newer arrived, else one index probe."""
    adapt = connection.ops.adapt_datetimefield_value
    since_at, start_at = adapt(since.to_pydatetime()), adapt(start.to_pydatetime())
    # The bars' interval is given as a constant, not joined to the state's (a column of another collation), so
    # the planner keeps only that interval's partitions (docs/scaling.md).
    sql = (f"SELECT symbol, source, ts, open, high, low, close, volume FROM (SELECT b.symbol, b.source, b.ts, b.open,"
           f" b.high, b.low, b.close, b.volume FROM {LATEST} l JOIN {BARS} b ON b.symbol = l.symbol"
           f" AND b.source = l.source AND b.interval = %s AND b.ts = CASE WHEN l.ts <= %s THEN l.ts ELSE"
           f" (SELECT MAX(x.ts) FROM {BARS} x WHERE x.symbol = l.symbol AND x.source = l.source"
           f" AND x.interval = %s AND x.ts <= %s) END"
           f" WHERE l.interval = %s AND b.ts >= %s AND {_in('l.symbol', symbols)}) AS newest")
    return _read(sql, [interval, since_at, interval, since_at, interval, start_at, *symbols])


def _in(column: str, values: list) -> str:
    return f"{column} IN (" + ", ".join(["%s"] * len(values)) + ")"


def _read(sql: str, params: list) -> pd.DataFrame:
    return _typed(_fetch(sql, params))


def _fetch(sql: str, params: list) -> pd.DataFrame:
    if connection.vendor == "postgresql":
        return _copy_out(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        frame = pd.DataFrame(cursor.fetchall(), columns=BAR_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    return frame.astype({"symbol": "category", "source": "category"})


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for name in ("open", "high", "low", "close", "volume"):
        frame[name] = frame[name].astype(float)
    return frame.sort_values(["symbol", "source", "ts"], kind="stable", ignore_index=True)


def _copy_out(sql: str, params: list) -> pd.DataFrame:
    """PostgreSQL: stream the rows out with a binary COPY of fixed-width rows, read by numpy without parsing."""
    buffer = io.BytesIO()
    fixed = sql.replace("SELECT symbol, source,", "SELECT symbol::char(20), source::char(30),", 1)
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(fixed, params).decode()
        cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH BINARY", buffer)
    body = pgcopy.rows_of(buffer)
    rows = np.frombuffer(body, dtype=READ_ROW) if len(body) % READ_ROW.itemsize == 0 else None
    if rows is None or not _fixed_width(rows):
        return _copy_out_csv(sql, params)  # a symbol or source with multi-byte characters: not fixed width
    micros = rows["ts"].astype(np.int64) + pgcopy.PG_EPOCH_US
    frame = pd.DataFrame({
        "symbol": _categories(rows, "symbol"), "source": _categories(rows, "source"),
        # Straight to datetime64: pd.to_datetime of integers is ~70× slower here.
        "ts": pd.DatetimeIndex((micros * 1000).view("datetime64[ns]")).tz_localize("UTC"),
    })
    for name in ("open", "high", "low", "close", "volume"):
        frame[name] = rows[name].astype(np.float64)
    return frame


def _fixed_width(rows: np.ndarray) -> bool:
    """Every symbol and source came out at its padded width (multi-byte characters would make them longer); the
    other fields are NOT NULL numbers of fixed size."""
    return bool((rows["symbol_len"] == 20).all() and (rows["source_len"] == 30).all())


def _categories(rows: np.ndarray, name: str) -> pd.Categorical:
    """A space-padded name column as categories (in order of first appearance). Names of up to 8 bytes (nearly every
    ticker and source) are factorized as integers read in place from the COPY rows."""
    offset, width = rows.dtype.fields[name][1], rows.dtype[name].itemsize

    def in_place(start: int, kind: str) -> np.ndarray:
        return np.ndarray(len(rows), dtype=kind, buffer=rows, offset=offset + start, strides=(rows.itemsize,))

    spaces = int.from_bytes(b" " * 8, "little")
    # Bytes 8 … width-1 all spaces, in 8-byte words (the last one may overlap the one before).
    short = len(rows) and all(bool((in_place(start, "<u8") == spaces).all())
                              for start in sorted({*range(8, width - 8, 8), width - 8}))
    keys = in_place(0, "<u8") if short else rows[name].astype(object)
    # The rows come in runs of one name (a symbol's bars of a partition): factorized by the runs' first rows.
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1] if len(keys) else np.zeros(0, dtype=np.int64)
    heads, distinct = pd.factorize(keys[starts])
    codes = np.repeat(heads, np.diff(np.r_[starts, len(keys)]))
    first = np.empty(len(distinct), dtype=np.int64)
    first[heads[::-1]] = starts[::-1]
    return pd.Categorical.from_codes(codes, [rows[name][i].decode().rstrip() for i in first])


def _copy_out_csv(sql: str, params: list) -> pd.DataFrame:
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(sql, params).decode()
        cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    buffer.seek(0)
    frame = pd.read_csv(buffer, names=BAR_COLUMNS, header=None, dtype={"symbol": "category", "source": "category"},
                        keep_default_na=False, na_values=[])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    return frame


def read_actions(symbols: list[str]) -> pd.DataFrame:
    rows = []
    for start in range(0, len(symbols), 5000):
        rows += list(CorporateAction.objects.filter(symbol__in=symbols[start:start + 5000])
                     .values_list("symbol", "date", "kind", "ratio"))
    frame = pd.DataFrame(rows, columns=["symbol", "date", "kind", "ratio"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


