"""DRF authentication classes, one small class per credential kind (docs/design.md "Authentication").

Each ``authenticate()`` returns None when the request carries no credential of its scheme (so the next
class may try), and raises when it carries one that is wrong. Views list the classes they accept.

A refusal is an ``APIError`` that carries its own status and ``WWW-Authenticate`` challenge (see
``credentials_refused``), so it does not depend on which class a view lists first: DRF would otherwise
take the first class's ``authenticate_header()`` for every 401, or turn every 401 into a 403 when that
class has none. Only *missing* credentials still go through DRF's rule, so list first the class whose
answer you want for a request without any credential (ApiKeyAuthentication first: 403, the seed's
rule; any other first: 401 with its challenge). Every refusal counts against the client IP's failure
budget (tokens/throttle.py) and becomes a 429 once the budget is spent.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.versioning import BaseVersioning

from authplatform.client_ip import client_ip
from authplatform.errors import APIError, CredentialRefused, InvalidCredentials
from authplatform.metrics import authentication_count
from credentials import selectors
from credentials.models import api_key_format
from credentials.services import last_used_touch
from tokens.api_tokens import api_token_verify
from tokens.bearer import request_bearer_token, token_kind
from tokens.customer_jwt import customer_jwt_verify
from tokens.principals import (
    API_KEY_KIND,
    API_TOKEN_KIND,
    CLIENT_KIND,
    CUSTOMER_JWT_KIND,
    ApiKeyAuth,
    ClientPrincipal,
)
from tokens.throttle import auth_failure_register

CLIENT_KEY_HEADER = "HTTP_X_CLIENT_KEY"
CLIENT_SECRET_HEADER = "HTTP_X_CLIENT_SECRET"
API_KEY_HEADER = "HTTP_API_KEY"
API_VERSION_HEADER = "HTTP_API_VERSION"
SUPPORTED_API_VERSIONS = frozenset({"1"})
BEARER_CHALLENGE = 'Bearer realm="api"'

# The seed's words for a missing or malformed API credential (403, invalid_authentication).
CREDENTIALS_NOT_SUPPLIED = "API credentials are not supplied or not a valid format."


# A client over its failed-authentication budget (tokens/throttle.py), on HTTP (429) and Socket.IO alike.
TOO_MANY_FAILURES = "too_many_authentication_failures"


def too_many_failures_message(wait: int) -> str:
    return f"Too many failed authentication attempts from your address. Try again in {wait} seconds."


def credentials_refused(
    request, message: str, *, kind: str, reason: str, status_code: int = 401, challenge: str | None = None
) -> APIError:
    """The error for a presented but wrong credential of ``kind``: 401 (or 403 for API keys) with
    ``invalid_authentication``, or 429 once the client IP has failed too often. Counted in metrics."""
    wait = auth_failure_register(client_ip(request))
    if wait is not None:
        authentication_count(kind=kind, outcome="throttled")
        return APIError(
            too_many_failures_message(wait),
            reason=TOO_MANY_FAILURES,
            status_code=429,
            invalid_authentication=True,
            headers={"Retry-After": str(wait)},
        )
    authentication_count(kind=kind, outcome="refused", reason=reason)
    headers = {"WWW-Authenticate": challenge} if status_code == 401 and challenge else None
    return APIError(message, reason=reason, status_code=status_code, invalid_authentication=True, headers=headers)


def api_version_check(request) -> bool:
    """``Api-Version`` absent or a version this API speaks (only ``1``). Never raises."""
    version = request.META.get(API_VERSION_HEADER)
    return version is None or version.strip() in SUPPORTED_API_VERSIONS


class ApiVersionHeaderVersioning(BaseVersioning):
    """DRF's versioning hook (REST_FRAMEWORK["DEFAULT_VERSIONING_CLASS"]): the one place ``Api-Version``
    is read. DRF calls it once per request, before authentication, so another version is a 400 whatever
    the credentials (the seed's rule for API keys; the rest of the API speaks version 1 too)."""

    def determine_version(self, request, *args, **kwargs) -> str:
        if not api_version_check(request):
            raise APIError(
                f"Api-Version {request.META.get(API_VERSION_HEADER, '')[:16]!r} is not supported: "
                "send 'Api-Version: 1' or leave it out.",
                reason="unsupported_api_version",
                status_code=400,
            )
        return "1"


def _bearer(request, challenge: str, kind: str) -> str | None:
    try:
        return request_bearer_token(request)
    except InvalidCredentials as exc:  # "Bearer" with not exactly one token
        raise credentials_refused(request, str(exc.detail), kind=kind, reason=exc.reason, challenge=challenge) from None


def _presented_bearer(request) -> str | None:
    try:
        return request_bearer_token(request)
    except InvalidCredentials:
        return None


CREDENTIAL_CLASSES: list[Any] = []  # filled below: every kind, to name what a request sent


def credentials_not_accepted(request, authenticators) -> InvalidCredentials:
    """401 for a request that no class of the view claimed: it sent no credential, or only kinds
    this endpoint does not take (a customer JWT on a server-to-server endpoint). The message names
    the kinds the endpoint accepts, and what was sent instead."""
    accepted = [type(a).credential_name for a in authenticators if hasattr(a, "credential_name")]
    accepted_text = ", ".join(accepted[:-1]) + f" or {accepted[-1]}" if len(accepted) > 1 else "".join(accepted)
    sent = [
        cls.credential_name
        for cls in CREDENTIAL_CLASSES
        if cls.presented(request) and not any(isinstance(a, cls) for a in authenticators)
    ]
    if sent:
        return InvalidCredentials(
            f"This endpoint accepts {accepted_text}; the request sent {' and '.join(sent)}, which it does not accept.",
            reason="credentials_not_accepted",
        )
    return InvalidCredentials(f"This endpoint needs {accepted_text}; none was sent.", reason="not_authenticated")


class AcceptedCredentialsMixin:
    """For an APIView: a request that no authentication class claimed is told which kinds the view
    accepts (DRF would say only "Authentication credentials were not provided.")."""

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise credentials_not_accepted(request, request.authenticators)
        super().permission_denied(request, message, code)


class ClientCredentialsAuthentication(BaseAuthentication):
    """Server-to-server: ``x-client-key`` + ``x-client-secret``. Failure is 401."""

    credential_name = "client credentials (x-client-key and x-client-secret)"
    credential_kind = CLIENT_KIND

    @staticmethod
    def presented(request) -> bool:
        return CLIENT_KEY_HEADER in request.META or CLIENT_SECRET_HEADER in request.META

    def authenticate(self, request):
        key = request.META.get(CLIENT_KEY_HEADER)
        secret = request.META.get(CLIENT_SECRET_HEADER)
        if key is None and secret is None:
            return None
        if not key or not secret:
            raise credentials_refused(
                request,
                "Send both x-client-key and x-client-secret.",
                kind=self.credential_kind,
                reason="client_credentials_incomplete",
                challenge=self.authenticate_header(request),
            )
        match = selectors.client_secret_match(client_key=key, client_secret=secret)
        if match is None:
            raise credentials_refused(
                request,
                "The client key or secret is wrong, revoked or expired.",
                kind=self.credential_kind,
                reason="invalid_client_credentials",
                challenge=self.authenticate_header(request),
            )
        last_used_touch(match)
        last_used_touch(match.client)
        principal = ClientPrincipal(client=match.client, secret=match)
        authentication_count(kind=self.credential_kind, outcome="success")
        return principal, principal

    def authenticate_header(self, request):
        return 'ClientSecret realm="api"'


class ApiKeyAuthentication(BaseAuthentication):
    """An API user's key in ``Api-Key`` (64-char or legacy 32-char); ``Api-Version`` absent or ``1``.

    Failure is 403 with ``invalid_authentication`` (the seed's historical rule), so there is no
    ``authenticate_header()``. Sent together with an API token, the key wins (seed).
    """

    credential_name = "an API key (Api-Key)"
    credential_kind = API_KEY_KIND

    @staticmethod
    def presented(request) -> bool:
        return API_KEY_HEADER in request.META

    def authenticate(self, request):
        key = request.META.get(API_KEY_HEADER)
        if key is None:
            return None
        key = key.strip()
        if api_key_format(key) is None:
            raise credentials_refused(
                request,
                CREDENTIALS_NOT_SUPPLIED,
                kind=self.credential_kind,
                reason="api_key_malformed",
                status_code=403,
            )
        api_key = selectors.api_key_match(key=key)
        if api_key is None:
            raise credentials_refused(
                request,
                "The API key is not valid: it is unknown, deleted or rotated.",
                kind=self.credential_kind,
                reason="invalid_api_key",
                status_code=403,
            )
        last_used_touch(api_key)
        authentication_count(kind=self.credential_kind, outcome="success")
        return api_key.user, ApiKeyAuth(api_key=api_key)


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <API token>`` minted from an API key (tokens/api_tokens.py). Failure is 401.

    Claims every Bearer token that is not a customer JWT (a token too mangled to tell is refused here
    as malformed, as the seed says: 401 "just not in the right format").
    """

    credential_name = "an API token (Authorization: Bearer, minted from an API key)"
    credential_kind = API_TOKEN_KIND

    @staticmethod
    def presented(request) -> bool:
        token = _presented_bearer(request)
        return token is not None and token_kind(token) != "customer"

    def authenticate(self, request):
        if API_KEY_HEADER in request.META:
            return None  # the API key wins when both are sent (seed)
        token = _bearer(request, self.authenticate_header(request), self.credential_kind)
        if token is None or token_kind(token) == "customer":
            return None
        try:
            verified = api_token_verify(token, ip=client_ip(request))
        except CredentialRefused as exc:
            raise credentials_refused(
                request,
                exc.message,
                kind=self.credential_kind,
                reason=exc.reason,
                challenge=self.authenticate_header(request),
            ) from None
        last_used_touch(verified.api_key)
        authentication_count(kind=self.credential_kind, outcome="success")
        return verified.api_key.user, ApiKeyAuth(api_key=verified.api_key, token_payload=verified.payload)

    def authenticate_header(self, request):
        return BEARER_CHALLENGE


class CustomerJWTAuthentication(BaseAuthentication):
    """Customer-scoped: ``Authorization: Bearer <customer JWT>``. Failure is 401 with the reason."""

    credential_name = "a customer JWT (Authorization: Bearer)"
    credential_kind = CUSTOMER_JWT_KIND

    @staticmethod
    def presented(request) -> bool:
        token = _presented_bearer(request)
        return token is not None and token_kind(token) == "customer"

    def authenticate(self, request):
        token = _bearer(request, self.authenticate_header(request), self.credential_kind)
        if token is None or token_kind(token) == "api":
            return None  # absent, another scheme, or an API token for ApiTokenAuthentication
        try:
            principal = customer_jwt_verify(token)
        except CredentialRefused as exc:
            raise credentials_refused(
                request,
                exc.message,
                kind=self.credential_kind,
                reason=exc.reason,
                challenge=self.authenticate_header(request),
            ) from None
        authentication_count(kind=self.credential_kind, outcome="success")
        return principal, principal.claims

    def authenticate_header(self, request):
        return BEARER_CHALLENGE


CREDENTIAL_CLASSES += [
    ClientCredentialsAuthentication,
    ApiKeyAuthentication,
    ApiTokenAuthentication,
    CustomerJWTAuthentication,
]
