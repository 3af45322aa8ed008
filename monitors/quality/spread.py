"""One scan spread over django-q2 workers: its symbols split into shards of contiguous symbol ranges, one shard per
process that takes part, and one result assembled from theirs (docs/quality-scans.md).

The coordinator (the process that runs the scan) enqueues a `scan_shard` task per extra shard wanted and waits up to
QUALITY_SCAN_SHARD_JOIN_SECONDS for workers to pick them up; the shards are then as many as the processes that
joined, itself included, so a busy or absent cluster never leaves a shard waiting for a worker (with nobody else
the scan runs in one process). Every member reads and checks only its own range of symbols, cut from the universe's
symbol list (published by the coordinator) into equal shares; the bar key leads with symbol, so each read is a
range of the key. What the checks need of other symbols — the bars' common time axis and the market's and sectors'
median moves (`Panel.benchmark`) — the members exchange through Redis at the same points of the same code, so
each gets exactly what one process would have computed (the checks call these in the same order in every member).
Members publish their findings; the coordinator merges them and stores the scan as a single-process scan does.
Any failure or missed deadline and the coordinator scans in one process instead.
"""

import dataclasses
import hashlib
import hmac
import logging
import pickle
import time
import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd
from django.conf import settings
from django_q.tasks import async_task

from monitors.quality import conf, reads
from monitors.quality.checks.arrays import group_medians, sector_columns
from tickstock_ops.redis_client import get_redis

log = logging.getLogger(__name__)
TASK = "monitors.quality.tasks.scan_shard"
# A joiner gets a member number unless the coordinator has already fixed the number of members.
JOIN = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('INCR', KEYS[1])
"""
SEAL = """
local size = tonumber(redis.call('GET', KEYS[1]) or '0') + 1
redis.call('SET', KEYS[2], size, 'EX', ARGV[1])
return size
"""


class ShardFailed(Exception):
    """A member failed or missed its deadline: the scan is run in one process instead."""


def _pack(value) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).digest() + body


def _unpack(blob: bytes):
    """Only what a process holding this deployment's SECRET_KEY wrote is unpickled."""
    mac, body = blob[:32], blob[32:]
    if not hmac.compare_digest(mac, hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).digest()):
        raise ShardFailed("a shard message is not signed with this deployment's SECRET_KEY")
    return pickle.loads(body)


