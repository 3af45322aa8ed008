"""Supervising child processes (what `manage.py serve` does with the bar consumer)."""

import subprocess
import sys
import time

from tickstock_ops import processes

DEADLINE_SECONDS = 20


def python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_restarted_process_that_exits_is_started_again_until_stopping():
    essential = [python("import time; time.sleep(60)")]
    starts, reports = [], []

    def start() -> subprocess.Popen:
        starts.append(python("import sys; sys.exit(3)"))
        return starts[-1]

    restarted = {"consumer": (start, start())}
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        processes.supervise(essential, restarted, lambda: len(starts) >= 3 or time.monotonic() > deadline,
                            reports.append, poll_seconds=0.02, restart_delay_seconds=0.01)
        assert len(starts) >= 3, f"only {len(starts)} starts within {DEADLINE_SECONDS} s"
        assert reports[:2] == ["consumer exited with 3; starting it again"] * 2
        assert restarted["consumer"][1] is starts[-1]
        assert essential[0].poll() is None
    finally:
        processes.stop_all([*essential, *starts], timeout=5)


def test_supervising_ends_when_an_essential_process_exits_and_stops_nothing_itself():
    essential = [python("import time; time.sleep(60)"), python("import sys; sys.exit(0)")]
    consumer = python("import time; time.sleep(60)")
    started = time.monotonic()
    try:
        processes.supervise(essential, {"consumer": (lambda: consumer, consumer)},
                            lambda: time.monotonic() - started > DEADLINE_SECONDS, print, poll_seconds=0.02)
        assert time.monotonic() - started < DEADLINE_SECONDS
        assert essential[0].poll() is None and consumer.poll() is None
    finally:
        processes.stop_all([*essential, consumer], timeout=5)
