from datetime import timedelta

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dashboard import alert_list, clock, panels, runbook
from tickstock_ops import alerts
from tickstock_ops.models import Alert

# page name: (template, context function). Each page's panels are templates under dashboard/panels/ that the
# browser re-fetches through `panel` when an event concerning them arrives.
PAGES = {
    "overview": ("dashboard/overview.html", panels.overview),
    "ipos": ("dashboard/ipos.html", panels.ipos),
    "quality": ("dashboard/quality.html", panels.quality),
    "rules": ("dashboard/rules.html", panels.rules),
}
PANELS = {
    "overview": set(panels.OVERVIEW_PANELS),
    "ipos": {"pipeline", "upcoming", "detections", "ipo_sources"},
    "quality": {"quality_latest", "quality_trend", "worst", "anomalies"},
    "rules": {"sla", "queue", "dead"},
    "symbol": {"symbol_chart", "symbol_tables"},
}


def _page(request: HttpRequest, page: str) -> HttpResponse:
    template, context = PAGES[page]
    data = context(request.GET) if page == "overview" else context()
    return render(request, template, {"page": page, "last_seq": panels.last_seq(), **data})


def not_found(request: HttpRequest, what: str) -> HttpResponse:
    """Our own 404 page (also with DEBUG on, where Django would show its debug page)."""
    return render(request, "dashboard/not_found.html", {"page": "missing", "what": what}, status=404)


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    return _page(request, "overview")


@staff_member_required
def ipos(request: HttpRequest) -> HttpResponse:
    return _page(request, "ipos")


@staff_member_required
def quality(request: HttpRequest) -> HttpResponse:
    symbol = request.GET.get("symbol", "").strip().upper()
    if symbol:
        return redirect("dashboard-symbol", symbol=symbol)
    return _page(request, "quality")


def _interval(request: HttpRequest) -> str:
    interval = request.GET.get("interval", "1d")
    if interval not in ("1d", "1m", "5m", "15m", "30m", "1h"):
        raise Http404(f"unknown interval {interval!r}")
    return interval


@staff_member_required
def symbol(request: HttpRequest, symbol: str) -> HttpResponse:
    detail = panels.symbol_detail(symbol.upper(), _interval(request))
    return render(request, "dashboard/symbol.html", {"page": "symbol", "last_seq": panels.last_seq(), **detail})


@staff_member_required
def rules(request: HttpRequest) -> HttpResponse:
    return _page(request, "rules")


@staff_member_required
@never_cache
def panel(request: HttpRequest, page: str, name: str) -> HttpResponse:
    """One panel of a page, re-rendered for the browser's live refresh."""
    if name not in PANELS.get(page, ()):
        raise Http404(f"no panel {name!r} on page {page!r}")
    if page == "symbol":
        context = panels.symbol_detail(request.GET.get("symbol", "").upper(), _interval(request))
    elif page == "overview":
        context = panels.OVERVIEW_PANELS[name](request.GET)
    else:
        context = PAGES[page][1]()
    return render(request, f"dashboard/panels/{name}.html", {"page": page, **context})


@staff_member_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = (Alert.objects.select_related("acknowledged_by", "silenced_by", "inhibited_by", "silence")
             .filter(pk=pk).first())
    if alert is None:
        return not_found(request, f"There is no alert #{pk}. It may have been removed, or the link is wrong.")
    alert_list.mark_still_present([alert], timezone.now())
    return render(request, "dashboard/alert.html", {
        "page": "alert", "last_seq": panels.last_seq(), "alert": alert,
        "activity": alert.activity.select_related("actor")[:200],
        "inhibits": alert.inhibits.order_by("fingerprint")[:200],
        "runbook": runbook.for_alert(alert), "silenced_live": alerts.is_silenced(alert),
        "attempts": alert.delivery_attempts.all()[:50],
        "queued": alert.notifications_queued.filter(outcome="pending").count(),
    })


@require_POST
@staff_member_required
def alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Acknowledge, silence, resolve … from the dashboard (a form POST with its CSRF token, or the same by fetch)."""
    alert = Alert.objects.filter(pk=pk).first()
    if alert is None:
        return not_found(request, f"There is no alert #{pk}.")
    try:
        _apply(alert, action, request)
        outcome, status = f"{action}: {alert.title}", 200
    except alerts.AlertActionError as error:
        outcome, status = str(error), 400
    if request.headers.get("Accept") == "application/json":
        alert.refresh_from_db()
        body = {"ok": status == 200, "state": alert.state, "silenced": alert.is_silenced()}
        return JsonResponse(body if status == 200 else {**body, "error": outcome}, status=status)
    (messages.success if status == 200 else messages.error)(request, outcome)
    return HttpResponseRedirect(_safe_next(request))


def _apply(alert: Alert, action: str, request: HttpRequest) -> None:
    user, note = request.user, request.POST.get("note", "")
    if action == "acknowledge":
        alerts.acknowledge(alert, user, note)
    elif action == "unacknowledge":
        alerts.unacknowledge(alert, user, note)
    elif action == "silence":
        try:
            hours = float(request.POST.get("hours", ""))
        except ValueError:
            raise alerts.AlertActionError("give the silence length in hours, e.g. 4") from None
        if not 0 < hours <= 24 * 30:
            raise alerts.AlertActionError("a silence lasts between a minute and 30 days")
        alerts.silence(alert, user, timezone.now() + timedelta(hours=hours), request.POST.get("reason", ""))
    elif action == "unsilence":
        alerts.unsilence(alert, user, note)
    elif action == "resolve":
        if alert.is_open and request.POST.get("confirmed") != "1" and alert_list.still_present(
                alert, alert_list.latest_scan_ids(), timezone.now()):
            raise alerts.AlertActionError(
                f"the condition was still present at the last check ({alert.last_seen:%H:%M:%S} UTC): resolved "
                "now, the alert will reopen at the next check. Confirm to resolve anyway.")
        if not alerts.resolve(alert.fingerprint, actor=user, note=note):
            raise alerts.AlertActionError("the alert is already resolved")
    else:
        raise Http404(f"unknown action {action!r}")


def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(static("tickstock/favicon.svg"))


@require_POST
@staff_member_required
def choose_clock(request: HttpRequest) -> HttpResponse:
    """UTC or the exchange's time, kept for this user; back to the page it was chosen on."""
    try:
        clock.choose(request.user, request.POST.get("zone", ""))
    except ValueError as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(_safe_next(request))


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("dashboard")
    return target
