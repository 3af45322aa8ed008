"""The one writer of bars: CSV imports, Polygon aggregates and the live bar streams all store through here.

On PostgreSQL each chunk is COPYed into a staging table, and a few statements whose cost does not depend on what
else the bar table holds move the staged rows into it: at the end, or after each chunk while the next one is read
(a plain file, whose chunks of new bars are COPYed straight into the bar table). Elsewhere each chunk is upserted
with executemany (loader/portable.py). One transaction per call: a file either loads (minus its rejected rows) or
changes nothing, and re-storing the same bars writes nothing. The arrival state (the newest bar per symbol and
source, monitors/quality/arrivals.py) is updated in the same transaction."""

import io
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager

import numpy as np
import pandas as pd
from django.db import OperationalError, connection, transaction
from psycopg2.errors import UniqueViolation

from monitors.quality import arrivals, conf, partitions, pgcopy
from monitors.quality.loader.ahead import read_ahead
from monitors.quality.loader.portable import PortableWriter
from monitors.quality.loader.results import LoadError, LoadResult
from monitors.quality.loader.validation import PRICE_COLUMNS, Chunk, validate
from monitors.quality.models import Bar

LOCK_NOT_AVAILABLE = "55P03"


class RepeatedAcrossChunks(Exception):
    """A streamed file repeats a bar of an earlier chunk, already stored: the load is rolled back, to be done
    again without streaming, so that the later row wins and the counts stay the file's."""


def store_chunks(chunks: Iterable[tuple[list, Sequence[int]]], result: LoadResult, source: str, interval: str, *,
                 streamed: bool = False) -> None:
    """Validate each chunk of text columns (COLUMNS order, with row numbers) and upsert the valid rows.
    `streamed`: read and validate the next chunk in a thread while storing each one as it comes (PostgreSQL;
    may raise RepeatedAcrossChunks, so only for a reader that can start again)."""
    validated = (validate(columns, numbers, interval, result) for columns, numbers in chunks)
    streamed = streamed and connection.vendor == "postgresql"
    with closing(read_ahead(validated) if streamed else validated) as ready:
        write_bars(ready, result, source, interval, streamed=streamed)
    result.errors.sort(key=lambda error: error.line)


