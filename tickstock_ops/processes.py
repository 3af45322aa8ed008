"""Stopping child processes the same way everywhere: ask all of them first, then wait, then insist."""

import subprocess
import time
from collections.abc import Iterable


def stop_all(processes: Iterable[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM every process still running, give them `timeout` seconds together to exit (draining their pipes),
    and SIGKILL whichever has not."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
