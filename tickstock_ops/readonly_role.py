"""The TickStock app's database role (docs/security.md): SELECT on the domain tables, nothing else.

The readable tables are the models named by the `READONLY_ROLE_READS` setting (an app label for all of an
app's models, or `app_label.Model` for one). Everything else — auth, sessions, the admin log, django-q's
tasks, notification receivers — stays closed. PostgreSQL's default privileges cannot express "tables of these
apps", so instead every `migrate` grants the recorded roles the readable tables again (`grant_recorded_roles`,
a post-migrate hook), as the user that ran the migrations and therefore owns the new tables.
"""

import logging

from django.apps import apps
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg2 import sql

from tickstock_ops import conf
from tickstock_ops.models import ReadonlyRole

log = logging.getLogger(__name__)

def readable_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """The existing tables of the models `READONLY_ROLE_READS` names."""
    tables = set()
    for entry in conf.get("READONLY_ROLE_READS"):
        if "." in entry:
            models = [apps.get_model(entry)]
        else:
            models = apps.get_app_config(entry).get_models(include_auto_created=True)
        tables.update(model._meta.db_table for model in models if model._meta.managed and not model._meta.proxy)
    return sorted(tables & set(connection.introspection.table_names()))


def create(name: str, password: str | None = None, using: str = "default") -> list[str]:
    """Create (or update) the login role `name`, record it, and grant it exactly the readable tables; returns
    the readable tables this database user could not grant on (owned by someone else)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise ValueError("read-only roles need PostgreSQL (set DATABASE_URL)")
    role = sql.Identifier(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(role))
        if password:
            cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
        cursor.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
        cursor.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(connection.settings_dict["NAME"]), role))
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        # Earlier versions granted every table, now and by default later: take all of that back first.
        cursor.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {}").format(role))
        cursor.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {}").format(role))
        _revoke_unreadable(cursor, name, readable_tables(connection))
    ReadonlyRole.objects.using(using).get_or_create(name=name)
    return grant(name, using)


def _revoke_unreadable(cursor, name: str, readable: list[str]) -> None:
    cursor.execute(
        "SELECT DISTINCT c.relname FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) AS acl "
        "JOIN pg_roles r ON r.oid = acl.grantee "
        "WHERE c.relnamespace = 'public'::regnamespace AND r.rolname = %s",
        [name],
    )
    for (table,) in cursor.fetchall():
        if table not in readable:
            cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), sql.Identifier(name)))


def grant(name: str, using: str = "default") -> list[str]:
    """Grant SELECT on the readable tables this database user may grant on; returns the tables it could not."""
    connection = connections[using]
    tables = readable_tables(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t FROM unnest(%s::text[]) AS t "
            "WHERE has_table_privilege(quote_ident(t), 'SELECT WITH GRANT OPTION')",
            [tables],
        )
        grantable = [row[0] for row in cursor.fetchall()]
        if grantable:
            cursor.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier(table) for table in grantable), sql.Identifier(name)))
    return sorted(set(tables) - set(grantable))


def grant_recorded_roles(using: str = "default", **_signal) -> None:
    """The post-migrate hook: tables a migration just created become readable for every recorded role."""
    connection = connections[using]
    if connection.vendor != "postgresql" or ReadonlyRole._meta.db_table not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                       [list(ReadonlyRole.objects.using(using).values_list("name", flat=True))])
        roles = [row[0] for row in cursor.fetchall()]
    for name in roles:
        if missed := grant(name, using):
            log.warning("read-only role %s: this database user may not grant SELECT on %s; run "
                        "create_readonly_role as their owner or a superuser", name, ", ".join(missed))
