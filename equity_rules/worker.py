"""The worker loop shared by `manage.py process_queue` and the django-q2 task: claim, process, repeat."""

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, close_old_connections, connections

from equity_rules import conf, processing, queue, sla

log = logging.getLogger(__name__)
DB_RETRY_SECONDS = 2.0


class DatabaseUnavailable(Exception):
    """The database stayed unreachable past the worker's `give_up_after`."""


@dataclass
class WorkerTotals:
    batches: int = 0
    processed: int = 0
    retried: int = 0
    dead: int = 0
    lost_lease: int = 0
    rescued: int = 0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, name: str | None = None, *, batch_size: int | None = None, lease_seconds: float | None = None,
                 poll_seconds: float | None = None):
        self.name = name or worker_name()
        self.batch_size = batch_size or conf.get("EQUITY_RULES_BATCH_SIZE")
        self.lease_seconds = lease_seconds or conf.get("EQUITY_RULES_LEASE_SECONDS")
        self.poll_seconds = conf.get("EQUITY_RULES_POLL_SECONDS") if poll_seconds is None else poll_seconds
        self.totals = WorkerTotals()
        self.stopping = False
        self._next_rescue = 0.0
        self._next_sla = time.monotonic() + conf.get("EQUITY_RULES_SLA_CHECK_SECONDS")

    def stop(self, *_args) -> None:
        """Finish the batch in hand, then return (SIGTERM/SIGINT)."""
        self.stopping = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self, *, once: bool = False, max_seconds: float | None = None, max_jobs: int | None = None,
            give_up_after: float | None = None) -> WorkerTotals:
        """Drain the queue. `once`: stop when nothing is due; `max_seconds`/`max_jobs`: stop after that much;
        `give_up_after`: raise DatabaseUnavailable when the database has been unreachable for that long."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        outage_since = None
        while not self.stopping:
            try:
                self._housekeeping()
                report = processing.run_batch(self.name, limit=self.batch_size, lease_seconds=self.lease_seconds)
                outage_since = None
            except (InterfaceError, OperationalError) as error:
                # The database went away: jobs claimed in this batch return to the queue when their lease ends.
                outage_since = outage_since or time.monotonic()
                self._wait_out_outage(error, outage_since, give_up_after)
                report = None
            if report is not None:
                self._count(report)
            if max_jobs is not None and self.totals.processed + self.totals.dead >= max_jobs:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            if report is not None and not report.claimed:
                if once:
                    break
                close_old_connections()
                time.sleep(self.poll_seconds)
        return self.totals

    def _wait_out_outage(self, error: Exception, since: float, give_up_after: float | None) -> None:
        connections.close_all()
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        waited = time.monotonic() - since
        if give_up_after is not None and waited + DB_RETRY_SECONDS > give_up_after:
            raise DatabaseUnavailable(f"the database has been unavailable for {waited:.0f} s: {first_line}")
        log.error("%s: database unavailable, retrying in %.0f s: %s", self.name, DB_RETRY_SECONDS, first_line)
        time.sleep(DB_RETRY_SECONDS)

    def _count(self, report: processing.BatchReport) -> None:
        if not report.claimed:
            return
        self.totals.batches += 1
        self.totals.processed += report.processed
        self.totals.retried += report.retried
        self.totals.dead += report.dead
        self.totals.lost_lease += report.lost_lease
        if report.lost_lease:
            log.warning("%s: %d jobs were taken over after this worker's lease ran out; their results were "
                        "discarded", self.name, report.lost_lease)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_rescue:
            requeued, dead = queue.rescue_expired()
            self.totals.rescued += requeued
            if requeued or dead:
                log.warning("%d jobs with an expired lease went back to the queue, %d were dead-lettered",
                            requeued, dead)
            self._next_rescue = now + max(1.0, self.lease_seconds / 4)
        if now >= self._next_sla:
            sla.check_all()
            self._next_sla = now + conf.get("EQUITY_RULES_SLA_CHECK_SECONDS")
