"""Processing-queue benchmark on PostgreSQL + Redis (issue 4). Prints three figures:

1. throughput: 20,000 jobs drained by 2 `process_queue` worker processes, in jobs/s;
2. live apply: from a rule change's commit to the first job run under the new version (changes made every
   0.25 s while the workers drain), p50/p99/max;
3. faults: the same 20,000 jobs again with one worker SIGKILLed mid-run: jobs lost and jobs completed twice.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tickstock_queue_bench REDIS_URL=redis://127.0.0.1:6379/3 \
        .venv/bin/python bench/queue.py [--jobs 20000] [--workers 2] [--batch 50]

The database is created and migrated if missing. Bench rows (symbols BENCH…) are replaced on each run.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where "queue" would shadow the standard library's.
sys.path[:] = [str(BASE_DIR)] + [p for p in sys.path if Path(p or ".").resolve() != BASE_DIR / "bench"]

from bench._setup import django_on_postgres, percentile  # noqa: E402

PREFIX = "BENCH"


def reset(jobs: int) -> list[int]:
    from django.db import transaction

    from equity_rules import queue, versions
    from equity_rules.models import EquityType, ProcessingJob, ProcessingResult, Security, SlaStatus

    ProcessingResult.objects.filter(symbol__startswith=PREFIX).delete()
    ProcessingJob.objects.filter(symbol__startswith=PREFIX).delete()
    Security.objects.filter(symbol__startswith=PREFIX).delete()
    SlaStatus.objects.all().delete()
    etf = EquityType.objects.get(equity_type="etf")
    if etf.processing_rules["validation_rules"]["aum_minimum"] != 50_000_000:
        etf.processing_rules["validation_rules"]["aum_minimum"] = 50_000_000
        versions.save(etf, reason="benchmark reset")
    with transaction.atomic():
        Security.objects.bulk_create([
            Security(symbol=f"{PREFIX}{i:05d}", name=f"Benchmark fund {i}", equity_type=etf,
                     exchange="XNYS", aum=40_000_000 + i * 1000, expense_ratio="0.40", nav="20.00",
                     last_close="20.10", average_volume=150_000, shares_outstanding=3_000_000,
                     dividend_per_share="0.50") for i in range(jobs)], batch_size=2000)
    started = time.perf_counter()
    queue.enqueue(Security.objects.filter(symbol__startswith=PREFIX).select_related("equity_type"))
    elapsed = time.perf_counter() - started
    print(f"  enqueued {jobs} jobs in {elapsed:.2f} s ({jobs / elapsed:,.0f} jobs/s)")
    return list(ProcessingJob.objects.filter(symbol__startswith=PREFIX).values_list("id", flat=True))


def start_workers(count: int, batch: int, lease: float, tag: str) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "ERROR"}
    return [subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "process_queue", "--name",
                              f"{tag}-{n}", "--batch", str(batch), "--lease", str(lease), "--poll", "0.05"],
                             cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in range(1, count + 1)]


def stop_workers(workers: list[subprocess.Popen]) -> None:
    from tickstock_ops.processes import stop_all

    stop_all(workers, timeout=30)


def remaining() -> int:
    from equity_rules.models import ProcessingJob

    return ProcessingJob.objects.filter(symbol__startswith=PREFIX).exclude(state="done").count()


def change_rules() -> tuple[float, int]:
    """Toggle the ETF volume threshold; (commit wall time, new version)."""
    from equity_rules import versions
    from equity_rules.models import EquityType

    etf = EquityType.objects.get(equity_type="etf")
    checks = etf.processing_rules["validation_rules"]
    checks["volume_threshold"] = 100_001 if checks["volume_threshold"] == 100_000 else 100_000
    versions.save(etf, reason="benchmark live-apply probe")
    return time.time(), etf.version


def throughput_and_live_apply(jobs: int, workers: int, batch: int) -> None:
    from django.db.models import Max, Min

    from equity_rules.models import ProcessingResult

    print(f"\n[1+2] {jobs} ETF jobs, {workers} workers, batch {batch}; a rule change every 0.25 s while they drain")
    reset(jobs)
    changes = []
    results = ProcessingResult.objects.filter(symbol__startswith=PREFIX)
    started = time.time()
    procs = start_workers(workers, batch, lease=30, tag="bench")
    try:
        while remaining():
            if time.time() - started > 600:
                raise SystemExit("the workers did not drain the queue within 10 minutes")
            time.sleep(0.25)
            if results.exists() and remaining() > batch * workers:
                changes.append(change_rules())
    finally:
        stop_workers(procs)
    span = results.aggregate(first=Min("finished_at"), last=Max("finished_at"))
    first, last = span["first"].timestamp(), span["last"].timestamp()
    print(f"  throughput: {jobs / (last - first):,.0f} jobs/s ({jobs} jobs drained in {last - first:.1f} s from "
          f"the first job's end to the last's; {jobs / (last - started):,.0f} jobs/s counting the "
          f"{first - started:.1f} s the workers took to start)")
    first_run = dict(results.values("rules_version").annotate(first=Min("finished_at"))
                     .values_list("rules_version", "first"))
    latencies = sorted((first_run[version].timestamp() - committed) * 1000 for committed, version in changes
                       if version in first_run)
    superseded = len(changes) - len(latencies)
    if latencies:
        p99 = percentile(latencies, 0.99)
        print(f"  live apply: rule commit → first job run under the new version: p50 "
              f"{statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms over "
              f"{len(latencies)} changes" + (f" ({superseded} superseded before any job ran)" if superseded else ""))


def faults(jobs: int, workers: int, batch: int) -> None:
    from django.db.models import Count

    from equity_rules.models import ProcessingJob, ProcessingResult
    from tickstock_ops.models import OutboxEvent

    lease = 5.0
    print(f"\n[3] {jobs} jobs, {workers} workers, one SIGKILLed mid-run (lease {lease:.0f} s)")
    job_ids = reset(jobs)
    first_id = min(job_ids)
    started = time.time()
    procs = start_workers(workers, batch, lease=lease, tag="fault")
    try:
        while remaining() > jobs * 0.6:
            time.sleep(0.05)
        victim = procs[0]
        held = 0
        while not held:  # freeze it until caught holding a claim, so the kill lands mid-job
            victim.send_signal(signal.SIGSTOP)
            held = ProcessingJob.objects.filter(symbol__startswith=PREFIX, state="running",
                                                claimed_by="fault-1").count()
            if not held:
                victim.send_signal(signal.SIGCONT)
                time.sleep(0.01)
        victim.kill()
        victim.communicate()
        print(f"  killed fault-1 with {remaining()} jobs left, while it held {held} claimed jobs")
        while remaining():
            if time.time() - started > 600:
                break
            time.sleep(0.25)
    finally:
        stop_workers(procs)
    bench_jobs = ProcessingJob.objects.filter(symbol__startswith=PREFIX)
    lost = bench_jobs.exclude(state="done").count()
    successes = (ProcessingResult.objects.filter(symbol__startswith=PREFIX, succeeded=True).values("job_id")
                 .annotate(n=Count("id")))
    twice = successes.filter(n__gt=1).count()
    missing = jobs - successes.count()
    events = (OutboxEvent.objects.filter(type="tickstock.equity.processed", payload__job_id__gte=first_id,
                                         payload__symbol__startswith=PREFIX)
              .values("payload__job_id").annotate(n=Count("id")))
    rerun = bench_jobs.filter(attempts__gt=1).count()
    print(f"  drained in {time.time() - started:.1f} s; {rerun} jobs ran a second attempt after the kill")
    print(f"  jobs lost: {lost + missing}; jobs completed twice: {twice}; processed events: {events.count()} jobs, "
          f"{events.filter(n__gt=1).count()} with more than one event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    url = os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tickstock_queue_bench")
    if not url.startswith("postgres"):
        sys.exit(f"bench/queue.py measures the PostgreSQL queue (SKIP LOCKED); DATABASE_URL={url!r} is not postgres://")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
    django_on_postgres("tickstock_queue_bench")
    from django.db import connection

    print(f"bench/queue.py: PostgreSQL {connection.pg_version // 10000}, Redis {os.environ['REDIS_URL']}, "
          f"{os.cpu_count()} CPUs")
    throughput_and_live_apply(args.jobs, args.workers, args.batch)
    faults(args.jobs, args.workers, args.batch)


if __name__ == "__main__":
    main()
