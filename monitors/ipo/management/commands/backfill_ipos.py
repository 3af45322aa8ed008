from django.core.management.base import BaseCommand, CommandError

from monitors.ipo import clock, scan
from monitors.ipo.management.commands._ipo_command import DEMO_DAY, parse_day, parse_sources, report, sources_for
from tickstock_ops.progress import terminal_progress

MAX_DAYS = 3660  # ten years of daily scans; beyond that a window is a mistake, not a backfill


class Command(BaseCommand):
    help = ("Scan each day of a window ending at --end (default today). Resumable: a day already done for a "
            "source is skipped unless --force.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="length of the window in days (default 90)")
        parser.add_argument("--end", help="last day of the window, YYYY-MM-DD (default today in New York)")
        parser.add_argument("--sources", help="comma-separated: polygon,sec,nasdaq,news (default all)")
        parser.add_argument("--force", action="store_true", help="redo days already done")
        parser.add_argument("--demo", action="store_true",
                            help=f"backfill from the bundled demo recordings on a loopback server (default end "
                                 f"{DEMO_DAY})")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        if not 1 <= options["days"] <= MAX_DAYS:
            raise CommandError(f"--days {options['days']}: must be 1 to {MAX_DAYS}")
        default = DEMO_DAY if options["demo"] else clock.new_york_today()
        end = parse_day(options["end"], "--end") if options["end"] else default
        if end.toordinal() <= options["days"]:
            raise CommandError(f"--days {options['days']} before --end {end} starts before the year 1")
        sources = parse_sources(options["sources"])
        with (sources_for(self, options["demo"]),
              terminal_progress(f"backfill {options['days']}d", quiet=options["json"]) as progress):
            result = scan.backfill(options["days"], end, sources, force=options["force"], progress=progress)
        report(self, result, options["json"], demo_mode=options["demo"])
