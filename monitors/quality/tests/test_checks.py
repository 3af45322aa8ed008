"""Each check of docs/quality-checks.md on arrays: what it flags, and what only looks anomalous to a naive rule."""

import warnings

import numpy as np
import pandas as pd

from monitors.quality.checks.arrays import nanmedian_rows
from monitors.quality.tests.builders import calm, daily, intraday, noisy_volume, of_type, run, sessions
from monitors.quality.thresholds import Profile

AFTER = "2025-12-31 23:00"


def peers(count: int = 8, length: int = 120, *, moves: dict | None = None) -> pd.DataFrame:
    """`count` calm symbols P0..Pn, with optional {row: factor} moves applied to all of them."""
    frames = []
    for i in range(count):
        closes = calm(length, seed=100 + i)
        for row, factor in (moves or {}).items():
            closes[row:] *= factor
        frames.append(daily(f"P{i}", closes, volume=noisy_volume(length, seed=200 + i)))
    return pd.concat(frames, ignore_index=True)


# price_anomaly and corporate_action

def test_a_lone_thirty_percent_drop_is_a_price_anomaly():
    closes = calm(80)
    closes[60:] *= 0.7
    findings = run(pd.concat([peers(length=80), daily("AAA", closes, volume=noisy_volume(80))]), AFTER)
    found = of_type(findings, "price_anomaly", "AAA")
    assert len(found) == 1
    assert found[0].ts == sessions("2025-01-02", 80)[60].tz_localize("UTC")
    assert found[0].severity == "warning"
    assert found[0].value < -29 and found[0].threshold == 20.0
    assert not of_type(findings, "corporate_action", "AAA")


def test_a_move_the_whole_market_made_is_only_info():
    market = peers(length=80, moves={60: 0.75})
    findings = run(market, AFTER)
    crash = of_type(findings, "price_anomaly")
    assert len(crash) == 8
    assert {f.severity for f in crash} == {"info"}
    assert "market -2" in crash[0].detail


def test_a_sector_move_lowers_severity_but_not_for_other_sectors():
    bars = pd.concat([peers(count=6, length=80, moves={60: 0.75}), peers(count=8, length=80)
                      .assign(symbol=lambda f: "Q" + f["symbol"])])
    bars = pd.concat([bars, daily("OUT", np.r_[calm(60, seed=9), calm(20, seed=9)[-1] * 0.7 * np.ones(20)])])
    profiles = {f"P{i}": Profile("common_stock", "Energy", "XNYS") for i in range(6)}
    profiles |= {f"QP{i}": Profile("common_stock", "Utilities", "XNYS") for i in range(8)}
    profiles["OUT"] = Profile("common_stock", "Utilities", "XNYS")
    findings = run(bars, AFTER, profiles=profiles)
    assert {f.severity for f in of_type(findings, "price_anomaly") if f.symbol.startswith("P")} == {"info"}
    assert of_type(findings, "price_anomaly", "OUT")[0].severity == "warning"


def test_a_bad_print_flags_its_day_only_not_the_recovery():
    closes = calm(80)
    closes[70] *= 0.6
    findings = run(daily("AAA", closes, volume=noisy_volume(80)), AFTER)
    found = of_type(findings, "price_anomaly")
    assert [f.ts for f in found] == [sessions("2025-01-02", 80)[70].tz_localize("UTC")]
    assert not of_type(findings, "corporate_action")


def test_a_recorded_split_adjusts_the_series():
    closes, volume = calm(80), noisy_volume(80)
    closes[50:] /= 2
    volume[50:] *= 2
    opens = np.r_[closes[0], closes[:-1]]
    opens[50] = closes[50]
    split_day = sessions("2025-01-02", 80)[50]
    actions = pd.DataFrame([{"symbol": "AAA", "date": split_day, "kind": "split", "ratio": 2.0}])
    findings = run(daily("AAA", closes, volume=volume, opens=opens), AFTER, actions=actions)
    assert of_type(findings, "price_anomaly") == []
    assert of_type(findings, "corporate_action") == []
    assert of_type(findings, "volume_spike") == []
    assert of_type(findings, "price_gap") == []


def test_an_evident_unrecorded_split_is_a_corporate_action_not_a_price_anomaly():
    closes, volume = calm(80), noisy_volume(80)
    closes[50:] /= 3
    volume[50:] *= 3
    opens = np.r_[closes[0], closes[:-1]]
    opens[50] = closes[50]  # a split day trades on the new basis from the open
    findings = run(daily("AAA", closes, volume=volume, opens=opens), AFTER)
    action = of_type(findings, "corporate_action")
    assert len(action) == 1 and action[0].severity == "info"
    assert action[0].extra["ratio"] == "3:1" and "unrecorded 3:1 split" in action[0].detail
    assert of_type(findings, "price_anomaly") == [] and of_type(findings, "volume_spike") == []


