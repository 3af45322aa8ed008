from django.conf import settings
from django.db import models


class ClockPreference(models.Model):
    """Which clock a user reads the dashboard in: UTC (the default) or the exchange's time."""

    class Zone(models.TextChoices):
        UTC = "UTC", "UTC"
        EXCHANGE = "America/New_York", "exchange time (New York: XNYS, XNAS)"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clock")
    zone = models.CharField(max_length=40, choices=Zone.choices, default=Zone.UTC)

    def __str__(self) -> str:
        return f"{self.user}: {self.zone}"