def write_bars(chunks: Iterable[Chunk], result: LoadResult, source: str, interval: str, *,
               concurrent: bool = False, streamed: bool = False) -> None:
    """Upsert validated chunks under `source` and `interval` in one transaction, counting into `result`.
    `concurrent`: other writers of the same source and interval run at once (the live consumers of a group), each
    storing other bars: no import lock is taken, and should one insert a bar this one is inserting too, this one
    fails with an IntegrityError (a unique violation) that the caller retries.
    `streamed`: each chunk is stored as it comes rather than all at the end (see store_chunks)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            sink = _PostgresWriter(source, interval, concurrent=concurrent, streamed=streamed)
        else:
            sink = PortableWriter(source, interval)
        arrived = arrivals.Arrivals(source, interval)
        for chunk in chunks:
            if len(chunk):
                sink.add(chunk)
                arrived.add(chunk.symbol, chunk.ts)
                if streamed:
                    sink.flush(result)
        sink.finish(result)
        arrived.save()


COPY_ROW = np.dtype([
    ("fields", ">i2"),
    ("line_len", ">i4"), ("line", ">i8"), ("code_len", ">i4"), ("code", ">i4"), ("ts_len", ">i4"), ("ts", ">i8"),
    ("open_len", ">i4"), ("open", ">f8"), ("high_len", ">i4"), ("high", ">f8"), ("low_len", ">i4"), ("low", ">f8"),
    ("close_len", ">i4"), ("close", ">f8"), ("volume_len", ">i4"), ("volume", ">i8"),
])
BAR_FIELDS = np.dtype([("ts_len", ">i4"), ("ts", ">i8"), ("open_len", ">i4"), ("open", ">f8"), ("high_len", ">i4"),
                       ("high", ">f8"), ("low_len", ">i4"), ("low", ">f8"), ("close_len", ">i4"), ("close", ">f8"),
                       ("volume_len", ">i4"), ("volume", ">i8")])
SPAN_ROW = np.dtype([("fields", ">i2"), ("code_len", ">i4"), ("code", ">i4"), ("first_len", ">i4"), ("first", ">i8"),
                     ("last_len", ">i4"), ("last", ">i8")])


def _binary_rows(chunk: Chunk, layout: np.dtype) -> np.ndarray:
    """The chunk's timestamps, prices and volumes in a binary COPY `layout`, each field's length filled in."""
    rows = np.empty(len(chunk), dtype=layout)
    for name in layout.names:
        if name.endswith("_len"):
            rows[name] = layout[name.removesuffix("_len")].itemsize
    rows["ts"] = chunk.ts // 1000 - pgcopy.PG_EPOCH_US
    for name in ("open", "high", "low", "close", "volume"):
        rows[name] = getattr(chunk, name)
    return rows


class _PostgresWriter:
    """Each chunk goes into a temporary staging table with a binary COPY built straight from the arrays
    (symbols as small integer codes, their names in a second staging table); then the stored bars the staged
    rows could touch are read, changed ones are updated by key and new ones inserted: once at the end, or after
    each chunk when streamed."""

    def __init__(self, source: str, interval: str, *, concurrent: bool = False, streamed: bool = False):
        self.source, self.interval, self.concurrent, self.streamed = source, interval, concurrent, streamed
        self.staged = 0
        self.prepared = False
        self.codes: dict[str, int] = {}
        self.prefixes: list[bytes] = []  # each code's leading fields of a bar row in binary COPY
        self.fresh: tuple[Chunk, np.ndarray] | None = None  # streamed: the chunk added and not stored yet
        self.stored_read = False  # quality_stored_staging holds the stored bars of the staged rows already
        self.keys_code: list[np.ndarray] = []  # the staged rows' keys: symbol codes and timestamps
        self.keys_ts: list[np.ndarray] = []
        # Streamed: the keys stored by earlier chunks, and each symbol code's newest timestamp among them.
        self.stored_code: list[np.ndarray] = []
        self.stored_ts: list[np.ndarray] = []
        self.newest: dict[int, int] = {}
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE quality_bar_staging (line bigint, code integer, ts timestamptz, open float8,"
                " high float8, low float8, close float8, volume bigint) ON COMMIT DROP"
            )
            cursor.execute('CREATE TEMP TABLE quality_symbol_staging (code integer PRIMARY KEY,'
                           ' symbol varchar(20) COLLATE "C") ON COMMIT DROP')

    def add(self, chunk: Chunk) -> None:
        chunk, codes = self._encoded(chunk)
        if self.streamed:
            self._refuse_repeats(codes, chunk.ts)
            self.stored_code.append(codes)
            self.stored_ts.append(chunk.ts)
            self.fresh = chunk, codes
        else:
            self._stage(chunk, codes)

    def _encoded(self, chunk: Chunk) -> tuple[Chunk, np.ndarray]:
        """The chunk in key order, and its symbols' codes (new names staged)."""
        local, names = pd.factorize(chunk.symbol)
        # In key order, so that inserts fill the index front to back without a sort of their own.
        name_rank = np.argsort(np.argsort(np.asarray(names, dtype=str)))
        in_key_order = np.lexsort((chunk.ts, name_rank[local]))
        chunk, local = chunk.take(in_key_order), local[in_key_order]
        new = [name for name in names if name not in self.codes]
        for name in new:
            self.codes[name] = len(self.codes)
            self.prefixes.append(self._prefix(name))
        if new:
            listing = "".join(f"{self.codes[name]}\t{name}\n" for name in new)
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert("COPY quality_symbol_staging (code, symbol) FROM STDIN",
                                          io.StringIO(listing))
        return chunk, np.array([self.codes[name] for name in names], dtype=np.int32)[local]

    def _prefix(self, symbol: str) -> bytes:
        """A bar row's leading fields in binary COPY: the field count, the symbol, the source and the interval."""
        fields = [symbol.encode(), self.source.encode(), self.interval.encode()]
        return struct.pack(">h", 9) + b"".join(struct.pack(">i", len(field)) + field for field in fields)

    def _stage(self, chunk: Chunk, codes: np.ndarray) -> None:
        rows = _binary_rows(chunk, COPY_ROW)
        rows["fields"] = 8
        rows["line"] = chunk.line
        rows["code"] = codes
        self.keys_code.append(codes)
        self.keys_ts.append(chunk.ts)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                "COPY quality_bar_staging (line, code, ts, open, high, low, close, volume) FROM STDIN WITH BINARY",
                pgcopy.framed(rows),
            )
        self.staged += len(chunk)

    def _copied_new(self, chunk: Chunk, codes: np.ndarray) -> bool:
        """Store a chunk none of whose bars is stored yet (a first import) straight into the bar table: one COPY
        costs PostgreSQL about half what staging it and INSERT … SELECT do. False when some are stored, or when a
        live consumer stores one of them meanwhile (the COPY fails on the key and is undone to a savepoint): the
        chunk is then staged like any other."""
        keys = pd.DataFrame({"code": codes, "ts": chunk.ts})
        if keys.duplicated().any():
            return False
        table = Bar._meta.db_table
        with connection.cursor() as cursor:
            if not self.prepared:
                self._prepare(cursor, table)
            partitions.prepare(self.interval, chunk.ts)
            self._read_stored(cursor, keys)
            cursor.execute("SELECT EXISTS (SELECT FROM quality_stored_staging)")
            (self.stored_read,) = cursor.fetchone()
            if self.stored_read:
                return False  # the stored bars just read serve the staged chunk's statements
            cursor.execute("DROP TABLE quality_span_staging, quality_stored_staging")
            fixed = _binary_rows(chunk, BAR_FIELDS)
            try:
                with transaction.atomic():
                    cursor.cursor.copy_expert(
                        f"COPY {table} (symbol, source, interval, ts, open, high, low, close, volume)"
                        " FROM STDIN WITH BINARY", pgcopy.prefixed(self.prefixes, codes, fixed))
            except UniqueViolation:
                return False
        return True

    def finish(self, result: LoadResult) -> None:
        self.flush(result)
        with connection.cursor() as cursor:
            # ON COMMIT DROP alone is not enough when the caller's transaction loads several files.
            cursor.execute("DROP TABLE quality_bar_staging, quality_symbol_staging")

    def _refuse_repeats(self, codes: np.ndarray, stamps: np.ndarray) -> None:
        """Raise RepeatedAcrossChunks when the chunk (in key order) repeats a bar of an earlier one. Only a symbol
        whose timestamps reach back to ones already stored can: a file ordered by symbol or by time never pays
        for more than that comparison."""
        starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1]
        ends = np.r_[starts[1:], len(codes)]
        overlapping = [int(codes[start]) for start in starts
                       if stamps[start] <= self.newest.get(int(codes[start]), np.iinfo(np.int64).min)]
        if overlapping:
            earlier = np.concatenate(self.stored_code)
            among = np.isin(earlier, overlapping)
            stored = pd.MultiIndex.from_arrays([earlier[among], np.concatenate(self.stored_ts)[among]])
            mine = np.isin(codes, overlapping)
            if pd.MultiIndex.from_arrays([codes[mine], stamps[mine]]).isin(stored).any():
                raise RepeatedAcrossChunks
        for start, end in zip(starts, ends, strict=True):
            code = int(codes[start])
            self.newest[code] = max(self.newest.get(code, int(stamps[end - 1])), int(stamps[end - 1]))

    def flush(self, result: LoadResult) -> None:
        """Store the staged rows. Rows equal to the stored bar are left alone (a re-import writes nothing); when
        the staged rows repeat a bar, the later row is kept. The advisory lock keeps a concurrent import of the
        same source and interval from inserting the same bars in between the statements. Concurrent writers (live
        consumers, each storing other entries) take no lock: a bar two of them insert at once (rare: the same bar
        published twice within a batch's time) fails one with a unique violation, and it tries again. Not
        ON CONFLICT DO NOTHING instead: its speculative insertion costs PostgreSQL 50 % more CPU per bar.

        Every statement joins only the small staging tables (analysed first: autovacuum never analyses temporary
        tables) except two, whose plans are fixed: the stored bars the file could touch are read by primary-key
        range scans (one per symbol, over the symbol's span in the file), and changed bars are updated by key.
        Joining the bar table directly let its statistics choose the plan, and statistics that lag a bulk load
        (they still say "no 1m bars") gave a join on the timestamp alone: every bar of a minute file compared with
        every stored bar of the same minute, hours for a universe of symbols (docs/scaling.md)."""
        if self.fresh is not None:
            (chunk, codes), self.fresh = self.fresh, None
            if self._copied_new(chunk, codes):
                result.inserted += len(chunk)
                return
            self._stage(chunk, codes)
        if not self.staged:
            return
        keys = pd.DataFrame({"code": np.concatenate(self.keys_code), "ts": np.concatenate(self.keys_ts)})
        self.keys_code, self.keys_ts = [], []
        repeated = int(keys.duplicated().sum())
        table = Bar._meta.db_table
        with connection.cursor() as cursor:
            if not self.prepared:
                self._prepare(cursor, table)
            # Every bar lands in a partition of its own month (or year), not in the default one (docs/scaling.md).
            partitions.prepare(self.interval, keys["ts"].to_numpy())
            cursor.execute("ANALYZE quality_bar_staging (code, ts), quality_symbol_staging (code)")
            if repeated:
                cursor.execute("DELETE FROM quality_bar_staging earlier USING quality_bar_staging later"
                               " WHERE later.code = earlier.code AND later.ts = earlier.ts"
                               " AND later.line > earlier.line")
            if not self.stored_read:
                self._read_stored(cursor, keys)
            self.stored_read = False
            updated = self._update_changed(cursor)
            cursor.execute(
                f"""
                INSERT INTO {table} (symbol, source, interval, ts, open, high, low, close, volume)
                SELECT s.symbol, %s, %s, src.ts, src.open, src.high, src.low, src.close, src.volume
                FROM quality_bar_staging src JOIN quality_symbol_staging s USING (code)
                WHERE NOT EXISTS (SELECT FROM quality_stored_staging stored
                                  WHERE stored.code = src.code AND stored.ts = src.ts)
                """,
                [self.source, self.interval],
            )
            inserted = cursor.rowcount
            cursor.execute("DROP TABLE quality_span_staging, quality_stored_staging")
            cursor.execute("TRUNCATE quality_bar_staging")
        result.inserted += inserted
        result.updated += updated
        result.duplicates += repeated
        result.unchanged += self.staged - repeated - inserted - updated
        self.staged = 0

    def _prepare(self, cursor, table: str) -> None:
        """Once per transaction, before the first rows are stored."""
        if not self.concurrent:
            _take_import_lock(cursor, table, f"{self.source}/{self.interval}")
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the sorts and joins below stay in memory
        # Compiling these plain statements costs more than it saves (over a second once the fixed plans'
        # penalised costs pass jit_above_cost).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL default_statistics_target = 10")  # enough to plan joins of staging tables
        self.prepared = True

    def _read_stored(self, cursor, keys: pd.DataFrame) -> None:
        """quality_stored_staging: the stored bars of this source and interval within each symbol's span in the
        file, read by range scans of the primary key whatever the bar table's statistics say."""
        # PostgreSQL keeps microseconds: the span's ends are the staged (truncated) timestamps.
        spans = (keys["ts"] // 1000 - pgcopy.PG_EPOCH_US).groupby(keys["code"]).agg(["min", "max"])
        rows = np.empty(len(spans), dtype=SPAN_ROW)
        rows["fields"], rows["code_len"], rows["first_len"], rows["last_len"] = 3, 4, 8, 8
        rows["code"], rows["first"], rows["last"] = spans.index, spans["min"], spans["max"]
        cursor.execute("CREATE TEMP TABLE quality_span_staging (code integer, first timestamptz, last timestamptz)"
                       " ON COMMIT DROP")
        cursor.cursor.copy_expert("COPY quality_span_staging FROM STDIN WITH BINARY", pgcopy.framed(rows))
        with _plan_fixed(cursor):
            cursor.execute(
                f"""
                CREATE TEMP TABLE quality_stored_staging ON COMMIT DROP AS
                SELECT span.code, stored.* FROM quality_span_staging span JOIN quality_symbol_staging s USING (code)
                CROSS JOIN LATERAL (
                    SELECT ts, open, high, low, close, volume FROM {Bar._meta.db_table}
                    WHERE symbol = s.symbol AND source = %s AND interval = %s AND ts BETWEEN span.first AND span.last
                    OFFSET 0
                ) stored
                """,
                [self.source, self.interval],
            )
        cursor.execute("ANALYZE quality_stored_staging (code, ts)")

    def _update_changed(self, cursor) -> int:
        """Update the stored bars the file changes, each found by its key; returns how many."""
        cursor.execute(
            """
            CREATE TEMP TABLE quality_changed_staging ON COMMIT DROP AS
            SELECT s.symbol, src.ts, src.open, src.high, src.low, src.close, src.volume
            FROM quality_bar_staging src JOIN quality_stored_staging stored USING (code, ts)
                JOIN quality_symbol_staging s USING (code)
            WHERE (stored.open, stored.high, stored.low, stored.close, stored.volume)
                IS DISTINCT FROM (src.open, src.high, src.low, src.close, src.volume)
            """
        )
        changed = cursor.rowcount
        if changed:
            with _plan_fixed(cursor):
                cursor.execute(
                    f"""
                    UPDATE {Bar._meta.db_table} AS stored SET open = new.open, high = new.high, low = new.low,
                        close = new.close, volume = new.volume
                    FROM quality_changed_staging new
                    WHERE stored.symbol = new.symbol AND stored.source = %s AND stored.interval = %s
                        AND stored.ts = new.ts
                    """,
                    [self.source, self.interval],
                )
        cursor.execute("DROP TABLE quality_changed_staging")
        return changed


@contextmanager
def _plan_fixed(cursor) -> Iterator[None]:
    """Within this block the planner may only join by nested loops over index scans: the plan of a statement
    that reads the bar table by key then does not depend on the bar table's statistics."""
    switches = ("enable_seqscan", "enable_bitmapscan", "enable_hashjoin", "enable_mergejoin")
    for name in switches:
        cursor.execute(f"SET LOCAL {name} = off")
    try:
        yield
    finally:
        for name in switches:
            cursor.execute(f"SET LOCAL {name} TO DEFAULT")


def _take_import_lock(cursor, table: str, key: str) -> None:
    """The advisory lock serialising imports of one source and interval, waited for at most
    QUALITY_LOAD_LOCK_TIMEOUT_SECONDS: any session may take an advisory lock (the read-only role too), and an
    import must not wait for ever on one that never lets go."""
    seconds = conf.get("QUALITY_LOAD_LOCK_TIMEOUT_SECONDS")
    cursor.execute("SELECT current_setting('lock_timeout')")
    previous = cursor.fetchone()[0]
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])
    try:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", [table, key])
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        raise LoadError(f"another session has held the import lock of {key} for over {seconds:g} s (an import "
                        "of the same source and interval, or a session holding pg_advisory_lock); nothing was "
                        "stored: try again when it has finished") from None
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def upsert_frame(frame: pd.DataFrame, *, source: str, interval: str) -> LoadResult:
    """Store bars the project generated itself (the demo data, benchmarks): columns symbol, ts (UTC), open, high,
    low, close, volume, already typed. Nothing here is validated: bars from outside enter through `load_bars`,
    `fetch_bars` or `consume_bars`, which check every value against docs/input-bounds.md first."""
    result = LoadResult(rows=len(frame))
    stamps = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
    chunk = Chunk(np.arange(1, len(frame) + 1, dtype=np.int64), frame["symbol"].to_numpy(dtype=object),
                  stamps.view(np.int64), *(frame[name].to_numpy(dtype=np.float64) for name in PRICE_COLUMNS),
                  np.rint(frame["volume"].to_numpy(dtype=np.float64)).astype(np.int64))
    write_bars([chunk], result, source, interval)
    return result
