"""Benchmark: what notifications add to an alert storm, and how fast queued notifications go out.

2,000 alerts fire in one `fire_many` (one scan's storm) over 40 anomaly types on two exchanges, first with no
receiver configured, then (after resolving them all) with the default receiver and two routes (one with
`continue`, one grouping by symbol for 100 of them) — the same batch, queueing ~2,100 notifications in ~180
groups. Then the deliverer sends every group to a loopback JSON webhook. Prints the storm's time without and with
receivers (and their ratio, goal ≤ 2×), the delivery time per message, and the notification delay's p95.

    .venv/bin/python bench/notifications.py [--alerts 2000]

Uses the PostgreSQL database `tickstock_notify_bench` unless DATABASE_URL names another scratch database (its
alerts and notifications are emptied first) and the embedded Redis unless REDIS_URL is set.
"""

import argparse
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))
os.environ.setdefault("REDIS_URL", "")  # empty: the embedded Redis, not a shared one

from bench._setup import django_on_postgres  # noqa: E402


def firings(count: int, round_: int):
    from tickstock_ops.alerts import Firing

    return [Firing(f"quality:type{i % 40}:S{i:05d}", "quality", f"S{i:05d} anomaly {i % 40} (round {round_})",
                   "critical" if i % 10 == 0 else "warning",
                   {"symbol": f"S{i:05d}", "anomaly_type": f"type{i % 40}", "exchange": ["XNYS", "XNAS"][i % 2]})
            for i in range(count)]


def storm(count: int, round_: int) -> float:
    from tickstock_ops import alerts

    started = time.perf_counter()
    with alerts.grouped():
        alerts.fire_many(firings(count, round_))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    args = parser.parse_args()
    django_on_postgres("tickstock_notify_bench")
    from django.conf import settings

    from tickstock_ops.notify import conf

    settings.NOTIFY_GROUP_WAIT_SECONDS = conf.get("NOTIFY_GROUP_WAIT_SECONDS")

    from tickstock_ops import alerts, service_levels
    from tickstock_ops.models import Alert, OutboxEvent, SloSample
    from tickstock_ops.notify import deliver
    from tickstock_ops.notify.models import NotificationGroup, Receiver, Route
    from tickstock_ops.notify.tests.servers import JsonReceiver

    Alert.objects.all().delete()
    OutboxEvent.objects.all().delete()
    NotificationGroup.objects.all().delete()
    Route.objects.all().delete()
    Receiver.objects.all().delete()
    SloSample.objects.all().delete()
    webhook = JsonReceiver().start()

    settings.TICKSTOCK_NOTIFY_URLS = ""
    quiet = storm(args.alerts, 1)
    alerts.resolve_many([f.fingerprint for f in firings(args.alerts, 1)])

    settings.TICKSTOCK_NOTIFY_URLS = webhook.url
    Receiver.objects.create(name="pager", urls=webhook.url)
    Route.objects.create(name="critical", matchers="severity=critical", receiver="pager", continue_matching=True,
                         group_by="symbol")
    Route.objects.create(name="nasdaq", matchers="exchange=XNAS", group_by="monitor,type")
    loud = storm(args.alerts, 2)
    groups = NotificationGroup.objects.filter(due_at__isnull=False).count()
    print(f"storm of {args.alerts} alerts: {quiet:.2f} s without receivers, {loud:.2f} s with 2 receivers and "
          f"2 routes ({groups} groups) — {loud / quiet:.2f}× (goal ≤ 2×)")

    waited = time.perf_counter()
    report = deliver.run(once=True)  # waits out group_wait (10 s), then sends every group
    seconds = time.perf_counter() - waited - settings.NOTIFY_GROUP_WAIT_SECONDS
    webhook.wait_for(groups, timeout=120)
    webhook.stop()
    print(f"delivery: {groups} messages carrying {report.sent} notifications in {seconds:.2f} s "
          f"({seconds / groups * 1000:.1f} ms per message, loopback webhook)")
    [row] = [row for row in service_levels.status() if row["name"] == "notification_delay"]
    print(f"notification delay (fired → accepted, group_wait included): p50 {row['p50']:.2f} s, "
          f"p95 {row['p95']:.2f} s over {row['samples']} alerts")


if __name__ == "__main__":
    main()
