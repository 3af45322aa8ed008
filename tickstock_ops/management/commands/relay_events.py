import time

from django.core.management.base import BaseCommand

from tickstock_ops import events


class Command(BaseCommand):
    help = "Publish outbox events not yet on Redis, oldest first. --once drains and exits."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="drain the outbox once and exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")

    def handle(self, *args, once: bool, interval: float, **options):
        while True:
            result = events.flush()
            if result.delivered:
                self.stdout.write(f"delivered {result.delivered} events")
            if result.failed:
                self.stderr.write(f"{events.pending_count()} events wait in the outbox: {result.error}")
            if once:
                if result.failed:
                    raise SystemExit(1)
                return
            time.sleep(interval)
