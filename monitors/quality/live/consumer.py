"""The bar consumer: one member of a Redis consumer group on the bar streams (docs/live-bars.md).

Each batch is validated by the loader's validation and stored by its one writer in one transaction; only after
the commit are its entries acknowledged (XACK), in the same MULTI that records the rejected ones in
`tickstock.bars.rejected`. So delivery is at least once and storage idempotent: an entry stored but not
acknowledged (a crash in between) is stored again as the same bar. Entries a dead consumer left pending are
claimed (XPENDING … IDLE, then XCLAIM) once they have been idle for the claim timeout; never the
consumer's own read-ahead entries, which XAUTOCLAIM would take back.
"""

import gc
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction

from monitors.quality import conf, loader
from monitors.quality.live import streams
from monitors.quality.loader import validation
from monitors.quality.loader.validation import Chunk

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 5.0
# Claims run at the start and then every quarter of the claim timeout, but not more often than this.
CLAIM_EVERY_SECONDS = 5.0
ONCE_PATIENCE_SECONDS = 10.0  # `--once` waits this long for Redis or the database, then gives up with the error
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
UNIQUE_VIOLATION = "23505"
RACE_ATTEMPTS = 3
# A read of 20,000 entries allocates 40,000 lists (no cycles among them); collecting every 700 allocations, as
# Python does by default, made the cyclic garbage collector a quarter of the consumer's CPU (docs/live-bars.md).
GC_FIRST_THRESHOLD = 100_000


@dataclass
class Totals:
    entries: int = 0
    stored: int = 0
    rejected: int = 0
    claimed: int = 0


