"""Prometheus metrics at ``/metrics`` (prometheus_client): what the platform is doing, for operators.

- ``authplatform_http_requests_total{route, method, status}`` and
  ``authplatform_http_request_duration_seconds{route}``: every request, by URL pattern (``route`` is
  the pattern, e.g. ``api/v1/customer/inbox/<uuid:message_id>``, never a path with ids in it).
- ``authplatform_authentications_total{kind, outcome, reason}``: each credential presented to the
  HTTP API, by kind (client, api_key, api_token, customer_jwt), ``success``, ``refused`` (with its
  error reason) or ``throttled`` (the address was over its failure budget).

Labels never carry a customer id, a key or a secret: only kinds, reasons, routes and statuses.

Several server processes: set ``PROMETHEUS_MULTIPROC_DIR`` to a directory all of them can write (empty
it before they start, as prometheus_client requires); every process then records into files there and
``/metrics`` on any process sums them, so a scrape through the load balancer sees the whole host.
Without it each process counts in memory and answers for itself (one process: the embedded default).

Access: only from ``METRICS_ALLOWED`` addresses (default loopback), or with
``Authorization: Bearer <METRICS_TOKEN>`` when that is set; anyone else gets a 403 error body.
"""

from __future__ import annotations

import hmac
import os
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.deprecation import MiddlewareMixin
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from authplatform.client_ip import client_ip
from authplatform.errors import error_response

REQUESTS = Counter("authplatform_http_requests", "HTTP requests answered.", ["route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "authplatform_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AUTHENTICATIONS = Counter(
    "authplatform_authentications",
    "Credentials presented to the HTTP API, by kind and outcome.",
    ["kind", "outcome", "reason"],
)


def authentication_count(*, kind: str, outcome: str, reason: str = "") -> None:
    AUTHENTICATIONS.labels(kind=kind, outcome=outcome, reason=reason).inc()


class RequestMetricsMiddleware(MiddlewareMixin):
    """Counts and times every request by its URL pattern (known after routing, so ids never become labels)."""

    def process_request(self, request):
        request._metrics_started = time.perf_counter()

    def process_response(self, request, response):
        started = getattr(request, "_metrics_started", None)
        if started is not None:
            match = getattr(request, "resolver_match", None)
            route = match.route if match is not None else "unmatched"
            REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
            REQUEST_SECONDS.labels(route=route).observe(time.perf_counter() - started)
        return response


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    presented = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
        return True
    ip = client_ip(request)
    return ip is not None and any(ip in network for network in settings.METRICS_ALLOWED)


@require_GET
def metrics_view(request):
    if not _allowed(request):
        return error_response(
            403, "Metrics are served to METRICS_ALLOWED addresses or with METRICS_TOKEN only.", "permission_denied"
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
