"""What scan_ipos and backfill_ipos share: argument parsing, the progress bar, the report."""

import json
import sys
from datetime import date

from django.core.management.base import CommandError

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


class ProgressBar:
    """A one-line bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream, label: str):
        self.stream = stream
        self.label = label
        self.enabled = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or not total:
            return
        width = 30
        filled = int(width * done / total)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def report(command, result, as_json: bool) -> None:
    for name, why in result.disabled.items():
        command.stderr.write(f"{name}: source disabled: {why}")
    for error in result.errors:
        command.stderr.write(f"{error['source']} {error['days']}: {error['error']}")
    if as_json:
        command.stdout.write(json.dumps(result.as_json(), indent=2))
    else:
        for name, stats in result.stats.items():
            command.stdout.write(f"{name}: {stats['fetched']} fetched, {stats['errors']} errors, "
                                 f"{stats['requests']} requests")
        if result.skipped_days:
            command.stdout.write(f"{result.skipped_days} source-days already done were skipped (--force redoes them)")
        command.stdout.write(f"{len(result.ipo_ids)} IPOs touched")
    events.report_waiting(command.stderr)


def stderr_stream():
    return sys.stderr
