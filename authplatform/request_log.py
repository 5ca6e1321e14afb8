"""One log record per HTTP request, and a request id on every record logged while it is served.

``RequestLogMiddleware`` logs each answered request on the ``authplatform.request`` logger: method,
path (never the query string), status, duration, the error ``reason`` of a refusal, the client IP,
and which credential was used — its kind and its id (a client key, an API key id, a signing key's
kid), never the secret. The request id is the client's ``X-Request-ID`` when it is a plain token of up
to 64 characters, a new one otherwise; it is echoed in the response and added to every record logged
during the request (``RequestIdFilter``), so one grep finds everything about one request.

``LOG_FORMAT=json`` (settings.LOGGING) writes every record as one JSON object per line with these
fields as keys (python-json-logger); the default stays one readable line.

The credential comes from what DRF sets on Django's request after a successful authentication
(``request.auth`` or ``request.user``); each credential object says what it is (``credential_kind``, ``credential_id``:
tokens/principals.py), so this module needs to know none of them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

from django.utils.deprecation import MiddlewareMixin

from authplatform.client_ip import client_ip

logger = logging.getLogger("authplatform.request")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
QUIET_PATHS = ("/healthz", "/readyz")  # probes every few seconds: DEBUG, not INFO
_REASON_PEEK_BYTES = 4096  # error bodies are small; never parse a large body to log a line

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or None outside a request) to every record, for both log formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def _error_reason(response) -> str | None:
    if response.status_code < 400 or response.get("Content-Type") != "application/json" or response.streaming:
        return None
    content = response.content
    if len(content) > _REASON_PEEK_BYTES:
        return None
    try:
        reason = json.loads(content).get("reason")
    except (ValueError, AttributeError):
        return None
    return reason if isinstance(reason, str) else None


def _credential(request):
    """The credential object DRF authenticated the request with: ``request.auth``, or ``request.user``
    for customers (whose ``auth`` is the token's claims). Looked up on the type, so that Django's lazy
    session user of a request DRF did not authenticate is never evaluated (a session read) for a log line."""
    for candidate in (getattr(request, "auth", None), vars(request).get("user")):
        if hasattr(type(candidate), "credential_kind"):
            return candidate
    return None


class RequestLogMiddleware(MiddlewareMixin):
    def process_request(self, request):
        presented = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = presented if _CLIENT_REQUEST_ID.fullmatch(presented) else uuid.uuid4().hex
        # Not reset afterwards: each request is served in a context of its own (an ASGI task).
        request_id_var.set(request.request_id)
        request._log_started = time.perf_counter()

    def process_response(self, request, response):
        started = getattr(request, "_log_started", None)
        if started is None:  # a middleware before ours answered without calling it
            return response
        response[REQUEST_ID_HEADER] = request.request_id
        level = logging.DEBUG if request.path in QUIET_PATHS and response.status_code < 400 else logging.INFO
        if not logger.isEnabledFor(level):  # LOG_LEVEL=WARNING: no line, and nothing computed for one
            return response
        credential = _credential(request)
        fields = {
            "request_id": request.request_id,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "credential_kind": getattr(credential, "credential_kind", None),
            "credential_id": getattr(credential, "credential_id", None),
            "client_ip": str(client_ip(request) or ""),
            "reason": _error_reason(response),
        }
        text = f"{fields['method']} {fields['path']} {fields['status']} {fields['duration_ms']}ms"
        if fields["credential_kind"]:
            text += f" {fields['credential_kind']}={fields['credential_id']}"
        if fields["reason"]:
            text += f" reason={fields['reason']}"
        logger.log(level, text, extra=fields)
        return response
