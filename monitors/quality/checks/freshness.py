"""Freshness: missing sessions, holes inside sessions, and a newest bar older than it should be."""

import numpy as np
import pandas as pd

from monitors.quality import calendar, conf
from monitors.quality.checks.arrays import nanos
from monitors.quality.checks.findings import Finding, Universe
from monitors.quality.models import INTERVALS


def daily_freshness(primary: pd.DataFrame, universe: Universe, exchange: str, all_bars: pd.DataFrame) -> list[Finding]:
    """Missing sessions between a symbol's first and newest daily bar; a newest bar older than the last close."""
    last_closed = calendar.last_closed_session(universe.as_of, exchange)
    if last_closed is None or primary.empty:
        return []
    dates = primary["ts"].dt.tz_convert(None).dt.normalize()
    newest = dates.groupby(primary["symbol"]).max()
    sessions = calendar.sessions(dates.min(), last_closed, exchange)
    if not len(sessions):
        return []
    return (_daily_gaps(primary, dates, sessions, universe, all_bars)
            + _daily_staleness(newest, last_closed, universe, exchange))


def _daily_gaps(primary: pd.DataFrame, dates: pd.Series, sessions: pd.DatetimeIndex, universe: Universe,
                all_bars: pd.DataFrame) -> list[Finding]:
    """Runs of sessions with no bar between each symbol's first and newest bar, one finding per run."""
    codes, names = pd.factorize(primary["symbol"], sort=True)
    symbols = list(names)
    first = dates.groupby(primary["symbol"]).min()
    newest = dates.groupby(primary["symbol"]).max()
    rows = sessions.searchsorted(dates.to_numpy())
    on_session = (rows < len(sessions)) & (sessions.to_numpy()[np.clip(rows, 0, len(sessions) - 1)] == dates.to_numpy())
    present = np.zeros((len(sessions), len(symbols)), dtype=bool)
    present[rows[on_session], codes[on_session]] = True
    position = np.arange(len(sessions))[:, None]
    first_pos = sessions.searchsorted(first.reindex(symbols).to_numpy())[None, :]
    newest_pos = sessions.searchsorted(newest.reindex(symbols).to_numpy(), side="right")[None, :] - 1
    missing = ~present & (position > first_pos) & (position < newest_pos)
    if universe.since is not None:
        missing &= np.asarray(sessions > universe.since.tz_convert(None))[:, None]
    gapped = np.nonzero(missing.any(axis=0))[0]
    # With one source per symbol the bars are all the primary's, none of them on a day it misses.
    others = all_bars.iloc[:0] if all_bars is primary else all_bars[all_bars["symbol"].isin(
        [symbols[col] for col in gapped])]
    elsewhere = set(zip(others["symbol"], others["ts"].dt.tz_convert(None).dt.normalize(), strict=True))
    findings = []
    for col in gapped:
        rows = np.nonzero(missing[:, col])[0]
        breaks = np.nonzero(np.diff(rows) > 1)[0]
        for run in np.split(rows, breaks + 1):
            findings.append(_daily_gap(symbols[col], sessions[run], elsewhere))
    return findings


def _daily_gap(symbol: str, days: pd.DatetimeIndex, elsewhere: set) -> Finding:
    start, end = days[0], days[-1]
    count = len(days)
    span = f"{start:%Y-%m-%d}" if count == 1 else f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    other = sum((symbol, day) in elsewhere for day in days)
    return Finding(
        symbol=symbol, type="coverage_gap", severity="critical" if count >= 3 else "warning",
        ts=start.tz_localize("UTC"), value=float(count), threshold=0.0,
        detail=f"no bar for {count} session{'s' if count > 1 else ''} ({span})"
               + (f"; another source has {other}" if other else ""),
        extra={"span": span, "other_source": bool(other)},
    )


