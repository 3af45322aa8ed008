"""The scheduled intraday scan reads only what arrived since the previous scan (plus the bar before it, found from
the arrival state) and must find exactly what a scan reading the whole window finds."""

import json
from collections import Counter
from contextlib import contextmanager
from io import StringIO
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from monitors.quality import arrivals, loader, reads
from monitors.quality.models import LatestBar, Scan
from monitors.quality.scan import examine, run_scan
from monitors.quality.tests.builders import intraday

DAY, PREVIOUS, EARLIER = "2025-06-26", "2025-06-25", "2025-06-23"
NEW_YORK = "America/New_York"


def extended_hours(symbol: str, day: str, start: str, end: str) -> pd.DataFrame:
    """Pre- or post-market minute bars, [start, end) New York time."""
    stamps = pd.date_range(pd.Timestamp(f"{day} {start}", tz=NEW_YORK), pd.Timestamp(f"{day} {end}", tz=NEW_YORK),
                           freq="1min", inclusive="left").tz_convert("UTC")
    return pd.DataFrame({"symbol": symbol, "source": "csv", "ts": stamps, "open": 20.0, "high": 20.1, "low": 19.9,
                         "close": 20.0, "volume": 300.0})


def jumpy(symbol: str, day: str) -> pd.DataFrame:
    """A day with a bad print in the morning, a real 30 % drop at midday that holds, and a 15 % gap at the open."""
    bars = intraday(symbol, day)
    local = bars["ts"].dt.tz_convert(NEW_YORK).dt.strftime("%H:%M")
    prices = np.where(local >= "12:00", 35.0, 57.5)
    prices = np.where(local == "10:15", 90.0, prices)
    return bars.assign(open=prices, high=prices * 1.001, low=prices * 0.999, close=prices)


def minute_day() -> pd.DataFrame:
    """A day of minute bars after a normal one, with what goes wrong in a day. Each bar arrives (is stored) at its
    timestamp, as a feed that sends the forming bar does, except TARDY's: after a hole its feed lags, and its bars
    from 12:30 on arrive 20 minutes late, after the scans whose windows held their timestamps; SLOW's bars all
    arrive two minutes late."""
    bars = pd.concat([
        *(intraday(symbol, PREVIOUS) for symbol in ("FLAT", "HOLE", "STOP", "PREPOST", "TWO", "GONE", "JUMPY",
                                                     "TARDY", "SLOW")),
        intraday("OLD", EARLIER),
        intraday("FLAT", DAY, volume=8_000),
        intraday("HOLE", DAY, skip=("10:00", "12:30")),
        intraday("STOP", DAY, end="13:30"),
        intraday("LATE", DAY, start="11:45"),
        extended_hours("PREPOST", DAY, "04:00", "09:30"), intraday("PREPOST", DAY),
        extended_hours("PREPOST", DAY, "16:00", "20:00"),
        intraday("TWO", DAY), intraday("TWO", DAY, minutes=5, source="polygon", price=50.1),
        intraday("BLINK", DAY, skip=("13:00", "15:30")),
        jumpy("JUMPY", DAY),
        intraday("TARDY", DAY, skip=("10:00", "12:30"), price=50.0),
        jumpy("SLOW", DAY),
    ], ignore_index=True)
    local = bars["ts"].dt.tz_convert(NEW_YORK).dt.strftime("%Y-%m-%d %H:%M")
    tardy = (bars["symbol"] == "TARDY") & (local >= f"{DAY} 12:30")
    bars["arrives"] = bars["ts"].where(~tardy, bars["ts"] + pd.Timedelta(minutes=20))
    slow = (bars["symbol"] == "SLOW") & (local >= f"{DAY} 09:30")
    bars["arrives"] = bars["arrives"].where(~slow, bars["ts"] + pd.Timedelta(minutes=2))
    # A move of 30 % at 12:35 that holds, on a bar that arrived at 12:55.
    bars.loc[tardy & (local >= f"{DAY} 12:35"), ["open", "high", "low", "close"]] = [35.0, 35.035, 34.965, 35.0]
    return bars


def store(bars: pd.DataFrame) -> None:
    for source, part in bars.groupby("source"):
        loader.upsert_frame(part.drop(columns=["source", "arrives"], errors="ignore"), source=source, interval="1m")


@contextmanager
def count_reads(counter: Counter, since: pd.Timestamp):
    """Counts a scan as "increment" when it read the bars of at most two symbols (TWO, with two sources, is always
    read whole) from further back than half an hour before `since` (TARDY's feed lags 20 minutes)."""
    far, original = [], reads.read_bars

    def counted(interval, start, end, symbols=None):
        if start is None or start < since - pd.Timedelta(minutes=30):
            far.extend(symbols or ["everyone", "all"])
        return original(interval, start, end, symbols)

    with mock.patch.object(reads, "read_bars", counted):
        yield
    counter["increment" if len(far) <= 2 else "whole"] += 1


def found(examination) -> list[tuple]:
    return [(f.symbol, f.type, f.severity, f.ts, f.value, f.threshold, f.detail, f.source, f.extra)
            for f in examination.findings]


