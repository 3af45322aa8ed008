"""The outbox is a hot queue table: every row is inserted, updated once and later deleted. Vacuum it after a
fixed number of dead rows instead of a fraction of the table, so the pending-rows index stays small."""

from django.db import migrations


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE tickstock_ops_outboxevent SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0, "
            "autovacuum_analyze_threshold = 5000)"
        )


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE tickstock_ops_outboxevent RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [("tickstock_ops", "0002_alert_lifecycle")]
    operations = [migrations.RunPython(tune, untune)]
