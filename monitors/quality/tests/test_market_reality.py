"""The checks on series shaped like real markets: crashes that are not splits, splits that are, bad prints, moves
that hold, decades of history, and minute bars with extended hours and a time-of-day volume shape."""

import numpy as np
import pandas as pd
import pytest

from monitors.quality import calendar
from monitors.quality.checks import INTRADAY_TYPES, VOLUME_TYPES
from monitors.quality.tests.builders import calm, daily, noisy_volume, of_type, run, sessions
from monitors.quality.thresholds import Profile

DAYS = sessions("2025-01-02", 90)
AFTER = DAYS[-1] + pd.Timedelta(hours=22)


def peers(count: int = 8, length: int = 90, *, move: tuple[int, float, float] | None = None) -> pd.DataFrame:
    """Calm symbols P0..; `move` = (row, open factor, close factor) applied to all of them from that row on."""
    frames = []
    for i in range(count):
        closes = calm(length, seed=100 + i)
        opens = np.r_[closes[0], closes[:-1]]
        if move:
            row, open_factor, close_factor = move
            opens[row] = closes[row - 1] * open_factor
            opens[row + 1:] *= close_factor
            closes[row:] *= close_factor
        frames.append(daily(f"P{i}", closes, opens=opens, volume=noisy_volume(length, seed=200 + i)))
    return pd.concat(frames, ignore_index=True)


def shaped(symbol: str, closes, opens, volume) -> pd.DataFrame:
    return daily(symbol, closes, opens=opens, volume=volume)


def raw_move(bars: pd.DataFrame, row: int) -> float:
    return (bars["close"].iloc[row] / bars["close"].iloc[row - 1] - 1) * 100


def raw_gap(bars: pd.DataFrame, row: int) -> float:
    return (bars["open"].iloc[row] / bars["close"].iloc[row - 1] - 1) * 100


def on(row: int) -> pd.Timestamp:
    return DAYS[row].tz_localize("UTC")


def split_series(ratio: float, *, row: int = 60, length: int = 90, seed: int = 1):
    """A stock that splits `ratio`-for-1 at `row`: the day opens and closes on the new basis, and share volume
    stays at about `ratio` times its old level from then on."""
    closes, volume = calm(length, seed=seed), noisy_volume(length, seed=seed + 1)
    closes[row:] /= ratio
    volume[row:] *= ratio
    opens = np.r_[closes[0], closes[:-1]]
    opens[row] = closes[row - 1] / ratio * 1.004
    return shaped("SPL", closes, opens, volume)


# A crash is a crash

def test_a_profit_warning_crash_on_twenty_times_volume_is_a_critical_price_anomaly_not_a_split():
    closes, volume = calm(90), noisy_volume(90)
    closes[60:] *= 0.481  # −51.9%, the ratio of a 2:1 split
    volume[60:] *= np.r_[20, 7, 4, 3, 2.5, 2.2, np.full(24, 1.8)]
    opens = np.r_[closes[0], closes[:-1]]
    opens[60] = closes[59] * 0.55  # opened −45% on the news
    crash = shaped("CRSH", closes, opens, volume)
    findings = run(pd.concat([peers(), crash]), AFTER)
    [anomaly] = of_type(findings, "price_anomaly", "CRSH")
    assert anomaly.ts == on(60) and anomaly.severity == "critical"
    assert abs(anomaly.value - raw_move(crash, 60)) < 1 and "split" not in anomaly.detail
    assert f"after {closes[59]:.4g}" in anomaly.detail and f"close {closes[60]:.4g}" in anomaly.detail
    [gap] = of_type(findings, "price_gap", "CRSH")
    assert gap.ts == on(60) and abs(gap.value - raw_gap(crash, 60)) < 1
    assert of_type(findings, "corporate_action") == []


