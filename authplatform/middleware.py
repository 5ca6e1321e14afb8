"""Outermost middleware: no error leaves the API as HTML or a stack trace.

Django's own error pages (technical 404/500 with DEBUG on, CSRF failures, DisallowedHost, an exception
in another middleware) are replaced by the JSON error body. The admin and static files keep their
HTML pages, which are for people in a browser.
"""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.http.multipartparser import MultiPartParserError

from authplatform.errors import error_response, exception_response, status_message

logger = logging.getLogger("authplatform.errors")

HTML_PREFIXES = ("/admin/", "/static/")
# Exceptions that are answers, not failures: Django turns them into 400/403/404 responses.
DJANGO_ANSWERS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)


class JSONErrorMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._rewrite(request, self.get_response(request))

    async def _acall(self, request):
        return self._rewrite(request, await self.get_response(request))

    def process_exception(self, request, exception):
        if isinstance(exception, DJANGO_ANSWERS):
            return None  # Django answers these itself (404/403/400); _rewrite makes them JSON
        answer = exception_response(exception)  # a dependency down (503), a value the database refused (400)
        if answer is not None:
            return answer
        # Logged with the traceback for operators; the caller sees only the generic body.
        logger.error("Unhandled exception on %s %s", request.method, request.path, exc_info=exception)
        return error_response(500, "Something went wrong on our side.")

    @staticmethod
    def _rewrite(request, response):
        if response.status_code < 400 or request.path.startswith(HTML_PREFIXES):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = error_response(response.status_code, status_message(response.status_code))
        for header in ("WWW-Authenticate", "Retry-After", "Allow"):
            if header in response:
                replacement[header] = response[header]
        # Outermost, so after CommonMiddleware, which sets it for every other answer.
        replacement["Content-Length"] = str(len(replacement.content))
        return replacement
