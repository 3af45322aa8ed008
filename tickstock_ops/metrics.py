"""Prometheus metrics read at scrape time from the database and Redis, so every process reports the same.

A scrape never fails because a dependency is down: `tickstock_database_up` / `tickstock_redis_up` say so, and
the figures that need the missing part are left out of that scrape."""

import redis
from django.db import DatabaseError
from django.db.models import Sum
from django_q.models import Failure, Success
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from tickstock_ops import events, health, slo
from tickstock_ops.models import OutboxEvent
from tickstock_ops.redis_client import get_redis


class OpsCollector:
    def collect(self):
        yield from self._redis_figures()
        try:
            families = list(self._database_figures())
        except DatabaseError:
            families = []
        yield GaugeMetricFamily("tickstock_database_up", "1 when the database answered this scrape",
                                value=1 if families else 0)
        yield from families
        yield from service_level_histograms()  # kept in Redis: reported while the database is down too

    def _redis_figures(self):
        published = CounterMetricFamily("tickstock_events_published", "Events delivered to Redis, by type",
                                        labels=["type"])
        try:
            counts = get_redis().hgetall(events.PUBLISHED_COUNTS_KEY)
            up = 1
        except redis.RedisError:
            counts, up = {}, 0
        for event_type, count in sorted(counts.items()):
            published.add_metric([event_type.decode()], int(count))
        yield published
        yield GaugeMetricFamily("tickstock_redis_up", "1 when Redis answered this scrape", value=up)

    def _database_figures(self):
        failed_attempts = OutboxEvent.objects.filter(published_at__isnull=True).aggregate(n=Sum("attempts"))["n"]
        yield CounterMetricFamily("tickstock_events_failed", "Failed delivery attempts of events still waiting",
                                  value=failed_attempts or 0)
        yield GaugeMetricFamily("tickstock_outbox_pending", "Events waiting in the outbox",
                                value=events.pending_count())
        yield GaugeMetricFamily("tickstock_outbox_lag_seconds", "Age of the oldest event waiting in the outbox",
                                value=events.outbox_lag_seconds())

        depth = GaugeMetricFamily("tickstock_queue_depth", "Jobs waiting, by queue", labels=["queue"])
        for name, value in health.queue_depths().items():
            depth.add_metric([name], value)
        yield depth

        lags = health.consumer_lags()
        behind = GaugeMetricFamily("tickstock_consumer_lag_entries",
                                   "Stream entries a consumer group has not acknowledged yet", labels=["consumer"])
        age = GaugeMetricFamily("tickstock_consumer_lag_seconds",
                                "Age of the oldest stream entry a consumer group has not acknowledged",
                                labels=["consumer"])
        for name, lag in sorted(lags.items()):
            behind.add_metric([name], lag.behind)
            age.add_metric([name], lag.oldest_seconds)
        yield behind
        yield age

        tasks = GaugeMetricFamily("tickstock_tasks", "django-q2 task results kept, by outcome", labels=["outcome"])
        tasks.add_metric(["success"], Success.objects.count())
        tasks.add_metric(["failure"], Failure.objects.count())
        yield tasks


def service_level_histograms():
    """`tickstock_<name>_seconds` for each of slo.HISTOGRAMS (docs/metrics.md), from the counters in Redis."""
    try:
        found = slo.histograms()
    except redis.RedisError:
        return
    for name, (buckets, total) in found.items():
        yield HistogramMetricFamily(f"tickstock_{name}_seconds", slo.HISTOGRAMS[name], buckets=buckets,
                                    sum_value=total)
