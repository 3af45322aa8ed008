import json

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tickstock_ops import events

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(staff: bool = True) -> str:
    user = get_user_model().objects.create_user("operator", password="pw-for-tests-only", is_staff=staff)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def open_socket(server: str, cookie: str | None, origin: str | None = None):
    headers = {"Origin": origin or f"http://{server}"}
    if cookie:
        headers["Cookie"] = cookie
    return connect(f"ws://{server}/ws/dashboard/", additional_headers=headers, open_timeout=5)


def test_a_staff_browser_receives_events_live(asgi_server):
    with open_socket(asgi_server, session_cookie()) as socket:
        socket.send(json.dumps({"resync_after": None}))
        assert json.loads(socket.recv(timeout=5))["resync"] is True

        with transaction.atomic():
            event = events.publish("tickstock.ipo.detected", {"ticker": "LIVE", "company_name": "Live Corp"})

        message = json.loads(socket.recv(timeout=5))
    [item] = message["events"]
    assert item["event"]["id"] == str(event.event_id)
    assert item["event"]["payload"] == {"ticker": "LIVE", "company_name": "Live Corp"}
    assert item["seq"] == event.id
    assert item["summary"] == "LIVE · Live Corp"


def test_a_reconnecting_browser_gets_what_it_missed(asgi_server):
    cookie = session_cookie()
    with transaction.atomic():
        seen = events.publish("tickstock.ipo.detected", {"ticker": "SEEN"})
        missed = [events.publish("tickstock.ipo.detected", {"ticker": f"MISSED{n}"}) for n in range(3)]

    with open_socket(asgi_server, cookie) as socket:
        socket.send(json.dumps({"resync_after": seen.id}))
        message = json.loads(socket.recv(timeout=5))

    assert [item["event"]["id"] for item in message["events"]] == [str(e.event_id) for e in missed]
    assert [item["summary"] for item in message["events"]] == ["MISSED0", "MISSED1", "MISSED2"]


def test_an_anonymous_visitor_is_refused(asgi_server):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(asgi_server, cookie=None)
    assert refused.value.response.status_code == 403


def test_a_logged_in_user_who_is_not_staff_is_refused(asgi_server):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(asgi_server, session_cookie(staff=False))
    assert refused.value.response.status_code == 403


def test_a_foreign_origin_is_refused_even_with_a_staff_session(asgi_server):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(asgi_server, session_cookie(), origin="http://evil.example")
    assert refused.value.response.status_code == 403


def test_every_socket_gets_every_event_of_a_burst_in_commit_order(asgi_server):
    cookie = session_cookie()
    sockets = [open_socket(asgi_server, cookie) for _ in range(3)]
    try:
        for socket in sockets:
            socket.send(json.dumps({"resync_after": None}))
            assert json.loads(socket.recv(timeout=5))["resync"] is True
        published = []
        for n in range(20):
            with transaction.atomic():
                published.append(str(events.publish("tickstock.ipo.detected", {"ticker": f"B{n}"}).event_id))

        for socket in sockets:
            received = []
            while len(received) < len(published):
                received += [item["event"]["id"] for item in json.loads(socket.recv(timeout=5))["events"]]
            assert received == published
    finally:
        for socket in sockets:
            socket.close()


def test_a_burst_of_handshakes_waits_on_the_database_thread_once_per_socket(monkeypatch):
    """Each message Channels dispatches used to hop first to the one database thread; a burst of browsers
    reconnecting queued there past daphne's 5 s handshake timeout and got HTTP 403. Only the session lookup
    remains, and the sockets still work."""
    from asgiref.sync import async_to_sync
    from channels import consumer
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    hops = []

    async def hop() -> None:
        hops.append(1)

    monkeypatch.setattr(consumer, "aclose_old_connections", hop)
    cookie = session_cookie().encode()

    async def burst(count: int) -> list[dict]:
        sockets = [WebsocketCommunicator(application, "/ws/dashboard/", headers=[
            (b"cookie", cookie), (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]) for _ in range(count)]
        for socket in sockets:
            assert (await socket.connect(timeout=10))[0]
        answers = []
        for socket in sockets:
            await socket.send_json_to({"resync_after": None})
            answers.append(await socket.receive_json_from(timeout=10))
            await socket.disconnect()
        return answers

    answers = async_to_sync(burst)(20)
    assert [answer["resync"] for answer in answers] == [True] * 20
    assert hops == []
