"""Live bars benchmark on PostgreSQL + Redis (issue 17). Prints three figures:

1. throughput, one consumer: 5,000 symbols × 60 minutes of minute bars (300,000) published to
   `tickstock.bars.1m` as fast as Redis takes them, then drained by one consumer process: bars stored per second;
2. the same with two consumer processes in one group, and the ratio to one;
3. latency at a realistic rate: 5,000 bars (one minute of the universe) published in one burst, then quiet until
   the next burst, consumed by one running consumer: XADD (the entry id's time) → commit, p50/p99/max. The
   minute between bursts is compressed to --burst-every seconds, which changes nothing for a consumer that is
   idle between bursts anyway.

Wall-clock figures depend on what else the machine runs; each throughput line also prints the CPU seconds the
consumers, their PostgreSQL backends and Redis spent, which do not.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tickstock_live_bench REDIS_URL=redis://127.0.0.1:6379/6 \
        .venv/bin/python bench/live_bars.py [--symbols 5000] [--minutes 60] [--bursts 20] [--burst-every 5]

The database is created and migrated if missing; the stream and the benchmark's bars (source "bench") are
replaced on each run.
"""

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path[:] = [str(BASE_DIR)] + [p for p in sys.path if Path(p or ".").resolve() != BASE_DIR / "bench"]
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
os.environ.setdefault("LOG_LEVEL", "ERROR")

from bench._setup import django_on_postgres, percentile  # noqa: E402

DATABASE = "tickstock_live_bench"
SOURCE = "bench"
HISTORY = "bench-history"
GROUP = "bench"


def reset(symbols: int) -> None:
    """An empty stream, none of the benchmark's bars, and a bar table holding a session of history (as in
    production: its statistics, which the writer's plans depend on, are those of a populated table)."""
    from django.db import connection

    from monitors.quality import loader
    from monitors.quality.live import streams
    from monitors.quality.models import Bar
    from tickstock_ops.redis_client import get_redis

    get_redis().delete(streams.stream_key("1m"))
    Bar.objects.filter(source=SOURCE, interval="1m").delete()
    history = minutes_of_bars(symbols, 390, start="2026-11-26 09:30").drop(columns="source")
    if Bar.objects.filter(source=HISTORY, interval="1m").count() < len(history):
        print(f"  loading a session of history ({len(history):,} bars, once)")
        loader.upsert_frame(history, source=HISTORY, interval="1m")
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Bar._meta.db_table}")


def minutes_of_bars(symbols: int, minutes: int, start: str = "2026-11-27 09:30"):
    from monitors.quality.tests.live_builders import minute_bars

    return minute_bars(symbols, minutes, start=start, source=SOURCE)


def publish(frame) -> float:
    from monitors.quality.live import streams
    from tickstock_ops.redis_client import connect

    started = time.perf_counter()
    streams.publish_bars(connect(socket_timeout=30), frame, interval="1m")
    return time.perf_counter() - started


def consumer_process(ready, go, results, once: bool, stop_after: float) -> None:
    """One consumer in a process of its own: set up, wait for the start signal, consume, report."""
    django_on_postgres(DATABASE)
    import threading

    from monitors.quality.live.consumer import BarConsumer
    from tickstock_ops.redis_client import connect

    latencies: list[float] = []

    def on_stored(stream, ids, committed_at):
        latencies.extend(committed_at * 1000 - int(entry_id.split(b"-")[0]) for entry_id in ids)

    worker = BarConsumer(connect(socket_timeout=30), ["1m"], group=GROUP, block_ms=200, on_stored=on_stored)
    worker.join()
    backend = backend_cpu_seconds()
    ready.release()
    go.wait()
    if not once:
        threading.Timer(stop_after, worker.stop.set).start()
    started, cpu = time.perf_counter(), time.process_time()
    totals = worker.run(once=once)
    results.put({"stored": totals.stored, "seconds": time.perf_counter() - started, "latencies": latencies,
                 "cpu": time.process_time() - cpu, "db_cpu": backend()})


def backend_cpu_seconds():
    """A function giving the CPU seconds this connection's PostgreSQL backend has used since now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    start = used()
    return lambda: used() - start


def redis_cpu_seconds() -> float:
    from tickstock_ops.redis_client import get_redis

    info = get_redis().info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def run_consumers(count: int, *, once: bool = True, stop_after: float = 0.0, during=None) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    processes = [context.Process(target=consumer_process, args=(ready, go, results, once, stop_after))
                 for _ in range(count)]
    for process in processes:
        process.start()
    for _ in processes:
        if not ready.acquire(timeout=120):
            raise RuntimeError("a consumer did not start within 120 s")
    go.set()
    if during is not None:
        during()
    outcome = [results.get(timeout=900) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return outcome


def throughput(frame, consumers: int, symbols: int) -> float:
    reset(symbols)
    seconds = publish(frame)
    print(f"  published {len(frame):,} bars in {seconds:.1f} s ({len(frame) / seconds:,.0f}/s)")
    redis_before = redis_cpu_seconds()
    outcome = run_consumers(consumers)
    redis_cpu = redis_cpu_seconds() - redis_before
    stored = sum(part["stored"] for part in outcome)
    elapsed = max(part["seconds"] for part in outcome)
    assert stored == len(frame), f"stored {stored} of {len(frame)}"
    rate = stored / elapsed
    each = ", ".join(f"{part['stored']:,}" for part in outcome)
    print(f"  {consumers} consumer(s): {stored:,} bars in {elapsed:.2f} s = {rate:,.0f} bars/s (each: {each})")
    python_cpu, db_cpu = sum(part["cpu"] for part in outcome), sum(part["db_cpu"] for part in outcome)
    total = python_cpu + db_cpu + redis_cpu
    print(f"  CPU: consumers {python_cpu:.2f} s, PostgreSQL {db_cpu:.2f} s, Redis {redis_cpu:.2f} s "
          f"= {stored / total:,.0f} bars per CPU-second")
    return rate


def latency(symbols: int, bursts: int, every: float) -> None:
    reset(symbols)
    frame = minutes_of_bars(symbols, bursts, start="2026-11-27 11:00")
    minutes = [part for _, part in frame.groupby("ts", sort=True)]

    def publish_bursts():
        for minute in minutes:
            started = time.monotonic()
            publish(minute)
            time.sleep(max(0.0, every - (time.monotonic() - started)))

    [outcome] = run_consumers(1, once=False, stop_after=bursts * every + 5, during=publish_bursts)
    values = outcome["latencies"]
    assert len(values) == len(frame), f"{len(values)} of {len(frame)} bars committed"
    print(f"  {bursts} bursts of {symbols:,} bars every {every:g} s: XADD → committed "
          f"p50 {percentile(values, 0.5):,.0f} ms, p99 {percentile(values, 0.99):,.0f} ms, max {max(values):,.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=5_000)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--burst-every", type=float, default=5.0)
    options = parser.parse_args()
    django_on_postgres(DATABASE)
    frame = minutes_of_bars(options.symbols, options.minutes)
    print(f"[1] one consumer, {options.symbols:,} symbols × {options.minutes} minutes")
    one = throughput(frame, 1, options.symbols)
    print("[2] two consumers, the same bars")
    two = throughput(frame, 2, options.symbols)
    print(f"  two / one = {two / one:.2f}×")
    print("[3] latency at a realistic rate")
    latency(options.symbols, options.bursts, options.burst_every)
    reset(options.symbols)


if __name__ == "__main__":
    main()
