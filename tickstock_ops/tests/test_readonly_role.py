import os

import psycopg2
import pytest
from django.db import connection

from tickstock_ops import readonly_role, testing
from tickstock_ops.models import OutboxEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="read-only roles are a PostgreSQL feature"),
]


@pytest.fixture
def role_name():
    name = f"tickstock_reader_{os.getpid()}"
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE IF EXISTS "{name}"')


def connect_as(role: str):
    db = connection.settings_dict
    return psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=role)


def test_the_readonly_role_reads_every_table_and_writes_none(role_name):
    OutboxEvent.objects.create(type="tickstock.ipo.detected", payload={"ticker": "READ"})
    result = testing.run_manage("create_readonly_role", role_name)
    assert result.returncode == 0, result.stderr

    reader = connect_as(role_name)
    try:
        with reader.cursor() as cursor:
            cursor.execute("SELECT payload FROM tickstock_ops_outboxevent")
            assert cursor.fetchall() == [({"ticker": "READ"},)]
        reader.rollback()
        for statement in (
            "INSERT INTO tickstock_ops_outboxevent (event_id, type, payload, occurred_at, attempts, last_error) "
            "VALUES (gen_random_uuid(), 'x', '{}', now(), 0, '')",
            "UPDATE tickstock_ops_outboxevent SET type = 'changed'",
            "DELETE FROM tickstock_ops_outboxevent",
            "CREATE TABLE sneaky (id int)",
        ):
            with pytest.raises(psycopg2.Error) as refused, reader.cursor() as cursor:
                cursor.execute(statement)
            assert refused.value.pgcode in {"42501", "25006"}, refused.value.pgerror  # no privilege / read-only
            reader.rollback()
    finally:
        reader.close()
    assert OutboxEvent.objects.get().type == "tickstock.ipo.detected"


def test_tables_created_later_are_readable_too(role_name):
    readonly_role.create(role_name)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE later_migration (id int)")
        cursor.execute("INSERT INTO later_migration VALUES (1)")
    try:
        reader = connect_as(role_name)
        with reader.cursor() as cursor:
            cursor.execute("SELECT id FROM later_migration")
            assert cursor.fetchall() == [(1,)]
        reader.close()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE later_migration")

