"""A large read on PostgreSQL is two COPYs on two connections; the frame is the one a single query gives."""

import pandas as pd
import pytest
from django.db import connection

from monitors.quality import loader, reads
from monitors.quality.tests.builders import daily


@pytest.mark.django_db(transaction=True)
def test_a_split_read_gives_the_frame_one_query_gives(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the split read is PostgreSQL's: other connections see committed bars")
    for n, symbol in enumerate(["AAA", "BBB", "CCC", "DDD", "EEE"]):
        for source in ("csv", "polygon")[:1 + n % 2]:
            loader.upsert_frame(daily(symbol, [10.0 + n, 11.0, 12.5, 12.0], source=source).drop(columns="source"),
                                source=source, interval="1d")
    monkeypatch.setattr(reads, "SPLIT_MIN_SYMBOLS", 2)
    end = pd.Timestamp("2025-12-31", tz="UTC")
    queries = []
    original = reads._fetch_elsewhere
    monkeypatch.setattr(reads, "_fetch_elsewhere", lambda sql, params: queries.append(params) or original(sql,
                                                                                                        params))

    split = reads.read_bars("1d", None, end, split=True)
    whole = reads.read_bars("1d", None, end)

    assert queries and queries[0][-1] == "CCC"  # the symbols before the middle one, on the other connection
    assert len(whole) == 7 * 4

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype({"symbol": str, "source": str})
        return frame.sort_values(["symbol", "source", "ts"], ignore_index=True)

    pd.testing.assert_frame_equal(plain(split), plain(whole))


@pytest.mark.django_db(transaction=True)
def test_a_split_read_with_no_bars_on_one_side_of_the_middle_symbol(monkeypatch):
    """The middle symbol comes from the arrival state of every symbol; the window may hold bars of only some of
    them (here only the later half), and an empty half must not change the frame."""
    if connection.vendor != "postgresql":
        pytest.skip("the split read is PostgreSQL's: other connections see committed bars")
    for n, symbol in enumerate(["AAA", "BBB", "CCC", "DDD"]):
        frame = daily(symbol, [10.0, 11.0, 12.0], start="2020-01-02" if n < 2 else "2025-07-01").drop(columns="source")
        loader.upsert_frame(frame, source="csv", interval="1d")
    monkeypatch.setattr(reads, "SPLIT_MIN_SYMBOLS", 2)
    start, end = pd.Timestamp("2025-06-01", tz="UTC"), pd.Timestamp("2025-12-31", tz="UTC")

    split = reads.read_bars("1d", start, end, split=True)

    pd.testing.assert_frame_equal(split, reads.read_bars("1d", start, end))
    assert sorted(split["symbol"].unique()) == ["CCC", "DDD"] and len(split) == 6
    nothing = reads.read_bars("1d", end, end + pd.Timedelta(days=30), split=True)
    assert nothing.empty and list(nothing.columns) == list(split.columns)
