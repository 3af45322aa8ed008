"""Trading sessions from `exchange_calendars`: weekends, holidays, unscheduled closures, early closes, time zones.
Sessions are tz-naive midnight Timestamps (the library's convention); opens and closes are UTC.

The library builds a calendar for the last 20 years unless told a start. Here a calendar starts at
QUALITY_CALENDAR_START when that is set, and is rebuilt from January 1st of an earlier year whenever a question
reaches before it (a scan over history from 1990 asks about 1990), then kept for the life of the process, so that
decades of stored history are judged against the real sessions of their time.
"""

import threading
from datetime import datetime
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

from monitors.quality import conf

_built: dict[str, xcals.ExchangeCalendar] = {}
_lock = threading.Lock()


def get_calendar(exchange: str | None = None, covering=None) -> xcals.ExchangeCalendar:
    """The exchange's calendar (the default exchange's when unknown), reaching back at least to `covering` (a date
    or moment) and to QUALITY_CALENDAR_START; built once per process and rebuilt only to reach further back."""
    name = _known(exchange or conf.get("QUALITY_DEFAULT_EXCHANGE"))
    wanted = _earliest_wanted(covering)
    calendar = _built.get(name)
    if calendar is not None and (wanted is None or wanted >= calendar.first_session):
        return calendar
    with _lock:
        calendar = _built.get(name)
        if calendar is None or (wanted is not None and wanted < calendar.first_session):
            calendar = _build(name, wanted)
            _built[name] = calendar
    return calendar


def _known(name: str) -> str:
    return name if name in _names() else conf.get("QUALITY_DEFAULT_EXCHANGE")


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(xcals.get_calendar_names())


def _build(name: str, wanted: pd.Timestamp | None) -> xcals.ExchangeCalendar:
    if wanted is None:
        return xcals.get_calendar(name)
    default = xcals.get_calendar(name)
    start = min(pd.Timestamp(year=wanted.year, month=1, day=1), default.first_session)
    bound = type(default).bound_min()
    if bound is not None:
        start = max(start, pd.Timestamp(bound).tz_localize(None))
    return xcals.get_calendar(name, start=start)


def _earliest_wanted(covering) -> pd.Timestamp | None:
    days = []
    for day in (conf.get("QUALITY_CALENDAR_START"), covering):
        if day is not None and not pd.isna(day):
            stamp = pd.Timestamp(day)
            days.append((stamp.tz_convert(None) if stamp.tzinfo else stamp).normalize())
    return min(days) if days else None


def utc(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def is_open(moment: datetime, exchange: str | None = None) -> bool:
    stamp = utc(moment)
    calendar = get_calendar(exchange, covering=stamp)
    if not calendar.first_session <= stamp.tz_localize(None).normalize() <= calendar.last_session:
        return False
    return bool(calendar.is_open_at_time(stamp, side="left"))


def sessions(start: pd.Timestamp, end: pd.Timestamp, exchange: str | None = None) -> pd.DatetimeIndex:
    """Sessions whose date lies in [start, end] (dates, naive)."""
    start = pd.Timestamp(start).tz_localize(None).normalize()
    calendar = get_calendar(exchange, covering=start)
    start = max(start, calendar.first_session)
    end = min(pd.Timestamp(end).tz_localize(None).normalize(), calendar.last_session)
    if start > end:
        return pd.DatetimeIndex([])
    return calendar.sessions_in_range(start, end)


def last_closed_session(as_of: datetime, exchange: str | None = None) -> pd.Timestamp | None:
    """The newest session whose close is at or before `as_of`."""
    stamp = utc(as_of)
    calendar = get_calendar(exchange, covering=stamp - pd.Timedelta(days=7))
    day = min(stamp.tz_localize(None).normalize(), calendar.last_session)
    if day < calendar.first_session:
        return None
    session = calendar.date_to_session(day, direction="previous")
    if calendar.session_close(session) > stamp:
        if session == calendar.first_session:
            return None
        session = calendar.previous_session(session)
    return session


def current_session(as_of: datetime, exchange: str | None = None) -> pd.Timestamp | None:
    """The session open at `as_of`, or None when the market is closed."""
    if not is_open(as_of, exchange):
        return None
    return get_calendar(exchange).minute_to_session(utc(as_of), direction="none")


def session_bounds(sessions_index: pd.DatetimeIndex, exchange: str | None = None) -> tuple[pd.Series, pd.Series]:
    """UTC opens and closes of the given sessions (early closes included)."""
    calendar = get_calendar(exchange, covering=sessions_index.min() if len(sessions_index) else None)
    return calendar.opens.reindex(sessions_index), calendar.closes.reindex(sessions_index)


def full_session_mask(sessions_index: pd.DatetimeIndex, exchange: str | None = None) -> pd.Series:
    """True for sessions of regular length; False for half days (early closes, late opens)."""
    opens, closes = session_bounds(sessions_index, exchange)
    length = closes - opens
    regular = length.max() if len(length) else pd.Timedelta(0)
    regular = max(regular, pd.Timedelta(hours=6, minutes=30))
    return length >= regular
