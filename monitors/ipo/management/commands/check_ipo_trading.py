import json

from django.core.management.base import BaseCommand

from monitors.ipo import clock, trading
from monitors.ipo.management.commands._ipo_command import parse_day
from tickstock_ops import events


class Command(BaseCommand):
    help = ("The trading-activity check alone: deals due by --date (default today in New York) are looked up in "
            "Polygon's daily bars up to that date; the first bar moves a deal to trading.")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="check as of this day, YYYY-MM-DD (default today in New York)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        day = parse_day(options["date"], "--date") if options["date"] else clock.new_york_today()
        result = trading.check_trading(day)
        if result.disabled:
            self.stderr.write(result.disabled)
        for error in result.errors:
            self.stderr.write(error)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), indent=2))
        else:
            started = ", ".join(result.started) or "none"
            self.stdout.write(f"{day}: {result.checked} deals checked, started trading: {started}, "
                              f"{len(result.errors)} errors")
        events.report_waiting(self.stderr)
