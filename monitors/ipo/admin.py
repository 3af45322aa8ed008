from django.contrib import admin, messages

from monitors.ipo import admin_actions
from monitors.ipo.models import IPO, SOURCE_CHOICES, Conflict, ScanRun, SourceDay, SourceRecord, StatusChange
from tickstock_ops.admin_base import RecordInline


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return SOURCE_CHOICES

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(records__source=self.value()).distinct()
        return queryset


class SourceRecordInline(RecordInline):
    model = SourceRecord
    fields = ("source", "key", "kind", "fetched_at", "first_seen", "note", "raw")
    readonly_fields = ("source", "key", "kind", "fetched_at", "first_seen", "note", "raw")
    show_change_link = True


class StatusChangeInline(RecordInline):
    model = StatusChange
    readonly_fields = ("from_status", "to_status", "at", "source", "note")


class ConflictInline(RecordInline):
    model = Conflict
    readonly_fields = ("field", "values", "chosen_source", "chosen_value", "first_seen", "last_seen", "resolved")


@admin.register(IPO)
class IPOAdmin(admin.ModelAdmin):
    list_display = ("ticker", "company_name", "cik", "status", "exchange", "sector", "listing_date",
                    "expected_date", "offer_price", "market_cap_estimate", "eligible", "updated_at")
    list_filter = ("status", "exchange", "sector", SourceFilter, "eligible", "is_spac")
    search_fields = ("ticker", "company_name", "cik")
    readonly_fields = ("name_key", "sources", "validation_errors", "created_at", "updated_at")
    fieldsets = [
        (None, {"fields": ["ticker", "cik", "company_name", "exchange", "status", "security_type", "is_spac"]}),
        ("Dates", {"fields": ["filed_date", "expected_date", "listing_date"]}),
        ("Offering", {"fields": ["offer_price", "price_low", "price_high", "shares_offered", "shares_outstanding"]}),
        ("Enrichment", {"fields": ["sic_code", "description", "sector", "sector_method", "sector_reason",
                                   "market_cap_estimate", "market_cap_basis", "eligible", "eligibility_reason"],
                        "description": "Sector, market cap and eligibility are derived: they are recomputed "
                                       "after every change."}),
        ("Trading", {"fields": ["first_trade_date", "first_trade_open", "first_day_volume", "first_days_volumes"]}),
        ("Merge", {"fields": ["sources", "validation_errors", "name_key", "created_at", "updated_at"]}),
    ]
    inlines = [SourceRecordInline, StatusChangeInline, ConflictInline]
    actions = ["refetch", "reenrich"]
    date_hierarchy = "created_at"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            admin_actions.record_manual_edit(obj, form.changed_data, request.user.get_username())

    @admin.action(description="Re-fetch from the sources")
    def refetch(self, request, queryset):
        outcome = admin_actions.refetch(list(queryset))
        level = messages.WARNING if outcome.errors else messages.SUCCESS
        text = f"Re-fetched {outcome.refreshed} IPO(s)."
        if outcome.errors:
            text += " Problems: " + "; ".join(outcome.errors[:5])
        self.message_user(request, text, level)

    @admin.action(description="Re-enrich (sector, market cap, eligibility)")
    def reenrich(self, request, queryset):
        count = admin_actions.reenrich(list(queryset))
        self.message_user(request, f"Re-enriched {count} IPO(s).", messages.SUCCESS)


@admin.register(SourceRecord)
class SourceRecordAdmin(admin.ModelAdmin):
    list_display = ("source", "key", "kind", "ipo", "fetched_at", "note")
    list_filter = ("source", "kind")
    search_fields = ("key", "ipo__ticker", "ipo__company_name", "ipo__cik")
    raw_id_fields = ("ipo",)


@admin.register(Conflict)
class ConflictAdmin(admin.ModelAdmin):
    list_display = ("ipo", "field", "chosen_source", "chosen_value", "values", "resolved", "last_seen")
    list_filter = ("resolved", "field", "chosen_source")
    search_fields = ("ipo__ticker", "ipo__company_name")
    raw_id_fields = ("ipo",)


@admin.register(ScanRun)
class ScanRunAdmin(admin.ModelAdmin):
    list_display = ("kind", "start_date", "end_date", "sources", "started_at", "finished_at", "ipos_touched")
    list_filter = ("kind",)
    readonly_fields = ("started_at", "finished_at")


@admin.register(SourceDay)
class SourceDayAdmin(admin.ModelAdmin):
    list_display = ("source", "day", "fetched", "note", "done_at")
    list_filter = ("source",)
    date_hierarchy = "day"
