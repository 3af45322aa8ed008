"""Formatting shared by the dashboard's templates."""

from datetime import UTC, datetime

from django import template
from django.utils import timezone

from tickstock_ops import matchers

register = template.Library()


@register.filter
def kind_words(value: str) -> str:
    """volume_spike → volume spike"""
    return str(value or "").replace("_", " ")


@register.filter
def money_short(value) -> str:
    """2328000000 → $2.33B; empty for no value."""
    if value in (None, ""):
        return ""
    amount = float(value)
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(amount) >= divisor:
            return f"${amount / divisor:.2f}{suffix}"
    return f"${amount:,.0f}"


@register.filter
def bar_time(value: datetime | None, interval: str = "1d") -> str:
    """A bar's time: a daily bar is a date (its session), whatever the clock; an intraday bar is shown in the
    user's clock (the active time zone)."""
    if value is None:
        return ""
    if interval == "1d":
        return value.astimezone(UTC).strftime("%Y-%m-%d")
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


@register.filter
def fingerprint_matcher(fingerprint: str) -> str:
    """The matcher of a one-alert silence."""
    return str(matchers.Matcher("fingerprint", "=", fingerprint))


@register.filter
def matchers_text(found: list) -> str:
    return matchers.text(found)
