import argparse
import math

from django.core.management.base import BaseCommand, CommandError

from equity_rules import conf
from equity_rules.worker import DatabaseUnavailable, Worker
from tickstock_ops import events


def _number(kind: type, minimum: float, strict: bool):
    """An argparse type: a finite number of `kind` at least (or, `strict`, above) `minimum`."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"{text!r} must be {'above' if strict else 'at least'} {minimum}")
        return value
    return parse


class Command(BaseCommand):
    help = "Work the equity processing queue: claim jobs by priority and due time, apply the current rules."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="stop when no job is due")
        parser.add_argument("--max-seconds", type=_number(float, 0, strict=True), help="stop after this long")
        parser.add_argument("--max-jobs", type=_number(int, 1, strict=False),
                            help="stop after finishing this many jobs")
        parser.add_argument("--batch", type=_number(int, 1, strict=False), help="jobs per claim")
        parser.add_argument("--lease", type=_number(float, 0, strict=True),
                            help="seconds a claim is held before another worker may take it")
        parser.add_argument("--poll", type=_number(float, 0, strict=False), help="seconds to wait when no job is due")
        parser.add_argument("--name", help="worker name shown on claimed jobs (default host:pid)")
        parser.add_argument("--db-wait", type=_number(float, 0, strict=False),
                            help="with --once: exit 1 when the database stays unavailable this many seconds "
                                 "(default EQUITY_RULES_ONCE_DB_WAIT_SECONDS, 30)")

    def handle(self, *args, **options):
        worker = Worker(options["name"], batch_size=options["batch"], lease_seconds=options["lease"],
                        poll_seconds=options["poll"])
        worker.install_signal_handlers()
        give_up_after = None
        if options["once"]:
            give_up_after = options["db_wait"] if options["db_wait"] is not None else conf.get(
                "EQUITY_RULES_ONCE_DB_WAIT_SECONDS")
        try:
            totals = worker.run(once=options["once"], max_seconds=options["max_seconds"],
                                max_jobs=options["max_jobs"], give_up_after=give_up_after)
        except DatabaseUnavailable as error:
            raise CommandError(f"process_queue: {error}; nothing was lost (claimed jobs return to the queue "
                               "when their lease ends)") from None
        self.stdout.write(f"{worker.name}: {totals.processed} processed, {totals.retried} to retry, "
                          f"{totals.dead} dead-lettered, {totals.rescued} rescued from expired leases, "
                          f"{totals.lost_lease} lost to another worker")
        events.report_waiting(self.stderr)
