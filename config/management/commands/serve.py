import os
import signal
import subprocess
import sys

import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config import bootstrap
from tickstock_ops import embedded_redis, processes
from tickstock_ops.redis_client import get_redis


class Command(BaseCommand):
    help = "Migrate, set up, and run the whole system: ASGI web server (HTTP + WebSocket) and the django-q2 cluster."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true",
                            help="no demo data and no demo feed (as TICKSTOCK_DEMO=0)")

    def handle(self, *args, host: str, port: int, no_demo: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        try:
            get_redis().ping()
        except redis.RedisError as error:
            self.stderr.write(f"REDIS_URL={settings.REDIS_URL}: Redis is unreachable ({error}); "
                              "events wait in the outbox until it is back")
        bootstrap.ensure_schedules()
        demo = not no_demo and os.environ.get("TICKSTOCK_DEMO", "1") != "0"
        if demo:
            bootstrap.load_demo_data()
        username, password = bootstrap.ensure_admin(os.environ)

        env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
        python = sys.executable

        def command(*args: str) -> subprocess.Popen:
            return subprocess.Popen([python, "manage.py", *args], env=env, cwd=settings.BASE_DIR)

        # The web server and the cluster are the system; the demo feed may stop without taking them down.
        # The bar consumer is started again if it exits (its unacknowledged entries wait in the stream).
        essential = [
            subprocess.Popen([python, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"],
                             env=env),
            command("qcluster"),
        ]
        restarted = {"consume_bars": (lambda: command("consume_bars"), command("consume_bars"))}
        others = [command("demo_feed")] if demo else []
        redis_note = "embedded Redis at " + settings.REDIS_URL if settings.EMBEDDED_REDIS else settings.REDIS_URL
        self.stdout.write(self.style.SUCCESS(
            f"\nTickStock Ops on http://{host}:{port}/  (database: {settings.DATABASES['default']['ENGINE']}, "
            f"redis: {redis_note})\n"
            f"admin login: {username} / {password or '(as set before)'}\nCtrl-C stops everything.\n"
        ))
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            processes.supervise(essential, restarted, lambda: stopping, self.stderr.write)
        finally:
            processes.stop_all([*essential, *(process for _, process in restarted.values()), *others], timeout=20)
            if settings.EMBEDDED_REDIS:
                embedded_redis.stop(settings.VAR_DIR)
            self.stdout.write("stopped")
