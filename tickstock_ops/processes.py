"""Stopping child processes the same way everywhere: ask all of them first, then wait, then insist."""

import subprocess
import time
from collections.abc import Callable, Iterable


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


def supervise(essential: list[subprocess.Popen], restarted: dict[str, tuple[Callable[[], subprocess.Popen],
              subprocess.Popen]], stopping: Callable[[], bool], report: Callable[[str], None], *,
              poll_seconds: float = 0.5, restart_delay_seconds: float = 2.0) -> None:
    """Wait while every `essential` process runs and `stopping()` is false. A process of `restarted` (name →
    (how to start it, the process), updated in place so that the caller stops the running one) that exits
    meanwhile is reported and started again after a pause, so that one failing at once does not spin."""
    while not stopping() and all(process.poll() is None for process in essential):
        time.sleep(poll_seconds)
        for name, (start, process) in list(restarted.items()):
            if process.poll() is not None and not stopping():
                report(f"{name} exited with {process.returncode}; starting it again")
                time.sleep(restart_delay_seconds)
                restarted[name] = (start, start())