def test_a_crash_with_the_whole_market_is_reported_at_a_lowered_severity_not_as_a_split():
    closes, volume = calm(90, seed=7), noisy_volume(90, seed=8)
    closes[60:] *= 0.70  # −30% when the market fell 20%: near the ratio of a 3:2 split
    volume[60:] *= 1.5
    opens = np.r_[closes[0], closes[:-1]]
    opens[60] = closes[59] * 0.82
    stock = shaped("DOWN", closes, opens, volume)
    findings = run(pd.concat([peers(move=(60, 0.85, 0.80)), stock]), AFTER)
    [anomaly] = of_type(findings, "price_anomaly", "DOWN")
    assert abs(anomaly.value - raw_move(stock, 60)) < 1
    assert anomaly.severity == "info" and "market -2" in anomaly.detail
    assert of_type(findings, "corporate_action") == []


def test_a_crash_without_the_market_keeps_its_severity_even_when_the_market_fell_a_little():
    closes = calm(90, seed=7)
    closes[60:] *= 0.48
    opens = np.r_[closes[0], closes[:-1]]
    opens[60] = closes[60]
    stock = shaped("ALONE", closes, opens, noisy_volume(90, seed=8) * np.r_[np.ones(60), np.full(30, 3.0)])
    findings = run(pd.concat([peers(move=(60, 0.93, 0.89)), stock]), AFTER)
    [anomaly] = of_type(findings, "price_anomaly", "ALONE")
    assert anomaly.severity == "critical"  # −52% is far beyond the market's −11%


# Splits

def test_a_recorded_two_for_one_split_with_its_persistent_volume_is_never_flagged():
    bars = split_series(2.0)
    actions = pd.DataFrame([{"symbol": "SPL", "date": DAYS[60], "kind": "split", "ratio": 2.0}])
    findings = run(bars, AFTER, actions=actions)
    assert [f.type for f in findings if f.type not in ("technical_break", "volatility_cluster")] == []


def test_an_unrecorded_split_is_a_price_anomaly_until_later_sessions_confirm_it():
    bars = split_series(2.0)
    on_the_day = run(bars.iloc[:61], DAYS[60] + pd.Timedelta(hours=22))
    [anomaly] = of_type(on_the_day, "price_anomaly")
    assert anomaly.severity == "critical" and abs(anomaly.value - raw_move(bars, 60)) < 1
    assert "if this is a 2:1 split, record it" in anomaly.detail
    assert of_type(on_the_day, "corporate_action") == []

    two_days_on = run(bars.iloc[:63], DAYS[62] + pd.Timedelta(hours=22), since=DAYS[61] + pd.Timedelta(hours=22))
    assert [f.type for f in two_days_on] == []  # not confirmed yet: no volume finding on the new basis either

    confirmed = run(bars.iloc[:66], DAYS[65] + pd.Timedelta(hours=22), since=DAYS[64] + pd.Timedelta(hours=22))
    [action] = of_type(confirmed, "corporate_action")
    assert action.ts == on(60) and action.extra["ratio"] == "2:1" and action.severity == "info"
    assert "unrecorded 2:1 split" in action.detail
    assert of_type(confirmed, "price_anomaly") == []

    history = run(bars, AFTER)
    assert [f.type for f in history if f.type in ("price_anomaly", "price_gap", "corporate_action",
                                                   "volume_spike", "volume_drought")] == ["corporate_action"]


def test_a_one_for_ten_reverse_split_recorded_or_confirmed():
    bars = split_series(0.1)
    actions = pd.DataFrame([{"symbol": "SPL", "date": DAYS[60], "kind": "split", "ratio": 0.1}])
    recorded = run(bars, AFTER, actions=actions)
    assert [f for f in recorded if f.type not in ("technical_break", "volatility_cluster")] == []
    unrecorded = run(bars, AFTER)
    assert [f.extra["ratio"] for f in of_type(unrecorded, "corporate_action")] == ["1:10"]
    assert of_type(unrecorded, "price_anomaly") == [] and of_type(unrecorded, "volume_drought") == []
    on_the_day = of_type(run(bars.iloc[:61], DAYS[60] + pd.Timedelta(hours=22)), "price_anomaly")
    assert abs(on_the_day[0].value - raw_move(bars, 60)) < 1 and "1:10 split" in on_the_day[0].detail