class ConsumerStopped(Exception):
    """Asked to stop while waiting for Redis or the database to come back."""


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class BarConsumer:
    """Reads the streams of `intervals` as `name` in `group`. `on_stored(stream, ids, committed_at)` is called
    after each commit (benchmarks measure latency with it)."""

    def __init__(self, client: redis.Redis, intervals: list[str], *, group: str | None = None,
                 name: str | None = None, batch_size: int | None = None, block_ms: int | None = None,
                 claim_idle_seconds: float | None = None,
                 on_stored: Callable[[str, list[bytes], float], None] | None = None):
        self.client = client
        self.streams = [streams.stream_key(interval) for interval in intervals]
        self.group = group or conf.get("QUALITY_LIVE_GROUP")
        self.name = name or consumer_name()
        self.batch_size = batch_size or conf.get("QUALITY_LIVE_BATCH_SIZE")
        self.block_ms = conf.get("QUALITY_LIVE_BLOCK_MS") if block_ms is None else block_ms
        idle = conf.get("QUALITY_LIVE_CLAIM_IDLE_SECONDS") if claim_idle_seconds is None else claim_idle_seconds
        self.claim_idle_ms = int(idle * 1000)
        self.on_stored = on_stored
        self.totals = Totals()
        self.stop = threading.Event()
        self.patience: float | None = None
        # Ids read and not yet acknowledged (the read-ahead thread adds, the storing thread removes).
        self.holding: set[bytes] = set()
        self.lock = threading.Lock()
        # XREADGROUP/XCLAIM replies as Redis sends them: entries stay (id, [field, value, …]) pairs.
        for command in ("XREADGROUP", "XCLAIM"):
            client.set_response_callback(command, lambda response, **options: response)

    # The loop

    def run(self, *, once: bool = False) -> Totals:
        """Consume until `stop` is set; with `once`, drain what is there (and what dead consumers left) and
        return. Redis or the database going away is waited out (by `once` for ONCE_PATIENCE_SECONDS, then its
        error is raised); an entry is never lost meanwhile, only left pending."""
        self.patience = ONCE_PATIENCE_SECONDS if once else None
        try:
            with _collecting_less():
                self._retrying(self.join)
                self._consume(once)
                self._retrying(self.leave)
        except ConsumerStopped:
            log.info("stopped while waiting for Redis or the database; unacknowledged entries stay pending")
        return self.totals

    def _consume(self, once: bool) -> None:
        """Store what the read-ahead thread hands over, claiming dead consumers' entries now and then. On stop,
        the batches already read are stored and acknowledged before returning."""
        reader = _ReadAhead(self, once)
        reader.start()
        next_claim = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() >= next_claim:
                    self._retrying(self.claim_pending)
                    next_claim = time.monotonic() + max(self.claim_idle_ms / 4000, CLAIM_EVERY_SECONDS)
                item = reader.take(timeout=0.2)
                if item is _DRAINED:
                    return
                for entries, checked in item or []:
                    self.handle(entries, checked)
                if item:
                    reader.done_with_one()
        finally:
            reader.halt()
        for item in reader.leftovers():
            for entries, checked in item:
                self.handle(entries, checked)

    def join(self) -> None:
        """Create the group on each stream (from its oldest entry) unless it exists."""
        for stream in self.streams:
            try:
                self.client.xgroup_create(stream, self.group, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    def read(self, *, block: bool) -> list[streams.Entries]:
        reply = self.client.xreadgroup(self.group, self.name, dict.fromkeys(self.streams, ">"),
                                       count=self.batch_size, block=self.block_ms if block else None)
        items = reply.items() if isinstance(reply, dict) else (reply or [])
        batches = [streams.decode(_text(stream), entries) for stream, entries in items if entries]
        with self.lock:
            self.holding.update(entry_id for entries in batches for entry_id in entries.ids)
        return batches

    def claim_pending(self) -> int:
        """Take over the entries other consumers have held unacknowledged for the claim timeout, and store them.
        Of this consumer's own pending entries only those it does not hold are taken back (a read whose reply
        was lost when Redis went away); the ones read ahead and waiting to be stored are left alone."""
        claimed = 0
        me = self.name.encode()
        for stream in self.streams:
            after = "-"
            while not self.stop.is_set():
                stale = self.client.xpending_range(stream, self.group, min=after, max="+", count=self.batch_size,
                                                   idle=self.claim_idle_ms)
                if not stale:
                    break
                after = "(" + _text(stale[-1]["message_id"])
                with self.lock:
                    theirs = [entry["message_id"] for entry in stale
                              if entry["consumer"] != me or entry["message_id"] not in self.holding]
                if theirs:
                    claimed += self._claim(stream, theirs)
        self.totals.claimed += claimed
        return claimed

    def _claim(self, stream: str, entry_ids: list[bytes]) -> int:
        """XCLAIM (which re-checks the idle time, so of two consumers claiming at once only one gets an entry)
        and store. An entry trimmed from the stream meanwhile comes back without fields, or not at all: it is
        reported as rejected (data lost to MAXLEN) and acknowledged."""
        raw = [item for item in self.client.xclaim(stream, self.group, self.name, self.claim_idle_ms, entry_ids)
               if item]  # Redis 6 answers None for a trimmed entry
        got = {entry_id for entry_id, _ in raw}
        raw = [*raw, *((entry_id, None) for entry_id in entry_ids if entry_id not in got)]
        log.warning("%s: claimed %d entries left pending by another consumer", stream, len(got))
        self.handle(streams.decode(stream, raw))
        return len(got)

    def leave(self) -> None:
        """Remove this consumer from the group when it holds nothing, so the group lists live consumers only."""
        for stream in self.streams:
            pending = self.client.xpending_range(stream, self.group, min="-", max="+", count=1,
                                                 consumername=self.name)
            if not pending:
                self.client.xgroup_delconsumer(stream, self.group, self.name)

    # One batch

    def handle(self, entries: streams.Entries, checked: "Checked | None" = None) -> None:
        """Store (validating first unless the read-ahead thread has: `checked`), then acknowledge."""
        interval = _interval(entries)
        rejected = self._retrying(lambda: self._store_isolating(entries, interval, checked), database=True)
        committed_at = time.time()
        self._retrying(lambda: self._acknowledge(entries, rejected))
        with self.lock:
            self.holding.difference_update(entries.ids)
        self.totals.entries += len(entries)
        self.totals.rejected += len(rejected)
        self.totals.stored += len(entries) - len(rejected)
        if self.on_stored:
            self.on_stored(entries.stream, entries.ids, committed_at)

    def _store_isolating(self, entries: streams.Entries, interval: str,
                         checked: "Checked | None" = None) -> dict[int, str]:
        """Store the batch; if it fails for a reason that is not an outage, store its entries one at a time so
        that the one entry the writer cannot take is rejected instead of blocking the stream."""
        try:
            return store(entries, interval, checked)
        except TRANSIENT_DB_ERRORS:
            raise
        except DatabaseError as error:
            if len(entries) == 1:
                return {0: f"could not be stored: {error}"}
            log.warning("%s: a batch of %d failed (%s); storing its entries one by one", entries.stream,
                        len(entries), error)
        rejected: dict[int, str] = {}
        for index in range(len(entries)):
            reasons = self._store_isolating(entries.one(index), interval)
            if reasons:
                rejected[index] = reasons[0]
        return rejected

    def _acknowledge(self, entries: streams.Entries, rejected: dict[int, str]) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for index, reason in sorted(rejected.items()):
                record = streams.rejected_record(entries, index, reason)
                log.warning("%s %s rejected: %s %s", entries.stream, record["id"], reason, record["fields"])
                pipe.xadd(streams.REJECTED_STREAM, record, maxlen=conf.get("QUALITY_LIVE_REJECTED_MAXLEN"),
                          approximate=True)
            pipe.xack(entries.stream, self.group, *entries.ids)
            pipe.execute()

    # Outages

    def _retrying(self, action: Callable, *, database: bool = False):
        """Run `action` until it gets through Redis (and the database) being down, backing off meanwhile."""
        delay = 0.1
        give_up = None if self.patience is None else time.monotonic() + self.patience
        while True:
            try:
                return action()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                if give_up is not None and time.monotonic() > give_up:
                    raise
                log.warning("Redis unreachable (%s); retrying in %.1f s", error, delay)
            except TRANSIENT_DB_ERRORS as error:
                if not database or (give_up is not None and time.monotonic() > give_up):
                    raise
                log.warning("database unavailable (%s); retrying in %.1f s", error, delay)
                connection.close()
            if self.stop.wait(delay):
                raise ConsumerStopped
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)


