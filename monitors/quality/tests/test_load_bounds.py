"""load_bars at the edge: bounded timestamps, prices, volumes and ratios; one transaction with --actions; exit 1
with a one-line summary whenever a row is rejected (docs/input-bounds.md)."""

import os
from datetime import UTC, datetime
from io import StringIO

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from monitors.quality import loader
from monitors.quality.models import Bar, CorporateAction
from tickstock_ops import readonly_role
from tickstock_ops.testing import run_manage

HEADER = "symbol,timestamp,open,high,low,close,volume\n"
GOOD = "AAA,2025-07-01,10,11,9,10.5,1000\n"


def write(tmp_path, text: str, name: str = "bars.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def command(*args) -> tuple[str, str, str | None]:
    """stdout, stderr and the CommandError's message (None when the command succeeded)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("load_bars", *map(str, args), stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), str(error)
    return out.getvalue(), err.getvalue(), None


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "message"), [
    ("AAA,9999-12-31,10,11,9,10.5,1000", "timestamp '9999-12-31' is outside the accepted range 1900-01-01 …"),
    ("AAA,2262-04-12,10,11,9,10.5,1000", "timestamp '2262-04-12' is outside the accepted range"),
    ("AAA,1677-09-21,10,11,9,10.5,1000", "timestamp '1677-09-21' is outside the accepted range"),
    ("AAA,1899-12-31,10,11,9,10.5,1000", "timestamp '1899-12-31' is outside the accepted range"),
    ("AAA,0001-01-01,10,11,9,10.5,1000", "timestamp '0001-01-01' is outside the accepted range"),
    ("AAA,2999-01-01,10,11,9,10.5,1000", "timestamp '2999-01-01' is outside the accepted range"),
    ("AAA,2025-07-02,1e308,1e308,1e308,1e308,1000", "open '1e308' is outside the accepted price range 1e-06 … 1e+09"),
    ("AAA,2025-07-02,1e-320,1e-320,1e-320,1e-320,1000", "open '1e-320' is outside the accepted price range"),
    ("AAA,2025-07-02,10,1e999,9,10.5,1000", "high '1e999' is not a number"),
    ("AAA,2025-07-02,10,11,9,10.5,100.5", "volume '100.5' is not a whole number of shares"),
    ("AAA,2025-07-02,10,11,9,10.5,0.1", "volume '0.1' is not a whole number of shares"),
])
def test_values_out_of_bounds_are_refused_with_their_line(tmp_path, row, message):
    out, err, failure = command(write(tmp_path, HEADER + GOOD + row + "\n"))
    assert f"line 3: {message}" in err
    assert failure and "load_bars: stored 1 new and 0 updated bars" in failure and "1 rejected rows" in failure
    assert [bar.ts for bar in Bar.objects.all()] == [datetime(2025, 7, 1, tzinfo=UTC)]


@pytest.mark.django_db
def test_the_far_date_that_used_to_wrap_is_refused_and_later_scans_are_not_broken(tmp_path):
    command(write(tmp_path, HEADER + "AAA,9999-12-31,10,11,9,10.5,1000\n"))
    assert not Bar.objects.exists()  # it was stored as 1754-08-30 before


@pytest.mark.django_db
def test_the_timestamp_bounds_are_settings(tmp_path, settings):
    settings.QUALITY_EARLIEST_BAR = "2000-01-01"
    settings.QUALITY_BAR_FUTURE_SLACK_SECONDS = 0
    text = HEADER + "AAA,1999-12-31,10,11,9,10.5,1000\nAAA,2000-01-03,10,11,9,10.5,1000\nAAA,2999-01-02,10,11,9,10,1\n"
    _, err, _ = command(write(tmp_path, text))
    assert "line 2: timestamp '1999-12-31' is outside the accepted range 2000-01-01" in err
    assert "line 4: timestamp '2999-01-02' is outside" in err
    assert Bar.objects.count() == 1


@pytest.mark.django_db
def test_intraday_timestamps_are_bounded_and_kept_to_the_microsecond(tmp_path):
    text = HEADER + ("AAA,2025-07-03T13:31:00-04:00,10,11,9,10.5,1000\n"
                     "AAA,2025-07-03T13:32:00.123456-04:00,10,11,9,10.5,1000\n"
                     "AAA,2025-07-03T13:33:00.123456789-04:00,10,11,9,10.5,1000\n"
                     "AAA,9999-12-31T23:59:00+00:00,10,11,9,10.5,1000\n"
                     "AAA,20250703T133400Z,10,11,9,10.5,1000\n")
    _, err, failure = command(write(tmp_path, text), "--interval", "1m")
    assert "line 4: timestamp '2025-07-03T13:33:00.123456789-04:00' is not an ISO-8601 date-time" in err
    assert "line 5: timestamp '9999-12-31T23:59:00+00:00' is outside the accepted range" in err
    assert "line 6: timestamp '20250703T133400Z' is not an ISO-8601 date-time" in err
    assert failure and "3 rejected rows" in failure
    assert sorted(Bar.objects.values_list("ts", flat=True)) == [
        datetime(2025, 7, 3, 17, 31, tzinfo=UTC), datetime(2025, 7, 3, 17, 32, 0, 123456, tzinfo=UTC)]


@pytest.mark.django_db
def test_fractional_volumes_are_refused_not_rounded_and_whole_ones_in_any_spelling_load(tmp_path):
    text = HEADER + ("AAA,2025-07-01,10,11,9,10.5,1000.0\nAAA,2025-07-02,10,11,9,10.5,2.5e3\n"
                     "AAA,2025-07-03,10,11,9,10,7.5\n")
    _, err, _ = command(write(tmp_path, text))
    assert "line 4: volume '7.5' is not a whole number of shares" in err
    assert sorted(Bar.objects.values_list("volume", flat=True)) == [1000, 2500]


@pytest.mark.django_db
def test_a_duplicated_header_column_refuses_the_file(tmp_path):
    text = "symbol,timestamp,open,high,low,close,volume,close\nAAA,2025-07-01,10,11,9,10.5,1000,99\n"
    _, _, failure = command(write(tmp_path, text))
    assert failure == "bars.csv: line 1: header names close twice: which one holds the data?; nothing was stored" \
        or failure.endswith("line 1: header names close twice: which one holds the data?; nothing was stored")
    assert not Bar.objects.exists()


@pytest.mark.django_db
def test_a_multi_line_quoted_record_is_reported_at_its_first_line(tmp_path):
    text = HEADER + GOOD + '"AA\nA\nB",2025-07-02,10,11,9,10.5,1000\nAAA,2025-07-03,10,11,9,10.5,1000\n' \
        + 'AAA,2025-07-04,10,11,9,"10\n.5",1000\n'
    result = loader.load_bars_file(write(tmp_path, text))
    assert [(error.line, error.message.split(" ")[0]) for error in result.errors] == [(3, "symbol"), (7, "close")]
    assert Bar.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "message"), [
    ("AAA,2025-03-04,split,NaN", "ratio 'NaN' is not a finite positive number or a:b"),
    ("AAA,2025-03-04,split,Infinity", "ratio 'Infinity' is not a finite positive number or a:b"),
    ("AAA,2025-03-04,split,-inf", "ratio '-inf' is not a finite positive number or a:b"),
    ("AAA,2025-03-04,split,1e308:1e-308", "ratio '1e308:1e-308' is not a finite positive number or a:b"),
    ("AAA,2025-03-04,split,1e-300", "ratio '1e-300' is outside the accepted split ratio range 1e-05 … 100000"),
    ("AAA,2025-03-04,dividend,nan", "ratio 'nan' is not a finite positive number"),
    ("AAA,2025-03-04,dividend,1e400", "ratio '1e400' is not a finite positive number"),
    ("AAA,2025-03-04,dividend,2:1", "ratio '2:1': a dividend's ratio is the cash amount per share, not a:b"),
    ("AAA,2025-03-04,dividend,5e6", "ratio '5e6' is outside the accepted dividend per share range 1e-06 … 1e+06"),
    ("AAA,9999-03-04,split,2", "date '9999-03-04' is outside the accepted range 1900-01-01 …"),
    ("AAA,25-3-4,split,2", "date '25-3-4' is not a date (YYYY-MM-DD)"),
])
def test_actions_with_values_out_of_bounds_are_refused(tmp_path, row, message):
    actions = write(tmp_path, "symbol,date,kind,ratio\nBBB,2025-03-04,split,2\n" + row + "\n", "actions.csv")
    _, err, failure = command(write(tmp_path, HEADER + GOOD), "--actions", actions)
    assert f"actions.csv: line 3: {message}" in err
    assert failure and "1 new and 0 updated corporate actions" in failure and "1 rejected rows" in failure
    assert list(CorporateAction.objects.values_list("symbol", "ratio")) == [("BBB", 2.0)]


@pytest.mark.django_db(transaction=True)
def test_a_bad_actions_file_stores_neither_file(tmp_path):
    bars = write(tmp_path, HEADER + GOOD)
    actions = write(tmp_path, "symbol,date,kind\nAAA,2025-03-04,split\n", "actions.csv")
    _, _, failure = command(bars, "--actions", actions)
    assert failure == (f"{actions}: line 1: actions header lacks ratio (expected symbol,date,kind,ratio); "
                       "nothing was stored from either file")
    assert not Bar.objects.exists() and not CorporateAction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_exit_status_in_a_real_process(tmp_path):
    good = run_manage("load_bars", str(write(tmp_path, HEADER + GOOD)))
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip().splitlines()[-1] == ("load_bars: stored 1 new and 0 updated bars (0 unchanged); "
                                                    "no row rejected")

    all_bad = run_manage("load_bars", str(write(tmp_path, HEADER + "AAA,9999-12-31,1,1,1,1,1\n", "bad.csv")))
    assert all_bad.returncode == 1
    assert all_bad.stderr.strip().splitlines()[-1] == (
        "CommandError: load_bars: stored 0 new and 0 updated bars (0 unchanged); not stored: 1 rejected rows, "
        "listed above")
    assert "Traceback" not in all_bad.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_an_import_gives_up_on_a_lock_held_by_the_read_only_role(tmp_path, settings):
    role = f"tickstock_locker_{os.getpid()}"
    readonly_role.create(role)
    db = connection.settings_dict
    holder = psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"],
                              user=role)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext('quality_bar'), hashtext('csv/1d'))")
        settings.QUALITY_LOAD_LOCK_TIMEOUT_SECONDS = 1
        with pytest.raises(loader.LoadError, match="another session has held the import lock of csv/1d for over"):
            loader.load_bars_file(write(tmp_path, HEADER + GOOD))
        assert not Bar.objects.exists()
    finally:
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')
    assert loader.load_bars_file(write(tmp_path, HEADER + GOOD)).inserted == 1  # and works once it is released
