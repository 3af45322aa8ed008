"""Prometheus metrics read at scrape time from the database and Redis, so every process reports the same."""

import redis
from django.db.models import Sum
from django_q.models import Failure, Success
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from tickstock_ops import events, health, slo
from tickstock_ops.models import OutboxEvent
from tickstock_ops.redis_client import get_redis


class OpsCollector:
    def collect(self):
        published = CounterMetricFamily("tickstock_events_published", "Events delivered to Redis, by type",
                                        labels=["type"])
        try:
            counts = get_redis().hgetall(events.PUBLISHED_COUNTS_KEY)
        except redis.RedisError:
            counts = {}
        for event_type, count in sorted(counts.items()):
            published.add_metric([event_type.decode()], int(count))
        yield published

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
        yield from service_level_histograms()


def service_level_histograms():
    """`tickstock_<name>_seconds` for each of slo.HISTOGRAMS (docs/metrics.md), from the counters in Redis."""
    try:
        found = slo.histograms()
    except redis.RedisError:
        return
    for name, (buckets, total) in found.items():
        yield HistogramMetricFamily(f"tickstock_{name}_seconds", slo.HISTOGRAMS[name], buckets=buckets,
                                    sum_value=total)
