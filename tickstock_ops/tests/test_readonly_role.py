import os

import psycopg2
import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from monitors.quality.models import DailySummary
from tickstock_ops import readonly_role, testing
from tickstock_ops.models import OutboxEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="read-only roles are a PostgreSQL feature"),
]

NO_PRIVILEGE = "42501"
READ_ONLY_TRANSACTION = "25006"


@pytest.fixture
def role_name():
    name = f"tickstock_reader_{os.getpid()}"
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def migration_owner():
    """A second, unprivileged role that owns the quality summary table, as if its migration had run as that role."""
    name = f"tickstock_owner_{os.getpid()}"
    table = DailySummary._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" NOLOGIN')
        cursor.execute(f'ALTER TABLE {table} OWNER TO "{name}"')
        cursor.execute(f'GRANT SELECT ON tickstock_ops_readonlyrole TO "{name}"')
    yield name
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute(f"ALTER TABLE {table} OWNER TO CURRENT_USER")
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE "{name}"')


def connect_as(role: str):
    db = connection.settings_dict
    return psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=role)


def refusal(role: str, statement: str) -> str | None:
    """The SQLSTATE with which `role` is refused `statement`, or None when it is allowed."""
    reader = connect_as(role)
    try:
        with reader.cursor() as cursor:
            cursor.execute(statement)
        return None
    except psycopg2.Error as error:
        return error.pgcode
    finally:
        reader.close()


def test_the_readonly_role_reads_the_domain_tables_and_writes_none(role_name):
    OutboxEvent.objects.create(type="tickstock.ipo.detected", payload={"ticker": "READ"})
    result = testing.run_manage("create_readonly_role", role_name)
    assert result.returncode == 0, result.stderr

    reader = connect_as(role_name)
    try:
        with reader.cursor() as cursor:
            cursor.execute("SELECT payload FROM tickstock_ops_outboxevent")
            assert cursor.fetchall() == [({"ticker": "READ"},)]
            for table in ("ipo_ipo", "quality_bar", "quality_report", "equity_rules_equitytype",
                          "equity_rules_historicalequitytype", "tickstock_ops_alert"):
                cursor.execute(f"SELECT count(*) FROM {table}")
    finally:
        reader.close()
    for statement in (
        "INSERT INTO tickstock_ops_outboxevent (event_id, type, payload, occurred_at, attempts, last_error) "
        "VALUES (gen_random_uuid(), 'x', '{}', now(), 0, '')",
        "UPDATE tickstock_ops_outboxevent SET type = 'changed'",
        "DELETE FROM tickstock_ops_outboxevent",
        "CREATE TABLE sneaky (id int)",
    ):
        assert refusal(role_name, statement) in {NO_PRIVILEGE, READ_ONLY_TRANSACTION}, statement
    assert OutboxEvent.objects.get().type == "tickstock.ipo.detected"


def test_sessions_users_admin_log_and_tasks_are_refused(role_name):
    User.objects.create_user("operator", password="a long enough password")
    session = SessionStore()
    session["_auth_user_id"] = "1"
    session.create()
    readonly_role.create(role_name)

    for table in ("django_session", "auth_user", "django_admin_log", "django_q_task", "django_q_ormq",
                  "tickstock_ops_readonlyrole"):
        assert refusal(role_name, f"SELECT * FROM {table}") == NO_PRIVILEGE, table


def test_a_role_from_the_old_every_table_grant_is_narrowed(role_name):
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role_name}" LOGIN')
        cursor.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role_name}"')
        cursor.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{role_name}"')
    assert refusal(role_name, "SELECT * FROM auth_user") is None

    readonly_role.create(role_name)

    assert refusal(role_name, "SELECT * FROM auth_user") == NO_PRIVILEGE
    assert refusal(role_name, "SELECT * FROM quality_bar") is None
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE later_unrelated (id int)")
    try:
        assert refusal(role_name, "SELECT * FROM later_unrelated") == NO_PRIVILEGE
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE later_unrelated")


def test_migrate_grants_recorded_roles_the_domain_tables_again(role_name):
    readonly_role.create(role_name)
    with connection.cursor() as cursor:
        cursor.execute(f'REVOKE SELECT ON quality_bar FROM "{role_name}"')
    assert refusal(role_name, "SELECT * FROM quality_bar") == NO_PRIVILEGE

    result = testing.run_manage("migrate", "--no-input")

    assert result.returncode == 0, result.stderr
    assert refusal(role_name, "SELECT * FROM quality_bar") is None
    assert refusal(role_name, "SELECT * FROM auth_user") == NO_PRIVILEGE


def test_tables_of_a_migration_run_by_another_owner_become_readable(role_name, migration_owner, caplog):
    readonly_role.create(role_name)
    table = DailySummary._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'REVOKE SELECT ON {table} FROM "{role_name}"')
        cursor.execute(f'SET ROLE "{migration_owner}"')
    readonly_role.grant_recorded_roles()  # what `migrate` runs afterwards, here as the table's owner
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")

    assert refusal(role_name, f"SELECT * FROM {table}") is None
    assert "may not grant SELECT on" in caplog.text  # the tables it does not own are named, not skipped silently
