"""The core's two HTTP endpoints: /healthz for load balancers and /metrics for Prometheus."""

import hmac

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tickstock_ops import health
from tickstock_ops.metrics import OpsCollector


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """`{"status": "ok"|"unhealthy"}` for anyone; the parts' details for staff or the health token."""
    healthy, report = health.check()
    body = {"status": "ok" if healthy else "unhealthy"}
    if _may_see_details(request):
        body.update(report)
    return JsonResponse(body, status=200 if healthy else 503)


def _may_see_details(request: HttpRequest) -> bool:
    token = settings.HEALTH_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        offered = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else request.GET.get("token")
        if offered and hmac.compare_digest(offered.encode(), token.encode()):
            return True
    try:
        return bool(request.user.is_staff)
    except DatabaseError:  # the session lives in the database, which may be the very thing that is down
        return False


_registry = CollectorRegistry()
_registry.register(OpsCollector())


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
