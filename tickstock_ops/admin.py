from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from tickstock_ops import alerts, silences
from tickstock_ops.admin_base import RecordAdmin, RecordInline
from tickstock_ops.models import Alert, AlertActivity, OutboxEvent, Silence


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
    # Few, short columns so that titles get the width (tickstock_ops/static/tickstock_ops/admin.css).
    list_display = ("title", "severity", "state", "source", "count", "silenced_until", "last_seen")
    list_filter = ("state", "severity", "source", ("silenced_until", admin.EmptyFieldListFilter),
                   ("inhibited_by", admin.EmptyFieldListFilter))
    list_select_related = ("acknowledged_by", "inhibited_by")
    search_fields = ("title", "fingerprint")
    readonly_fields = [f.name for f in Alert._meta.fields] + ["notification_attempts"]
    inlines = [AlertActivityInline]
    action_form = AlertActionForm
    list_per_page = 50

    class Media:
        css = {"all": ["tickstock_ops/admin.css"]}

    actions = ["acknowledge", "unacknowledge", "silence", "unsilence", "resolve"]

    @admin.display(description="notification attempts")
    def notification_attempts(self, alert: Alert) -> str:
        rows = alert.delivery_attempts.all()[:50]
        if not rows:
            return "none"
        return format_html("<table>{}</table>", format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>try {}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            ((f"{row.at:%Y-%m-%d %H:%M:%S}", row.receiver, row.kind, row.attempt, row.outcome,
              row.latency_ms if row.latency_ms is not None else "—", row.error) for row in rows)))

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


class SilenceForm(forms.ModelForm):
    """Matchers typed as text (`type=volume_spike, source=feed-b`), checked by the same parser as the dashboard's."""

    matchers_text = forms.CharField(label="matchers", help_text="e.g. type=volume_spike, source=feed-b, "
                                    "symbol=~\"AA.*\", exchange!=XNAS — every matcher must match")

    class Meta:
        model = Silence
        fields = ("matchers_text", "starts_at", "ends_at", "comment")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["matchers_text"] = self.instance.matchers_text
        else:
            self.initial.setdefault("ends_at", timezone.now() + timedelta(hours=2))

    def clean(self):
        data = super().clean()
        try:
            if "matchers_text" in data:
                data["matchers"] = silences.parse_matchers(data["matchers_text"])
            if data.get("ends_at") and data["ends_at"] <= timezone.now():
                raise silences.SilenceError("the end must be in the future (use the expire action to end it now)")
        except silences.SilenceError as error:
            raise forms.ValidationError(str(error)) from None
        return data


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ("__str__", "state_now", "starts_at", "ends_at", "created_by", "comment")
    list_select_related = ("created_by",)
    search_fields = ("comment", "matchers")
    actions = ["expire"]

    @admin.display(description="state")
    def state_now(self, silence: Silence) -> str:
        return silence.state()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {"matchers": [m.as_dict() for m in data["matchers"]], "starts_at": data["starts_at"],
                  "ends_at": data["ends_at"], "comment": data["comment"], "actor": request.user}
        saved = silences.update(obj, **fields) if change else silences.create(**fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        return False  # expire instead: the record of who muted what stays

    @admin.action(description="Expire selected silences now")
    def expire(self, request, queryset):
        done = 0
        for silence in queryset:
            try:
                silences.expire(silence, request.user)
                done += 1
            except silences.SilenceError as error:
                self.message_user(request, str(error), messages.WARNING)
        if done:
            self.message_user(request, f"Expired {done} silence(s).", messages.SUCCESS)
