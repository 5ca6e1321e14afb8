"""DRF authentication classes, one small class per credential kind (DESIGN.md "Authentication").

Each ``authenticate()`` returns None when the request carries no credential of its scheme (so the next
class may try), and raises when it carries one that is wrong. Views list the classes they accept.
"""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication

from authplatform.errors import InvalidCredentials
from credentials import selectors
from credentials.services import last_used_touch
from tokens.bearer import request_bearer_token, token_kind
from tokens.customer_jwt import CustomerTokenError, verify_customer_jwt
from tokens.principals import ClientPrincipal

CLIENT_KEY_HEADER = "HTTP_X_CLIENT_KEY"
CLIENT_SECRET_HEADER = "HTTP_X_CLIENT_SECRET"


class ClientCredentialsAuthentication(BaseAuthentication):
    """Server-to-server: ``x-client-key`` + ``x-client-secret``. Failure is 401."""

    def authenticate(self, request):
        key = request.META.get(CLIENT_KEY_HEADER)
        secret = request.META.get(CLIENT_SECRET_HEADER)
        if key is None and secret is None:
            return None
        if not key or not secret:
            raise InvalidCredentials("Send both x-client-key and x-client-secret.",
                                     reason="client_credentials_incomplete")
        match = selectors.client_secret_match(client_key=key, client_secret=secret)
        if match is None:
            raise InvalidCredentials("The client key or secret is wrong, revoked or expired.",
                                     reason="invalid_client_credentials")
        last_used_touch(match)
        last_used_touch(match.client)
        principal = ClientPrincipal(client=match.client, secret=match)
        return principal, principal

    def authenticate_header(self, request):
        return 'ClientSecret realm="api"'


class CustomerJWTAuthentication(BaseAuthentication):
    """Customer-scoped: ``Authorization: Bearer <customer JWT>``. Failure is 401 with the reason."""

    def authenticate(self, request):
        token = request_bearer_token(request)
        if token is None or token_kind(token) == "api":
            return None  # absent, another scheme, or an API token for ApiTokenAuthentication
        try:
            principal = verify_customer_jwt(token)
        except CustomerTokenError as exc:
            raise InvalidCredentials(exc.message, reason=exc.reason) from None
        return principal, principal.claims

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
