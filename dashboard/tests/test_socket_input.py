"""Frames a staff socket may send that are not what the dashboard sends: answered with an error, never a 1011."""

import json

import pytest
from websockets.exceptions import ConnectionClosed

from dashboard.tests.test_socket import open_socket, session_cookie
from tickstock_ops import testing

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server_with_log(transactional_db, isolated_redis, tmp_path):
    """daphne on a free port, its stderr kept so the test can see that nothing was logged as a crash."""
    port = testing.free_port()
    log_path = tmp_path / "daphne.log"
    with log_path.open("w") as log:
        process = testing.start_module("daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application",
                                       stdout=log, stderr=log)
    testing.wait_for_port(port, timeout=60, process=process)
    yield f"127.0.0.1:{port}", log_path
    testing.stop(process)


MALFORMED = [
    ("not json at all", "a frame must be a JSON object"),
    ("[1, 2, 3]", "a frame must be a JSON object"),
    ("42", "a frame must be a JSON object"),
    ('"resync_after"', "a frame must be a JSON object"),
    ("null", "a frame must be a JSON object"),
    ("[" * 100_000, "a frame must be a JSON object"),
    ('{"resync_after": 99999999999999999999999999}', "resync_after must be null or a whole number from 0"),
    ('{"resync_after": -1}', "resync_after must be null or a whole number from 0"),
    ('{"resync_after": true}', "resync_after must be null or a whole number from 0"),
    ('{"resync_after": "12"}', "resync_after must be null or a whole number from 0"),
    ('{"resync_after": 1.5}', "resync_after must be null or a whole number from 0"),
    (b"\x00\x01binary", "frames must be text"),
]


def test_malformed_frames_get_an_error_message_and_the_socket_stays_usable(server_with_log):
    server, log_path = server_with_log
    with open_socket(server, session_cookie()) as socket:
        for frame, message in MALFORMED:
            socket.send(frame)
            answer = json.loads(socket.recv(timeout=5))
            assert answer["kind"] == "error" and message in answer["error"], (frame, answer)
        socket.send(json.dumps({"resync_after": None}))
        assert json.loads(socket.recv(timeout=5))["resync"] is True
        socket.send(json.dumps({"something_else": 1}))  # unknown requests are ignored, as before
        socket.send(json.dumps({"resync_after": 0}))
        assert json.loads(socket.recv(timeout=5))["resync"] is True
    log = log_path.read_text()
    assert "Traceback" not in log and "1011" not in log, log


def test_a_flood_of_bad_frames_does_not_kill_the_socket(server_with_log):
    server, _ = server_with_log
    with open_socket(server, session_cookie()) as socket:
        for _ in range(200):
            socket.send("}{")
        errors = [json.loads(socket.recv(timeout=5)) for _ in range(200)]
        assert {answer["kind"] for answer in errors} == {"error"}
        socket.send(json.dumps({"resync_after": None}))
        try:
            assert json.loads(socket.recv(timeout=5))["resync"] is True
        except ConnectionClosed as closed:
            pytest.fail(f"socket closed with {closed.rcvd}")
