"""A plain file is stored chunk by chunk while the next chunk is read (PostgreSQL): the same bars and the same
counts as storing the whole file at the end, whatever order its rows come in; a bar repeated in a later chunk
starts the load again in one pass."""

import threading
import time

import numpy as np
import pandas as pd
import pytest
from django.db import connection, connections, transaction

from monitors.quality import loader, partitions
from monitors.quality.loader import reading, writer
from monitors.quality.loader.ahead import read_ahead
from monitors.quality.models import Bar

HEADER = "symbol,timestamp,open,high,low,close,volume\n"


def rows(seed: int, count: int = 60) -> list[str]:
    """`count` distinct bars of three symbols, in a random order."""
    rng = np.random.default_rng(seed)
    keys = [(symbol, day) for symbol in ("AAA", "BBB", "CCC") for day in range(1, 29)]
    picked = rng.choice(len(keys), size=count, replace=False)
    lines = []
    for index in picked:
        symbol, day = keys[index]
        close = round(float(rng.uniform(10, 11)), 2)
        lines.append(f"{symbol},2025-02-{day:02d},10,11,9,{close},{int(rng.integers(1, 9)) * 1000}")
    return lines


def stored(source: str) -> list[tuple]:
    return list(Bar.objects.filter(source=source).order_by("symbol", "ts")
                .values_list("symbol", "ts", "open", "high", "low", "close", "volume"))


@pytest.fixture
def attempts(monkeypatch) -> list[bool]:
    """Whether each attempt at a plain file was streamed."""
    seen = []
    plain = reading._load_plain_file

    def spy(*args, streamed: bool, **kwargs):
        seen.append(streamed)
        return plain(*args, streamed=streamed, **kwargs)

    monkeypatch.setattr(reading, "_load_plain_file", spy)
    return seen


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.django_db
def test_chunk_by_chunk_stores_and_counts_what_one_pass_does(tmp_path, settings, attempts, seed):
    settings.QUALITY_LOAD_CHUNK_ROWS = 7
    # Stored before: bars the file changes, bars it repeats as they are (the later row wins), bars it lacks.
    earlier = rows(seed + 100, 30) + rows(seed)[:10]
    for source in ("streamed", "one-pass"):
        with open(tmp_path / "earlier.csv", "w") as handle:
            handle.write(HEADER + "\n".join(earlier) + "\n")
        loader.load_bars_file(tmp_path / "earlier.csv", source=source)
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\n".join(rows(seed)) + "\n")
    attempts.clear()
    streamed = loader.load_bars_file(path, source="streamed")
    assert attempts == [True]
    with open(path, newline="") as handle:
        one_pass = loader.load_bars(handle, source="one-pass")
    counts = ("rows", "inserted", "updated", "unchanged", "duplicates")
    assert [getattr(streamed, name) for name in counts] == [getattr(one_pass, name) for name in counts]
    assert streamed.inserted and streamed.updated and streamed.unchanged and not streamed.errors
    assert stored("streamed") == stored("one-pass")


@pytest.mark.django_db
def test_a_bar_repeated_in_a_later_chunk_starts_the_load_again_in_one_pass(tmp_path, settings, attempts):
    settings.QUALITY_LOAD_CHUNK_ROWS = 2
    lines = [f"AAA,2025-07-0{day},10,11,9,10.{day},1000" for day in range(1, 6)] + ["AAA,2025-07-02,10,11,9,10.9,2000"]
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    result = loader.load_bars_file(path, source="csv")
    expected = [True, False] if connection.vendor == "postgresql" else [True]
    assert attempts == expected
    assert not result.errors
    assert (result.rows, result.inserted, result.updated, result.unchanged, result.duplicates) == (6, 5, 0, 0, 1)
    assert [bar[5] for bar in stored("csv")] == [10.1, 10.9, 10.3, 10.4, 10.5]


@pytest.fixture
def copied(monkeypatch) -> list[bool]:
    """Whether each chunk offered to the straight COPY went in that way."""
    seen = []
    straight = writer._PostgresWriter._copied_new

    def spy(self, chunk, codes):
        seen.append(straight(self, chunk, codes))
        return seen[-1]

    monkeypatch.setattr(writer._PostgresWriter, "_copied_new", spy)
    return seen


