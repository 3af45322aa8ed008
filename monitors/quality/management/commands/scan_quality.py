import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from monitors.quality.models import INTERVALS
from monitors.quality.scan import run_scan
from tickstock_ops import events
from tickstock_ops.events import PayloadEncoder
from tickstock_ops.progress import terminal_progress
from tickstock_ops.symbols import normalise_symbol


def moment(text: str):
    """ISO-8601 date or date-time; a date means its midnight UTC, a time without offset is UTC."""
    from datetime import UTC, datetime, time

    value = parse_datetime(text)
    if value is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(f"{text!r} is not an ISO-8601 date or date-time")
        value = datetime.combine(day, time())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Run one data-quality scan; reports anomalies on bars in (since, as-of]."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="ISO-8601 moment the scan is as of (default: now)")
        parser.add_argument("--since", help="report bars after this moment (default: the previous scan's as-of)")
        parser.add_argument("--symbols", help="comma-separated symbols (default: every symbol with bars)")
        parser.add_argument("--interval", default="1d", choices=list(INTERVALS))
        parser.add_argument("--full", action="store_true",
                            help="read every bar of the look-back window, even where the arrival state would do")
        parser.add_argument("--json", action="store_true", help="print the scan as JSON")

    def handle(self, *args, **options):
        try:
            as_of = moment(options["as_of"]) if options["as_of"] else None
            since = moment(options["since"]) if options["since"] else None
            symbols = [normalise_symbol(s) for s in (options["symbols"] or "").split(",") if s.strip()] or None
        except ValueError as error:
            raise CommandError(str(error)) from error
        if as_of and since and since >= as_of:
            raise CommandError("--since must be before --as-of")
        with terminal_progress(f"scan {options['interval']}", quiet=options["json"]) as progress:
            result = run_scan(as_of=as_of, since=since, symbols=symbols, interval=options["interval"],
                              full=options["full"], progress=progress)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), cls=PayloadEncoder))
        else:
            scan = result.scan
            self.stdout.write(f"scan {scan.pk}: {scan.symbols_scanned} symbols as of {scan.as_of:%Y-%m-%d %H:%M} UTC"
                              f" in {scan.duration_s:.2f}s, {scan.anomaly_count} anomalies")
            for name, count in sorted(scan.anomaly_counts.items()):
                self.stdout.write(f"  {name}: {count}")
            worst = sorted(result.reports, key=lambda r: r["overall_score"])[:10]
            for report in worst:
                if report["overall_score"] < 100:
                    self.stdout.write(f"  {report['symbol']}: {report['overall_score']:.0f} — "
                                      + "; ".join(report["recommendations"][:2]))
        events.report_waiting(self.stderr)
