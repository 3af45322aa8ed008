from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from monitors.quality import loader
from monitors.quality.polygon import fetch_daily_bars
from tickstock_ops import events
from tickstock_ops.symbols import SymbolError, normalise_symbol


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Import daily bars from Polygon aggregates (a second source beside CSV files)."

    def add_arguments(self, parser):
        parser.add_argument("--symbols", required=True, help="comma-separated symbols")
        parser.add_argument("--start", help="first day (default: 30 days before --end)")
        parser.add_argument("--end", help="last day (default: today)")
        parser.add_argument("--source", default="polygon", help="source name the bars are stored under")
        parser.add_argument("--adjusted", action="store_true", help="split-adjusted bars instead of as traded")

    def handle(self, *args, symbols, start, end, source, adjusted, **options):
        try:
            names = [normalise_symbol(s) for s in symbols.split(",") if s.strip()]
        except SymbolError as error:
            raise CommandError(f"--symbols: {error}") from error
        last = day(end) if end else date.today()
        first = day(start) if start else last - timedelta(days=30)
        if first > last:
            raise CommandError("--start must not be after --end")
        try:
            result = fetch_daily_bars(names, first, last, source=source, adjusted=adjusted)
        except loader.LoadError as error:
            raise CommandError(str(error)) from error
        for symbol, error in result.failures.items():
            self.stderr.write(f"{symbol}: {error}")
        for problem in result.rejected:
            self.stderr.write(problem)
        loaded = result.loaded
        self.stdout.write(f"{len(names) - len(result.failures)} of {len(names)} symbols: {loaded.rows} bars, "
                          f"{loaded.inserted} new, {loaded.updated} updated, {loaded.unchanged} unchanged, "
                          f"{len(loaded.errors)} rejected")
        events.report_waiting(self.stderr)
        if result.failures:
            raise CommandError(f"{len(result.failures)} symbol(s) failed: {', '.join(result.failures)}")
