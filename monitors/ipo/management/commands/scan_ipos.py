from django.core.management.base import BaseCommand

from monitors.ipo import clock, scan
from monitors.ipo.management.commands._ipo_command import DEMO_DAY, parse_day, parse_sources, report, sources_for
from tickstock_ops.progress import terminal_progress


class Command(BaseCommand):
    help = ("One daily scan of every enabled IPO source, then the trading check of the deals due by that date; a "
            "failing source is reported and the others finish.")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the day to scan, YYYY-MM-DD (default today in New York)")
        parser.add_argument("--sources", help="comma-separated: polygon,sec,nasdaq,news (default all)")
        parser.add_argument("--demo", action="store_true",
                            help=f"scan the bundled demo recordings on a loopback server (default date {DEMO_DAY})")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        default = DEMO_DAY if options["demo"] else clock.new_york_today()
        day = parse_day(options["date"], "--date") if options["date"] else default
        sources = parse_sources(options["sources"])
        with sources_for(self, options["demo"]), terminal_progress(f"scan {day}", quiet=options["json"]) as progress:
            result = scan.scan(day, sources, progress=progress)
        report(self, result, options["json"], demo_mode=options["demo"])