def test_an_evident_reverse_split():
    closes, volume = calm(80), noisy_volume(80)
    closes[50:] *= 10
    volume[50:] /= 10
    opens = np.r_[closes[0], closes[:-1]]
    opens[50] = closes[50]
    findings = run(daily("AAA", closes, volume=volume, opens=opens), AFTER)
    assert [f.extra["ratio"] for f in of_type(findings, "corporate_action")] == ["1:10"]
    assert of_type(findings, "price_anomaly") == [] and of_type(findings, "volume_drought") == []


def test_a_halving_without_the_volume_move_is_not_taken_for_a_split():
    closes = calm(80)
    closes[50:] /= 2
    findings = run(daily("AAA", closes, volume=noisy_volume(80)), AFTER)
    assert of_type(findings, "corporate_action") == []
    assert len(of_type(findings, "price_anomaly")) == 1


# price_gap

def test_an_overnight_gap_over_the_threshold():
    closes = calm(60)
    closes[40:] *= 1.14
    opens = np.r_[closes[0], closes[:-1]]
    opens[40] = closes[40]
    findings = run(daily("AAA", closes, opens=opens), AFTER)
    gaps = of_type(findings, "price_gap")
    assert len(gaps) == 1 and gaps[0].value > 10


def test_a_gap_below_the_threshold_and_intraday_moves_are_not_gaps():
    closes = calm(60)
    opens = np.r_[closes[0], closes[:-1]] * 1.08  # every open 8% above the previous close
    findings = run(daily("AAA", np.maximum(closes, opens), opens=opens), AFTER)
    assert of_type(findings, "price_gap") == []


# volume_spike and volume_drought

def test_a_volume_spike():
    volume = noisy_volume(60)
    volume[45] *= 8
    findings = run(daily("AAA", calm(60), volume=volume), AFTER)
    spikes = of_type(findings, "volume_spike")
    assert len(spikes) == 1 and spikes[0].value >= 5


def test_after_a_spike_the_baseline_is_clean_so_normal_days_stay_quiet():
    volume = noisy_volume(60)
    volume[40] *= 40
    findings = run(daily("AAA", calm(60), volume=volume), AFTER)
    assert [f.type for f in findings if f.type.startswith("volume")] == ["volume_spike"]


def test_a_new_listing_has_no_spikes_from_a_tiny_average():
    volume = np.array([3e6, 4e5, 3e5, 2e6, 5e6, 8e6])
    findings = run(daily("NEW", calm(6), volume=volume), AFTER)
    assert of_type(findings, "volume_spike") == [] and of_type(findings, "volume_drought") == []


def test_a_symbol_with_two_bars():
    findings = run(daily("TWO", [10.0, 10.5], volume=[100, 900_000]), "2025-01-03 23:00")
    assert [f.type for f in findings] == []


def test_thin_symbols_are_not_judged_on_volume():
    volume = noisy_volume(60, level=400)
    volume[45] = 9_000
    volume[50] = 0
    findings = run(daily("THIN", calm(60), volume=volume), AFTER)
    assert of_type(findings, "volume_spike") == [] and of_type(findings, "volume_drought") == []


def test_a_volume_drought_in_a_full_session():
    volume = noisy_volume(60)
    volume[45] *= 0.05
    findings = run(daily("AAA", calm(60), volume=volume), AFTER)
    droughts = of_type(findings, "volume_drought")
    assert len(droughts) == 1 and droughts[0].value <= 0.2


def test_a_quiet_half_day_is_no_drought():
    days = sessions("2024-09-03", 70)
    half_day = list(days).index(pd.Timestamp("2024-11-29"))  # the day after Thanksgiving closes at 13:00
    volume = noisy_volume(70)
    volume[half_day] *= 0.15
    findings = run(daily("AAA", calm(70), volume=volume, days=days), AFTER)
    assert of_type(findings, "volume_drought") == []


def test_a_halted_symbol_is_neither_a_drought_nor_a_jump():
    closes, volume = calm(60), noisy_volume(60)
    closes[40:45] = closes[39]
    volume[40:45] = 0
    bars = daily("HALT", closes, volume=volume)
    bars.loc[40:44, ["open", "high", "low"]] = closes[39]
    findings = run(bars, AFTER)
    assert [f.type for f in findings if f.type in ("volume_drought", "volume_spike", "price_anomaly")] == []


