from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from monitors.quality import loader
from monitors.quality.models import INTERVALS
from tickstock_ops import events
from tickstock_ops.progress import terminal_progress

MAX_LISTED_ERRORS = 200


class Command(BaseCommand):
    help = "Import a bars CSV (symbol,timestamp,open,high,low,close,volume); idempotent per bar."

    def add_arguments(self, parser):
        parser.add_argument("path", help="bars CSV")
        parser.add_argument("--source", help="where the bars come from (default: csv)")
        parser.add_argument("--interval", default="1d", choices=list(INTERVALS))
        parser.add_argument("--actions", help="CSV of splits and dividends: symbol,date,kind,ratio")

    def handle(self, *args, path, source, interval, actions, **options):
        try:
            with terminal_progress(f"import {Path(path).name}") as progress:
                result, action_result = loader.load_bars_and_actions(path, actions, source=source, interval=interval,
                                                                     progress=progress)
        except loader.LoadError as error:
            raise CommandError(f"{error}; nothing was stored" + (" from either file" if actions else "")) from error
        self._report_errors(path, result.errors)
        self.stdout.write(
            f"{path}: {result.rows} rows, {result.inserted} new, {result.updated} updated, "
            f"{result.unchanged} unchanged, {len(result.errors)} rejected"
            + (f", {result.duplicates} repeated a bar already in the file (the later row wins)"
               if result.duplicates else "")
        )
        for note in result.notes:
            self.stdout.write(f"{path}: {note}")
        if action_result is not None:
            self._report_errors(actions, action_result.errors)
            self.stdout.write(f"{actions}: {action_result.rows} rows, {action_result.created} new, "
                              f"{action_result.updated} updated, {len(action_result.errors)} rejected")
        events.report_waiting(self.stderr)
        summary, rejected = _summary(result, action_result)
        if rejected:
            raise CommandError(summary)  # exit status 1: some rows were not stored
        self.stdout.write(summary)

    def _report_errors(self, path: str, errors: list) -> None:
        for error in errors[:MAX_LISTED_ERRORS]:
            self.stderr.write(f"{path}: {error}")
        if len(errors) > MAX_LISTED_ERRORS:
            self.stderr.write(f"{path}: … and {len(errors) - MAX_LISTED_ERRORS} more rejected rows")


def _summary(bars: loader.LoadResult, actions: loader.ActionsResult | None) -> tuple[str, int]:
    """One line: what was stored and what was not; exit status 1 when a row was rejected (docs/commands.md)."""
    stored = f"stored {bars.inserted} new and {bars.updated} updated bars ({bars.unchanged} unchanged)"
    rejected = len(bars.errors)
    if actions is not None:
        stored += f" and {actions.created} new and {actions.updated} updated corporate actions"
        rejected += len(actions.errors)
    if not rejected:
        return f"load_bars: {stored}; no row rejected", 0
    return f"load_bars: {stored}; not stored: {rejected} rejected rows, listed above", rejected
