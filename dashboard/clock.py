"""One clock for the whole dashboard: UTC unless the user chose the exchange's time. Tables render datetimes in
the active time zone (Django's `timezone.activate`), charts and the live feed get the same zone from the page
(`data-clock` on <body>). Daily bars are dates, shown as such whatever the clock."""

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard.models import ClockPreference

LABELS = {ClockPreference.Zone.UTC: "UTC", ClockPreference.Zone.EXCHANGE: "ET"}


def zone_of(request: HttpRequest) -> str:
    if not hasattr(request, "_clock_zone"):
        user = getattr(request, "user", None)
        zone = ClockPreference.Zone.UTC
        try:
            if user is not None and user.is_authenticated:
                zone = ClockPreference.objects.filter(user=user).values_list("zone", flat=True).first() or zone
        except DatabaseError:  # every request passes here, /healthz too: a database that is down is no 500
            pass
        request._clock_zone = zone
    return request._clock_zone


class ClockMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.activate(ZoneInfo(zone_of(request)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def context(request: HttpRequest) -> dict:
    zone = zone_of(request)
    return {"clock_zone": zone, "clock_label": LABELS.get(zone, zone), "clock_choices": ClockPreference.Zone.choices}


def choose(user, zone: str) -> None:
    if zone not in ClockPreference.Zone.values:
        raise ValueError(f"unknown clock {zone!r}; choose one of {', '.join(ClockPreference.Zone.values)}")
    ClockPreference.objects.update_or_create(user=user, defaults={"zone": zone})
