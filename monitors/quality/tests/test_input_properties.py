"""Properties of the bars and actions readers over generated files: every record is either stored exactly as
written or refused with a message naming its first line; nothing crashes; a refused file changes nothing.

Each generated field is drawn either from values that must load or from values that must be refused (the
cases of docs/input-bounds.md), so the test knows the answer for every row without re-implementing the checks."""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitors.quality.loader import LoadError, load_actions_file, load_bars_file
from monitors.quality.models import Bar, CorporateAction

pytestmark = pytest.mark.django_db

BOUNDED = settings(max_examples=40, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

good_symbols = st.sampled_from(["AAPL", "BRK.B", "SPY", "T"])
bad_symbols = st.sampled_from(["", "<B>X</B>", "A B", "TOOLONGTOBEATICKER123", "$", "-A"])
good_dates = st.dates(date(1900, 1, 1), date(2025, 12, 31)).map(date.isoformat)
bad_dates = st.sampled_from(["9999-12-31", "2262-04-12", "1677-09-21", "1899-12-31", "0001-01-01", "2024-02-30",
                             "2024-1-2", "", "2024-01-02T10:00:00Z", "tomorrow", "3000-01-01"])
good_prices = st.decimals("0.0001", "99999", places=4, allow_nan=False).map(str)
bad_prices = st.sampled_from(["1e308", "1e-320", "nan", "NaN", "inf", "-inf", "-1", "0", "abc", "", "1e999",
                              "5e-324", "2e9"])
good_volumes = st.integers(0, 10**12).map(str) | st.sampled_from(["0", "1.0", "1e3", "2500000"])
bad_volumes = st.sampled_from(["100.5", "0.1", "-1", "1e16", "nan", "inf", "lots", "", "1e400"])


@dataclass
class Row:
    cells: list[str]
    valid: bool
    multiline: bool = False


@st.composite
def bar_rows(draw) -> Row:
    low = draw(good_prices)
    high = str(float(low) * draw(st.sampled_from([1, 1.01, 1.5])))
    open_, close = draw(st.sampled_from([low, high])), draw(st.sampled_from([low, high]))
    cells = [draw(good_symbols), draw(good_dates), open_, high, low, close, draw(good_volumes)]
    broken = draw(st.sampled_from([None, None, None, 0, 1, 2, 3, 4, 5, 6]))
    if broken is not None:
        bad = [bad_symbols, bad_dates, bad_prices, bad_prices, bad_prices, bad_prices, bad_volumes][broken]
        cells[broken] = draw(bad)
        if broken in (2, 3, 4, 5):  # one price bad: make the others agree with it where it is a number
            cells = cells[:2] + [cells[broken]] * 4 + cells[6:]
    multiline = broken is None and draw(st.booleans()) and draw(st.booleans())
    if multiline:  # a quoted symbol spanning lines is not a ticker, and is reported at its first line
        cells[0] = "AA\nPL"
    return Row(cells, valid=broken is None and not multiline, multiline=multiline)


def as_csv(header: list[str], rows: list[Row]) -> tuple[str, list[int]]:
    """The file's text and the first line of each record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    firsts, line = [], 2
    for row in rows:
        writer.writerow(row.cells)
        firsts.append(line)
        line += 1 + sum(cell.count("\n") for cell in row.cells)
    return out.getvalue(), firsts


def error_lines(result) -> dict[int, str]:
    return {error.line: error.message for error in result.errors}


@BOUNDED
@given(rows=st.lists(bar_rows(), min_size=1, max_size=12))
def test_each_bar_row_is_stored_exactly_or_refused_at_its_first_line(tmp_path, rows):
    Bar.objects.all().delete()
    text, firsts = as_csv(["symbol", "timestamp", "open", "high", "low", "close", "volume"], rows)
    path = tmp_path / "bars.csv"
    path.write_text(text)

    result = load_bars_file(path, source="prop", interval="1d")

    refused = error_lines(result)
    assert set(refused) <= set(firsts), (refused, firsts)
    expected: dict[tuple, list[str]] = {}
    for row, first in zip(rows, firsts, strict=True):
        if row.valid:
            assert first not in refused, (row.cells, refused.get(first))
            expected[(row.cells[0], row.cells[1])] = row.cells  # a later row of the same bar wins
        else:
            assert first in refused, row.cells
            event(f"refused: {refused[first].split(' ')[0]}")
    stored = {(bar.symbol, bar.ts.date().isoformat()): bar for bar in Bar.objects.filter(source="prop")}
    assert stored.keys() == expected.keys()
    for key, cells in expected.items():
        bar = stored[key]
        assert bar.ts == datetime.fromisoformat(cells[1]).replace(tzinfo=UTC)
        assert [bar.open, bar.high, bar.low, bar.close] == [float(value) for value in cells[2:6]]
        assert bar.volume == float(cells[6]) and isinstance(bar.volume, int)


@BOUNDED
@given(rows=st.lists(bar_rows(), min_size=1, max_size=6), duplicate=st.sampled_from(["close", "symbol", "volume"]))
def test_a_header_naming_a_column_twice_refuses_the_file_and_changes_nothing(tmp_path, rows, duplicate):
    Bar.objects.all().delete()
    Bar.objects.create(symbol="KEEP", source="prop", interval="1d", ts=datetime(2020, 1, 2, tzinfo=UTC),
                       open=1, high=1, low=1, close=1, volume=1)
    header = ["symbol", "timestamp", "open", "high", "low", "close", "volume", duplicate]
    text, _ = as_csv(header, [Row([*row.cells, row.cells[header.index(duplicate)]], row.valid) for row in rows])
    path = tmp_path / "bars.csv"
    path.write_text(text)

    with pytest.raises(LoadError, match=f"line 1: .*{duplicate}.* twice"):
        load_bars_file(path, source="prop", interval="1d")
    assert list(Bar.objects.values_list("symbol", flat=True)) == ["KEEP"]


good_ratios = st.sampled_from(["2", "3", "0.5", "0.1", "1.5", "10", "0.25", "1:10", "3-for-2", "2:1"])
good_amounts = st.decimals("0.0001", "500", places=4, allow_nan=False).map(str)
bad_ratios = st.sampled_from(["NaN", "nan", "Infinity", "inf", "-inf", "1e400", "1e308:1e-308", "0", "-2", "",
                              "abc", "1:0", "0:5", "1e-300", "1", "1:1"])


@st.composite
def action_rows(draw) -> Row:
    kind = draw(st.sampled_from(["split", "dividend"]))
    cells = [draw(good_symbols), draw(good_dates), kind, draw(good_ratios if kind == "split" else good_amounts)]
    broken = draw(st.sampled_from([None, None, 0, 1, 3]))
    if broken is not None:
        bad = [bad_symbols, bad_dates, None, bad_ratios][broken]
        if broken == 3 and kind == "dividend":
            bad = bad.filter(lambda ratio: ratio != "1")  # one dollar a share is a fine dividend
        cells[broken] = draw(bad)
    return Row(cells, valid=broken is None)


@BOUNDED
@given(rows=st.lists(action_rows(), min_size=1, max_size=10))
def test_each_action_row_is_stored_or_refused_at_its_line(tmp_path, rows):
    CorporateAction.objects.all().delete()
    text, firsts = as_csv(["symbol", "date", "kind", "ratio"], rows)
    path = tmp_path / "actions.csv"
    path.write_text(text)

    result = load_actions_file(path)

    refused = error_lines(result)
    expected = {}
    for row, first in zip(rows, firsts, strict=True):
        if row.valid:
            assert first not in refused, (row.cells, refused.get(first))
            expected[(row.cells[0], row.cells[1], row.cells[2])] = row.cells[3]
        else:
            assert first in refused, row.cells
            event(f"refused: {refused[first].split(' ')[0]}")
    stored = {(a.symbol, a.date.isoformat(), a.kind): a.ratio for a in CorporateAction.objects.all()}
    assert stored.keys() == expected.keys()
    for key, text_ratio in expected.items():
        if ":" in text_ratio or "-for-" in text_ratio:
            new, old = text_ratio.replace("-for-", ":").split(":")
            assert stored[key] == float(new) / float(old)
        else:
            assert stored[key] == float(text_ratio)
