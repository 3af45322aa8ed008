"""The broadcaster's adaptive coalescing, driven on a real event loop with sockets whose writes take real time."""

import asyncio
import json

from dashboard.consumers import Broadcaster


class RecordingSocket:
    def __init__(self, write_seconds: float = 0.0, broken: bool = False) -> None:
        self.frames: list[str] = []
        self.write_seconds = write_seconds
        self.broken = broken

    async def send(self, text_data: str) -> None:
        if self.broken:
            raise ConnectionResetError("socket closed")
        await asyncio.sleep(self.write_seconds)
        self.frames.append(text_data)

    def received(self) -> list[int]:
        return [item["seq"] for frame in self.frames for item in json.loads(frame)["events"]]


def outbox_item(seq: int) -> dict:
    """What the broadcaster receives from the channel layer for one committed event."""
    return {"seq": seq, "event": {"id": f"00000000-0000-0000-0000-{seq:012d}", "type": "tickstock.ipo.detected",
                                  "occurred_at": "2026-11-30T15:00:00Z", "payload": {"ticker": f"T{seq}"}}}


async def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the broadcaster did not deliver in time"
        await asyncio.sleep(0.005)


def test_events_arriving_while_slow_sockets_are_written_share_the_next_frame(settings):
    settings.DASHBOARD_COALESCE_SECONDS = 1.0
    sockets = [RecordingSocket(write_seconds=0.01) for _ in range(5)]

    async def run() -> None:
        broadcaster = Broadcaster()
        broadcaster.members.update(sockets)
        for n in range(20):
            broadcaster._add([outbox_item(n)])
            await asyncio.sleep(0.005)
        await wait_until(lambda: all(len(s.received()) == 20 for s in sockets))

    asyncio.run(run())
    for socket in sockets:
        assert socket.received() == list(range(20))
        assert len(socket.frames) < 10


def test_an_idle_broadcaster_sends_each_event_at_once_whatever_the_longest_window(settings):
    settings.DASHBOARD_COALESCE_SECONDS = 60.0
    socket = RecordingSocket()

    async def run() -> None:
        broadcaster = Broadcaster()
        broadcaster.members.add(socket)
        for n in range(3):
            broadcaster._add([outbox_item(n)])
            await wait_until(lambda n=n: len(socket.received()) == n + 1)

    asyncio.run(run())
    assert socket.received() == [0, 1, 2]
    assert len(socket.frames) == 3


def test_a_socket_that_fails_is_dropped_and_the_others_still_get_the_frame(settings):
    settings.DASHBOARD_COALESCE_SECONDS = 0.15
    healthy, broken = RecordingSocket(), RecordingSocket(broken=True)

    async def run() -> Broadcaster:
        broadcaster = Broadcaster()
        broadcaster.members.update([healthy, broken])
        broadcaster._add([outbox_item(0)])
        await wait_until(lambda: healthy.received() == [0])
        return broadcaster

    broadcaster = asyncio.run(run())
    assert broadcaster.members == {healthy}
