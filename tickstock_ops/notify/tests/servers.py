"""Real receivers on 127.0.0.1 for the notification tests: a JSON webhook and an SMTP server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tickstock_ops.testing import free_port


class JsonReceiver:
    """An HTTP server taking Apprise's json:// posts; it can go down and come back on the same port."""

    def __init__(self, status: int = 200):
        self.port = free_port()
        self.url = f"json://127.0.0.1:{self.port}/hook"
        self.status = status
        self.received: list[dict] = []
        self._arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "JsonReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(receiver.status)
                self.end_headers()
                if receiver.status < 300:
                    with receiver._arrived:
                        receiver.received.append({**body, "received_at": time.time()})
                        receiver._arrived.notify_all()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.received)} of {count} notifications arrived in {timeout}s")
                self._arrived.wait(left)
            return list(self.received)


class SmtpReceiver:
    """aiosmtpd on a free port, keeping each message it accepts."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[dict] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                          "content": envelope.content.decode("utf-8", "replace")})
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.url = f"mailto://127.0.0.1:{self.port}?from=ops@example.com&to=oncall@example.com&secure=no"

    def start(self) -> "SmtpReceiver":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
