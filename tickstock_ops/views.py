"""The core's two HTTP endpoints: /healthz for load balancers and /metrics for Prometheus."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tickstock_ops import health
from tickstock_ops.metrics import OpsCollector


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health.check()
    return JsonResponse({"status": "ok" if healthy else "unhealthy", **report}, status=200 if healthy else 503)


_registry = CollectorRegistry()
_registry.register(OpsCollector())


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
