import os
import warnings

from django.core.management.base import BaseCommand, CommandError

from demo import feed


class Command(BaseCommand):
    help = ("The live demo: one-minute bars for the demo symbols with planted problems, scanned every few seconds, "
            "so alerts arrive on the dashboard (live while the exchange is open, else a sped-up replay).")

    def add_arguments(self, parser):
        parser.add_argument("--symbols", type=int, default=40, help="how many demo symbols to feed (10–100)")
        parser.add_argument("--speed", type=float, default=1.0, help="replay: simulated minutes per second")
        parser.add_argument("--scan-every", type=float, default=10.0, help="seconds between scans")
        parser.add_argument("--runs", type=int, default=None, help="stop after this many replays")

    def handle(self, *args, symbols: int, speed: float, scan_every: float, runs: int | None, **options):
        if os.environ.get("TICKSTOCK_DEMO", "1") == "0":
            raise CommandError("the demo is off (TICKSTOCK_DEMO=0)")
        if not 10 <= symbols <= 100:
            raise CommandError(f"--symbols must be between 10 and 100, not {symbols}")
        if speed <= 0 or scan_every <= 0:
            raise CommandError("--speed and --scan-every must be positive")
        # numpy's note on time-zone-less datetime64 views in the checks says nothing to someone watching a demo.
        warnings.filterwarnings("ignore", message="no explicit representation of timezones")
        try:
            feed.run(symbols=symbols, speed=speed, scan_every=scan_every, runs=runs, stdout=self.stdout,
                               verbose=options["verbosity"] > 1)
        except KeyboardInterrupt:
            self.stdout.write("demo feed stopped")
