"""What scan_ipos and backfill_ipos share: argument parsing, demo mode, the report."""

import contextlib
import json
from datetime import date

from django.core.management.base import CommandError

from monitors.ipo import demo
from monitors.ipo.sources import parse_source_names
from tickstock_ops import events


def parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{flag} {value!r} is not a date: use YYYY-MM-DD") from None


def parse_sources(value: str | None) -> list[str]:
    try:
        return parse_source_names(value)
    except ValueError as error:
        raise CommandError(f"--sources: {error}") from None


DEMO_DAY = demo.DEMO_DAYS[-1]


@contextlib.contextmanager
def sources_for(command, use_demo: bool):
    """The live sources, or with --demo the bundled recordings on a loopback server, said so on stderr."""
    if not use_demo:
        yield
        return
    with demo.serving() as url:
        command.stderr.write(f"DEMO DATA: every source is the bundled recordings in monitors/ipo/demo_data, served "
                             f"on {url}; nothing is fetched from the real sources")
        yield


def report(command, result, as_json: bool, demo_mode: bool = False) -> None:
    for name, why in result.disabled.items():
        command.stderr.write(f"{name}: source disabled: {why}")
    for error in result.errors:
        command.stderr.write(f"{error['source']} {error['days']}: {error['error']}")
    if as_json:
        body = result.as_json()
        if demo_mode:
            body["demo"] = True
        command.stdout.write(json.dumps(body, indent=2))
    else:
        for name, stats in result.stats.items():
            command.stdout.write(f"{name}: {stats['fetched']} fetched, {stats['errors']} errors, "
                                 f"{stats['requests']} requests")
        if result.skipped_days:
            command.stdout.write(f"{result.skipped_days} source-days already done were skipped (--force redoes them)")
        if result.trading_check is not None:
            started = ", ".join(result.trading_check.started) or "none"
            command.stdout.write(f"trading check as of {result.trading_check.date}: "
                                 f"{result.trading_check.checked} deals checked, started trading: {started}")
        command.stdout.write(f"{len(result.ipo_ids)} IPOs touched" + (" (demo data)" if demo_mode else ""))
    events.report_waiting(command.stderr)

