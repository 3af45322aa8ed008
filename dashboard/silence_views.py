"""Silences on the dashboard: listed, created (from an alert, a group or from scratch), edited and expired."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard import panels
from dashboard.forms import SilenceForm
from dashboard.views import not_found
from tickstock_ops import silences
from tickstock_ops.models import Silence


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept") == "application/json"


def _errors(form: SilenceForm) -> str:
    return "; ".join(f"{'' if name == '__all__' else name + ': '}{' '.join(errors)}"
                     for name, errors in form.errors.items())


@staff_member_required
def silence_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    current = list(Silence.objects.filter(ends_at__gt=now).select_related("created_by").order_by("ends_at"))
    expired = list(Silence.objects.filter(ends_at__lte=now).select_related("created_by").order_by("-ends_at")[:50])
    for silence in current:
        silence.muting = silence.alerts.filter(silenced_until__gt=now).count()
    return render(request, "dashboard/silences.html", {
        "page": "silences", "last_seq": panels.last_seq(), "current": current, "expired": expired, "now": now,
        "form": SilenceForm(initial={"matchers": request.GET.get("matchers", ""), "hours": 2}),
    })


@staff_member_required
def silence_new(request: HttpRequest) -> HttpResponse:
    """GET: the form (matchers prefilled from ?matchers=); POST: create, as a form or by fetch (JSON)."""
    form = SilenceForm(request.POST or None, initial={"matchers": request.GET.get("matchers", ""), "hours": 2})
    if request.method == "POST" and form.is_valid():
        try:
            silence = form.save(request.user)
        except silences.SilenceError as error:
            form.add_error(None, str(error))
        else:
            muted = silence.alerts.count()
            if _wants_json(request):
                return JsonResponse({"ok": True, "silence_id": silence.pk, "muted": muted})
            messages.success(request, f"Silence #{silence.pk} created: it mutes {muted} open alert(s).")
            return HttpResponseRedirect(reverse("dashboard-silences"))
    if request.method == "POST" and _wants_json(request):
        return JsonResponse({"ok": False, "error": _errors(form)}, status=400)
    return render(request, "dashboard/silence_form.html", {"page": "silences", "last_seq": panels.last_seq(),
                                                           "form": form})


@staff_member_required
def silence_edit(request: HttpRequest, pk: int) -> HttpResponse:
    silence = Silence.objects.select_related("created_by").filter(pk=pk).first()
    if silence is None:
        return not_found(request, f"There is no silence #{pk}.")
    initial = {"matchers": silence.matchers_text, "starts_at": timezone.localtime(silence.starts_at),
               "ends_at": timezone.localtime(silence.ends_at), "comment": silence.comment}
    form = SilenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            form.save(request.user, silence)
        except silences.SilenceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Silence #{silence.pk} saved.")
            return HttpResponseRedirect(reverse("dashboard-silences"))
    preview = silences.matching_open_alerts(silences.parse_matchers(silence.matchers))
    return render(request, "dashboard/silence_form.html", {
        "page": "silences", "last_seq": panels.last_seq(), "form": form, "silence": silence,
        "preview": preview[:50], "preview_count": len(preview)})


@require_POST
@staff_member_required
def silence_expire(request: HttpRequest, pk: int) -> HttpResponse:
    silence = Silence.objects.filter(pk=pk).first()
    if silence is None:
        return not_found(request, f"There is no silence #{pk}.")
    try:
        silences.expire(silence, request.user)
        outcome, ok = f"Silence #{pk} expired: the alerts it muted notify again when due.", True
    except silences.SilenceError as error:
        outcome, ok = str(error), False
    if _wants_json(request):
        return JsonResponse({"ok": ok, **({} if ok else {"error": outcome})}, status=200 if ok else 400)
    (messages.success if ok else messages.error)(request, outcome)
    return HttpResponseRedirect(reverse("dashboard-silences"))


@staff_member_required
def silence_preview(request: HttpRequest) -> JsonResponse:
    """Which open alerts the typed matchers would mute (the popover shows it while typing)."""
    try:
        found = silences.matching_open_alerts(silences.parse_matchers(request.GET.get("matchers", "")))
    except silences.SilenceError as error:
        return JsonResponse({"ok": False, "error": str(error)})
    return JsonResponse({"ok": True, "count": len(found), "titles": [alert.title for alert in found[:5]]})
