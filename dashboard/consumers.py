import asyncio
import json
import logging

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from dashboard.panels import with_summaries
from tickstock_ops import events

FORBIDDEN = 4403
MAX_SEQ = 2**63 - 1  # outbox positions are 64-bit; a larger number would fail in the database query
log = logging.getLogger(__name__)


class Broadcaster:
    """One per ASGI process: joins the dashboard group once, receives each event batch once, and writes it, encoded
    once, to every dashboard socket of this process.

    Per-socket group membership would cost one channel-layer message, one dispatch and one JSON encoding per
    socket per batch; with hundreds of sockets that, not the network, is what limits a process.

    The coalescing window adapts to load: a frame goes out as soon as its events arrive when the last frame is done,
    and the next frame waits `FRAME_SPACING` times what writing the last one to every socket cost (at most
    `DASHBOARD_COALESCE_SECONDS`). With one socket a frame costs microseconds, so every event goes out at once;
    with hundreds a frame costs tens of milliseconds, events arriving meanwhile share the next frame, and the
    process spends at most about 1 / (1 + FRAME_SPACING) of its time framing. (See docs/dashboard.md.)
    """

    REJOIN_SECONDS = 60.0
    # Writing a frame to the sockets costs about as much again in the server's own write calls, after our sends.
    FRAME_SPACING = 3.0

    def __init__(self) -> None:
        self.members: set[AsyncJsonWebsocketConsumer] = set()
        self.pending: list[dict] = []
        self.task: asyncio.Task | None = None
        self.sender: asyncio.Task | None = None

    def join(self, consumer: AsyncJsonWebsocketConsumer) -> None:
        self.members.add(consumer)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._receive())

    def leave(self, consumer: AsyncJsonWebsocketConsumer) -> None:
        self.members.discard(consumer)

    async def _receive(self) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        joined = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - joined > self.REJOIN_SECONDS:
                    await layer.group_add(settings.DASHBOARD_GROUP, channel)
                    joined = loop.time()
                message = await asyncio.wait_for(layer.receive(channel), timeout=self.REJOIN_SECONDS)
            except TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis away: the browsers resync from the outbox when it is back
                log.warning("dashboard broadcast: %s", error)
                await asyncio.sleep(1.0)
                joined = 0.0
                continue
            if message.get("type") == events.DASHBOARD_MESSAGE:
                self._add(message["events"])

    def _add(self, batch: list[dict]) -> None:
        self.pending.extend(batch)
        if self.sender is None or self.sender.done():
            self.sender = asyncio.get_running_loop().create_task(self._send_pending())

    async def _send_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            batch, self.pending = self.pending, []
            started = loop.time()
            await self._send_frame(json.dumps({"kind": "events", "events": with_summaries(batch)}))
            cost = loop.time() - started
            await asyncio.sleep(min(settings.DASHBOARD_COALESCE_SECONDS, cost * self.FRAME_SPACING))

    async def _send_frame(self, frame: str) -> None:
        for member in list(self.members):
            try:
                await member.send(text_data=frame)
            except Exception as error:  # a socket closing under us; the others still get the frame
                log.debug("dashboard socket dropped a frame: %s", error)
                self.members.discard(member)


_broadcasters: dict[asyncio.AbstractEventLoop, Broadcaster] = {}


def broadcaster() -> Broadcaster:
    loop = asyncio.get_running_loop()
    if loop not in _broadcasters:
        _broadcasters[loop] = Broadcaster()
    return _broadcasters[loop]


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Pushes every event to staff browsers: first a snapshot (or what a reconnecting client missed), then live."""

    # No channel of its own per socket: the process's Broadcaster receives for all of them. (Channels gives a
    # consumer a channel only when this alias names a configured layer.)
    channel_layer_alias = "none"

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch without its hop to the one database thread before every message (to close old
        connections): this consumer reaches the database only through `database_sync_to_async`, which closes them
        itself. With that hop a burst of handshakes (browsers reconnecting after a deploy) queued on the thread
        past daphne's handshake timeout, which rejects them with HTTP 403 (docs/dashboard.md)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not (user and user.is_authenticated and user.is_staff):
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        broadcaster().join(self)

    async def disconnect(self, code: int) -> None:
        broadcaster().leave(self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        """Frames come from the page's script; anything else gets an error frame and the socket stays open."""
        if text_data is None:
            await self.send_json({"kind": "error", "error": "frames must be text (a JSON object)"})
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            content = None
        if not isinstance(content, dict):
            await self.send_json({"kind": "error", "error": 'a frame must be a JSON object, e.g. {"resync_after": 12}'})
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        """`{"resync_after": seq}` replays what the client missed; `{"resync_after": null}` sends a snapshot."""
        if "resync_after" not in content:
            return
        after = content["resync_after"]
        if after is not None and not (type(after) is int and 0 <= after <= MAX_SEQ):
            await self.send_json({"kind": "error", "error": f"resync_after must be null or a whole number from 0 to "
                                                            f"{MAX_SEQ}, not {json.dumps(after)[:40]}"})
            return
        if after is None:
            backlog = await database_sync_to_async(events.recent_events)()
        else:
            backlog = await database_sync_to_async(events.events_since)(after)
        await self.send_json({"kind": "events", "events": with_summaries(backlog), "resync": True})
