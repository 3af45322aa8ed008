"""Dashboard fan-out: many WebSocket clients, a steady event rate, through daphne and channels-redis.

Every event is published the way the apps publish (an outbox row in a transaction, delivered after commit to
Redis and the dashboard's Channels group); each client records when each event reached it. Prints the delivery
latency (commit -> client) over all client x event pairs, and how many of them never arrived.

    .venv/bin/python bench/ws_fanout.py [--clients 500] [--rate 100] [--seconds 30] [--servers 1]
                                        [--client-processes 2] [--batch 1]

`--servers 2` runs two daphne processes and splits the clients between them, as a load balancer would.
`--batch N` commits N events per transaction (rate stays events/s), as a scan publishing many at once does.
Runs on PostgreSQL + Redis (DATABASE_URL / REDIS_URL, default the local servers).
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Python puts this script's folder first on sys.path, where a benchmark module may share a standard library
# module's name (bench/queue.py): look here last.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE] + [str(HERE)]

EVENT_TYPE = "tickstock.bench.fanout"
# --layer pubsub: the project's settings with channels-redis' pub/sub layer (a group message is one PUBLISH that
# each process fans out in memory), written to a module in the run's temporary folder.
PUBSUB_SETTINGS = """from config.settings import *  # noqa: F403
CHANNEL_LAYERS["default"]["BACKEND"] = "channels_redis.pubsub.RedisPubSubChannelLayer"  # noqa: F405
"""
# Clients connect this many at once, like browsers reconnecting after a deploy. (When every socket joined the
# Channels group itself, a burst past 100 exhausted redis-py's connection pool: HTTP 500 on the handshake.)
CONNECT_BURST = 250
NUMBER = re.compile(rb'"n": ?(\d+)')


# The client side runs in its own processes (python bench/ws_fanout.py --client ...), so the clients' CPU is not
# the publisher's.


async def client_main(urls: list[str], cookie: str, origin_of: dict, events: int, out: Path, ready: Path,
                      stop: Path) -> None:
    import numpy as np
    from websockets.asyncio.client import connect

    arrivals = np.full((len(urls), events), np.nan)
    sockets, handshakes, rejected = [], [], []

    async def open_one(url: str):
        started = time.perf_counter()
        try:
            socket = await connect(url, additional_headers={"Cookie": cookie, "Origin": origin_of[url]},
                                   compression=None, max_queue=None, open_timeout=60, ping_interval=None)
        except Exception as error:  # e.g. HTTP 403: daphne rejected a handshake the app did not answer in time
            rejected.append(f"{type(error).__name__}: {error}"[:120])
            return None
        handshakes.append(time.perf_counter() - started)
        return socket

    for start in range(0, len(urls), CONNECT_BURST):
        opened = await asyncio.gather(*(open_one(url) for url in urls[start:start + CONNECT_BURST]))
        sockets += [socket for socket in opened if socket is not None]
    (out.parent / f"{out.stem}-handshakes.json").write_text(json.dumps({"seconds": handshakes,
                                                                          "rejected": rejected}))

    async def read(index: int, socket) -> None:
        row = arrivals[index]
        async for raw in socket:
            now = time.time()
            for match in NUMBER.findall(raw if isinstance(raw, bytes) else raw.encode()):
                n = int(match)
                if n < events and row[n] != row[n]:
                    row[n] = now

    readers = [asyncio.create_task(read(i, s)) for i, s in enumerate(sockets)]
    ready.write_text(str(len(sockets)))
    while not stop.exists():
        await asyncio.sleep(0.2)
    for socket in sockets:
        await socket.close()
    await asyncio.gather(*readers, return_exceptions=True)
    np.save(out, arrivals)


def run_client() -> None:
    spec = json.loads(sys.stdin.read())
    asyncio.run(client_main(spec["urls"], spec["cookie"], spec["origins"], spec["events"], Path(spec["out"]),
                            Path(spec["ready"]), Path(spec["stop"])))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--servers", type=int, default=1, help="daphne processes the clients are split between")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1, help="events per transaction")
    parser.add_argument("--layer", choices=["core", "pubsub"], default="core",
                        help="channels-redis layer: the configured core layer, or its pub/sub layer")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ws_fanout_"))
    if args.layer == "pubsub":
        (work / "ws_fanout_settings.py").write_text(PUBSUB_SETTINGS)
        sys.path.insert(0, str(work))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(work), os.environ.get("PYTHONPATH")]))
        os.environ["DJANGO_SETTINGS_MODULE"] = "ws_fanout_settings"

    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
    os.environ.setdefault("CHANNELS_PREFIX", f"benchws{os.getpid()}")
    from _setup import ROOT, django_on_postgres, percentile

    django_on_postgres("tickstock_bench_ws")

    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client

    from tickstock_ops import events, testing

    user, _ = get_user_model().objects.get_or_create(username="bench-ws", defaults={"is_staff": True})
    web = Client()
    web.force_login(user)
    cookie = f"sessionid={web.cookies['sessionid'].value}"

    servers, ports = [], []
    for k in range(args.servers):
        port = testing.free_port()
        log = (work / f"daphne{k}.log").open("w")
        servers.append(subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env=testing.process_env(LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE=os.environ["DJANGO_SETTINGS_MODULE"])))
        testing.wait_for_port(port, process=servers[-1])
        ports.append(port)
    urls = [f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/dashboard/" for i in range(args.clients)]
    origins = {url: url.replace("ws://", "http://").split("/ws/")[0] for url in set(urls)}
    count = int(args.rate * args.seconds)

    stop = work / "stop"
    clients = []
    for k in range(args.client_processes):
        mine = urls[k::args.client_processes]
        process = subprocess.Popen([sys.executable, __file__, "--client"], stdin=subprocess.PIPE, cwd=ROOT)
        process.stdin.write(json.dumps({"urls": mine, "cookie": cookie, "origins": origins, "events": count,
                                        "out": str(work / f"client{k}.npy"), "ready": str(work / f"ready{k}"),
                                        "stop": str(stop)}).encode())
        process.stdin.close()
        clients.append(process)
    deadline = time.monotonic() + 120
    while not all((work / f"ready{k}").exists() for k in range(args.client_processes)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in clients):
            for process in servers + clients:
                testing.stop(process)
            sys.exit(f"the WebSocket clients did not all connect (server logs in {work})")
        time.sleep(0.2)
    time.sleep(1.0)

    committed = np.zeros(count)
    interval = args.batch / args.rate
    started = time.monotonic()
    for first in range(0, count, args.batch):
        due = started + (first // args.batch) * interval
        time.sleep(max(0.0, due - time.monotonic()))
        numbers = list(range(first, min(first + args.batch, count)))
        with transaction.atomic():
            events.publish_many(EVENT_TYPE, [{"n": n} for n in numbers])
            committed[numbers] = time.time()
    publishing = time.monotonic() - started

    time.sleep(5.0)
    stop.touch()
    for process in clients:
        process.wait(timeout=120)
    arrivals = np.vstack([np.load(work / f"client{k}.npy") for k in range(args.client_processes)])
    shakes = [json.loads((work / f"client{k}-handshakes.json").read_text()) for k in range(args.client_processes)]
    opened = sorted(seconds for shake in shakes for seconds in shake["seconds"])
    rejected = [reason for shake in shakes for reason in shake["rejected"]]
    for server in servers:
        testing.stop(server)

    received = ~np.isnan(arrivals)
    latencies = ((arrivals - committed[None, :])[received] * 1000).tolist()
    missed = int((~received).sum())
    print(f"ws fan-out ({args.layer} layer): {args.clients} clients on {args.servers} daphne process(es), "
          f"{count} events at "
          f"{count / publishing:.0f}/s ({args.batch} per transaction) for {publishing:.1f} s: "
          f"{received.sum()} deliveries of {received.size}, {missed} missed")
    if opened:
        print(f"handshakes ({CONNECT_BURST} at once): p50 {percentile(opened, 0.5) * 1000:.0f} ms, p99 "
              f"{percentile(opened, 0.99) * 1000:.0f} ms, max {opened[-1] * 1000:.0f} ms; {len(rejected)} rejected"
              + (f" (first: {rejected[0]})" if rejected else ""))
    if latencies:
        print(f"commit -> client latency: p50 {percentile(latencies, 0.5):.0f} ms, p99 "
              f"{percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms")


if __name__ == "__main__":
    if sys.argv[1:] == ["--client"]:
        run_client()
    else:
        main()
