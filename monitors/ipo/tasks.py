"""django-q2 task functions: thin wrappers around the scan and the trading-activity check."""

from datetime import timedelta

from monitors.ipo import clock, scan, trading
from monitors.ipo.sources import CLIENTS


def _new_york_today():
    return clock.new_york_today()


def evening_scan() -> dict:
    """After SEC's evening index publication: that day's filings and the calendars."""
    result = scan.scan(_new_york_today(), list(CLIENTS))
    return {"run": result.run.pk, "ipos": len(result.ipo_ids), "errors": len(result.errors)}


def morning_scan() -> dict:
    """Before the open: the previous day again (an index published late is picked up) and today's calendars."""
    today = _new_york_today()
    previous = scan.scan(today - timedelta(days=1), ["sec"])
    current = scan.scan(today, [name for name in CLIENTS if name != "sec"])
    return {"runs": [previous.run.pk, current.run.pk], "ipos": len(set(previous.ipo_ids) | set(current.ipo_ids)),
            "errors": len(previous.errors) + len(current.errors)}


def check_trading_activity() -> dict:
    result = trading.check_trading(_new_york_today())
    return {"checked": result.checked, "started": result.started, "errors": result.errors,
            "disabled": result.disabled}
