"""The scheduled intraday scan reads only what arrived since the previous scan (plus the bar before it, found from
the arrival state) and must find exactly what a scan reading the whole window finds."""

import json
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command

from monitors.quality import checks, loader
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


def minute_day() -> pd.DataFrame:
    """A day of minute bars after a normal one, with what goes wrong in a day."""
    return pd.concat([
        *(intraday(symbol, PREVIOUS) for symbol in ("FLAT", "HOLE", "STOP", "PREPOST", "TWO", "GONE")),
        intraday("OLD", EARLIER),
        intraday("FLAT", DAY, volume=8_000),
        intraday("HOLE", DAY, skip=("10:00", "12:30")),
        intraday("STOP", DAY, end="13:30"),
        intraday("LATE", DAY, start="11:45"),
        extended_hours("PREPOST", DAY, "04:00", "09:30"), intraday("PREPOST", DAY),
        extended_hours("PREPOST", DAY, "16:00", "20:00"),
        intraday("TWO", DAY), intraday("TWO", DAY, minutes=5, source="polygon", price=50.1),
        intraday("BLINK", DAY, skip=("13:00", "15:30")),
    ], ignore_index=True)


def store(bars: pd.DataFrame) -> None:
    for source, part in bars.groupby("source"):
        loader.upsert_frame(part.drop(columns=["source"]), source=source, interval="1m")


def found(examination) -> list[tuple]:
    return [(f.symbol, f.type, f.severity, f.ts, f.value, f.threshold, f.detail, f.source, f.extra)
            for f in examination.findings]


@pytest.mark.django_db
def test_scanned_every_minute_the_incremental_scan_finds_what_a_full_scan_finds():
    bars = minute_day()
    clock = pd.Timestamp(f"{DAY} 09:31", tz=NEW_YORK).tz_convert("UTC")
    end = pd.Timestamp(f"{DAY} 16:05", tz=NEW_YORK).tz_convert("UTC")
    # Each bar is stored before the scan whose window holds its timestamp (a feed that sends the forming bar): the
    # windows are by bar timestamp, so a bar stored after the scan that passed its timestamp is judged by neither
    # path (docs/quality-scans.md).
    store(bars[bars["ts"] < clock])
    since, compared, kinds = clock - pd.Timedelta(minutes=1), 0, set()
    while clock <= end:
        store(bars[(bars["ts"] >= clock) & (bars["ts"] < clock + pd.Timedelta(minutes=1))])
        as_of = clock + pd.Timedelta(seconds=30)
        incremental = examine(as_of, since, None, "1m", Scan.Kind.INTRADAY, types=checks.FRESHNESS_TYPES)
        whole = examine(as_of, since, None, "1m", Scan.Kind.INTRADAY, full=True, types=checks.FRESHNESS_TYPES)

        assert found(incremental) == found(whole), f"scan as of {as_of}"
        assert (incremental.scanned, incremental.sources) == (whole.scanned, whole.sources)
        kinds |= {(f.symbol, f.type) for f in whole.findings}
        if clock.minute == 0:  # the whole scan, stored and alerted, on the hour
            scheduled = run_scan(as_of=as_of, since=since, interval="1m", kind=Scan.Kind.INTRADAY)
            again = run_scan(as_of=as_of, since=since, interval="1m", kind=Scan.Kind.INTRADAY, full=True)
            assert scheduled.reports == again.reports
        compared += 1
        since, clock = as_of, clock + pd.Timedelta(minutes=1)

    assert compared == 395
    # The day had each kind of trouble the scan looks for, so the comparison covered them.
    assert {("STOP", "data_stale"), ("HOLE", "coverage_gap"), ("LATE", "coverage_gap"), ("BLINK", "coverage_gap"),
            ("STOP", "coverage_gap")} <= kinds
    assert "OLD" not in whole.scanned and "GONE" in whole.scanned


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
