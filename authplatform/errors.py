"""The one error format of the whole API (docs/design.md "Error body").

    {"code": <HTTP status>, "message": "<for a person>", "reason": "<machine code>"}

plus ``"invalid_authentication": true`` whenever credentials were missing or invalid. DRF views reach
it through ``api_exception_handler``; everything else (unknown URLs, Django's own 400/403/404,
uncaught exceptions) through ``JSONErrorMiddleware``, and an exception outside any view through
``handler500``. What is refused before Django (malformed HTTP) gets the same body from
authplatform/server.py. Services and selectors raise ``DomainError``s, which carry no HTTP status:
``DOMAIN_ERROR_STATUS`` below is where they meet one.
"""

from __future__ import annotations

import logging
import sys
from http import HTTPStatus
from typing import Any

import redis.exceptions
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status

logger = logging.getLogger(__name__)

# DRF's own exceptions answer with their ``default_code`` as the reason, except these two, whose
# codes ("parse_error", "invalid") say less than ours.
DRF_REASON_OVERRIDES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_body",
    exceptions.ValidationError: "invalid_request",
}
STATUS_REASONS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def error_body(
    code: int,
    message: str,
    reason: str | None = None,
    *,
    invalid_authentication: bool = False,
    details: Any = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "reason": reason or STATUS_REASONS.get(code, "error"),
    }
    if invalid_authentication:
        body["invalid_authentication"] = True
    if details is not None:
        body["details"] = details
    return body


def error_response(code: int, message: str, reason: str | None = None, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body(code, message, reason, **kwargs), status=code)


# --- domain errors: what services, selectors and verifiers raise --------------------------------
class DomainError(Exception):
    """A rule said no: a machine ``reason``, a message for a person, and no HTTP in it.

    Raise the subclass that says what kind of refusal it is; the HTTP layer (``api_exception_handler``,
    through DOMAIN_ERROR_STATUS) and the Socket.IO consumer decide how to answer it.
    """

    def __init__(self, reason: str, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The request asks for something that cannot be (an option out of range, a malformed value)."""


class ObjectNotFound(DomainError):
    """No such object for this caller (another tenant's objects look missing too)."""


class NotPermitted(DomainError):
    """The caller is who it says, but may not do this (a role too low, a renewal not allowed)."""


class Conflict(DomainError):
    """The request clashes with what is stored (an Idempotency-Key reused with another body)."""


class CredentialRefused(DomainError):
    """A presented credential is not valid (a token expired, a key unknown or revoked)."""


# The only place a domain error meets an HTTP status.
DOMAIN_ERROR_STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    ObjectNotFound: 404,
    NotPermitted: 403,
    Conflict: 409,
    CredentialRefused: 401,
}


def domain_error_status(exc: DomainError) -> int:
    return next((DOMAIN_ERROR_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_ERROR_STATUS), 400)


class APIError(exceptions.APIException):
    """An API error with its own machine ``reason`` (and optionally the invalid-credentials flag).

    Raise it, or a subclass, from views and authentication classes:
    ``raise APIError("Token expired.", reason="token_expired", status_code=401, invalid_authentication=True)``.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request."
    default_code = "bad_request"
    reason = "bad_request"
    invalid_authentication = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        reason: str | None = None,
        status_code: int | None = None,
        invalid_authentication: bool | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        if reason is not None:
            self.reason = reason
        if status_code is not None:
            self.status_code = status_code  # type: ignore[assignment]  # DRF types it as the class's literal
        if invalid_authentication is not None:
            self.invalid_authentication = invalid_authentication
        self.details = details
        self.headers = headers or {}


class InvalidCredentials(exceptions.AuthenticationFailed):
    """Credentials of a scheme were presented but are wrong (401 by default, flagged as invalid).

    ``status_code`` may be 403 for the API-key scheme (the seed's historical rule); DRF would turn a
    401 into 403 when the class has no ``authenticate_header``, so the status is kept here explicitly.
    """

    reason = "invalid_credentials"

    def __init__(self, detail: str, *, reason: str | None = None, status_code: int = 401) -> None:
        super().__init__(detail)
        self.status_code = status_code
        if reason is not None:
            self.reason = reason


def _message(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        return " ".join(str(d) for d in detail)
    return "The request is not valid."


def api_exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's EXCEPTION_HANDLER: every API exception leaves as the error body."""
    if isinstance(exc, DomainError):
        exc = APIError(
            exc.message,
            reason=exc.reason,
            status_code=domain_error_status(exc),
            details=exc.details,
            invalid_authentication=isinstance(exc, CredentialRefused),
        )
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; in the API it is a 400 like a serializer error.
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    # Imported here: rest_framework.views reads REST_FRAMEWORK's classes at import, and those import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: JSONErrorMiddleware answers the 500

    code = response.status_code
    assert isinstance(exc, exceptions.APIException)  # DRF answered it, so it is one
    reason = getattr(exc, "reason", None) or DRF_REASON_OVERRIDES.get(type(exc)) or exc.default_code
    invalid = bool(getattr(exc, "invalid_authentication", False)) or isinstance(
        exc, (exceptions.AuthenticationFailed, exceptions.NotAuthenticated)
    )
    details: Any = getattr(exc, "details", None)
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail
        message = _message(exc.detail) if not isinstance(exc.detail, dict) else "The request is not valid."
    else:
        message = _message(exc.detail)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:  # type: ignore[attr-defined]  # set in Throttled.__init__
            message = f"Too many requests. Try again in {int(exc.wait) + 1} seconds."  # type: ignore[attr-defined]
    response.data = error_body(code, message, reason, invalid_authentication=invalid, details=details)
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response


# Django's 400/403/404 pages become the error body in JSONErrorMiddleware, like every other non-JSON
# error answer; the 500 handler is ours, to classify an exception raised outside any view.
def handler500(request):
    # Django calls this inside its ``except`` block, so the exception is still at hand: an exception
    # raised outside any view (in a middleware, e.g. the session's database read) is classified here.
    response = exception_response(sys.exc_info()[1])
    return response or error_response(500, "Something went wrong on our side.")


# A dependency that does not answer: the database (refused, timed out, pool exhausted, SQLite locked)
# or Redis (channel layer, cache). Not the request's fault, and likely to pass: 503 with Retry-After.
DEPENDENCY_DOWN = (OperationalError, InterfaceError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def exception_response(exc: BaseException | None) -> JsonResponse | None:
    """The answer for an exception that is no bug of the request handler's own, else None (a 500).

    - a dependency down → 503 ``unavailable`` with ``Retry-After``;
    - ``DataError``: the database refused a value (a NUL, a number out of range). Every presented
      value is meant to be checked before it reaches a query (authplatform/text.py), so this is a
      defect to fix, logged with its traceback — but the request was bad input: 400, never a 500.
    """
    from authplatform.conf import platform_settings  # conf reads settings; errors is imported early

    if isinstance(exc, DataError):
        logger.error("A request value reached the database unchecked and was refused.", exc_info=exc)
        return error_response(400, "The request holds a value that cannot be stored.", "invalid_value")
    if isinstance(exc, DEPENDENCY_DOWN):
        wait = int(platform_settings.UNAVAILABLE_RETRY_AFTER)
        logger.warning("Answered 503: a dependency is unavailable (%s).", type(exc).__name__)
        response = error_response(
            503, f"A service this API depends on is unavailable. Try again in {wait} seconds.", "unavailable"
        )
        response["Retry-After"] = str(wait)
        return response
    return None


def status_message(code: int) -> str:
    try:
        return HTTPStatus(code).phrase + "."
    except ValueError:
        return "Error."
