"""The bar writer for SQLite (the embedded default) and other backends without PostgreSQL's bulk paths: an
upsert per chunk. Chunks arrive in file order, so the later row of a repeated bar wins. The counts are the
file's: each bar's last row against the bar as it was stored before the load."""

import pandas as pd
from django.db import connection

from monitors.quality.loader.results import LoadResult
from monitors.quality.loader.validation import Chunk
from monitors.quality.models import Bar

Key = tuple[str, int]  # symbol, UTC nanoseconds
Values = tuple[float, float, float, float, int]
SYMBOLS_PER_QUERY = 500  # SQLite allows a few hundred variables per statement on older builds


class PortableWriter:
    def __init__(self, source: str, interval: str):
        self.source, self.interval = source, interval
        self.rows = 0
        self.seen: set[Key] = set()
        self.before: dict[Key, Values] = {}  # the bars the file names that were stored before it
        self.after: dict[Key, Values] = {}  # their last row in the file

    def add(self, chunk: Chunk) -> None:
        keys = list(zip(chunk.symbol.tolist(), chunk.ts.tolist(), strict=True))
        values = list(zip(chunk.open.tolist(), chunk.high.tolist(), chunk.low.tolist(), chunk.close.tolist(),
                          chunk.volume.tolist(), strict=True))
        unseen = [key for key in keys if key not in self.seen]
        if unseen:
            self.before.update(self._stored(unseen))
            self.seen.update(unseen)
        for key, row in zip(keys, values, strict=True):
            if key in self.before:
                self.after[key] = row
        self.rows += len(keys)
        self._upsert(keys, values)

    def finish(self, result: LoadResult) -> None:
        result.duplicates += self.rows - len(self.seen)
        result.inserted = len(self.seen) - len(self.before)
        result.updated = sum(1 for key, row in self.before.items() if self.after[key] != row)
        result.unchanged = len(self.before) - result.updated

    def _stored(self, keys: list[Key]) -> dict[Key, Values]:
        wanted = set(keys)
        symbols = sorted({symbol for symbol, _ in keys})
        stamps = [stamp for _, stamp in keys]
        first, last = (pd.Timestamp(min(stamps), tz="UTC"), pd.Timestamp(max(stamps), tz="UTC"))
        found = {}
        for start in range(0, len(symbols), SYMBOLS_PER_QUERY):
            rows = Bar.objects.filter(source=self.source, interval=self.interval,
                                      symbol__in=symbols[start:start + SYMBOLS_PER_QUERY],
                                      ts__range=(first, last)).values_list(
                "symbol", "ts", "open", "high", "low", "close", "volume")
            for symbol, ts, *row in rows:
                key = (symbol, pd.Timestamp(ts).value)
                if key in wanted:
                    found[key] = tuple(row)
        return found

    def _upsert(self, keys: list[Key], values: list[Values]) -> None:
        adapt = connection.ops.adapt_datetimefield_value
        stamps = pd.to_datetime([stamp for _, stamp in keys], utc=True).to_pydatetime()
        params = [(symbol, self.source, self.interval, adapt(ts), *row)
                  for (symbol, _), ts, row in zip(keys, stamps, values, strict=True)]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"""INSERT INTO {Bar._meta.db_table} (symbol, source, interval, ts, open, high, low, close, volume)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (symbol, source, interval, ts) DO UPDATE SET
                    open = excluded.open, high = excluded.high, low = excluded.low,
                    close = excluded.close, volume = excluded.volume
                WHERE open IS NOT excluded.open OR high IS NOT excluded.high OR low IS NOT excluded.low
                    OR close IS NOT excluded.close OR volume IS NOT excluded.volume""",
                params,
            )