def test_a_split_on_a_day_the_stock_also_rose_thirteen_percent_is_known_by_its_open():
    """Tesla's 5:1 split of 2020-08-31: it opened at 444.61 after a close of 2,213.40 (÷4.98) and closed at 498.32,
    +12.6% on the new basis: ÷4.44 as traded, nearer 4:1 than 5:1 by the close alone."""
    closes, volume = calm(90, seed=3), noisy_volume(90, seed=4)
    closes[60:] *= 1.126 / 5
    volume[60:] *= 5
    opens = np.r_[closes[0], closes[:-1]]
    opens[60] = closes[59] / 5 * 1.004
    bars = shaped("TSL", closes, opens, volume)
    assert 4.3 < closes[59] / closes[60] < 4.6
    findings = run(bars, AFTER)
    [action] = of_type(findings, "corporate_action")
    assert action.ts == on(60) and action.extra["ratio"] == "5:1"
    assert [f.type for f in findings if f.type in ("price_anomaly", "price_gap", "volume_spike")] == []
    on_the_day = of_type(run(bars.iloc[:61], DAYS[60] + pd.Timedelta(hours=22)), "price_anomaly")
    assert "if this is a 5:1 split, record it" in on_the_day[0].detail


@pytest.mark.parametrize(("ratio", "label", "opened", "closed"), [
    (7.0, "7:1", 645.57 / 92.70, 645.57 / 93.70),      # Apple, 2014-06-09
    (50.0, "50:1", 3210.79 / 64.94, 3210.79 / 65.26),  # Chipotle, 2024-06-26
    (1.25, "5:4", 1.25 / 1.003, 1.25 / 1.01),          # a 5:4 split of the 1990s
    (1 / 20, "1:20", 1 / 19.6, 1 / 18.2),             # a reverse split that sagged 7% on the day
])
def test_real_split_ratios_are_recognised(ratio, label, opened, closed):
    closes, volume = calm(90, seed=7), noisy_volume(90, seed=8)
    closes[60:] *= closes[59] / closed / closes[60]  # the day's close as it traded, the rest on its basis
    opens = np.r_[closes[0], closes[:-1]]
    opens[60] = closes[59] / opened
    volume[60:] *= ratio
    findings = run(shaped("SPL", closes, opens, volume), AFTER)
    [action] = of_type(findings, "corporate_action")
    assert action.ts == on(60) and action.extra["ratio"] == label
    assert [f.type for f in findings if f.type in ("price_anomaly", "price_gap", "volume_spike",
                                                   "volume_drought")] == []


def test_a_crash_that_opens_near_a_split_ratio_on_panic_volume_is_no_split():
    """A profit warning overnight: the stock opens at half its close and trades 20× its volume; it is not
    confirmed as a 2:1 split however near the ratio its open was."""
    closes, volume = calm(90, seed=5), noisy_volume(90, seed=6)
    closes[60:] *= 0.44
    volume[60] *= 20
    volume[61:66] *= 3
    opens = np.r_[closes[0], closes[:-1]]
    opens[60] = closes[59] * 0.5
    findings = run(shaped("WARN", closes, opens, volume), AFTER)
    assert of_type(findings, "corporate_action") == []
    [anomaly] = of_type(findings, "price_anomaly")
    assert anomaly.ts == on(60) and anomaly.severity == "critical"


def test_a_halving_whose_volume_falls_back_is_refuted_and_stays_a_price_anomaly():
    closes, volume = calm(90), noisy_volume(90)
    closes[60:] /= 2
    volume[60:62] *= 2.2  # looks like a split for two days, then share volume is back where it was
    opens = np.r_[closes[0], closes[:-1]]
    opens[60] = closes[60]
    findings = run(shaped("HALF", closes, opens, volume), AFTER)
    assert of_type(findings, "corporate_action") == []
    assert [f.ts for f in of_type(findings, "price_anomaly")] == [on(60)]


# Bad prints and moves that hold

def test_a_bad_print_that_reverts_is_flagged_and_left_out_of_the_next_bases():
    closes = calm(90)
    bars = shaped("BAD", closes, np.r_[closes[0], closes[:-1]], noisy_volume(90))
    bars.loc[70, ["open", "high", "low", "close"]] = bars.loc[70, ["open", "high", "low", "close"]] * 0.6
    bars.loc[71, "open"] = closes[70]
    findings = run(bars, AFTER)
    [anomaly] = of_type(findings, "price_anomaly")
    assert anomaly.ts == on(70) and "bad print" in anomaly.detail
    assert all(f.ts != on(71) for f in findings if f.type in ("price_anomaly", "price_gap"))


