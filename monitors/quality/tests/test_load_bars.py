"""load_bars: every bad row reported by line with the rest loaded, whole-file errors, idempotent upserts."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitors.quality import loader
from monitors.quality.loader import reading
from monitors.quality.models import Bar, CorporateAction
from tickstock_ops.testing import run_manage

HEADER = "symbol,timestamp,open,high,low,close,volume\n"


def write(tmp_path, text: str, name: str = "bars.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def load(tmp_path, text: str, *args: str) -> tuple[str, str]:
    """stdout (ending with the summary) and stderr; a rejected row makes the command fail (exit 1) with the summary
    as its error, a file it cannot load raises as it is."""
    out, err = StringIO(), StringIO()
    try:
        call_command("load_bars", str(write(tmp_path, text)), *args, stdout=out, stderr=err)
    except CommandError as failure:
        if "rejected rows, listed above" not in str(failure):
            raise
        out.write(f"{failure}\n")
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_each_kind_of_broken_row_is_reported_by_line_and_the_rest_loads(tmp_path):
    text = HEADER + "\n".join([
        "AAA,2025-07-01,10,11,9,10.5,1000",     # 2 good
        "AAA,2025-07-02,10,11,9",               # 3 too few fields
        "AAA,2025-07-03,10,11,9,10,100,7",      # 4 too many fields
        "AAA,07/07/2025,10,11,9,10,100",        # 5 not a date
        "AAA,2025-02-30,10,11,9,10,100",        # 6 impossible date
        "AAA,2025-07-08,abc,11,9,10,100",       # 7 not a number
        "AAA,2025-07-09,10,11,9,12,100",        # 8 close above high
        "AAA,2025-07-10,8,11,9,10,100",         # 9 open below low
        "AAA,2025-07-11,10,9,11,10,100",        # 10 low above high
        "AAA,2025-07-14,10,11,9,10,-5",         # 11 negative volume
        ",2025-07-15,10,11,9,10,100",           # 12 empty symbol
        "AAA,2025-07-16,10,11,9,10,",           # 13 empty volume
        "AAA,2025-07-17,nan,11,9,10,100",       # 14 NaN
        "AAA,2025-07-18,0,0,0,0,100",           # 15 zero prices
        "BBB,2025-07-01,20,21,19,20.5,2000",    # 16 good
    ]) + "\n"
    out, err = load(tmp_path, text)
    lines = err.strip().splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [f"line {n}" for n in range(3, 16)]
    assert "expected 7 fields, found 5" in lines[0] and "found 8" in lines[1]
    assert "'07/07/2025' is not a date" in lines[2] and "'2025-02-30' is not a valid date" in lines[3]
    assert "open 'abc' is not a number" in lines[4] and "close is outside low..high" in lines[5]
    assert "open is outside low..high" in lines[6] and "low is above high" in lines[7]
    assert "volume is negative" in lines[8] and "symbol is empty" in lines[9]
    assert "volume '' is not a number" in lines[10] and "open 'nan' is not a number" in lines[11]
    assert "prices must be positive" in lines[12]
    assert "15 rows, 2 new, 0 updated, 0 unchanged, 13 rejected" in out
    assert sorted(Bar.objects.values_list("symbol", "close")) == [("AAA", 10.5), ("BBB", 20.5)]


@pytest.mark.django_db
def test_loading_twice_changes_nothing_and_a_corrected_row_updates(tmp_path):
    text = HEADER + "AAA,2025-07-01,10,11,9,10.5,1000\nAAA,2025-07-02,10.5,11,10,10.8,1200\n"
    assert "2 new, 0 updated, 0 unchanged" in load(tmp_path, text)[0]
    assert "0 new, 0 updated, 2 unchanged" in load(tmp_path, text)[0]
    corrected = text.replace("10.8,1200", "10.9,1300")
    assert "0 new, 1 updated, 1 unchanged" in load(tmp_path, corrected)[0]
    bar = Bar.objects.get(ts=datetime(2025, 7, 2, tzinfo=UTC))
    assert (bar.close, bar.volume, bar.source, bar.interval) == (10.9, 1300, "csv", "1d")


@pytest.mark.django_db
def test_a_bad_row_never_removes_a_stored_bar(tmp_path):
    load(tmp_path, HEADER + "AAA,2025-07-01,10,11,9,10.5,1000\n")
    out, err = load(tmp_path, HEADER + "AAA,2025-07-01,10,11,9,99,1000\n")
    assert "line 2: close is outside low..high" in err
    assert Bar.objects.get().close == 10.5


@pytest.mark.django_db
def test_duplicate_rows_the_later_wins(tmp_path):
    text = HEADER + "AAA,2025-07-01,10,11,9,10.5,1000\nAAA,2025-07-01,10,11,9,10.7,1000\n" \
                    "AAA,2025-07-01,10,11,9,10.6,1\n"
    out, _ = load(tmp_path, text)
    assert "1 new" in out and "2 repeated a bar already in the file (the later row wins)" in out
    assert Bar.objects.get().close == 10.6


@pytest.mark.django_db
def test_duplicates_across_chunks(tmp_path, settings):
    settings.QUALITY_LOAD_CHUNK_ROWS = 2
    rows = [f"AAA,2025-07-0{d},10,11,9,10.{d},1000" for d in range(1, 5)] + ["AAA,2025-07-01,10,11,9,10.9,1000"]
    out, _ = load(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert "4 new" in out and "1 repeated" in out
    assert Bar.objects.get(ts=datetime(2025, 7, 1, tzinfo=UTC)).close == 10.9


@pytest.mark.django_db
def test_an_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="the file is empty: expected the header symbol,timestamp"):
        load(tmp_path, "")


@pytest.mark.django_db
def test_a_header_only_file_loads_nothing_and_says_so(tmp_path):
    out, err = load(tmp_path, HEADER)
    assert "0 rows, 0 new" in out and "header but no data rows" in out and err == ""


@pytest.mark.django_db
def test_a_wrong_header_is_a_clear_error_and_loads_nothing(tmp_path):
    with pytest.raises(CommandError, match="header lacks close, volume"):
        load(tmp_path, "symbol,timestamp,open,high,low\nAAA,2025-07-01,1,1,1\n")
    assert not Bar.objects.exists()


@pytest.mark.django_db
def test_columns_in_any_order_extra_columns_blank_lines_and_a_bom(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_bytes("\ufeffTimestamp,Symbol,Close,Open,High,Low,Volume,vwap\n2025-07-01,aaa,10.5,10,11,9,1000,10.2\n"
                     "\n2025-07-02,AAA,10.6,10,11,9,1000,10.2\n\n".encode())
    out = StringIO()
    call_command("load_bars", str(path), stdout=out)
    assert "2 rows, 2 new" in out.getvalue()
    assert list(Bar.objects.order_by("ts").values_list("symbol", "close")) == [("AAA", 10.5), ("AAA", 10.6)]


@pytest.mark.django_db
def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read .*nope.csv: No such file"):
        call_command("load_bars", str(tmp_path / "nope.csv"))


@pytest.mark.django_db
def test_intraday_bars_need_an_offset_and_are_stored_in_utc(tmp_path):
    text = HEADER + ("AAA,2025-07-03T13:31:00-04:00,10,11,9,10.5,1000\n"
                     "AAA,2025-07-03T13:32:00,10,11,9,10.5,1000\n"
                     "AAA,2025-07-03T17:33:00Z,10,11,9,10.5,1000\n"
                     "AAA,2025-07-03,10,11,9,10.5,1000\n")
    out, err = load(tmp_path, text, "--interval", "1m", "--source", "feed")
    assert "line 3: timestamp '2025-07-03T13:32:00' needs a UTC offset" in err
    assert "line 5: timestamp '2025-07-03' needs a UTC offset" in err
    stamps = list(Bar.objects.filter(interval="1m", source="feed").order_by("ts").values_list("ts", flat=True))
    assert stamps == [datetime(2025, 7, 3, 17, 31, tzinfo=UTC), datetime(2025, 7, 3, 17, 33, tzinfo=UTC)]


@pytest.mark.django_db
def test_daily_bars_reject_date_times(tmp_path):
    _, err = load(tmp_path, HEADER + "AAA,2025-07-03T13:31:00-04:00,10,11,9,10.5,1000\n")
    assert "is not a date (YYYY-MM-DD) for daily bars" in err


def test_an_unknown_interval_is_refused():
    with pytest.raises(loader.LoadError, match="unknown interval '2d'"):
        loader.load_bars(iter([HEADER]), interval="2d")


@pytest.mark.django_db
def test_the_same_bar_from_two_sources_is_two_rows(tmp_path):
    text = HEADER + "AAA,2025-07-01,10,11,9,10.5,1000\n"
    load(tmp_path, text)
    load(tmp_path, text.replace("10.5", "10.6"), "--source", "polygon")
    assert sorted(Bar.objects.values_list("source", "close")) == [("csv", 10.5), ("polygon", 10.6)]


@pytest.mark.django_db
def test_corporate_actions_with_their_own_bad_rows(tmp_path):
    actions = write(tmp_path, "symbol,date,kind,ratio\nAAA,2025-03-04,split,2:1\nBBB,2025-03-05,split,1:10\n"
                              "CCC,2025-03-06,dividend,0.24\nDDD,2025-03-07,merger,1\nEEE,2025-13-01,split,2\n"
                              "FFF,2025-03-07,split,zero\nGGG,2025-03-07,split,1:1\n", "actions.csv")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="3 new and 0 updated corporate actions; not stored: 4 rejected rows"):
        call_command("load_bars", str(write(tmp_path, HEADER)), "--actions", str(actions), stdout=out, stderr=err)
    assert "7 rows, 3 new, 0 updated, 4 rejected" in out.getvalue()
    assert "line 5: kind 'merger' is not split or dividend" in err.getvalue()
    assert "line 6: date '2025-13-01' is not a date" in err.getvalue()
    assert "line 7: ratio 'zero'" in err.getvalue() and "line 8: a 1:1 split changes nothing" in err.getvalue()
    assert sorted(CorporateAction.objects.values_list("symbol", "date", "kind", "ratio")) == [
        ("AAA", date(2025, 3, 4), "split", 2.0), ("BBB", date(2025, 3, 5), "split", 0.1),
        ("CCC", date(2025, 3, 6), "dividend", 0.24)]


@pytest.mark.django_db(transaction=True)
def test_the_command_in_a_real_process(tmp_path):
    path = write(tmp_path, HEADER + "AAA,2025-07-01,10,11,9,10.5,1000\nAAA,2025-07-02,10,11,9,12,1000\n")
    result = run_manage("load_bars", str(path), "--source", "vendor")
    assert result.returncode == 1, result.stderr  # a row was rejected
    assert f"{path}: line 3: close is outside low..high" in result.stderr
    assert "2 rows, 1 new" in result.stdout
    assert Bar.objects.filter(source="vendor").count() == 1
    empty = run_manage("load_bars", str(write(tmp_path, "", "empty.csv")))
    assert empty.returncode == 1 and "the file is empty" in empty.stderr


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_store_each_bar_once(tmp_path):
    rows = [f"S{symbol:03d},2025-{month:02d}-{day:02d},10,11,9,10.5,1000"
            for symbol in range(100) for month in range(1, 7) for day in range(1, 29)]
    path = write(tmp_path, HEADER + "\n".join(rows) + "\n")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_manage("load_bars", str(path), "--source", "vendor"), range(2)))
    assert [result.returncode for result in results] == [0, 0], [result.stderr for result in results]
    reports = sorted(result.stdout for result in results)
    assert f"{len(rows)} rows, 0 new, 0 updated, {len(rows)} unchanged" in reports[0]
    assert f"{len(rows)} rows, {len(rows)} new, 0 updated, 0 unchanged" in reports[1]
    assert Bar.objects.filter(source="vendor").count() == len(rows)


@pytest.mark.django_db
def test_a_row_with_bytes_that_are_not_utf8_is_rejected_alone(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_bytes(HEADER.encode() + b"AAA,2025-07-01,10,11,9,10.5,1000\n\xff\xfe,2025-07-02,1,1,1,1,1\n"
                     b"AAA,2025-07-03,10,11,9,10.5,1000\n")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="not stored: 1 rejected rows"):
        call_command("load_bars", str(path), stdout=out, stderr=err)
    assert "line 3: symbol" in err.getvalue() and "contains" in err.getvalue()
    assert "3 rows, 2 new" in out.getvalue()


@pytest.mark.django_db
def test_a_file_that_is_not_csv_at_all(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CommandError, match="header lacks symbol"):
        call_command("load_bars", str(path))
    assert not Bar.objects.exists()


@pytest.fixture
def row_by_row(monkeypatch) -> list:
    """The calls to the row-by-row reader."""
    calls = []
    real = reading._read_chunks

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "_read_chunks", counted)
    return calls


def stored(source: str) -> list[tuple]:
    return list(Bar.objects.filter(source=source).order_by("symbol", "ts").values_list(
        "symbol", "interval", "ts", "open", "high", "low", "close", "volume"))


@pytest.mark.django_db
def test_a_plain_file_takes_the_fast_path_and_stores_what_the_row_by_row_reader_stores(tmp_path, row_by_row):
    path = tmp_path / "bars.csv"
    path.write_bytes(b"\xef\xbb\xbfSymbol,Timestamp,Open,High,Low,Close,Volume,VWAP\r\n"
                     b"aaa,2025-07-01,10,11,9,10.5,1e3,10.2\r\n"
                     b"AAA,2025-07-02,+10.25,11.0,.5,10.123456789012345,1200.0,10\r\n"
                     b"BBB,2025-07-01,20,21,19,20.5,2000,\r\n"
                     b"AAA,2025-07-01,10,11,9,10.7,1000,10.2\r\n")
    fast = loader.load_bars_file(path, source="fast")
    assert row_by_row == []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        slow = loader.load_bars(handle, source="slow")
    assert (fast.rows, fast.inserted, fast.duplicates, fast.errors) == (4, 3, 1, []) == \
           (slow.rows, slow.inserted, slow.duplicates, slow.errors)
    assert stored("fast") == stored("slow") and len(stored("fast")) == 3
    assert stored("fast")[0][6] == 10.7  # the later row of a repeated bar wins on both paths


@pytest.mark.parametrize("body", [
    "AAA,2025-07-01,10,11,9,10.5,1000,\nAAA,2025-07-02,10,11,9,10.5,1000\n",   # first row has a surplus field
    "AAA,2025-07-01,10,11,9,10.5,1000\nAAA,2025-07-02,10,11,9,10.5,1000,\n",   # a later row has one
    "AAA,2025-07-01,10,11,9,10.5,1000\n\nAAA,2025-07-02,10,11,9,10.5\n",      # blank line, short row
    'AAA,2025-07-01,10,11,9,10.5,1000\n"AAA",2025-07-02,10,11,9,10.5,1000\n',  # quotes
    "AAA,2025-07-01,10,11,9,10.5,1000\nAAA,2025-07-02,10,11,9,nan,1000\n",      # a value the checks reject
    "AAA,2025-07-01,10,11,9,10.5,1000\nAAA,2025-07-02,10,11,9,10.5,1_000\n",    # Python reads it, pandas not
])
@pytest.mark.django_db
def test_a_file_the_fast_path_cannot_vouch_for_is_read_row_by_row_with_nothing_left_of_the_attempt(
        tmp_path, settings, body, row_by_row):
    settings.QUALITY_LOAD_CHUNK_ROWS = 1  # the fast path has stored a chunk before it meets the bad row
    path = write(tmp_path, HEADER + body)
    fast = loader.load_bars_file(path, source="fast")
    assert len(row_by_row) == 1
    with open(path, newline="") as handle:
        slow = loader.load_bars(handle, source="slow")
    assert [str(error) for error in fast.errors] == [str(error) for error in slow.errors]
    assert (fast.rows, fast.inserted, fast.updated) == (slow.rows, slow.inserted, slow.updated)
    assert stored("fast") == stored("slow")


@pytest.mark.django_db
def test_a_file_overlapping_stored_bars_touches_only_its_own_bars(tmp_path):
    """Within a symbol's span in the file, stored bars the file does not name, bars of another interval or source
    at the same moments and other symbols stay as they are; the file's bars are inserted, updated or left alone."""
    stored = HEADER + "".join(f"{s},2025-07-{d:02d},10,11,9,10.{d},1000\n" for s in ("AAA", "BBB") for d in (1, 2, 3))
    load(tmp_path, stored)
    minute = "symbol,timestamp,open,high,low,close,volume\nAAA,2025-07-02T09:30:00-04:00,10,11,9,10,5\n"
    load(tmp_path, minute, "--interval", "1m")
    load(tmp_path, stored.replace("10.2,1000", "10.2,7777"), "--source", "polygon")

    update = HEADER + "AAA,2025-07-01,10,11,9,10.1,1000\nAAA,2025-07-03,10,11,9,10.9,2000\n" \
                      "AAA,2025-07-04,10,11,9,10.4,1000\nCCC,2025-07-02,20,21,19,20,1\n"
    assert "2 new, 1 updated, 1 unchanged" in load(tmp_path, update)[0]

    rows = {(b.symbol, b.source, b.interval, b.ts.day): (b.close, b.volume) for b in Bar.objects.all()}
    assert rows[("AAA", "csv", "1d", 2)] == (10.2, 1000)  # inside AAA's span, not in the file
    assert rows[("AAA", "csv", "1d", 3)] == (10.9, 2000)
    assert rows[("AAA", "csv", "1d", 4)] == (10.4, 1000) and rows[("CCC", "csv", "1d", 2)] == (20, 1)
    assert rows[("AAA", "polygon", "1d", 3)] == (10.3, 1000) and rows[("AAA", "csv", "1m", 2)] == (10, 5)
    assert rows[("BBB", "csv", "1d", 3)] == (10.3, 1000)
    assert len(rows) == 6 + 1 + 6 + 2


@pytest.mark.django_db
def test_symbols_follow_the_one_project_wide_rule_index_and_preferred_spellings_included(tmp_path):
    rows = ["^gspc,2025-07-01,6200,6250,6180,6230,0", "AGM.PR.D,2025-07-01,20,21,19,20.5,300",
            "brk-b,2025-07-01,470,475,468,472,900", "A;B,2025-07-01,1,1,1,1,1", "X<Y,2025-07-01,1,1,1,1,1"]
    out, err = load(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert sorted(Bar.objects.values_list("symbol", flat=True)) == ["AGM.PR.D", "BRK-B", "^GSPC"]
    assert "line 5: symbol 'A;B' contains ';'" in err and "line 6: symbol 'X<Y' contains '<'" in err


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["scan_quality", "fetch_bars"])
def test_a_symbol_list_with_something_that_is_not_a_symbol_is_refused_before_any_work(command):
    with pytest.raises(CommandError, match="symbol 'AAPL BRK' contains ' '"):
        call_command(command, "--symbols", "MSFT,AAPL BRK")
