"""The scheduled intraday scan's watermark per symbol, source and interval (docs/quality-scans.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("quality", "0005_partition_bar")]

    operations = [
        migrations.AddField(
            model_name="latestbar",
            name="scanned",
            field=models.DateTimeField(blank=True, help_text="The newest bar the last scheduled intraday scan saw (its "
                                                             "watermark).", null=True),
        ),
    ]
