"""Bars keyed by their natural key alone (no surrogate id), with PostgreSQL-only tuning: "C" collation on the key's
text columns and a BRIN index on ts. Bars are re-importable source data, so the table is recreated."""

from django.db import migrations, models

POSTGRES_TUNING = [
    'ALTER TABLE quality_bar ALTER COLUMN symbol TYPE varchar(20) COLLATE "C", '
    'ALTER COLUMN source TYPE varchar(30) COLLATE "C", ALTER COLUMN interval TYPE varchar(4) COLLATE "C"',
    "CREATE INDEX quality_bar_ts_brin ON quality_bar USING brin (ts)",
]


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_TUNING:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_initial")]

    operations = [
        migrations.DeleteModel(name="Bar"),
        migrations.CreateModel(
            name="Bar",
            fields=[
                ("pk", models.CompositePrimaryKey("symbol", "source", "interval", "ts", blank=True, editable=False,
                                                  primary_key=True, serialize=False)),
                ("symbol", models.CharField(max_length=20)),
                ("source", models.CharField(max_length=30)),
                ("interval", models.CharField(choices=[("1m", "1m"), ("5m", "5m"), ("15m", "15m"), ("30m", "30m"),
                                                       ("1h", "1h"), ("1d", "1d")], max_length=4)),
                ("ts", models.DateTimeField()),
                ("open", models.FloatField()),
                ("high", models.FloatField()),
                ("low", models.FloatField()),
                ("close", models.FloatField()),
                ("volume", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(tune, migrations.RunPython.noop),
    ]
