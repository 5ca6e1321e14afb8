"""Who a request is, for the credential kinds that are not a Django user.

DRF puts these in ``request.user``; they answer ``is_authenticated`` like a user does, so DRF's
``IsAuthenticated`` works unchanged. API keys and API tokens authenticate a real user (the API user):
``request.user`` is that user and ``request.auth`` an ``ApiKeyAuth`` saying which key (and token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from credentials.models import ApiKey, Client, ClientSecret, CustomerSigningKey, ProductSpace, Workspace

# A customer id is its JWT's ``sub``: 1 to this many characters (tokens/customer_jwt.py checks it; the
# notifications tables store it in columns of this size).
CUSTOMER_ID_MAX_LENGTH = 255

# The credential kinds, as the request log, metrics and the authentication classes name them.
CLIENT_KIND = "client"
API_KEY_KIND = "api_key"
API_TOKEN_KIND = "api_token"
CUSTOMER_JWT_KIND = "customer_jwt"


@dataclass(frozen=True)
class ClientPrincipal:
    """A customer's backend, authenticated with x-client-key + x-client-secret."""

    client: Client
    secret: ClientSecret
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def workspace(self) -> Workspace:
        return self.client.workspace

    @property
    def pk(self) -> str:
        return f"client:{self.client.client_key}"

    # What the request log names (authplatform/request_log.py): the credential, never its secret.
    credential_kind = CLIENT_KIND

    @property
    def credential_id(self) -> str:
        return self.client.client_key

    def __str__(self) -> str:
        return f"client {self.client.client_key}"


@dataclass(frozen=True)
class CustomerPrincipal:
    """A customer of a workspace, authenticated with a customer JWT their backend signed."""

    customer_id: str
    workspace: Workspace
    product_space: ProductSpace
    signing_key: CustomerSigningKey
    expires_at: datetime
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> str:
        return f"customer:{self.workspace.code}:{self.product_space.code}:{self.customer_id}"

    credential_kind = CUSTOMER_JWT_KIND

    @property
    def credential_id(self) -> str:
        return str(self.signing_key.kid)  # the signing key; the customer id is the app's business

    def __str__(self) -> str:
        return f"customer {self.customer_id} of {self.workspace.code}/{self.product_space.code}"


@dataclass(frozen=True)
class ApiKeyAuth:
    """``request.auth`` of an API user: the key used, directly or through an API token minted from it."""

    api_key: ApiKey
    token_payload: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def via_token(self) -> bool:
        return self.token_payload is not None

    @property
    def credential_kind(self) -> str:
        return API_TOKEN_KIND if self.via_token else API_KEY_KIND

    @property
    def credential_id(self) -> str:
        return str(self.api_key.pk)  # a token's key: its tokens carry no id of their own worth logging