def test_the_return_from_a_bad_print_on_heavy_volume_is_no_reverse_split():
    closes, volume = calm(90), noisy_volume(90)
    bars = shaped("BACK", closes, np.r_[closes[0], closes[:-1]], volume)
    bars.loc[60, ["close", "low"]] *= 0.7  # −30%, then straight back: near a 3:2 ratio both ways
    bars.loc[60, "volume"] *= 8
    findings = run(bars, AFTER)
    assert of_type(findings, "corporate_action") == []
    assert [f.ts for f in of_type(findings, "price_anomaly")] == [on(60)]


def test_a_twenty_percent_move_that_holds_is_a_real_close_for_the_next_gap():
    closes = calm(90, seed=3)
    opens = np.r_[closes[0], closes[:-1]]
    closes[60:] *= 1.25  # +25%, and it holds
    opens[60] = closes[59] * 1.02
    opens[61] = closes[60] * 1.051  # a normal +5.1% gap the next morning
    opens[62:] = closes[61:-1]
    bars = shaped("HOLD", closes, opens, noisy_volume(90))
    findings = run(bars, AFTER)
    [anomaly] = of_type(findings, "price_anomaly")
    assert anomaly.ts == on(60) and abs(anomaly.value - raw_move(bars, 60)) < 1 and "bad print" not in anomaly.detail
    assert of_type(findings, "price_gap") == []


def test_a_big_move_with_a_partial_pullback_is_no_bad_print():
    closes = calm(90, seed=4)
    closes[60:] *= 1.20
    closes[61:] *= 0.92  # −8% the next day: a pullback, not a reversal
    opens = np.r_[closes[0], closes[:-1]]
    opens[61] = closes[60] * 1.016
    bars = shaped("PULL", closes, opens, noisy_volume(90))
    findings = run(bars, AFTER)
    assert [f.ts for f in of_type(findings, "price_anomaly")] == [on(60)]
    assert of_type(findings, "price_gap") == []  # +1.6% on the real close, not +21.9% on the close before


# Decades of history

@pytest.fixture(scope="module")
def since_1990() -> pd.DatetimeIndex:
    return calendar.sessions(pd.Timestamp("1990-01-02"), pd.Timestamp("2002-12-31"))


def test_the_calendar_reaches_back_to_the_history_and_is_built_once(since_1990):
    assert since_1990[0] == pd.Timestamp("1990-01-02")
    assert pd.Timestamp("2001-09-11") not in since_1990  # the market was closed for four sessions
    assert calendar.get_calendar() is calendar.get_calendar(covering=pd.Timestamp("1995-06-01"))


def test_missing_sessions_and_holes_before_2006_are_coverage_gaps_and_an_old_stop_is_stale(since_1990):
    days = since_1990[since_1990 <= pd.Timestamp("2001-12-31")]
    keep = (days != pd.Timestamp("2000-03-15")) & ~((days >= pd.Timestamp("1996-01-02"))
                                                    & (days <= pd.Timestamp("1996-06-28")))
    old = daily("OLD", calm(len(days)), days=days)[keep]
    gone = daily("GONE", calm(len(days), seed=5), days=days)
    gone = gone[gone["ts"] <= pd.Timestamp("2001-06-29", tz="UTC")]
    findings = run(pd.concat([old, gone]), "2001-12-31 23:00",
                   types=("coverage_gap", "data_stale"))
    gaps = sorted((f.extra["span"], f.value) for f in of_type(findings, "coverage_gap", "OLD"))
    assert gaps == [("1996-01-02..1996-06-28", float(((days >= pd.Timestamp("1996-01-02"))
                                                       & (days <= pd.Timestamp("1996-06-28"))).sum())),
                    ("2000-03-15", 1.0)]  # and not the four sessions after 9/11, nor any holiday
    [stale] = of_type(findings, "data_stale", "GONE")
    assert stale.value == float(((days > pd.Timestamp("2001-06-29")) & (days <= pd.Timestamp("2001-12-31"))).sum())
    assert of_type(findings, "coverage_gap", "GONE") == []