def _daily_staleness(newest: pd.Series, last_closed: pd.Timestamp, universe: Universe,
                     exchange: str) -> list[Finding]:
    findings = []
    closed_at = calendar.get_calendar(exchange).session_close(last_closed)
    for symbol, newest_day in newest.items():
        if newest_day >= last_closed:
            continue
        limit = universe.thresholds[universe.profiles[symbol].equity_type]["stale_minutes"]
        if universe.as_of < closed_at + pd.Timedelta(minutes=limit):
            continue
        behind = len(calendar.sessions(newest_day + pd.Timedelta(days=1), last_closed, exchange))
        findings.append(Finding(
            symbol=symbol, type="data_stale", severity="critical" if behind >= 3 else "warning",
            ts=last_closed.tz_localize("UTC"), value=float(behind), threshold=limit,
            detail=f"newest bar is {newest_day:%Y-%m-%d}, {behind} session{'s' if behind > 1 else ''} behind "
                   f"the close of {last_closed:%Y-%m-%d} ({closed_at:%H:%M} UTC)",
            extra={"newest": f"{newest_day:%Y-%m-%d}"},
        ))
    return findings


def intraday_freshness(primary: pd.DataFrame, universe: Universe, exchange: str) -> list[Finding]:
    """Staleness while the market is open, and holes of over QUALITY_INTRADAY_GAP_MINUTES inside sessions."""
    if primary.empty:
        return []
    findings = _intraday_staleness(primary, universe, exchange)
    start = primary["ts"].min().tz_convert(None).normalize()
    sessions = calendar.sessions(start, universe.as_of.tz_convert(None), exchange)
    if not len(sessions):
        return findings
    return findings + _intraday_holes(primary, universe, exchange, sessions)


def _intraday_staleness(primary: pd.DataFrame, universe: Universe, exchange: str) -> list[Finding]:
    as_of = universe.as_of
    session = calendar.current_session(as_of, exchange)
    if session is None:
        return []
    bar_ns = pd.Timedelta(minutes=_interval_minutes(universe.interval)).value
    newest = primary["ts"].groupby(primary["symbol"].to_numpy()).max()
    opened = calendar.get_calendar(exchange).session_open(session)
    limits = np.array([universe.thresholds[universe.profiles[symbol].equity_type]["stale_minutes"]
                       for symbol in newest.index], dtype=float)
    ages = (as_of.value - np.maximum(nanos(newest) + bar_ns, opened.value)) / 1e9 / 60  # as Timedelta.total_seconds
    findings = []
    for i in np.nonzero(ages > limits)[0]:
        symbol, last, age, limit = newest.index[i], newest.iloc[i], ages[i], limits[i]
        findings.append(Finding(
            symbol=symbol, type="data_stale", severity="critical" if age > 6 * limit else "warning",
            ts=last, value=round(float(age), 1), threshold=universe.thresholds[
                universe.profiles[symbol].equity_type]["stale_minutes"],
            detail=f"newest bar {last:%Y-%m-%d %H:%M} UTC is {age:.0f} minutes old while {exchange} is open",
            extra={"newest": f"{last:%Y-%m-%d %H:%M} UTC"},
        ))
    return findings


