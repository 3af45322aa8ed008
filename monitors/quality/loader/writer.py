"""The one writer of bars: CSV imports, Polygon aggregates and the live bar streams all store through here.

On PostgreSQL each chunk is COPYed into a staging table and a few statements, whose cost does not depend on what
else the bar table holds, move the whole file into it; elsewhere each chunk is upserted with executemany. One
transaction per call: a file either loads (minus its rejected rows) or changes nothing, and re-storing the same
bars writes nothing. The arrival state (the newest bar per symbol and source, monitors/quality/arrivals.py) is
updated in the same transaction."""

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from django.db import OperationalError, connection, transaction

from monitors.quality import arrivals, conf, partitions, pgcopy
from monitors.quality.loader.results import LoadError, LoadResult
from monitors.quality.loader.validation import PRICE_COLUMNS, Chunk, validate
from monitors.quality.models import Bar

LOCK_NOT_AVAILABLE = "55P03"


def store_chunks(chunks: Iterable[tuple[list, Sequence[int]]], result: LoadResult, source: str, interval: str) -> None:
    """Validate each chunk of text columns (COLUMNS order, with row numbers) and upsert the valid rows."""
    write_bars((validate(columns, numbers, interval, result) for columns, numbers in chunks), result, source,
               interval)
    result.errors.sort(key=lambda error: error.line)


def write_bars(chunks: Iterable[Chunk], result: LoadResult, source: str, interval: str, *,
               concurrent: bool = False) -> None:
    """Upsert validated chunks under `source` and `interval` in one transaction, counting into `result`.
    `concurrent`: other writers of the same source and interval run at once (the live consumers of a group), each
    storing other bars: no import lock is taken, and should one insert a bar this one is inserting too, this one
    fails with an IntegrityError (a unique violation) that the caller retries."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            sink = _PostgresWriter(source, interval, concurrent=concurrent)
        else:
            sink = _PortableWriter(source, interval)
        arrived = arrivals.Arrivals(source, interval)
        for chunk in chunks:
            if len(chunk):
                sink.add(chunk)
                arrived.add(chunk.symbol, chunk.ts)
        sink.finish(result)
        arrived.save()


COPY_ROW = np.dtype([
    ("fields", ">i2"),
    ("line_len", ">i4"), ("line", ">i8"), ("code_len", ">i4"), ("code", ">i4"), ("ts_len", ">i4"), ("ts", ">i8"),
    ("open_len", ">i4"), ("open", ">f8"), ("high_len", ">i4"), ("high", ">f8"), ("low_len", ">i4"), ("low", ">f8"),
    ("close_len", ">i4"), ("close", ">f8"), ("volume_len", ">i4"), ("volume", ">i8"),
])
SPAN_ROW = np.dtype([("fields", ">i2"), ("code_len", ">i4"), ("code", ">i4"), ("first_len", ">i4"), ("first", ">i8"),
                     ("last_len", ">i4"), ("last", ">i8")])


class _PostgresWriter:
    """Each chunk goes into a temporary staging table with a binary COPY built straight from the arrays
    (symbols as small integer codes, their names in a second staging table); at the end the stored bars the file
    could touch are read once, changed ones are updated by key and new ones inserted."""

    def __init__(self, source: str, interval: str, *, concurrent: bool = False):
        self.source, self.interval, self.concurrent = source, interval, concurrent
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
        rows["ts"] = chunk.ts // 1000 - pgcopy.PG_EPOCH_US
        for name in ("open", "high", "low", "close", "volume"):
            rows[name] = getattr(chunk, name)
        with connection.cursor() as cursor:
            if new:
                listing = "".join(f"{self.codes[name]}\t{name}\n" for name in new)
                cursor.cursor.copy_expert("COPY quality_symbol_staging (code, symbol) FROM STDIN",
                                          io.StringIO(listing))
            cursor.cursor.copy_expert(
                "COPY quality_bar_staging (line, code, ts, open, high, low, close, volume) FROM STDIN WITH BINARY",
                pgcopy.framed(rows),
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
        across chunks, the later row of each bar is kept. The advisory lock keeps a concurrent import of the same
        source and interval from inserting the same bars in between the statements. Concurrent writers (live
        consumers, each storing other entries) take no lock: a bar two of them insert at once (rare: the same bar
        published twice within a batch's time) fails one with a unique violation, and it tries again. Not
        ON CONFLICT DO NOTHING instead: its speculative insertion costs PostgreSQL 50 % more CPU per bar.

        Every statement joins only the small staging tables (analysed first: autovacuum never analyses temporary
        tables) except two, whose plans are fixed: the stored bars the file could touch are read by primary-key
        range scans (one per symbol, over the symbol's span in the file), and changed bars are updated by key.
        Joining the bar table directly let its statistics choose the plan, and statistics that lag a bulk load
        (they still say "no 1m bars") gave a join on the timestamp alone: every bar of a minute file compared with
        every stored bar of the same minute, hours for a universe of symbols (docs/scaling.md)."""
        keys = pd.DataFrame({"code": np.concatenate(self.keys_code), "ts": np.concatenate(self.keys_ts)})
        repeated = int(keys.duplicated().sum())
        table = Bar._meta.db_table
        with connection.cursor() as cursor:
            if not self.concurrent:
                _take_import_lock(cursor, table, f"{self.source}/{self.interval}")
            # Every bar lands in a partition of its own month (or year), not in the default one (docs/scaling.md).
            partitions.prepare(self.interval, keys["ts"].to_numpy())
            cursor.execute("SET LOCAL work_mem = '256MB'")  # the sorts and joins below stay in memory
            # Compiling these plain statements costs more than it saves (over a second once the fixed plans'
            # penalised costs pass jit_above_cost).
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL default_statistics_target = 10")  # enough to plan joins of staging tables
            cursor.execute("ANALYZE quality_bar_staging (code, ts), quality_symbol_staging (code)")
            if repeated:
                cursor.execute("DELETE FROM quality_bar_staging earlier USING quality_bar_staging later"
                               " WHERE later.code = earlier.code AND later.ts = earlier.ts"
                               " AND later.line > earlier.line")
            self._read_stored(cursor, keys)
            result.updated = self._update_changed(cursor)
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
            result.inserted = cursor.rowcount
            cursor.execute("DROP TABLE quality_span_staging, quality_stored_staging")
        result.duplicates += repeated
        result.unchanged = self.staged - repeated - result.inserted - result.updated

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
