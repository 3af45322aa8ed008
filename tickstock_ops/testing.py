"""Helpers for tests that run real processes: free ports, their environment, waiting for them."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.conf import settings
from django.db import connection

from tickstock_ops import processes

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={db}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


CLAIM_KEY = "tickstock:test-run"


def claim_redis_db(url: str, candidates: range = range(8, 16)) -> int:
    """A Redis database number no other test run is using; released by `release_redis_db`."""
    for db in candidates:
        client = redis.Redis.from_url(redis_url_with_db(url, db))
        if client.set(CLAIM_KEY, os.getpid(), nx=True, ex=3 * 3600):
            clear_redis_db(client)
            return db
    raise RuntimeError(f"every Redis database {candidates.start}-{candidates.stop - 1} is in use by another test run")


def clear_redis_db(client: redis.Redis) -> None:
    """Empty the run's database but keep its claim, so no other run takes it meanwhile."""
    with client.pipeline() as pipe:
        pipe.flushdb()
        pipe.set(CLAIM_KEY, os.getpid(), ex=3 * 3600)
        pipe.execute()


def release_redis_db(url: str, db: int) -> None:
    redis.Redis.from_url(redis_url_with_db(url, db)).flushdb()


def database_url() -> str:
    """The URL of the database the tests are using right now (the test database, not the configured one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "") + "@" if db.get("USER") else ""
    return f"postgres://{auth}{host}:{port}/{db['NAME']}"


def process_env(**extra: str) -> dict:
    """Environment for a subprocess that must see the test database and the test Redis."""
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL, "DEBUG": "1",
           "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"], "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def manage(*args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR,
                            env=env or process_env(), **popen)


def wait_until(condition, timeout: float = 30.0, what: str = "condition", pause: float = 0.05):
    """Poll `condition` until it returns something truthy (returned) or `timeout` seconds pass (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(pause)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def wait_for_port(port: int, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Wait for a server on 127.0.0.1:`port`; generous, since a loaded CI machine starts daphne slowly."""
    def listening() -> bool:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_until(listening, timeout, f"a server on 127.0.0.1:{port}")


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    processes.stop_all([process], timeout)


def start_module(module: str, *args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=BASE_DIR, env=env or process_env(), **popen)


def run_manage(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR,
                          env=env or process_env(), capture_output=True, text=True, timeout=timeout)


def run_manage_on_terminal(*args: str, env: dict | None = None,
                           timeout: float = 120) -> tuple[subprocess.CompletedProcess, str]:
    """Run a command with its stderr on a pseudo-terminal (what an operator sees); its stdout is captured."""
    import pty
    import threading

    primary, secondary = pty.openpty()
    screen = bytearray()

    def read_screen() -> None:
        while True:
            try:
                data = os.read(primary, 4096)
            except OSError:  # the terminal's other end is closed: the process is gone
                return
            if not data:
                return
            screen.extend(data)

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    try:
        done = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR,
                              env={**(env or process_env()), "COLUMNS": "120"}, stderr=secondary,
                              stdout=subprocess.PIPE, text=True, timeout=timeout)
    finally:
        os.close(secondary)
        reader.join(timeout=10)
        os.close(primary)
    return done, screen.decode(errors="replace")


class RedisServer:
    """A private redis-server on a free port that a test can stop and start again; it keeps its data on disk."""

    def __init__(self, directory: Path):
        from tickstock_ops.embedded_redis import executable

        self.executable = executable()
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._answers, 10, f"redis-server on port {self.port}", pause=0.02)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
