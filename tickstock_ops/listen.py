"""The reference consumer: reads the event streams with a consumer group, so an offline consumer catches up."""

import fnmatch
import json
import socket
import time
from collections.abc import Callable, Iterator

import redis

from tickstock_ops.events import STREAMS_KEY

RESCAN_SECONDS = 5


class StreamListener:
    def __init__(self, client: redis.Redis, patterns: list[str], group: str, consumer: str | None = None,
                 from_start: bool = False, block_ms: int = 1000):
        self.client = client
        self.patterns = patterns
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}"
        self.from_start = from_start
        self.block_ms = block_ms
        self.streams: set[str] = set()
        self._known_at_start: set[str] | None = None
        self._last_scan = 0.0

    def _matching_streams(self) -> set[str]:
        names = {name.decode() for name in self.client.smembers(STREAMS_KEY)}
        return {name for name in names if any(fnmatch.fnmatchcase(name, p) for p in self.patterns)}

    def _join(self, stream: str, start_id: str) -> None:
        try:
            self.client.xgroup_create(stream, self.group, id=start_id, mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def refresh_streams(self) -> None:
        """Join every matching stream. A stream that appears while we listen is read from its beginning."""
        found = self._matching_streams()
        first_scan = self._known_at_start is None
        if first_scan:
            self._known_at_start = found
        for stream in found - self.streams:
            start = "0" if (self.from_start or not first_scan) else "$"
            self._join(stream, start)
            self.streams.add(stream)
        self._last_scan = time.monotonic()

    def _read(self, start: str, block: int | None) -> list:
        if not self.streams:
            return []
        return self.client.xreadgroup(self.group, self.consumer, {s: start for s in sorted(self.streams)},
                                      count=500, block=block) or []

    def envelopes(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[str, bytes, dict]]:
        """Yield (stream, entry id, envelope); the caller acknowledges with `ack()` once it has handled one."""
        self.refresh_streams()
        # Entries delivered to this consumer before a crash but never acknowledged come first.
        for stream, entries in self._read("0", None):
            for entry_id, fields in entries:
                if fields:
                    yield stream.decode(), entry_id, json.loads(fields[b"event"])
        while not should_stop():
            if time.monotonic() - self._last_scan > RESCAN_SECONDS or not self.streams:
                self.refresh_streams()
                if not self.streams:
                    time.sleep(self.block_ms / 1000)
                    continue
            for stream, entries in self._read(">", self.block_ms):
                for entry_id, fields in entries:
                    yield stream.decode(), entry_id, json.loads(fields[b"event"])

    def ack(self, stream: str, entry_id: bytes) -> None:
        self.client.xack(stream, self.group, entry_id)
