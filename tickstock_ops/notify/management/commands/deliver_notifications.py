from django.core.management.base import BaseCommand, CommandError

from tickstock_ops.notify import deliver, routing
from tickstock_ops.notify.send import invalid_urls


class Command(BaseCommand):
    help = "Send the notifications that wait (the django-q2 cluster runs the same on a schedule)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true",
                            help="send what is due now, waiting out group_wait of new groups, then exit")

    def handle(self, *args, once: bool, **options):
        for name, urls in routing.receiver_urls().items():
            bad = invalid_urls(urls)
            if bad:
                variable = "TICKSTOCK_NOTIFY_URLS" if name == "default" else f"receiver {name}"
                raise CommandError(f"{variable}: Apprise cannot use {', '.join(bad)}")
        if not once:
            self.stdout.write("delivering notifications as they come due; Ctrl-C to stop", ending="\n")
            self.stdout.flush()
        report = deliver.run(once=once)
        self.stdout.write(f"sent {report.sent}, failed {report.failed}, suppressed {report.suppressed}, "
                          f"abandoned {report.abandoned} notification(s)")
