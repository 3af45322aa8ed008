from django.contrib import admin

from tickstock_ops.models import Alert, OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "occurred_at", "published_at", "attempts", "last_error")
    list_filter = ("type", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "type")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("title", "severity", "state", "source", "count", "first_seen", "last_seen")
    list_filter = ("state", "severity", "source")
    search_fields = ("title", "fingerprint")
