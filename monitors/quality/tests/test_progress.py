"""Long quality commands show their progress on a terminal, and nothing with --json or when not on one."""

import json

import pytest

from monitors.quality import loader
from monitors.quality.tests.builders import calm, daily, noisy_volume, sessions
from tickstock_ops.testing import run_manage, run_manage_on_terminal

pytestmark = pytest.mark.django_db(transaction=True)
DAYS = sessions("2025-01-02", 80)


def stored_bars() -> None:
    bars = daily("AAA", calm(80), volume=noisy_volume(80))
    loader.upsert_frame(bars.drop(columns=["source"]), source="csv", interval="1d")


def test_a_full_scan_shows_its_stages_on_a_terminal_and_nothing_with_json():
    stored_bars()
    as_of = f"{DAYS[-1]:%Y-%m-%d}T23:00:00Z"
    done, screen = run_manage_on_terminal("scan_quality", "--as-of", as_of)
    assert done.returncode == 0, screen
    assert "scan 1d" in screen and "4/4" in screen

    done, screen = run_manage_on_terminal("scan_quality", "--as-of", as_of, "--json")
    assert done.returncode == 0, screen
    assert json.loads(done.stdout)["symbols_scanned"] == 1
    assert "scan 1d" not in screen


def test_an_import_shows_its_rows_on_a_terminal_and_nothing_in_a_pipe(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("symbol,timestamp,open,high,low,close,volume\n"
                    + "".join(f"AAA,{day:%Y-%m-%d},10,11,9,10,1000\n" for day in DAYS))
    done, screen = run_manage_on_terminal("load_bars", str(path))
    assert done.returncode == 0, screen
    assert "bars.csv" in screen and f"{len(DAYS)}/{len(DAYS)}" in screen
    assert f"{len(DAYS)} rows, {len(DAYS)} new" in done.stdout

    piped = run_manage("load_bars", str(path))
    assert piped.returncode == 0 and f"{len(DAYS)} unchanged" in piped.stdout
    assert f"{len(DAYS)}/{len(DAYS)}" not in piped.stderr

    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text() + "AAA,2025-13-01,10,11,9,10,1000\n")
    done, screen = run_manage_on_terminal("load_bars", str(bad))
    assert "line 82: timestamp '2025-13-01' is not a valid date/time" in screen
    assert f"{len(DAYS) + 1}/{len(DAYS) + 1}" in screen  # read again row by row, to the end
