"""Trading sessions from `exchange_calendars`: weekends, holidays, unscheduled closures, early closes, time zones.
Sessions are tz-naive midnight Timestamps (the library's convention); opens and closes are UTC."""

from datetime import datetime
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

from monitors.quality import conf


@lru_cache(maxsize=8)
def get_calendar(exchange: str | None = None) -> xcals.ExchangeCalendar:
    name = exchange or conf.get("QUALITY_DEFAULT_EXCHANGE")
    if name not in xcals.get_calendar_names():
        name = conf.get("QUALITY_DEFAULT_EXCHANGE")
    return xcals.get_calendar(name)


def utc(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def is_open(moment: datetime, exchange: str | None = None) -> bool:
    calendar = get_calendar(exchange)
    stamp = utc(moment)
    if not calendar.first_session <= stamp.tz_localize(None).normalize() <= calendar.last_session:
        return False
    return bool(calendar.is_open_at_time(stamp, side="left"))


def sessions(start: pd.Timestamp, end: pd.Timestamp, exchange: str | None = None) -> pd.DatetimeIndex:
    """Sessions whose date lies in [start, end] (dates, naive)."""
    calendar = get_calendar(exchange)
    start = max(pd.Timestamp(start).tz_localize(None).normalize(), calendar.first_session)
    end = min(pd.Timestamp(end).tz_localize(None).normalize(), calendar.last_session)
    if start > end:
        return pd.DatetimeIndex([])
    return calendar.sessions_in_range(start, end)


def last_closed_session(as_of: datetime, exchange: str | None = None) -> pd.Timestamp | None:
    """The newest session whose close is at or before `as_of`."""
    calendar = get_calendar(exchange)
    stamp = utc(as_of)
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
    calendar = get_calendar(exchange)
    return calendar.opens.reindex(sessions_index), calendar.closes.reindex(sessions_index)


def full_session_mask(sessions_index: pd.DatetimeIndex, exchange: str | None = None) -> pd.Series:
    """True for sessions of regular length; False for half days (early closes, late opens)."""
    opens, closes = session_bounds(sessions_index, exchange)
    length = closes - opens
    regular = length.max() if len(length) else pd.Timedelta(0)
    regular = max(regular, pd.Timedelta(hours=6, minutes=30))
    return length >= regular
