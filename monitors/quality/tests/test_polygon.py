"""Daily bars from Polygon aggregates, against a loopback server answering in the recorded format."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitors.ipo.fake_sources import FakeSources, Fault, SourceData
from monitors.quality.models import Bar


def agg(day: str, o, h, lo, c, v) -> dict:
    stamp = datetime.fromisoformat(day).replace(hour=4, tzinfo=UTC).timestamp() * 1000  # midnight in New York
    return {"o": o, "h": h, "l": lo, "c": c, "v": v, "vw": c, "n": 100, "t": int(stamp)}


@pytest.fixture
def polygon(settings):
    data = SourceData(bars={
        "AAA": [agg("2025-07-01", 10, 11, 9, 10.5, 1_000_000), agg("2025-07-02", 10.5, 11, 10, 10.8, 1_200_000.0)],
        "BBB": [agg("2025-07-01", 20, 21, 19, 22, 5_000), agg("2025-07-02", 20, 21, 19, None, 5_000)],
    })
    with FakeSources(data) as server:
        for name, value in server.settings().items():
            setattr(settings, name, value)
        settings.IPO_HTTP_BACKOFF_BASE = 0.01
        settings.IPO_HTTP_RETRIES = 1
        yield server


def fetch(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("fetch_bars", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_aggregates_load_as_a_second_source_and_bad_bars_are_named(polygon):
    out, err = fetch("--symbols", "AAA,BBB", "--start", "2025-07-01", "--end", "2025-07-03")
    assert "2 of 2 symbols: 4 bars, 2 new" in out and "2 rejected" in out
    assert "BBB 2025-07-01: close is outside low..high" in err and "BBB 2025-07-02: close '' is not a number" in err
    bars = list(Bar.objects.order_by("ts").values_list("symbol", "source", "ts", "close", "volume"))
    assert bars == [("AAA", "polygon", datetime(2025, 7, 1, tzinfo=UTC), 10.5, 1_000_000),
                    ("AAA", "polygon", datetime(2025, 7, 2, tzinfo=UTC), 10.8, 1_200_000)]
    again, _ = fetch("--symbols", "AAA", "--start", "2025-07-01", "--end", "2025-07-03")
    assert "2 unchanged" in again
    requests = [entry for entry in polygon.log if entry.startswith("/v2/aggs/ticker/AAA/range/1/day/2025-07-01/")]
    assert len(requests) == 2 and all("adjusted=false" in entry for entry in requests)


@pytest.mark.django_db
def test_a_failing_symbol_is_reported_and_the_others_load(polygon):
    polygon.fail("/v2/aggs/ticker/BBB", Fault(status=500, body="oops"), times=5)
    with pytest.raises(CommandError, match=r"1 symbol\(s\) failed: BBB"):
        fetch("--symbols", "AAA,BBB", "--start", "2025-07-01", "--end", "2025-07-03")
    assert Bar.objects.filter(symbol="AAA").count() == 2


@pytest.mark.django_db
def test_without_a_key_the_source_is_disabled_with_a_clear_error(settings):
    settings.POLYGON_API_KEY = ""
    with pytest.raises(CommandError, match="POLYGON_API_KEY is not set"):
        fetch("--symbols", "AAA")
    with pytest.raises(CommandError, match="not a date"):
        fetch("--symbols", "AAA", "--end", "July")