# volatility_cluster

def test_a_volatility_cluster_is_flagged_once_at_its_onset():
    closes = calm(100, daily_vol=0.01)
    swings = np.array([1.07, 0.93, 1.08, 0.92, 1.07, 0.94])
    closes[90:96] = closes[89] * np.cumprod(swings)
    closes[96:] = closes[95]
    findings = run(daily("AAA", closes, volume=noisy_volume(100)), AFTER)
    clusters = of_type(findings, "volatility_cluster")
    assert len(clusters) == 1 and clusters[0].value >= 3


def test_a_stock_that_is_always_volatile_is_no_cluster():
    findings = run(daily("WILD", calm(120, daily_vol=0.045), volume=noisy_volume(120)), AFTER)
    assert of_type(findings, "volatility_cluster") == []


def test_a_very_quiet_stock_getting_a_little_livelier_is_no_cluster():
    closes = calm(100, daily_vol=0.001)
    closes[90:] = closes[89] * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.006, 10)))
    findings = run(daily("QUIET", closes, volume=noisy_volume(100)), AFTER)
    assert of_type(findings, "volatility_cluster") == []


# technical_break

def test_a_close_far_from_its_moving_average():
    closes = calm(90, daily_vol=0.005)
    closes[80:] = closes[79] * np.cumprod(np.full(10, 1.07))
    findings = run(daily("AAA", closes, volume=noisy_volume(90)), AFTER)
    far = [f for f in of_type(findings, "technical_break") if "average" in f.detail]
    assert len(far) == 1 and far[0].value >= 25


def test_a_break_through_long_standing_support():
    rng = np.random.default_rng(3)
    closes = 100 + rng.uniform(-1.5, 1.5, 90)
    closes[85] = 93.0
    closes[86:] = 93.0
    findings = run(daily("RANGE", closes, volume=noisy_volume(90)), AFTER)
    broke = [f for f in of_type(findings, "technical_break") if "support" in f.detail]
    assert len(broke) == 1 and broke[0].ts == sessions("2025-01-02", 90)[85].tz_localize("UTC")


def test_a_steady_trend_making_new_highs_breaks_nothing():
    closes = 50 * np.cumprod(np.full(150, 1.004))
    findings = run(daily("TREND", closes, volume=noisy_volume(150)), AFTER)
    assert of_type(findings, "technical_break") == []


# source_mismatch

def test_sources_disagreeing_beyond_the_tolerance():
    closes = calm(30)
    primary = daily("AAA", closes, source="csv")
    secondary = daily("AAA", closes, source="polygon")
    secondary.loc[20, "close"] *= 1.012
    secondary.loc[20, "high"] = secondary.loc[20, ["high", "close"]].max()
    secondary.loc[21, "open"] *= 1.003  # inside the 0.5% tolerance
    findings = run(pd.concat([primary, secondary]), AFTER)
    mismatches = of_type(findings, "source_mismatch")
    assert len(mismatches) == 1
    assert mismatches[0].extra["sources"] == ["csv", "polygon"] and "close" in mismatches[0].detail


def test_one_source_only_or_agreeing_sources_are_no_mismatch():
    closes = calm(30)
    findings = run(pd.concat([daily("AAA", closes, source="csv"), daily("AAA", closes * 1.004, source="polygon"),
                              daily("BBB", closes, source="csv")]), AFTER)
    assert of_type(findings, "source_mismatch") == []


# coverage_gap and data_stale, daily

def test_missing_sessions_are_a_coverage_gap():
    bars = daily("AAA", calm(40), volume=noisy_volume(40)).drop(index=[20, 21])
    gaps = of_type(run(bars, AFTER), "coverage_gap")
    assert len(gaps) == 1 and gaps[0].value == 2 and ".." in gaps[0].extra["span"]


def test_exchange_holidays_are_not_gaps():
    days = sessions("2024-12-20", 240)  # Christmas, New Year, MLK, Presidents', Good Friday, Memorial, Juneteenth,
    bars = daily("AAA", calm(240), volume=noisy_volume(240), days=days)  # July 4th, Labor Day, Thanksgiving
    findings = run(bars, days[-1] + pd.Timedelta(hours=23))
    assert of_type(findings, "coverage_gap") == [] and of_type(findings, "data_stale") == []


def test_a_feed_that_stopped_is_stale():
    days = sessions("2025-03-03", 40)
    bars = daily("AAA", calm(40), days=days).iloc[:-3]
    stale = of_type(run(bars, days[-1] + pd.Timedelta(hours=22)), "data_stale")
    assert len(stale) == 1 and stale[0].value == 3


