from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.utils import timezone

from tickstock_ops import alerts
from tickstock_ops.admin_base import RecordAdmin, RecordInline
from tickstock_ops.models import Alert, AlertActivity, OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(RecordAdmin):
    list_display = ("id", "type", "occurred_at", "published_at", "attempts", "last_error")
    list_filter = ("type", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "type")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]


class SilenceFields(forms.Form):

    hours = forms.FloatField(required=False, min_value=0.01, label="silence for (hours)", initial=4,
                             widget=forms.NumberInput(attrs={"step": "any", "style": "width:5em"}))
    reason = forms.CharField(required=False, max_length=300, label="reason")


class AlertActionForm(ActionForm, SilenceFields):
    """The admin's action menu with the inputs the silence action needs beside it."""


class AlertActivityInline(RecordInline):
    model = AlertActivity
    fields = ("at", "action", "actor", "note")
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(RecordAdmin):
    list_display = ("title", "severity", "state", "source", "count", "silenced_until", "inhibited_by",
                    "acknowledged_by", "first_seen", "last_seen")
    list_filter = ("state", "severity", "source", ("silenced_until", admin.EmptyFieldListFilter),
                   ("inhibited_by", admin.EmptyFieldListFilter))
    list_select_related = ("acknowledged_by", "inhibited_by")
    search_fields = ("title", "fingerprint")
    readonly_fields = [f.name for f in Alert._meta.fields]
    inlines = [AlertActivityInline]
    action_form = AlertActionForm
    actions = ["acknowledge", "unacknowledge", "silence", "unsilence", "resolve"]

    def _each(self, request, queryset, verb: str, apply) -> None:
        done, refused = 0, []
        for alert in queryset:
            try:
                apply(alert)
                done += 1
            except alerts.AlertActionError as error:
                refused.append(f"{alert.fingerprint}: {error}")
        if done:
            self.message_user(request, f"{verb} {done} alert(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request, queryset):
        self._each(request, queryset, "Acknowledged", lambda alert: alerts.acknowledge(alert, request.user))

    @admin.action(description="Un-acknowledge selected alerts")
    def unacknowledge(self, request, queryset):
        self._each(request, queryset, "Un-acknowledged", lambda alert: alerts.unacknowledge(alert, request.user))

    @admin.action(description="Silence selected alerts (hours and reason beside the menu)")
    def silence(self, request, queryset):
        form = SilenceFields(request.POST)
        if not form.is_valid() or not form.cleaned_data.get("hours") or not form.cleaned_data.get("reason"):
            self.message_user(request, "To silence, give the number of hours and a reason.", messages.ERROR)
            return
        until = timezone.now() + timedelta(hours=form.cleaned_data["hours"])
        reason = form.cleaned_data["reason"]
        self._each(request, queryset, "Silenced", lambda alert: alerts.silence(alert, request.user, until, reason))

    @admin.action(description="Lift the silence of selected alerts")
    def unsilence(self, request, queryset):
        self._each(request, queryset, "Lifted the silence of", lambda alert: alerts.unsilence(alert, request.user))

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request, queryset):
        def apply(alert):
            if not alerts.resolve(alert.fingerprint, actor=request.user):
                raise alerts.AlertActionError("already resolved")

        self._each(request, queryset, "Resolved", apply)


@admin.register(AlertActivity)
class AlertActivityAdmin(RecordAdmin):
    list_display = ("at", "alert", "action", "actor", "note")
    list_filter = ("action",)
    list_select_related = ("alert", "actor")
    search_fields = ("alert__fingerprint", "note")
    readonly_fields = ("alert", "at", "action", "actor", "note")

    def has_change_permission(self, request, obj=None):
        return False
