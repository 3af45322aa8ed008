"""The models and their migrations agree, so a database migrated by an earlier release needs only `migrate`."""

import io

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit:
        pytest.fail(f"models changed without a migration:\n{out.getvalue()}")


@pytest.mark.django_db
def test_the_tables_kept_their_names_across_the_move_to_three_floors():
    tables = set(connection.introspection.table_names())
    assert {"tickstock_ops_outboxevent", "tickstock_ops_alert", "tickstock_ops_alertactivity"} <= tables
