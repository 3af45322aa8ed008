from django.core.management.base import BaseCommand, CommandError

from equity_rules import conf
from equity_rules.worker import DatabaseUnavailable, Worker
from tickstock_ops import events


class Command(BaseCommand):
    help = "Work the equity processing queue: claim jobs by priority and due time, apply the current rules."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="stop when no job is due")
        parser.add_argument("--max-seconds", type=float, help="stop after this long")
        parser.add_argument("--max-jobs", type=int, help="stop after finishing this many jobs")
        parser.add_argument("--batch", type=int, help="jobs per claim")
        parser.add_argument("--lease", type=float, help="seconds a claim is held before another worker may take it")
        parser.add_argument("--poll", type=float, help="seconds to wait when no job is due")
        parser.add_argument("--name", help="worker name shown on claimed jobs (default host:pid)")
        parser.add_argument("--db-wait", type=float,
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