# New listings and volume across sources

def ipo_month(length: int = 30) -> np.ndarray:
    decay = np.array([40e6, 15e6, 8e6, 5e6, 3.5e6, 2.8e6, 2.2e6, 1.8e6, 1.6e6, 1.5e6])
    return np.r_[decay, noisy_volume(length - len(decay), level=1.2e6, seed=9)]


def test_a_new_listings_first_month_has_no_droughts_against_its_ipo_day(settings):
    listing = daily("NEW", calm(30, seed=12), volume=ipo_month(), days=DAYS[60:])
    bars = pd.concat([peers(), listing])
    assert of_type(run(bars, AFTER), "volume_drought", "NEW") == []
    alone = run(listing, AFTER, profiles={"NEW": Profile("common_stock", None, "XNYS", DAYS[60].date())})
    assert of_type(alone, "volume_drought") == []
    settings.QUALITY_LISTING_SKIP_SESSIONS = 0
    assert of_type(run(bars, AFTER), "volume_drought", "NEW") != []


def test_volume_disagreeing_across_sources_is_a_mismatch_with_both_values():
    closes, volume = calm(30), noisy_volume(30)
    primary = daily("AAA", closes, volume=volume, source="csv")
    secondary = daily("AAA", closes, volume=volume, source="polygon")
    secondary.loc[20, "volume"] = volume[20] * 0.7
    secondary.loc[22, "volume"] = volume[22] * 0.97  # inside the 10% tolerance
    [mismatch] = of_type(run(pd.concat([primary, secondary]), AFTER), "source_mismatch")
    assert mismatch.ts == DAYS[20].tz_localize("UTC") and mismatch.threshold == 10.0
    assert abs(mismatch.value - 30) < 0.01 and f"csv {volume[20]:,.0f}" in mismatch.detail
    assert f"polygon {volume[20] * 0.7:,.0f}" in mismatch.detail and "volume differs" in mismatch.detail


# Minute bars: extended hours, the shape of a session, intraday price checks

ZONE = "America/New_York"


def minute_day(symbol: str, day: str, *, seed: int = 0, price: float = 50.0, extended: bool = True,
               close_weight: float = 7.0) -> pd.DataFrame:
    """One session of one-minute bars: pre-market from 04:00 and post-market to 20:00 New York (thin volume), and
    regular hours with a U-shaped volume (heavy open, quiet lunch, heavy close) and some noise."""
    rng = np.random.default_rng(seed)
    opened, closed = (bound.iloc[0] for bound in calendar.session_bounds(pd.DatetimeIndex([pd.Timestamp(day)])))
    start = pd.Timestamp(f"{day} 04:00", tz=ZONE) if extended else opened
    end = pd.Timestamp(f"{day} 20:00", tz=ZONE) if extended else closed
    stamps = pd.date_range(start, end, freq="1min", inclusive="left").tz_convert("UTC")
    regular = (stamps >= opened) & (stamps < closed)
    since_open = (stamps - opened).total_seconds().to_numpy() / 60
    to_close = (closed - stamps).total_seconds().to_numpy() / 60
    shape = 1 + 4 * np.exp(-since_open / 20) + close_weight * np.exp(-(to_close - 1) / 10)
    volume = np.where(regular, 20_000 * shape, 300) * np.exp(rng.normal(0, 0.2, len(stamps)))
    closes = price * np.exp(np.cumsum(rng.normal(0, 0.0005, len(stamps))))
    opens = np.r_[closes[0], closes[:-1]]
    return pd.DataFrame({"symbol": symbol, "source": "csv", "ts": stamps, "open": opens,
                         "high": np.maximum(opens, closes) * 1.0005, "low": np.minimum(opens, closes) * 0.9995,
                         "close": closes, "volume": np.round(volume)})


