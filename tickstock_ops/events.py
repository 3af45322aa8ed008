"""Events (docs/events.md): `publish()` writes an outbox row in the caller's transaction; after commit the
row is delivered to Redis pub/sub, the Redis Stream named by its type and the dashboard's Channels group.

Delivery to Redis is one Lua script per event that first claims a dedupe key, so a row delivered twice
(a relay racing the after-commit flush, a crash between delivery and marking the row) still makes exactly
one stream entry and one pub/sub message. Rows that could not be delivered stay pending and are retried,
oldest first, by the next flush or by the relay in the django-q2 cluster.
"""

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import redis
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from tickstock_ops import slo
from tickstock_ops.channels_push import pusher
from tickstock_ops.models import OutboxEvent
from tickstock_ops.redis_client import get_redis

log = logging.getLogger(__name__)

EVENT_TYPE = re.compile(r"^tickstock\.[a-z0-9_]+(\.[a-z0-9_]+)+$")
STREAMS_KEY = "tickstock:streams"
PUBLISHED_COUNTS_KEY = "tickstock:metrics:events_published"
DASHBOARD_MESSAGE = "events.batch"
BATCH_SIZE = 500

# KEYS: stream (= type), dedupe key, stream registry, counters. ARGV: envelope, maxlen, dedupe ttl, type.
_DELIVER_LUA = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return 0 end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[1])
redis.call('PUBLISH', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
return 1
"""


class PayloadEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, Decimal):
            return float(o)
        if isinstance(o, datetime):
            return o.isoformat().replace("+00:00", "Z")
        if isinstance(o, date):
            return o.isoformat()
        if isinstance(o, UUID):
            return str(o)
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
        return super().default(o)


def publish(type: str, payload: dict) -> OutboxEvent:
    """Record an event in the current transaction; it goes out once that transaction commits."""
    [event] = publish_many(type, [payload])
    return event


def publish_many(type: str, payloads: list[dict]) -> list[OutboxEvent]:
    """`publish()` for many events of one type at once: one INSERT, for scans that report hundreds."""
    if not EVENT_TYPE.match(type):
        raise ValueError(f"event type {type!r} is not of the form tickstock.<area>.<name>")
    now = timezone.now()
    rows = [OutboxEvent(type=type, payload=json.loads(json.dumps(payload, cls=PayloadEncoder)), occurred_at=now)
            for payload in payloads]
    created = OutboxEvent.objects.bulk_create(rows)
    if not _flush_registered():
        transaction.on_commit(flush, robust=True)
    return created


def _flush_registered() -> bool:
    """One flush per transaction is enough: it sends every pending row, this transaction's included."""
    if not connection.in_atomic_block:
        return False
    return any(entry[1] is flush for entry in connection.run_on_commit)


@dataclass
class DeliveryResult:
    delivered: int = 0
    duplicates: int = 0
    failed: int = 0
    error: str = ""
    busy: bool = False


def flush() -> DeliveryResult:
    """Deliver every pending outbox row, oldest first, until none is left or Redis fails."""
    total = DeliveryResult()
    while True:
        batch = deliver_batch()
        total.delivered += batch.delivered
        total.duplicates += batch.duplicates
        total.failed += batch.failed
        if batch.busy:
            return total
        if batch.failed:
            total.error = batch.error
            log.warning("%d events wait in the outbox: %s", pending_count(), batch.error)
            return total
        if batch.delivered + batch.duplicates < BATCH_SIZE:
            return total


def deliver_batch(size: int = BATCH_SIZE) -> DeliveryResult:
    """Send the oldest pending rows. One process at a time does this, so events leave in outbox order; a
    process that waits for its turn usually finds its own rows already sent by the one before it."""
    try:
        with transaction.atomic():
            _take_relay_turn()
            rows = list(OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")[:size])
            if not rows:
                return DeliveryResult()
            ids = [row.id for row in rows]
            envelopes = [row.envelope() for row in rows]
            try:
                results = _deliver_to_redis(rows, envelopes)
            except redis.RedisError as error:
                message = f"Redis at REDIS_URL unavailable: {error}"
                OutboxEvent.objects.filter(id__in=ids).update(attempts=F("attempts") + 1, last_error=message[:1000])
                return DeliveryResult(failed=len(rows), error=message)
            delivered_at = timezone.now()
            OutboxEvent.objects.filter(id__in=ids).update(
                published_at=delivered_at, attempts=F("attempts") + 1, last_error=""
            )
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        return DeliveryResult(busy=True)
    fresh = [(row.id, envelope) for row, envelope, first in zip(rows, envelopes, results, strict=True) if first]
    slo.observe_many("event_delivery_delay", [(delivered_at - row.occurred_at).total_seconds()
                                              for row, first in zip(rows, results, strict=True) if first])
    _send_to_dashboard(fresh)
    return DeliveryResult(delivered=len(fresh), duplicates=len(rows) - len(fresh))


RELAY_LOCK_KEY = 0x7469636B  # any constant shared by every process; "tick"
LOCK_NOT_AVAILABLE = "55P03"


def _take_relay_turn() -> None:
    """Serialise relays for the rest of the transaction (SQLite's write lock already does that).

    A relay that cannot get its turn within half a second leaves: the one holding it is sending every pending
    row, and the scheduled relay catches whatever it missed. So publishers never wait on another process; a
    holder that stalls (a stopped process) only delays delivery until it resumes or its connection ends.
    Marking rows is not worth a disk flush either: if a mark is lost in a crash, the row is sent again and the
    dedupe key in Redis makes that a no-op, so PostgreSQL may acknowledge the commit before its fsync."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL lock_timeout = '500ms'; SET LOCAL synchronous_commit = off; "
                "SELECT pg_advisory_xact_lock(%s)",
                [RELAY_LOCK_KEY],
            )


_scripts: dict[int, "redis.commands.core.Script"] = {}


def _deliver_to_redis(rows: list[OutboxEvent], envelopes: list[dict]) -> list[int]:
    client = get_redis()
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_DELIVER_LUA)
    pipe = client.pipeline(transaction=False)
    for row, envelope in zip(rows, envelopes, strict=True):
        script(
            keys=[row.type, f"tickstock:outbox:sent:{row.event_id}", STREAMS_KEY, PUBLISHED_COUNTS_KEY],
            args=[json.dumps(envelope, separators=(",", ":")), settings.EVENTS_STREAM_MAXLEN,
                  settings.EVENTS_DEDUPE_TTL_SECONDS, row.type],
            client=pipe,
        )
    return [int(result) for result in pipe.execute()]


def _send_to_dashboard(events: list[tuple[int, dict]]) -> None:
    for start in range(0, len(events), 100):
        chunk = [{"seq": seq, "event": envelope} for seq, envelope in events[start:start + 100]]
        pusher.push(settings.DASHBOARD_GROUP, {"type": DASHBOARD_MESSAGE, "events": chunk})


def pending_count() -> int:
    return OutboxEvent.objects.filter(published_at__isnull=True).count()


def report_waiting(stderr) -> int:
    """A command's last word while Redis is down: how many events wait in the outbox for the relay."""
    waiting = pending_count()
    if waiting:
        stderr.write(f"{waiting} events wait in the outbox")
    return waiting


def outbox_lag_seconds() -> float:
    """Age of the oldest event not yet on Redis; 0 when nothing waits."""
    oldest = OutboxEvent.objects.filter(published_at__isnull=True).order_by("id").values_list(
        "occurred_at", flat=True
    ).first()
    return max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0


def events_since(seq: int, limit: int = 500) -> list[dict]:
    """Published events after outbox position `seq`, for a dashboard catching up after a reconnect."""
    rows = OutboxEvent.objects.filter(id__gt=seq, published_at__isnull=False).order_by("id")[:limit]
    return [{"seq": row.id, "event": row.envelope()} for row in rows]


def recent_events(limit: int = 50) -> list[dict]:
    rows = OutboxEvent.objects.filter(published_at__isnull=False).order_by("-id")[:limit]
    return [{"seq": row.id, "event": row.envelope()} for row in reversed(rows)]


def prune_published(older_than_days: int | None = None) -> int:
    days = settings.EVENTS_OUTBOX_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = OutboxEvent.objects.filter(published_at__lt=cutoff).delete()
    return deleted