_DRAINED = object()


class _ReadAhead(threading.Thread):
    """Reads the next batches while the consumer stores the current one, holding at most
    QUALITY_LIVE_MAX_IN_FLIGHT entries read and not yet acknowledged (a read takes up to a batch per stream):
    a slow database slows the reads instead of filling memory. Only Redis is touched here."""

    def __init__(self, owner: "BarConsumer", once: bool):
        super().__init__(daemon=True, name=f"read-ahead {owner.name}")
        self.owner, self.once = owner, once
        self.room = threading.Semaphore(max(1, conf.get("QUALITY_LIVE_MAX_IN_FLIGHT") // owner.batch_size))
        self.ready: queue.Queue = queue.Queue()
        self.halted = threading.Event()

    def run(self) -> None:
        try:
            while not self.halted.is_set():
                if not self.room.acquire(timeout=0.2):
                    continue
                batches = self.owner._retrying(lambda: self.owner.read(block=not self.once))
                if batches:
                    # Validated here, so that the consumer's thread stores one batch while this one checks the next.
                    self.ready.put([(entries, validated(entries, _interval(entries))) for entries in batches])
                    continue
                self.room.release()
                if self.once:
                    self.ready.put(_DRAINED)
                    return
        except BaseException as error:  # handed to the consumer's thread, which raises it
            self.ready.put(error)

    def take(self, timeout: float):
        """The next read (a list of Entries), _DRAINED, or None when nothing came within `timeout`."""
        try:
            item = self.ready.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def done_with_one(self) -> None:
        self.room.release()

    def halt(self) -> None:
        self.halted.set()
        self.join(timeout=self.owner.block_ms / 1000 + 30)

    def leftovers(self) -> list[list[tuple[streams.Entries, "Checked"]]]:
        """What was read and not handed over yet: stored before the consumer exits, not left pending."""
        found = []
        while not self.ready.empty():
            item = self.ready.get_nowait()
            if isinstance(item, list):
                found.append(item)
        return found


@contextmanager
def _collecting_less() -> Iterator[None]:
    """While consuming: the objects alive at the start (modules, Django, pandas) are left out of every collection
    (gc.freeze), and the young generation is collected every GC_FIRST_THRESHOLD allocations instead of 700."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], GC_FIRST_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def others_active(client: redis.Redis, stream_names: list[str], group: str, within_seconds: float) -> bool:
    """Whether any consumer of `group` has talked to Redis within `within_seconds` (a running consumer reads at
    least every block interval)."""
    for stream in stream_names:
        try:
            members = client.xinfo_consumers(stream, group)
        except redis.ResponseError:  # no stream or no group yet
            continue
        if any(member["idle"] < within_seconds * 1000 for member in members):
            return True
    return False


@dataclass
class Checked:
    """A batch's entries validated: the valid bars per source, and the rejected entries' positions with the reason
    (a field missing, a bad source, the loader's row message)."""

    chunks: dict[str, Chunk]
    rejected: dict[int, str]


def validated(entries: streams.Entries, interval: str) -> Checked:
    """The entries checked by the loader's validation, exactly as `load_bars` checks a file's rows."""
    groups = entries.by_source()  # a bad source becomes a problem of its entry
    chunks, rejected = {}, dict(entries.problems)
    for source, indexes in groups.items():
        result = loader.LoadResult()
        chunks[source] = validation.validate(streams.positions(entries, indexes), indexes, interval, result)
        rejected.update((error.line, error.message) for error in result.errors)
    return Checked(chunks, rejected)


def store(entries: streams.Entries, interval: str, checked: Checked | None = None) -> dict[int, str]:
    """Store the entries' valid bars in one transaction with the loader's one writer (validating them first
    unless `checked` is given); returns the rejected entries' positions with the reason. Consumers of a group
    store at once, each other entries, so none waits for an import lock; when another one inserted one of these
    bars meanwhile (the same bar published twice), the transaction is tried again and finds it stored."""
    checked = checked or validated(entries, interval)
    attempt = 1
    while True:
        try:
            with transaction.atomic():
                for source, chunk in checked.chunks.items():
                    loader.write_bars([chunk], loader.LoadResult(), source, interval, concurrent=True)
            return checked.rejected
        except IntegrityError as error:
            if getattr(error.__cause__, "pgcode", None) != UNIQUE_VIOLATION or attempt >= RACE_ATTEMPTS:
                raise
            log.info("%s: another consumer stored one of these bars meanwhile; storing the batch again",
                     entries.stream)
            attempt += 1


def _interval(entries: streams.Entries) -> str:
    return entries.stream[len(streams.STREAM_PREFIX):]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
