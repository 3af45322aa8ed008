"""django-q2 task functions of data quality. Thin: they decide whether to run and call library code."""

import threading
from dataclasses import asdict
from datetime import timedelta

from django.utils import timezone

from monitors.quality import calendar, conf, partitions, spread
from monitors.quality.live import consumer, lag
from monitors.quality.models import Scan
from monitors.quality.scan import examine, run_scan
from monitors.quality.summary import build_daily_summary
from tickstock_ops.redis_client import connect


def daily_scan(now=None) -> dict:
    """After the close: one full daily scan as of now, then the day's summary. Safe to run twice: a session
    already scanned after its close is not scanned again."""
    now = now or timezone.now()
    session = calendar.last_closed_session(now)
    if session is None:
        return {"skipped": "no closed session yet"}
    closed_at = calendar.get_calendar().session_close(session)
    if Scan.objects.filter(kind=Scan.Kind.FULL, interval="1d", as_of__gte=closed_at).exists():
        return {"skipped": f"session {session:%Y-%m-%d} already scanned"}
    first_ever = not Scan.objects.filter(kind=Scan.Kind.FULL, interval="1d").exists()
    # The very first scheduled scan reports the session just closed, not every bar ever loaded.
    since = calendar.get_calendar().session_open(session) if first_ever else None
    result = run_scan(as_of=now, since=since, interval="1d")
    summary = build_daily_summary(session.date())
    return {"scan_id": result.scan.pk, "anomalies": result.scan.anomaly_count, "summary": str(summary.date)}


def intraday_scan(now=None) -> dict:
    """Every minute: staleness and coverage of intraday bars, only while the market is open."""
    now = now or timezone.now()
    if not calendar.is_open(now):
        return {"skipped": "market closed"}
    interval = conf.get("QUALITY_INTRADAY_INTERVAL")
    recent = Scan.objects.filter(kind=Scan.Kind.INTRADAY, interval=interval,
                                 as_of__gt=now - timedelta(seconds=30)).exists()
    if recent:
        return {"skipped": "scanned less than 30 seconds ago"}
    result = run_scan(as_of=now, interval=interval, kind=Scan.Kind.INTRADAY)
    return {"scan_id": result.scan.pk, "anomalies": result.scan.anomaly_count}


def scan_shard(key: str) -> dict:
    """A shard of a scan spread over workers: joins it if the scan still takes members (monitors/quality/spread.py)."""
    return spread.join(key, examine)


def maintain_bar_partitions(now=None) -> dict:
    """Daily: the bar table's partitions for the coming months, and retention per interval (docs/scaling.md)."""
    now = now or timezone.now()
    return {"created": partitions.create_ahead(now), "dropped": partitions.apply_retention(now)}


def check_bars_lag() -> dict:
    """Every minute: the consumer-lag alert of each bar stream fires or resolves."""
    return lag.check_alert()


def consume_bars() -> dict:
    """Every minute: the cluster keeps a bar consumer running where no other consumer of the group is active
    (`make run` and deployments that run `consume_bars` on its own have one). It stops before django-q2's timeout;
    what it leaves unacknowledged is claimed by the next consumer."""
    client = connect(socket_timeout=conf.get("QUALITY_LIVE_BLOCK_MS") / 1000 + 10)
    worker = consumer.BarConsumer(client, conf.get("QUALITY_LIVE_INTERVALS"))
    if consumer.others_active(client, worker.streams, worker.group, conf.get("QUALITY_LIVE_ACTIVE_WITHIN_SECONDS")):
        return {"skipped": "another consumer of the group is active"}
    timer = threading.Timer(conf.get("QUALITY_LIVE_CLUSTER_RUN_SECONDS"), worker.stop.set)
    timer.start()
    try:
        return asdict(worker.run())
    finally:
        timer.cancel()
