"""Sends event batches to the dashboard's Channels group from a background event loop.

`async_to_sync(group_send)` would build a new event loop, and with it a new Redis connection pool, for every
call; one long-lived loop per process keeps one pool and takes the send off the publisher's path. Batches go
out one after another, in the order they were handed over. Channels delivers at most once anyway: a dashboard
that misses something catches up from the outbox when it reconnects.
"""

import asyncio
import atexit
import logging
import os
import threading

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
_STOP = object()


class DashboardPusher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._thread: threading.Thread | None = None

    def push(self, group: str, message: dict) -> None:
        loop, queue = self._running()
        loop.call_soon_threadsafe(queue.put_nowait, (group, message))

    def _running(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._start()
            return self._loop, self._queue

    def _start(self) -> None:
        self._pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._queue = asyncio.Queue()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="dashboard-push", daemon=True)
        self._thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(ready.set)
        self._loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        layer = get_channel_layer()
        while True:
            item = await self._queue.get()
            if item is _STOP:
                return
            group, message = item
            try:
                await layer.group_send(group, message)
            except Exception as error:  # best effort: the events are already on Redis and in the outbox
                log.warning("could not push %d events to the dashboard: %s", len(message.get("events", [])), error)

    def close(self, timeout: float = 3.0) -> None:
        """Send what is queued (waiting at most `timeout`), then stop; the process is about to exit."""
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                return
            self._loop.call_soon_threadsafe(self._queue.put_nowait, _STOP)
            self._thread.join(timeout)
            self._thread = None


pusher = DashboardPusher()
atexit.register(pusher.close)
