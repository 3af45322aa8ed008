import os

from django.core.management.base import BaseCommand, CommandError

from tickstock_ops import readonly_role


class Command(BaseCommand):
    help = "Create (or update) a PostgreSQL login role that can SELECT the project's tables and write nothing."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--password-env", default="READONLY_ROLE_PASSWORD",
                            help="environment variable holding the role's password (default READONLY_ROLE_PASSWORD)")

    def handle(self, *args, name: str, password_env: str, **options):
        try:
            readonly_role.create(name, os.environ.get(password_env))
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"role {name}: SELECT on every table in schema public, now and in future migrations")