def test_the_weekend_and_the_day_before_the_close_are_not_stale():
    days = sessions("2025-03-03", 20)  # ends on a Friday
    assert days[-1].dayofweek == 4
    bars = daily("AAA", calm(20), days=days)
    assert of_type(run(bars, days[-1] + pd.Timedelta(days=2, hours=15)), "data_stale") == []
    earlier = bars.iloc[:-1]
    assert of_type(run(earlier, days[-1] + pd.Timedelta(hours=15)), "data_stale") == []  # Friday, market open


# data_stale and coverage_gap, intraday

def minute_universe(**options):
    return {"interval": "1m", "types": ("data_stale", "coverage_gap"), **options}


def test_intraday_staleness_while_open():
    bars = intraday("AAA", "2025-07-01", end="14:00")
    findings = run(bars, pd.Timestamp("2025-07-01 14:30", tz="America/New_York"), **minute_universe())
    stale = of_type(findings, "data_stale")
    assert len(stale) == 1 and 29 <= stale[0].value <= 31


def test_no_staleness_when_closed_at_the_open_or_after_a_half_day():
    bars = intraday("AAA", "2025-07-03", end="13:00")  # half day: closes at 13:00
    for moment in ["2025-07-03 13:45", "2025-07-04 11:00", "2025-07-05 11:00"]:  # after the close, holiday, Sat
        assert run(bars, pd.Timestamp(moment, tz="America/New_York"), **minute_universe()) == []
    monday = run(bars, pd.Timestamp("2025-07-07 09:36", tz="America/New_York"), **minute_universe())
    assert of_type(monday, "data_stale") == []


def test_an_intraday_hole_over_two_hours_is_a_coverage_gap():
    bars = intraday("AAA", "2025-07-01", skip=("10:00", "12:30"))
    findings = run(bars, pd.Timestamp("2025-07-01 18:00", tz="America/New_York"), **minute_universe())
    gaps = of_type(findings, "coverage_gap")
    assert len(gaps) == 1 and gaps[0].value == 150


def test_an_hour_and_a_half_hole_and_a_half_day_are_no_gaps():
    bars = pd.concat([intraday("AAA", "2025-07-02", skip=("10:00", "11:30")), intraday("AAA", "2025-07-03"),
                      intraday("AAA", "2025-07-07")])
    findings = run(bars, pd.Timestamp("2025-07-07 18:00", tz="America/New_York"), **minute_universe())
    assert findings == []


def test_a_missing_session_intraday():
    bars = pd.concat([intraday("AAA", "2025-07-01"), intraday("AAA", "2025-07-03")])
    findings = run(bars, pd.Timestamp("2025-07-03 18:00", tz="America/New_York"), **minute_universe())
    gaps = of_type(findings, "coverage_gap")
    assert len(gaps) == 1 and "2025-07-02" in gaps[0].detail


# thresholds and the reporting window

def test_thresholds_come_from_the_universe():
    closes = calm(60)
    closes[50:] *= 0.85
    bars = daily("AAA", closes, volume=noisy_volume(60))
    assert of_type(run(bars, AFTER), "price_anomaly") == []
    assert len(of_type(run(bars, AFTER, thresholds={"price_move_pct": 10.0}), "price_anomaly")) == 1


def test_only_bars_in_the_window_are_reported():
    closes = calm(60)
    closes[30:] *= 0.7
    bars = daily("AAA", closes, volume=noisy_volume(60))
    day = sessions("2025-01-02", 60)[30].tz_localize("UTC")
    assert of_type(run(bars, AFTER, since=day), "price_anomaly") == []
    assert len(of_type(run(bars, AFTER, since=day - pd.Timedelta(hours=1)), "price_anomaly")) == 1
    assert of_type(run(bars, day - pd.Timedelta(hours=1)), "price_anomaly") == []


def test_the_peers_median_is_numpys_nanmedian_bit_for_bit():
    rng = np.random.default_rng(3)
    for width in (1, 2, 5, 599, 600, 2001):  # numpy takes another path from 600 columns on
        block = rng.normal(size=(40, width)) * rng.choice([1e-3, 1.0, 1e3], size=(40, width))
        block[rng.random(block.shape) < 0.4] = np.nan
        block[7] = np.nan
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(block, axis=1)
        assert np.array_equal(nanmedian_rows(block, (~np.isnan(block)).sum(axis=1)), expected, equal_nan=True)