def _intraday_holes(primary: pd.DataFrame, universe: Universe, exchange: str,
                    sessions: pd.DatetimeIndex) -> list[Finding]:
    """Holes inside sessions (from the open, between bars, to the close) and sessions without any bar."""
    opens, closes = calendar.session_bounds(sessions, exchange)
    open_ns, close_ns, stamps = nanos(opens), nanos(closes), nanos(primary["ts"])
    which = np.searchsorted(open_ns, stamps, side="right") - 1
    inside = (which >= 0) & (stamps < close_ns[np.clip(which, 0, None)])
    frame = pd.DataFrame({"symbol": primary["symbol"].to_numpy()[inside], "session": which[inside],
                          "t": stamps[inside]})
    frame = frame.sort_values(["symbol", "t"], kind="stable")
    limit_ns = conf.get("QUALITY_INTRADAY_GAP_MINUTES") * 60 * 10**9
    bar_ns = pd.Timedelta(minutes=_interval_minutes(universe.interval)).value
    t = frame["t"].to_numpy()
    sym = frame["symbol"].to_numpy()
    ses = frame["session"].to_numpy()
    starts_group = np.ones(len(t), dtype=bool)
    starts_group[1:] = (sym[1:] != sym[:-1]) | (ses[1:] != ses[:-1])
    ends_group = np.roll(starts_group, -1)
    if len(ends_group):
        ends_group[-1] = True
    previous_end = np.where(starts_group, open_ns[ses], np.roll(t, 1) + bar_ns)
    hole = t - previous_end
    session_over = close_ns[ses] <= universe.as_of.value
    tail = np.where(ends_group & session_over, close_ns[ses] - (t + bar_ns), 0)
    findings = []
    # A hole becomes certain when the next bar arrives (or the session closes): that moment is its ts, so a scan
    # reporting on (since, as_of] reports each hole exactly once; holes outside that window are not built at all.
    # A hole between bars ends at a bar, judged from the symbol's watermark; a hole up to the close at the close.
    for mask, begin, length, at_close in ((hole > limit_ns, previous_end, hole, False),
                                          (tail > limit_ns, t + bar_ns, tail, True)):
        since = universe.since if at_close else universe.earliest()
        for i in np.nonzero(mask & _in_window_ns(begin + length, universe.as_of, since, slack=1000))[0]:
            begin_ts = pd.Timestamp(begin[i], tz="UTC")
            findings.append(_intraday_gap(sym[i], begin_ts, length[i] / 60e9, universe.interval, at_close))
    return findings + _sessions_without_bars(frame, universe, sessions, opens, closes)


def _in_window_ns(stamps: np.ndarray, as_of: pd.Timestamp, since: pd.Timestamp | None, slack: int = 0) -> np.ndarray:
    """Which UTC nanosecond moments fall in the window (since, as_of], widened by `slack` ns each side for
    moments that are rounded later (the caller's findings are filtered by the exact window afterwards)."""
    inside = stamps <= as_of.value + slack
    return inside & (stamps > since.value - slack) if since is not None else inside


def _sessions_without_bars(frame: pd.DataFrame, universe: Universe, sessions: pd.DatetimeIndex,
                           opens: pd.Series, closes: pd.Series) -> list[Finding]:
    """Sessions closed in the window in which a symbol seen in an earlier session has no bar (ts: the close)."""
    open_ns, close_ns = nanos(opens), nanos(closes)
    last_session = np.searchsorted(open_ns, universe.as_of.value, side="right") - 1
    candidates = [k for k in np.nonzero(_in_window_ns(close_ns, universe.as_of, universe.since))[0]
                  if k <= last_session]
    if not candidates or frame.empty:
        return []
    first = frame.groupby("symbol", sort=True)["session"].min()
    findings = []
    for missing in candidates:
        present = set(frame.loc[frame["session"].to_numpy() == missing, "symbol"])
        for symbol in first.index[first.to_numpy() < missing]:
            if symbol in present:
                continue
            findings.append(Finding(
                symbol=symbol, type="coverage_gap", severity="critical", ts=closes.iloc[missing],
                value=float((close_ns[missing] - open_ns[missing]) / 60e9), threshold=0.0,
                detail=f"no {universe.interval} bars in the session of {sessions[missing]:%Y-%m-%d}",
                extra={"span": f"{sessions[missing]:%Y-%m-%d}"}, at_close=True,
            ))
    return findings


def _intraday_gap(symbol: str, begin: pd.Timestamp, minutes: float, interval: str, at_close: bool) -> Finding:
    end = begin + pd.Timedelta(minutes=minutes)
    return Finding(
        symbol=symbol, type="coverage_gap", severity="warning", ts=end, value=round(minutes, 1),
        threshold=float(conf.get("QUALITY_INTRADAY_GAP_MINUTES")),
        detail=f"no {interval} bars {begin:%Y-%m-%d %H:%M}–{end:%H:%M} UTC ({minutes:.0f} minutes) inside the session",
        extra={"span": f"{begin:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"}, at_close=at_close,
    )


def _interval_minutes(interval: str) -> int:
    return INTERVALS[interval] or 390