def minute_history(symbol: str, days: pd.DatetimeIndex, **options) -> pd.DataFrame:
    frames, price = [], 50.0
    for i, day in enumerate(days):
        frame = minute_day(symbol, f"{day:%Y-%m-%d}", seed=i, price=price, **options)
        price = frame["close"].iloc[-1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def at(day, clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"{pd.Timestamp(day):%Y-%m-%d} {clock}", tz=ZONE).tz_convert("UTC")


def regular_hours_only(findings) -> bool:
    for finding in findings:
        local = finding.ts.tz_convert(ZONE)
        opened, closed = (b.iloc[0] for b in calendar.session_bounds(pd.DatetimeIndex([local.normalize()
                                                                                          .tz_localize(None)])))
        if not opened <= finding.ts < closed:
            return False
    return True


MINUTE_DAYS = sessions("2025-06-02", 12)


@pytest.fixture(scope="module")
def twelve_sessions() -> pd.DataFrame:
    return minute_history("MIN", MINUTE_DAYS)


def test_a_u_shaped_session_with_extended_hours_gives_no_volume_finding(twelve_sessions):
    findings = run(twelve_sessions, at(MINUTE_DAYS[-1], "20:30"), interval="1m")
    assert [f for f in findings if f.type in VOLUME_TYPES] == []
    assert regular_hours_only([f for f in findings if f.type != "data_stale"])


def test_a_lunchtime_spike_and_drought_against_the_same_minutes_of_earlier_sessions(twelve_sessions):
    bars = twelve_sessions.copy()
    last = MINUTE_DAYS[-1]
    bars.loc[bars["ts"] == at(last, "11:02"), "volume"] *= 10
    bars.loc[bars["ts"] == at(last, "13:15"), "volume"] *= 0.05
    findings = run(bars, at(last, "20:30"), interval="1m")
    [spike] = of_type(findings, "volume_spike")
    assert spike.ts == at(last, "11:02") and spike.value >= 5 and "11:02 average" in spike.detail
    [drought] = of_type(findings, "volume_drought")
    assert drought.ts == at(last, "13:15") and "full regular session" in drought.detail


def test_a_half_days_closing_minutes_meet_other_closes_not_lunch():
    days = sessions("2025-11-13", 12)
    assert pd.Timestamp("2025-11-28") in days  # closes at 13:00
    findings = run(minute_history("HALF", days, extended=False), at(days[-1], "17:00"), interval="1m")
    assert [f for f in findings if f.type in VOLUME_TYPES] == []


def test_a_pre_market_bad_print_is_the_only_extended_hours_finding(twelve_sessions):
    bars = twelve_sessions.copy()
    last = MINUTE_DAYS[-1]
    print_row = bars.index[bars["ts"] == at(last, "05:39")][0]
    bars.loc[print_row, ["open", "high", "low", "close"]] *= 0.5
    findings = run(bars, at(last, "20:30"), interval="1m")
    extended = [f for f in findings if not regular_hours_only([f])]
    assert [(f.type, f.ts) for f in extended if f.type != "data_stale"] == [("price_anomaly", at(last, "05:39"))]
    assert "pre-market" in extended[0].detail and "bad print" in extended[0].detail


def test_the_intraday_scan_checks_moves_and_gaps_on_regular_hours_bars():
    days = MINUTE_DAYS[:2]
    bars = minute_history("JUMP", days)
    jump = bars["ts"] >= at(days[0], "14:00")
    bars.loc[jump, ["open", "high", "low", "close"]] *= 1.25  # a +25% minute that holds
    news = bars["ts"] >= at(days[1], "07:00")
    bars.loc[news, ["open", "high", "low", "close"]] *= 0.85  # overnight news: −15% from the pre-market on
    findings = run(bars, at(days[1], "12:00"), interval="1m", types=INTRADAY_TYPES)
    [move] = of_type(findings, "price_anomaly")
    assert move.ts == at(days[0], "14:00") and abs(move.value - 25) < 1
    [gap] = of_type(findings, "price_gap")
    last_close = bars.loc[bars["ts"] == at(days[0], "15:59"), "close"].iloc[0]
    first_open = bars.loc[bars["ts"] == at(days[1], "09:30"), "open"].iloc[0]
    assert gap.ts == at(days[1], "09:30") and abs(gap.value - (first_open / last_close - 1) * 100) < 1
