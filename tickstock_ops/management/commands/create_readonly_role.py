import os

from django.core.management.base import BaseCommand, CommandError

from tickstock_ops import readonly_role


class Command(BaseCommand):
    help = ("Create (or update) a PostgreSQL login role that can SELECT the domain tables (READONLY_ROLE_READS) "
            "and nothing else; every later migrate grants it new domain tables too.")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--password-env", default="READONLY_ROLE_PASSWORD",
                            help="environment variable holding the role's password (default READONLY_ROLE_PASSWORD)")

    def handle(self, *args, name: str, password_env: str, **options):
        try:
            missed = readonly_role.create(name, os.environ.get(password_env))
        except ValueError as error:
            raise CommandError(str(error)) from None
        if missed:
            raise CommandError(f"role {name}: this database user may not grant SELECT on {', '.join(missed)}; "
                               "run create_readonly_role as the migration owner (docs/security.md)")
        self.stdout.write(f"role {name}: SELECT on the domain tables only; each migrate grants new ones")
