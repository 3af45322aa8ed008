import signal

import redis
from django.core.management.base import BaseCommand, CommandError

from monitors.quality import conf
from monitors.quality.live import consumer, streams
from tickstock_ops.redis_client import connect


class Command(BaseCommand):
    help = ("Consume TickStock's bar streams (tickstock.bars.<interval>) into the bar table with a consumer group, "
            "until stopped; --once drains what is there and exits (docs/live-bars.md).")

    def add_arguments(self, parser):
        parser.add_argument("--intervals", default=",".join(conf.get("QUALITY_LIVE_INTERVALS")),
                            help="comma-separated intervals whose streams to read (default: %(default)s)")
        parser.add_argument("--group", default=conf.get("QUALITY_LIVE_GROUP"), help="consumer group name")
        parser.add_argument("--once", action="store_true", help="drain what is there, then exit")

    def handle(self, *args, intervals: str, group: str, once: bool, **options):
        try:
            names = streams.parse_intervals(intervals)
        except ValueError as error:
            raise CommandError(f"--intervals: {error}") from error
        if not group.strip():
            raise CommandError("--group must not be empty")
        worker = consumer.BarConsumer(connect(socket_timeout=conf.get("QUALITY_LIVE_BLOCK_MS") / 1000 + 10),
                                      names, group=group.strip())
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: worker.stop.set())
        if not once:
            self.stdout.write(f"consuming {', '.join(worker.streams)} as {worker.name} in group {worker.group}")
        try:
            totals = worker.run(once=once)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise CommandError(f"Redis is unreachable ({error}); nothing was lost, the entries wait in the stream"
                               ) from error
        except redis.ResponseError as error:
            raise CommandError(f"Redis refused the consumer group: {error}") from error
        self.stdout.write(f"{totals.entries} entries: {totals.stored} bars stored, {totals.rejected} rejected"
                          + (f", {totals.claimed} claimed from other consumers" if totals.claimed else ""))
