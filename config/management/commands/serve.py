import os
import signal
import subprocess
import sys
import time

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
        consume_bars = [python, "manage.py", "consume_bars"]
        children = [
            subprocess.Popen([python, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"],
                             env=env),
            subprocess.Popen([python, "manage.py", "qcluster"], env=env, cwd=settings.BASE_DIR),
            subprocess.Popen(consume_bars, env=env, cwd=settings.BASE_DIR),
        ]
        if demo:
            children.append(subprocess.Popen([python, "manage.py", "demo_feed"], env=env, cwd=settings.BASE_DIR))
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
            # The web server and the cluster are the system; the demo feed may stop without taking them down.
            # The bar consumer is started again if it exits (its unacknowledged entries wait in the stream).
            while not stopping and all(child.poll() is None for child in children[:2]):
                time.sleep(0.5)
                if children[2].poll() is not None and not stopping:
                    self.stderr.write(f"consume_bars exited with {children[2].returncode}; starting it again")
                    time.sleep(2)
                    children[2] = subprocess.Popen(consume_bars, env=env, cwd=settings.BASE_DIR)
        finally:
            processes.stop_all(children, timeout=20)
            if settings.EMBEDDED_REDIS:
                embedded_redis.stop(settings.VAR_DIR)
            self.stdout.write("stopped")
