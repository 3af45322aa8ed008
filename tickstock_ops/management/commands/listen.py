import json
import sys
import time

import redis
from django.core.management.base import BaseCommand, CommandError

from tickstock_ops.listen import StreamListener
from tickstock_ops.redis_client import get_redis


class Command(BaseCommand):
    help = "Print every event envelope as one JSON line, read from the Redis Streams with a consumer group."

    def add_arguments(self, parser):
        parser.add_argument("--types", default="tickstock.*",
                            help="comma-separated globs of event types (default 'tickstock.*')")
        parser.add_argument("--from-start", action="store_true",
                            help="a new consumer group starts at the oldest kept event instead of now")
        parser.add_argument("--group", default="listen", help="consumer group name (default 'listen')")
        parser.add_argument("--consumer", default=None, help="consumer name within the group (default host name)")
        parser.add_argument("--max-events", type=int, default=0, help="exit after this many events")
        parser.add_argument("--idle-exit", type=float, default=0,
                            help="exit after this many seconds without an event")

    def handle(self, *args, types: str, from_start: bool, group: str, consumer: str | None, max_events: int,
               idle_exit: float, **options):
        patterns = [p.strip() for p in types.split(",") if p.strip()]
        listener = StreamListener(get_redis(), patterns, group=group, consumer=consumer, from_start=from_start)
        seen = 0
        last_event = time.monotonic()

        def should_stop() -> bool:
            return bool(idle_exit) and time.monotonic() - last_event > idle_exit

        try:
            for stream, entry_id, envelope in listener.envelopes(should_stop):
                sys.stdout.write(json.dumps(envelope, separators=(",", ":")) + "\n")
                sys.stdout.flush()
                listener.ack(stream, entry_id)
                seen += 1
                last_event = time.monotonic()
                if max_events and seen >= max_events:
                    return
        except redis.RedisError as error:
            raise CommandError(f"REDIS_URL: cannot read the event streams: {error}") from None
        except KeyboardInterrupt:
            return
