"""The US market's date: the default day of scans and checks (EDGAR and the exchanges date things in New York)."""

from datetime import date
from zoneinfo import ZoneInfo

from django.utils import timezone

NEW_YORK = ZoneInfo("America/New_York")


def new_york_today() -> date:
    return timezone.now().astimezone(NEW_YORK).date()
