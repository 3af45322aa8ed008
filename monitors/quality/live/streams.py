"""The bar streams: their names, the entry format TickStock publishes (docs/live-bars.md), reading entries back as
columns for the loader's validation, and publishing bars the same way (the demo feed, tests, benchmarks)."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain

import pandas as pd
import redis

from monitors.quality import conf
from monitors.quality.models import INTERVALS

STREAM_PREFIX = "tickstock.bars."
# Entries that could not be stored, each with its stream, id, reason and fields: an operator's record of them.
REJECTED_STREAM = "tickstock.bars.rejected"
FIELDS = ("symbol", "ts", "open", "high", "low", "close", "volume", "source")
_KEYS = tuple(name.encode() for name in FIELDS)
_WIDTH = 2 * len(FIELDS)
MAX_SOURCE_LENGTH = 30  # the bar table's source column
PUBLISH_CHUNK = 5_000


def stream_key(interval: str) -> str:
    return STREAM_PREFIX + interval


def parse_intervals(text: str) -> list[str]:
    """`1m,1d` as a list of intervals; a clear ValueError for an unknown one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in INTERVALS]
    if not names:
        raise ValueError(f"no interval given: use some of {', '.join(INTERVALS)}")
    if unknown:
        raise ValueError(f"unknown interval {', '.join(unknown)}: use some of {', '.join(INTERVALS)}")
    return list(dict.fromkeys(names))


@dataclass
class Entries:
    """One stream's entries of a batch: their ids and their fields column by column (FIELDS order, as text);
    `problems` names the entries that are not a bar at all (a field missing, an entry trimmed away)."""

    stream: str
    ids: list[bytes] = field(default_factory=list)
    columns: list[list[str]] = field(default_factory=lambda: [[] for _ in FIELDS])
    raw: list[list | None] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def one(self, index: int) -> "Entries":
        return Entries(self.stream, [self.ids[index]], [[column[index]] for column in self.columns],
                       [self.raw[index]], {0: self.problems[index]} if index in self.problems else {})

    def by_source(self) -> dict[str, list[int]]:
        """The positions of the entries that are bars, by their source; a bad source is a problem of its entry."""
        groups: dict[str, list[int]] = {}
        for index, source in enumerate(self.columns[-1]):
            if index in self.problems:
                continue
            source = source.strip()
            if not source or len(source) > MAX_SOURCE_LENGTH:
                self.problems[index] = f"source {source!r} must be 1 to {MAX_SOURCE_LENGTH} characters"
                continue
            groups.setdefault(source, []).append(index)
        return groups


def decode(stream: str, raw_entries: list) -> Entries:
    """Entries as XREADGROUP/XCLAIM return them: (id, [field, value, …]) pairs, the fields None when the entry
    was trimmed or deleted before it was read. A batch whose entries all have exactly FIELDS in that order
    (TickStock's own) is split into columns by slicing; any other order, extra or missing fields are looked up by
    name, entry by entry."""
    flats = [flat for _, flat in raw_entries]
    entries = Entries(stream, [entry_id for entry_id, _ in raw_entries], raw=flats)
    if flats and None not in flats and set(map(len, flats)) == {_WIDTH}:
        joined = list(chain.from_iterable(flats))
        if all(joined[2 * j::_WIDTH].count(key) == len(flats) for j, key in enumerate(_KEYS)):
            entries.columns = [_texts(joined[2 * j + 1::_WIDTH]) for j in range(len(_KEYS))]
            return entries
    rows = []
    for index, flat in enumerate(flats):
        fields = dict(zip(flat[::2], flat[1::2], strict=True)) if flat else None
        values = [fields.get(key) for key in _KEYS] if fields is not None else None
        if values is None or None in values:
            entries.problems[index] = _missing(values)
            values = [b""] * len(_KEYS)
        rows.append(values)
    if rows:
        entries.columns = [_texts(column) for column in zip(*rows, strict=True)]
    return entries


def _texts(values: Sequence[bytes]) -> list[str]:
    """Decode a column in one call rather than one per value (a value holding the separator takes the slow way)."""
    texts = b"\x1f".join(values).decode("utf-8", "replace").split("\x1f")
    if len(texts) != len(values):
        texts = [value.decode("utf-8", "replace") for value in values]
    return texts


def _missing(values: list | None) -> str:
    if values is None:
        return "the entry was trimmed or deleted from the stream before it was stored"
    return "missing field " + ", ".join(name for name, value in zip(FIELDS, values, strict=True) if value is None)


def publish_bars(client: redis.Redis, frame: pd.DataFrame, *, interval: str,
                 maxlen: int | None = None) -> list[bytes]:
    """XADD each row of `frame` (columns symbol, ts, open, high, low, close, volume, source) to the interval's
    stream as TickStock does: every value a string, `ts` ISO 8601 with offset (a date for daily bars)."""
    maxlen = conf.get("QUALITY_LIVE_STREAM_MAXLEN") if maxlen is None else maxlen
    stamps = pd.to_datetime(frame["ts"], utc=True)
    texts = stamps.dt.strftime("%Y-%m-%d") if interval == "1d" else stamps.map(pd.Timestamp.isoformat)
    rows = zip(frame["symbol"], texts, frame["open"], frame["high"], frame["low"], frame["close"],
               frame["volume"], frame["source"], strict=True)
    return publish_entries(client, stream_key(interval), (dict(zip(FIELDS, map(str, row), strict=True))
                                                          for row in rows), maxlen=maxlen)


def publish_entries(client: redis.Redis, stream: str, entries: Iterable[dict], *, maxlen: int) -> list[bytes]:
    """XADD raw entries (field → value) in pipelined chunks; their ids in order."""
    ids: list[bytes] = []
    pipe = client.pipeline(transaction=False)
    for count, entry in enumerate(entries, 1):
        pipe.xadd(stream, entry, maxlen=maxlen, approximate=True)
        if count % PUBLISH_CHUNK == 0:
            ids.extend(pipe.execute())
    ids.extend(pipe.execute())
    return ids


def described(entries: Entries, index: int) -> dict[str, str]:
    """An entry's fields as text, for the rejected stream and the log."""
    flat = entries.raw[index] or []
    return {key.decode("utf-8", "replace"): value.decode("utf-8", "replace")
            for key, value in zip(flat[::2], flat[1::2], strict=True)}


def rejected_record(entries: Entries, index: int, reason: str) -> dict[str, str]:
    return {"stream": entries.stream, "id": entries.ids[index].decode(), "reason": reason,
            "fields": json.dumps(described(entries, index), sort_keys=True)}


def positions(entries: Entries, indexes: Sequence[int]) -> list[tuple[str, ...]]:
    """The bar columns (symbol … volume) of the entries at `indexes`, as the loader's validation takes them."""
    columns = entries.columns[:-1]
    if len(indexes) == len(entries):
        return [tuple(column) for column in columns]
    return [tuple(column[i] for i in indexes) for column in columns]
