"""Minute bars outside regular hours (pre-market from 04:00, post-market to 20:00 New York): kept, checked for
freshness like any bar and for price sanity only — a print the next bar takes back. Their volume is never judged:
it has no regular-session baseline."""

import numpy as np
import pandas as pd

from monitors.quality import calendar, conf
from monitors.quality.checks.arrays import nanos
from monitors.quality.checks.findings import Finding, Universe


def regular_hours(stamps: pd.Series) -> np.ndarray:
    """Per bar: does it start inside a session's regular hours (open ≤ ts < close, early closes included)?"""
    if stamps.empty:
        return np.zeros(0, dtype=bool)
    exchange = conf.get("QUALITY_DEFAULT_EXCHANGE")
    zone = calendar.get_calendar(exchange).tz
    local = stamps.dt.tz_convert(zone)
    days = calendar.sessions(local.min().tz_localize(None).normalize() - pd.Timedelta(days=1),
                             local.max().tz_localize(None).normalize(), exchange)
    if not len(days):
        return np.zeros(len(stamps), dtype=bool)
    opens, closes = calendar.session_bounds(days, exchange)
    open_ns, close_ns, ts = nanos(opens), nanos(closes), nanos(stamps)
    which = np.searchsorted(open_ns, ts, side="right") - 1
    return (which >= 0) & (ts < close_ns[np.clip(which, 0, None)])


def bad_prints(primary: pd.DataFrame, regular: np.ndarray, universe: Universe) -> list[Finding]:
    """Extended-hours bars whose close moved more than the price threshold from the bar before, and that the next
    bar takes back (to within a quarter of the move, in log terms)."""
    frame = primary[["symbol", "ts", "close"]].assign(regular=regular).sort_values(["symbol", "ts"], kind="stable")
    by_symbol = frame.groupby("symbol", observed=True, sort=False)["close"]
    with np.errstate(invalid="ignore", divide="ignore"):
        move = np.log(frame["close"] / by_symbol.shift(1)).to_numpy()
        back = np.log(by_symbol.shift(-1) / by_symbol.shift(1)).to_numpy()
    limits = np.log1p(np.array([universe.thresholds[universe.profiles[s].equity_type]["price_move_pct"]
                                for s in frame["symbol"]], dtype=float) / 100)
    with np.errstate(invalid="ignore"):
        flagged = ~frame["regular"].to_numpy() & (np.abs(move) > limits) & (np.abs(back) <= 0.25 * np.abs(move))
    zone = calendar.get_calendar(conf.get("QUALITY_DEFAULT_EXCHANGE")).tz
    findings = []
    for i in np.nonzero(flagged)[0]:
        row = frame.iloc[i]
        local = row["ts"].tz_convert(zone)
        part = "pre-market" if local.hour < 12 else "post-market"
        change = np.expm1(move[i])
        findings.append(Finding(
            symbol=row["symbol"], type="price_anomaly", severity="warning", ts=row["ts"],
            value=round(float(change * 100), 4), threshold=float(np.expm1(limits[i]) * 100),
            detail=(f"{part} bar {local:%H:%M %Z}: close {row['close']:.4g} after "
                    f"{row['close'] / np.exp(move[i]):.4g} ({change:+.1%}), and the next bar takes it back: "
                    f"a bad print"),
            extra={"session_part": part},
        ))
    return findings