class Peers:
    """One member's side of the exchanges: the `peers` a sharded scan's checks use (checks.Universe)."""

    def __init__(self, client, key: str, index: int, size: int):
        self.client, self.key, self.index, self.size = client, key, index, size
        self.step = 0
        self.waited = 0.0  # seconds spent waiting for other members at the exchanges
        self.exchanging = 0.0  # seconds spent in the exchanges, waiting included
        self.first: tuple[float, float] | None = None  # wall and CPU clocks at the first exchange (bars read)
        self.deadline = time.monotonic() + conf.get("QUALITY_SCAN_SHARD_TIMEOUT_SECONDS")

    def _ttl(self) -> int:
        return conf.get("QUALITY_SCAN_SHARD_TIMEOUT_SECONDS") * 2

    def _publish(self, parts: dict[str, object]) -> None:
        """Messages of this step, all visible at once."""
        with self.client.pipeline(transaction=True) as pipe:
            for name, value in parts.items():
                pipe.set(f"{self.key}:{self.step}:{name}", _pack(value), ex=self._ttl())
            pipe.execute()

    def _gather(self, names: dict[int, str], finished_counts: bool = True) -> dict[int, object]:
        """The messages `names` (by member) of this step, waiting for each until its member publishes it or, if
        `finished_counts`, finishes without taking part (None)."""
        found: dict[int, object] = {}
        started = time.perf_counter()
        while len(found) < len(names):
            waiting = [member for member in names if member not in found]
            blobs = self.client.mget([f"{self.key}:{self.step}:{names[member]}" for member in waiting])
            finished = (self.client.mget([f"{self.key}:done:{member}" for member in waiting]) if finished_counts
                        else [None] * len(waiting))
            for member, blob, done in zip(waiting, blobs, finished, strict=True):
                if blob is not None:
                    found[member] = _unpack(blob)
                elif done is not None:
                    found[member] = None
            if len(found) < len(names):
                if time.monotonic() > self.deadline:
                    raise ShardFailed(f"members {sorted(set(names) - set(found))} missed exchange {self.step}")
                time.sleep(0.002)
        self.waited += time.perf_counter() - started
        return found

    def stamps(self, local: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """The union of every member's bar times: the panel's rows, as one process would have them."""
        self.first = self.first or (time.perf_counter(), time.process_time())
        started = time.perf_counter()
        self.step += 1
        own = local.as_unit("ns").asi8
        self._publish({f"stamps:{self.index}": own})
        every = self._gather({member: f"stamps:{member}" for member in range(self.size) if member != self.index})
        union = np.unique(np.concatenate([own, *(part for part in every.values() if part is not None)]))
        self.exchanging += time.perf_counter() - started
        return pd.DatetimeIndex(union.view("datetime64[ns]")).tz_localize("UTC").as_unit(local.unit)

    def benchmark(self, values: np.ndarray, sectors: list[str | None], min_peers: int) -> tuple[np.ndarray,
                                                                                                np.ndarray]:
        """The market's and sectors' medians over every member's symbols, for this member's columns. The rows are
        cut into one range per member: each member sends each range of its columns to the member that reduces
        it (its own range stays in memory), which takes the medians of its range over every column, and everyone
        gathers every range's medians. A range of a member that takes no part is reduced by one that does."""
        started = time.perf_counter()
        self.step += 1
        bounds = np.linspace(0, len(values), self.size + 1).astype(int)
        own = {group: (values[bounds[group]:bounds[group + 1]], sectors) for group in range(self.size)}
        self._publish({f"rows{group}:{self.index}": part for group, part in own.items() if group != self.index})
        heard = self._gather({member: f"rows{self.index}:{member}" for member in range(self.size)
                              if member != self.index})
        present = [member for member in range(self.size) if member == self.index or heard[member] is not None]
        absent = [group for group in range(self.size) if group not in present]
        reducer = {**{group: group for group in present},
                   **{group: present[i % len(present)] for i, group in enumerate(absent)}}
        for group in (group for group, member in reducer.items() if member == self.index):
            self._publish({f"medians{group}": self._reduce(group, present, own[group], min_peers)})
        reduced = self._gather({group: f"medians{group}" for group in range(self.size)}, finished_counts=False)
        market = np.concatenate([reduced[group][0] for group in range(self.size)])
        sector_market = {name: np.concatenate([reduced[group][1][name] for group in range(self.size)])
                         for name in reduced[0][1]}
        by_sector = np.full_like(values, np.nan)
        for name, columns in sector_columns(sectors).items():
            by_sector[:, columns] = sector_market[name][:, None]
        self.exchanging += time.perf_counter() - started
        return np.repeat(market[:, None], values.shape[1], axis=1), by_sector

    def _reduce(self, group: int, present: list[int], own: tuple[np.ndarray, list], min_peers: int) -> tuple[
            np.ndarray, dict[str, np.ndarray]]:
        """Rows `group`'s market median and each sector's, over every present member's columns (`own`: this
        member's)."""
        others = [member for member in present if member != self.index]
        names = [f"{self.key}:{self.step}:rows{group}:{member}" for member in others]
        blobs = self.client.mget(names)
        parts = dict(zip(others, (_unpack(blob) for blob in blobs), strict=True)) | {self.index: own}
        ordered = [parts[member] for member in present]
        values = np.hstack([part[0] for part in ordered])
        sectors = sector_columns([name for part in ordered for name in part[1]])
        market, *by_sector = group_medians(values, [np.arange(values.shape[1]), *sectors.values()], min_peers)
        return market, dict(zip(sectors, by_sector, strict=True))


@dataclasses.dataclass
class Shard:
    """Member `index` of `count`: its symbols [low, high) (`symbols`) and its side of the exchanges."""

    index: int
    count: int
    peers: Peers
    symbols: reads.SymbolRange


Examine = Callable[..., object]


def examine(run: Examine, wanted: int, params: dict):
    """Coordinate a sharded examination (`run` is scan.examine, called with `params` and `shard`); the merged
    examination, or None when nobody joined or a member failed (the caller then examines in one process)."""
    client = get_redis()
    key = f"quality:scan-shards:{uuid.uuid4().hex}"
    ttl = conf.get("QUALITY_SCAN_SHARD_TIMEOUT_SECONDS") * 2
    try:
        names = reads.universe_symbols(params["interval"], params["symbols"])
        client.set(f"{key}:params", _pack((params, names)), ex=ttl)
        for _ in range(wanted - 1):
            async_task(TASK, key)
        started = time.perf_counter()
        size = _seal(client, key, wanted, ttl)
        if size == 1:
            return None
        joined = time.perf_counter()
        own = _member(client, key, 0, size, run, (params, names))
        merged = _merge([own, *_results(client, key, size)])
        log.info("scan shard coordinator: %d shards, %.2f s waiting for workers to join, %.2f s from then until "
                 "every shard's findings were in", size, joined - started, time.perf_counter() - joined)
        return merged
    except ShardFailed as error:
        log.warning("sharded scan failed, scanning in one process: %s", error)
        return None
    finally:
        # The exchanged blocks go now; the member count stays a while so that late joiners learn they are late.
        client.delete(*[name for name in client.scan_iter(f"{key}:*") if not name.endswith((b":members", b":size"))])


def _seal(client, key: str, wanted: int, ttl: int) -> int:
    """Wait for up to `wanted - 1` joiners (QUALITY_SCAN_SHARD_JOIN_SECONDS at most), then fix the member count."""
    _poll(lambda: int(client.get(f"{key}:members") or 0) >= wanted - 1, conf.get("QUALITY_SCAN_SHARD_JOIN_SECONDS"),
          pause=0.01)
    return int(client.eval(SEAL, 2, f"{key}:members", f"{key}:size", ttl))


def join(key: str, run: Examine) -> dict:
    """A worker's side (the `scan_shard` task): become a member if the coordinator still takes members, examine
    that shard and publish what it found."""
    client = get_redis()
    ttl = conf.get("QUALITY_SCAN_SHARD_TIMEOUT_SECONDS") * 2
    index = int(client.eval(JOIN, 2, f"{key}:members", f"{key}:size", ttl))
    if index < 0:
        return {"skipped": "the scan had started without this worker"}
    size = _wait_for_size(client, key)
    blob = client.get(f"{key}:params")
    if size is None or blob is None or index >= size:
        return {"skipped": "the scan had started without this worker"}
    try:
        found = _member(client, key, index, size, run, _unpack(blob))
        client.set(f"{key}:result:{index}", _pack(("ok", found)), ex=ttl)
    except Exception as error:
        client.set(f"{key}:result:{index}", _pack(("error", repr(error))), ex=ttl)
        raise
    finally:
        client.set(f"{key}:done:{index}", 1, ex=ttl)
    return {"shard": index, "of": size, "symbols": len(found.scanned)}


def _wait_for_size(client, key: str) -> int | None:
    """The member count once the coordinator fixes it; None when it never does (the scan is long gone)."""
    size = _poll(lambda: client.get(f"{key}:size"), conf.get("QUALITY_SCAN_SHARD_JOIN_SECONDS") + 5, pause=0.005)
    return None if size is None else int(size)


def _member(client, key: str, index: int, size: int, run: Examine, published: tuple[dict, list[str]]):
    params, names = published
    shard = Shard(index, size, Peers(client, key, index, size), reads.symbol_ranges(names, size)[index])
    started, cpu = time.perf_counter(), time.process_time()
    try:
        found = run(**params, shard=shard)
        _log_stages(shard, len(found.scanned), started, cpu)
        return found
    finally:
        # Members still exchanging stop waiting for this one.
        client.set(f"{key}:done:{index}", 1, ex=conf.get("QUALITY_SCAN_SHARD_TIMEOUT_SECONDS") * 2)


def _log_stages(shard: Shard, symbols: int, started: float, cpu: float) -> None:
    """Where a shard's time went: reading its bars (up to the first exchange), checking them, the exchanges."""
    peers, ended = shard.peers, (time.perf_counter(), time.process_time())
    read = peers.first or ended
    log.info("scan shard %d of %d: %d symbols in %.2f s (%.2f s of CPU): reading %.2f s (%.2f s of CPU), checking "
             "%.2f s (%.2f s of CPU) of which %.2f s in exchanges, %.2f s of that waiting for other shards",
             shard.index, shard.count, symbols, ended[0] - started, ended[1] - cpu, read[0] - started,
             read[1] - cpu, ended[0] - read[0], ended[1] - read[1], peers.exchanging, peers.waited)


def _results(client, key: str, size: int) -> list:
    found = {}

    def all_in() -> bool:
        for member in range(1, size):
            if member not in found and (blob := client.get(f"{key}:result:{member}")) is not None:
                outcome, value = _unpack(blob)
                if outcome != "ok":
                    raise ShardFailed(f"member {member} failed: {value}")
                found[member] = value
        return len(found) == size - 1

    if not _poll(all_in, conf.get("QUALITY_SCAN_SHARD_TIMEOUT_SECONDS"), pause=0.005):
        raise ShardFailed("a member did not finish in time")
    return [found[member] for member in range(1, size)]


def _poll(ready: Callable[[], object], seconds: float, *, pause: float):
    """`ready()`'s first truthy answer, asked every `pause` seconds; its last (falsy) answer after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (answer := ready()) and time.monotonic() < deadline:
        time.sleep(pause)
    return answer


def _merge(parts: list):
    """One examination from the members' (their symbols never overlap)."""
    profiles, sources, findings = {}, {}, []
    for part in parts:
        profiles.update(part.profiles)
        sources.update(part.sources)
        findings += part.findings
    return dataclasses.replace(parts[0], scanned=sorted(profiles), profiles=profiles, sources=sources,
                               findings=findings, seen=pd.concat([part.seen for part in parts], ignore_index=True))
