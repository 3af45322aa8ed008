from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from equity_rules import queue, sla, versions
from equity_rules.forms import EquityTypeForm, SecurityForm
from equity_rules.models import EquityType, ProcessingJob, ProcessingResult, Security, SlaStatus, StaleRulesError
from tickstock_ops.admin_base import RecordAdmin


@admin.register(EquityType)
class EquityTypeAdmin(admin.ModelAdmin):
    form = EquityTypeForm
    list_display = ("equity_type", "name", "priority_level", "update_frequency", "version", "last_updated",
                    "queued", "sla_p95", "sla_success", "sla_state")
    readonly_fields = ("version", "last_updated")
    fields = ("equity_type", "name", "priority_level", "processing_rules", "retry_config", "performance_targets",
              "change_reason", "based_on_version", "version", "last_updated")
    search_fields = ("equity_type", "name")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sla").annotate(
            queued_jobs=Count("jobs", filter=Q(jobs__state=ProcessingJob.State.QUEUED)))

    @admin.display(description="update frequency")
    def update_frequency(self, obj):
        return obj.processing_rules.get("update_frequency")

    @admin.display(description="queued", ordering="queued_jobs")
    def queued(self, obj):
        return obj.queued_jobs

    @admin.display(description="p50 / p95 (ms)")
    def sla_p95(self, obj):
        sla = getattr(obj, "sla", None)
        if sla is None or sla.p95_ms is None:
            return "—"
        return f"{sla.p50_ms:.1f} / {sla.p95_ms:.1f} (target {obj.performance_targets['processing_time_ms']})"

    @admin.display(description="success %")
    def sla_success(self, obj):
        sla = getattr(obj, "sla", None)
        if sla is None or sla.success_rate is None:
            return "—"
        return f"{sla.success_rate:.2f} (target {obj.performance_targets['success_rate']})"

    @admin.display(description="SLA")
    def sla_state(self, obj):
        found = sla.verdict(getattr(obj, "sla", None))
        if found.state == "breach":
            return format_html('<strong style="color:#ba2121" title="{}">{}</strong>', found.why, found.label)
        return format_html('<span title="{}">{}</span>', found.why, found.label)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change and not form.changes_rules():
            return  # no new version, no event, for a save that changes nothing
        versions.save(obj, user=request.user, reason=form.cleaned_data["change_reason"] or "edited in the admin")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaleRulesError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(request.path)

    def get_urls(self):
        own = [
            path("<int:object_id>/diff/", self.admin_site.admin_view(self.diff_view), name="equity_rules_diff"),
            path("<int:object_id>/rollback/<int:version>/", self.admin_site.admin_view(self.rollback_view),
                 name="equity_rules_rollback"),
        ]
        return own + super().get_urls()

    def _context(self, request, obj, title):
        return {**self.admin_site.each_context(request), "opts": self.opts, "object": obj, "title": title,
                "app_label": self.opts.app_label, "original": obj}

    def history_view(self, request, object_id, extra_context=None):
        """Every version with who, when, why and what changed; links to diff any two and to roll back."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404("no such equity type")
        records = list(obj.history.select_related("history_user").order_by("-history_id"))
        listed = []
        for newer, older in zip(records, [*records[1:], None], strict=True):
            listed.append({"record": newer, "changes": versions.diff(older, newer) if older else [],
                           "previous": older.version if older else None})
        context = {**self._context(request, obj, f"History of {obj.equity_type} rules"), "versions": listed,
                   "can_change": self.has_change_permission(request, obj)}
        return TemplateResponse(request, "admin/equity_rules/equitytype/history.html", context)

    def diff_view(self, request, object_id):
        obj = get_object_or_404(EquityType, pk=object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        try:
            old_version = int(request.GET.get("from", obj.version - 1))
            new_version = int(request.GET.get("to", obj.version))
            old = versions.version_record(obj, old_version)
            new = versions.version_record(obj, new_version)
        except (ValueError, LookupError) as error:
            messages.error(request, f"Cannot compare: {error}")
            return HttpResponseRedirect(reverse("admin:equity_rules_equitytype_history", args=[obj.pk]))
        context = {**self._context(request, obj, f"{obj.equity_type}: version {old_version} → {new_version}"),
                   "old": old, "new": new, "changes": versions.diff(old, new),
                   "all_versions": obj.history.order_by("-version").values_list("version", flat=True).distinct()}
        return TemplateResponse(request, "admin/equity_rules/equitytype/diff.html", context)

    def rollback_view(self, request, object_id, version):
        obj = get_object_or_404(EquityType, pk=object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        try:
            target = versions.version_record(obj, version)
        except LookupError as error:
            raise Http404(str(error)) from None
        if request.method == "POST":
            try:
                based_on = int(request.POST.get("based_on_version", ""))
                saved = versions.rollback(obj.equity_type, version, user=request.user, based_on_version=based_on)
            except (ValueError, StaleRulesError) as error:
                messages.error(request, str(error) if isinstance(error, StaleRulesError)
                               else "The form did not say which version it replaces; reload the page.")
                return HttpResponseRedirect(request.path)
            messages.success(request, f"Rolled {obj.equity_type} back to version {version}: now version "
                                      f"{saved.version}. Workers use it from their next job.")
            return HttpResponseRedirect(reverse("admin:equity_rules_equitytype_history", args=[obj.pk]))
        context = {**self._context(request, obj, f"Roll {obj.equity_type} back to version {version}?"),
                   "target": target, "changes": versions.diff(obj, target)}
        return TemplateResponse(request, "admin/equity_rules/equitytype/rollback.html", context)


@admin.register(Security)
class SecurityAdmin(admin.ModelAdmin):
    form = SecurityForm
    list_display = ("symbol", "name", "equity_type", "exchange", "sector", "aum", "expense_ratio", "nav",
                    "last_close", "average_volume", "is_active")
    list_filter = ("equity_type", "exchange", "is_active")
    search_fields = ("symbol", "name")
    readonly_fields = ("updated_at", "latest_result")
    actions = ["enqueue_processing"]

    @admin.display(description="latest processing result")
    def latest_result(self, obj):
        result = obj.results.order_by("-finished_at").first() if obj.pk else None
        if result is None:
            return "not processed yet"
        if not result.succeeded:
            return f"attempt {result.attempt} failed: {result.error}"
        verdict = "passed" if result.passed else "failed: " + "; ".join(result.reasons)
        return f"{verdict} — rules v{result.rules_version}, {result.finished_at:%Y-%m-%d %H:%M:%S}, " \
               f"enrichments {result.enrichments}"

    @admin.action(description="Process the selected securities now")
    def enqueue_processing(self, request, queryset):
        try:
            count = queue.enqueue(queryset.select_related("equity_type"))
        except queue.QueueFull as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(request, f"{count} jobs queued.", messages.SUCCESS)


@admin.register(ProcessingJob)
class ProcessingJobAdmin(RecordAdmin):
    list_display = ("id", "symbol", "equity_type", "state", "priority", "scheduled_at", "attempts", "max_attempts",
                    "claimed_by", "claimed_until", "short_error")
    list_filter = ("state", "equity_type")
    search_fields = ("symbol", "claimed_by", "last_error")
    list_select_related = ("equity_type",)
    actions = ["retry_jobs", "cancel_jobs"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ProcessingJob._meta.fields]

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]

    @admin.action(description="Retry the selected dead or cancelled jobs")
    def retry_jobs(self, request, queryset):
        count = queue.retry(queryset)
        skipped = queryset.count() - count
        self.message_user(request, f"{count} jobs queued again" + (
            f"; {skipped} skipped (only dead or cancelled jobs can be retried)" if skipped else "."))

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel_jobs(self, request, queryset):
        selected = queryset.count()
        count = queue.cancel(queryset)
        self.message_user(request, f"{count} jobs cancelled" + (
            f"; {selected - count} skipped (already finished)" if selected - count else "."))


@admin.register(ProcessingResult)
class ProcessingResultAdmin(RecordAdmin):
    list_display = ("symbol", "equity_type", "rules_version", "attempt", "succeeded", "passed", "duration_ms",
                    "worker", "finished_at")
    list_filter = ("equity_type", "succeeded", "passed")
    search_fields = ("symbol",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ProcessingResult._meta.fields]


@admin.register(SlaStatus)
class SlaStatusAdmin(RecordAdmin):
    list_display = ("equity_type", "samples", "p50_ms", "p95_ms", "target_processing_time_ms", "success_rate",
                    "target_success_rate", "breach", "window_minutes", "checked_at")

    @admin.display(description="breaches")
    def breach(self, obj):
        return ", ".join(f"{b['metric']} {b['actual']} vs {b['target']}" for b in obj.breaches) or "none"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in SlaStatus._meta.fields]
