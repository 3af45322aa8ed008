from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from tickstock_ops import events

FORBIDDEN = 4403


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Pushes every event to staff browsers: first a snapshot (or what a reconnecting client missed), then live."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not (user and user.is_authenticated and user.is_staff):
            await self.close(code=FORBIDDEN)
            return
        await self.channel_layer.group_add(settings.DASHBOARD_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(settings.DASHBOARD_GROUP, self.channel_name)

    async def receive_json(self, content: dict, **kwargs) -> None:
        """`{"resync_after": seq}` replays what the client missed; `{"resync_after": null}` sends a snapshot."""
        if "resync_after" not in content:
            return
        after = content["resync_after"]
        if isinstance(after, int):
            backlog = await database_sync_to_async(events.events_since)(after)
        else:
            backlog = await database_sync_to_async(events.recent_events)()
        await self.send_json({"kind": "events", "events": backlog, "resync": True})

    async def events_batch(self, message: dict) -> None:
        await self.send_json({"kind": "events", "events": message["events"]})
