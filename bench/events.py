"""Event delivery: latency from commit to a Redis subscriber and to a WebSocket client, and publish throughput.

Runs on PostgreSQL + Redis (DATABASE_URL / REDIS_URL, default the local servers) with the real ASGI server.
    .venv/bin/python bench/events.py [--events 1000] [--throughput-events 10000]
"""

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

# Import from the repository, not from bench/: bench/queue.py would shadow the standard library's queue.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._setup import ROOT, django_on_postgres, percentile  # noqa: E402

django_on_postgres("tickstock_bench_events")

import redis  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from tickstock_ops import events, testing  # noqa: E402
from tickstock_ops.models import OutboxEvent  # noqa: E402
from tickstock_ops.redis_client import get_redis  # noqa: E402


def start_server() -> tuple[subprocess.Popen, str]:
    port = testing.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT, env=testing.process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    testing.wait_for_port(port, process=process)
    return process, f"127.0.0.1:{port}"


def staff_cookie() -> str:
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def measure_latency(count: int, rate: float) -> None:
    process, server = start_server()
    arrivals_redis: dict[str, float] = {}
    arrivals_ws: dict[str, float] = {}
    done = threading.Event()

    subscriber = redis.Redis.from_url(testing.process_env()["REDIS_URL"]).pubsub()
    subscriber.psubscribe("tickstock.bench.*")
    subscriber.get_message(timeout=1)

    def read_redis():
        while not done.is_set():
            message = subscriber.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                arrivals_redis[json.loads(message["data"])["id"]] = time.perf_counter()

    socket = connect(f"ws://{server}/ws/dashboard/", open_timeout=10,
                     additional_headers={"Cookie": staff_cookie(), "Origin": f"http://{server}"})

    def read_socket():
        while not done.is_set():
            try:
                data = json.loads(socket.recv(timeout=0.2))
            except TimeoutError:
                continue
            now = time.perf_counter()
            for item in data["events"]:
                arrivals_ws[item["event"]["id"]] = now

    readers = [threading.Thread(target=read_redis), threading.Thread(target=read_socket)]
    for reader in readers:
        reader.start()
    time.sleep(0.5)

    committed: dict[str, float] = {}
    interval = 1 / rate
    for n in range(count):
        with transaction.atomic():
            event = events.publish("tickstock.bench.latency", {"n": n})
            started = time.perf_counter()
        committed[str(event.event_id)] = started
        time.sleep(max(0.0, interval - (time.perf_counter() - started)))

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (len(arrivals_redis) < count or len(arrivals_ws) < count):
        time.sleep(0.05)
    done.set()
    for reader in readers:
        reader.join()
    socket.close()
    testing.stop(process)

    for name, arrivals in (("Redis subscriber", arrivals_redis), ("WebSocket client", arrivals_ws)):
        latencies = [(arrivals[i] - t) * 1000 for i, t in committed.items() if i in arrivals]
        print(f"commit -> {name}: {len(latencies)}/{count} events at {rate:.0f}/s, "
              f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
              f"max {max(latencies):.1f} ms")


def vacuum_outbox() -> None:
    """This machine's PostgreSQL runs with autovacuum off; without it each run would start on the dead rows of
    the previous one, which a production server's autovacuum (tuned for this table by a migration) removes."""
    from django.db import connection

    OutboxEvent.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tickstock_ops_outboxevent")


def measure_throughput(count: int, per_transaction: int, together: bool = False) -> None:
    vacuum_outbox()
    client = get_redis()
    before = client.xlen("tickstock.bench.throughput")
    started = time.perf_counter()
    for start in range(0, count, per_transaction):
        numbers = range(start, min(count, start + per_transaction))
        with transaction.atomic():
            if together:
                events.publish_many("tickstock.bench.throughput", [{"n": n} for n in numbers])
            else:
                for n in numbers:
                    events.publish("tickstock.bench.throughput", {"n": n})
    elapsed = time.perf_counter() - started
    delivered = client.xlen("tickstock.bench.throughput") - before
    how = "publish_many()" if together else "publish()"
    print(f"publish throughput, {how}, {per_transaction} event(s) per transaction: {count} events in "
          f"{elapsed:.2f} s = {count / elapsed:,.0f} events/s (committed and on Redis: {delivered})")


def publish_alone(count: int) -> None:
    for n in range(count):
        with transaction.atomic():
            events.publish("tickstock.bench.parallel", {"n": n})


def measure_parallel_throughput(count: int, processes: int) -> None:
    """Several publishing processes at once (web workers, django-q2 workers, commands), one event per transaction."""
    vacuum_outbox()
    client = get_redis()
    before = client.xlen("tickstock.bench.parallel")
    started = time.perf_counter()
    publishers = [subprocess.Popen([sys.executable, __file__, "--publish-alone", str(count // processes)],
                                   cwd=ROOT, env=testing.process_env()) for _ in range(processes)]
    for publisher in publishers:
        publisher.wait()
    elapsed = time.perf_counter() - started
    delivered = client.xlen("tickstock.bench.parallel") - before
    total = count // processes * processes
    print(f"publish throughput, {processes} processes, 1 event per transaction: {total} events in {elapsed:.2f} s "
          f"= {total / elapsed:,.0f} events/s (committed and on Redis: {delivered})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--publish-alone", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200, help="events per second during the latency run")
    parser.add_argument("--throughput-events", type=int, default=10000)
    args = parser.parse_args()
    if args.publish_alone:
        publish_alone(args.publish_alone)
        return

    vacuum_outbox()
    get_redis().delete("tickstock.bench.latency", "tickstock.bench.throughput", "tickstock.bench.parallel")
    print(f"database: {testing.database_url().split('@')[-1]}, redis: {get_redis().connection_pool}")
    measure_latency(args.events, args.rate)
    measure_throughput(args.throughput_events, 1)
    measure_throughput(args.throughput_events, 100)
    measure_throughput(args.throughput_events, 100, together=True)
    measure_parallel_throughput(args.throughput_events, 4)
    OutboxEvent.objects.all().delete()


if __name__ == "__main__":
    main()
