"""The newest bar per symbol, source and interval (LatestBar), filled from the bars already stored."""

from django.db import migrations, models

FILL = ("INSERT INTO quality_latestbar (symbol, source, interval, ts, stored_at) "
        "SELECT symbol, source, interval, MAX(ts), CURRENT_TIMESTAMP FROM quality_bar GROUP BY symbol, source, interval")


class Migration(migrations.Migration):
    dependencies = [("quality", "0003_published_ts")]

    operations = [
        migrations.CreateModel(
            name="LatestBar",
            fields=[
                ("pk", models.CompositePrimaryKey("symbol", "source", "interval", blank=True, editable=False,
                                                  primary_key=True, serialize=False)),
                ("symbol", models.CharField(max_length=20)),
                ("source", models.CharField(max_length=30)),
                ("interval", models.CharField(choices=[("1m", "1m"), ("5m", "5m"), ("15m", "15m"), ("30m", "30m"),
                                                       ("1h", "1h"), ("1d", "1d")], max_length=4)),
                ("ts", models.DateTimeField(help_text="The newest bar's timestamp.")),
                ("stored_at", models.DateTimeField(help_text="When that bar was stored.")),
            ],
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