SYMBOLS = ["A", "BRK.B", "GOOGL", "X:BTCUSD", "AGM.PR.D", "ZZ"]


def first_import(count: int = 40) -> list[str]:
    rng = np.random.default_rng(5)
    lines = []
    for minute in range(count):
        for symbol in SYMBOLS:
            close = float(rng.choice([0.0001, 12345.6789, 1e-4 * 3, 98.765432109]))
            lines.append(f"{symbol},2025-07-01T13:{minute:02d}:00Z,{close},{close},{close},{close},"
                         f"{int(rng.choice([0, 1, 9_000_000_000_000]))}")
    return lines


@pytest.mark.django_db
def test_a_first_import_goes_straight_into_the_bar_table_exactly_as_written(tmp_path, settings, copied):
    settings.QUALITY_LOAD_CHUNK_ROWS = 50
    lines = first_import()
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    result = loader.load_bars_file(path, source="straight", interval="1m")
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (240, 240, 0, 0)
    assert copied == ([True] * 5 if connection.vendor == "postgresql" else [])
    with open(path, newline="") as handle:
        loader.load_bars(handle, source="one-pass", interval="1m")
    assert stored("straight") == stored("one-pass")
    written = sorted((symbol, pd.Timestamp(ts), float(close), int(volume))
                     for symbol, ts, _, _, _, close, volume in (line.split(",") for line in lines))
    assert [(symbol, pd.Timestamp(ts), close, volume) for symbol, ts, _, _, _, close, volume in stored("straight")
            ] == sorted(written)
    again = loader.load_bars_file(path, source="straight", interval="1m")
    assert (again.inserted, again.unchanged) == (0, 240)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the straight COPY is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_bar_another_writer_stores_during_the_straight_copy_sends_the_chunk_through_staging(
        tmp_path, settings, monkeypatch, copied):
    settings.QUALITY_LOAD_CHUNK_ROWS = 50
    lines = first_import()
    symbol, stamp = lines[0].split(",")[:2]
    with transaction.atomic():  # the month's partition exists, as the schedule creates it ahead
        partitions.prepare("1m", pd.DatetimeIndex([stamp]).as_unit("ns").asi8)
    payload = writer.pgcopy.prefixed

    def meanwhile(*args):
        if not copied:  # a live consumer commits one of the first chunk's bars before its COPY
            other = connections.create_connection("default")
            with other.cursor() as cursor:
                cursor.execute("INSERT INTO quality_bar (symbol, source, interval, ts, open, high, low, close, volume)"
                               " VALUES (%s, 'raced', '1m', %s, 1, 1, 1, 1, 1)", [symbol, stamp])
            other.close()
        return payload(*args)

    monkeypatch.setattr(writer.pgcopy, "prefixed", meanwhile)
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    result = loader.load_bars_file(path, source="raced", interval="1m")
    assert copied == [False, True, True, True, True]
    assert (result.inserted, result.updated, result.unchanged) == (239, 1, 0)
    with open(path, newline="") as handle:
        loader.load_bars(handle, source="one-pass", interval="1m")
    assert stored("raced") == stored("one-pass")


def test_read_ahead_keeps_the_order_and_raises_a_failure_after_what_came_before():
    def produce():
        yield from range(5)
        raise ValueError("line 12: broken")

    seen = []
    with pytest.raises(ValueError, match="line 12: broken"):
        for item in read_ahead(produce()):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_read_ahead_stays_one_item_ahead_and_stops_when_closed():
    produced = []

    def produce():
        for item in range(100):
            produced.append(item)
            yield item

    items = read_ahead(produce())
    assert next(items) == 0
    deadline = time.monotonic() + 5
    while len(produced) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert len(produced) == 3  # the one handed over, the one waiting in the queue, the one waiting to be put
    items.close()
    deadline = time.monotonic() + 5
    while any(thread.name == "read-ahead" for thread in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(thread.name == "read-ahead" for thread in threading.enumerate())
    assert len(produced) == 3