# Committed as it goes, like a live feed: one transaction for the day's 800 imports would hold every lock they took
# (temporary tables, partitions) to its end and can exhaust PostgreSQL's lock table.
@pytest.mark.django_db(transaction=True)
def test_scanned_every_minute_the_incremental_scan_finds_what_a_full_scan_finds():
    bars = minute_day()
    clock = pd.Timestamp(f"{DAY} 09:31", tz=NEW_YORK).tz_convert("UTC")
    end = pd.Timestamp(f"{DAY} 16:05", tz=NEW_YORK).tz_convert("UTC")
    store(bars[bars["arrives"] < clock])
    since, compared, seen, reads = clock - pd.Timedelta(minutes=1, seconds=30), 0, [], Counter()
    while clock <= end:
        store(bars[(bars["arrives"] >= clock) & (bars["arrives"] < clock + pd.Timedelta(minutes=1))])
        as_of = clock + pd.Timedelta(seconds=30)
        with count_reads(reads, since):
            incremental = examine(as_of, since, None, "1m", Scan.Kind.INTRADAY)
        whole = examine(as_of, since, None, "1m", Scan.Kind.INTRADAY, full=True)

        assert found(incremental) == found(whole), f"scan as of {as_of}"
        assert (incremental.scanned, incremental.sources) == (whole.scanned, whole.sources)
        seen += found(whole)
        if clock.minute == 0:  # the whole scan, stored and alerted, on the hour
            scheduled = run_scan(as_of=as_of, since=since, interval="1m", kind=Scan.Kind.INTRADAY)
            again = run_scan(as_of=as_of, since=since, interval="1m", kind=Scan.Kind.INTRADAY, full=True)
            assert scheduled.reports == again.reports
        else:  # what run_scan keeps of a scheduled scan: its watermark
            arrivals.record_scanned("1m", incremental.seen)
        compared += 1
        since, clock = as_of, clock + pd.Timedelta(minutes=1)

    assert compared == 395
    kinds = {(symbol, kind) for symbol, kind, *_ in seen}
    # The day had each kind of trouble the scan looks for, so the comparison covered them.
    assert {("STOP", "data_stale"), ("HOLE", "coverage_gap"), ("LATE", "coverage_gap"), ("BLINK", "coverage_gap"),
            ("STOP", "coverage_gap"), ("JUMPY", "price_anomaly"), ("JUMPY", "price_gap"),
            ("TARDY", "price_anomaly"), ("SLOW", "price_anomaly"), ("SLOW", "price_gap")} <= kinds
    assert "OLD" not in whole.scanned and "GONE" in whole.scanned
    # Each finding on a bar is reported once, the late bars' included: TARDY's hole ends at its 12:30 bar, which
    # arrived at 12:50, and its move is on a bar that arrived at 12:55.
    on_bars = [(symbol, kind, ts) for symbol, kind, _, ts, *_ in seen if kind != "data_stale"]
    assert len(on_bars) == len(set(on_bars))
    tardy = [(kind, ts) for symbol, kind, ts in on_bars if symbol == "TARDY"]
    assert tardy == [("coverage_gap", pd.Timestamp(f"{DAY} 12:30", tz=NEW_YORK)),
                     ("price_anomaly", pd.Timestamp(f"{DAY} 12:35", tz=NEW_YORK))]
    # Most minutes read only the last few minutes' bars.
    assert reads["increment"] >= 350, reads


@pytest.mark.django_db
def test_the_writer_keeps_the_newest_bar_per_symbol_and_source_and_an_older_import_leaves_it():
    store(pd.concat([intraday("AAA", DAY, end="11:00"), intraday("AAA", DAY, end="10:00", source="polygon")]))
    newest = {(row.symbol, row.source): row for row in LatestBar.objects.filter(interval="1m")}
    assert newest[("AAA", "csv")].ts == pd.Timestamp(f"{DAY} 10:59", tz=NEW_YORK)
    assert newest[("AAA", "polygon")].ts == pd.Timestamp(f"{DAY} 09:59", tz=NEW_YORK)
    stored_at = newest[("AAA", "csv")].stored_at

    store(intraday("AAA", PREVIOUS))  # a backfill of the day before
    assert LatestBar.objects.get(symbol="AAA", source="csv", interval="1m").ts == newest[("AAA", "csv")].ts
    store(intraday("AAA", DAY, start="11:00", end="11:05"))
    latest = LatestBar.objects.get(symbol="AAA", source="csv", interval="1m")
    assert latest.ts == pd.Timestamp(f"{DAY} 11:04", tz=NEW_YORK) and latest.stored_at > stored_at


@pytest.mark.django_db
def test_scan_quality_full_reads_the_whole_window():
    store(pd.concat([intraday("AAA", PREVIOUS), intraday("AAA", DAY, skip=("10:00", "12:30"))]))
    out = StringIO()
    call_command("scan_quality", "--interval", "1m", "--as-of", f"{DAY}T17:00:00Z", "--since", f"{DAY}T13:00:00Z",
                 "--full", "--json", stdout=out)
    [report] = json.loads(out.getvalue())["reports"]
    assert [(a["type"], a["ts"]) for a in report["anomalies"]] == [("coverage_gap", "2025-06-26T16:30:00Z")]
