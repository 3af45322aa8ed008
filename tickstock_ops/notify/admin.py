from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from tickstock_ops.notify import deliver
from tickstock_ops.notify.models import (
    DEFAULT_RECEIVER,
    DeliveryAttempt,
    Notification,
    NotificationGroup,
    Receiver,
    Route,
)
from tickstock_ops.notify.routing import receiver_urls
from tickstock_ops.notify.send import redact


@admin.register(Receiver)
class ReceiverAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "services", "note")
    list_filter = ("enabled",)
    actions = ["send_test"]

    @admin.display(description="services")
    def services(self, receiver: Receiver) -> str:
        return ", ".join(redact(url) for url in receiver.url_list())

    def changelist_view(self, request, extra_context=None):
        configured = receiver_urls()[DEFAULT_RECEIVER]
        extra_context = {**(extra_context or {}), "default_configured": bool(configured),
                         "title": "Receivers (the `default` receiver is "
                         + (", ".join(redact(u) for u in configured) if configured else "not configured")
                         + ": TICKSTOCK_NOTIFY_URLS)"}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        test_default = self.admin_site.admin_view(require_POST(self.test_default_view))
        return [path("test-default/", test_default, name="notify_receiver_test_default"), *super().get_urls()]

    def test_default_view(self, request):
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        self._report(request, DEFAULT_RECEIVER, receiver_urls()[DEFAULT_RECEIVER])
        return HttpResponseRedirect(reverse("admin:notify_receiver_changelist"))

    @admin.action(description="Send a test notification to the selected receivers")
    def send_test(self, request, queryset):
        for receiver in queryset:
            self._report(request, receiver.name, receiver.url_list())

    def _report(self, request, name: str, urls: list[str]) -> None:
        attempt = deliver.send_test(name, urls, request.user.get_username())
        if attempt.outcome == DeliveryAttempt.Outcome.SENT:
            self.message_user(request, f"{name}: accepted in {attempt.latency_ms:.0f} ms.", messages.SUCCESS)
        else:
            self.message_user(request, f"{name}: failed: {attempt.error}", messages.ERROR)


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ("name", "parent", "position", "matchers", "receiver", "continue_matching", "group_by",
                    "group_wait", "group_interval", "repeat_interval", "send_resolved", "enabled")
    list_editable = ("position", "enabled")
    list_filter = ("enabled", "receiver")
    list_select_related = ("parent",)
    fieldsets = [
        (None, {"fields": ("name", "parent", "position", "enabled")}),
        ("Match", {"fields": ("matchers", "continue_matching")}),
        ("Send", {"fields": ("receiver", "group_by", "group_wait", "group_interval", "repeat_interval",
                             "send_resolved")}),
    ]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationGroup)
class NotificationGroupAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "due_at", "last_sent_at", "failures", "group_interval", "repeat_interval")
    list_filter = ("receiver", ("due_at", admin.EmptyFieldListFilter))
    search_fields = ("route", "receiver")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("alert", "kind", "group", "created_at", "outcome", "done_at", "note")
    list_filter = ("outcome", "kind", "group__receiver")
    list_select_related = ("alert", "group")
    search_fields = ("alert__fingerprint",)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("at", "receiver", "kind", "attempt", "outcome", "latency_ms", "title", "error")
    list_filter = ("outcome", "receiver", "kind")
    search_fields = ("title", "error", "alerts__fingerprint")
    date_hierarchy = "at"
