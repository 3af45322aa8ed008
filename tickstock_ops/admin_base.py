"""Admin building blocks for records that only the system writes: shown, never added by hand."""

from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    """A model whose rows come from scans, workers or events; the admin shows and acts on them."""

    def has_add_permission(self, request) -> bool:
        return False


class RecordInline(admin.TabularInline):
    """The rows a record owns (its history, its sources, its findings), listed read-only under it."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False
