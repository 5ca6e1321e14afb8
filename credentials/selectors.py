"""Selectors: reading credentials back, as the authentication classes need them.

Each finds a presented credential with one indexed query and checks its secret in constant time.
A presented value reaches a query only once it has the stored column's shape (authplatform/text.py).
They return None for anything that does not match (unknown, wrong secret, revoked, expired): the
caller decides which error to show, and no lookup here says *why* to an attacker.
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from authplatform.fastpaths.prepared import SAMPLE_NOW, SAMPLE_TEXT, SAMPLE_UUID, PreparedQuery
from authplatform.text import is_storable_text
from credentials import hashing
from credentials.models import (
    ApiKey,
    ApiKeyFormat,
    Client,
    ClientSecret,
    CredentialState,
    CustomerSigningKey,
    PlatformTokenKey,
    api_key_format,
)

MAX_PRESENTED_LENGTH = 256  # nothing we issue is longer; longer input is refused unhashed


def _active(model, now, **lookups):
    """The active rows (CredentialQuerySet.active, the one place that says what active means) matching
    ``lookups``, without the Meta ordering, which a lookup by a unique column does not need."""
    return model.objects.active(now).filter(**lookups).order_by()


# The per-request lookups, compiled once (authplatform/fastpaths/prepared.py: building the query was ~90% of an
# authentication's cost). Each is still one indexed query per request, so a revocation, expiry or
# deactivation written by any process is refused on the very next request. The samples only mark
# where each value goes in the SQL.
_EXPIRES_AT = ApiKey._meta.get_field("expires_at")  # every credential's expires_at adapts alike

_client_secrets = PreparedQuery(
    lambda now, client_key: _active(
        ClientSecret, now, client__client_key=client_key, client__is_active=True
    ).select_related("client__workspace"),
    samples={"now": SAMPLE_NOW, "client_key": SAMPLE_TEXT},
    fields={"now": _EXPIRES_AT, "client_key": Client._meta.get_field("client_key")},
)
_api_key_by_id = PreparedQuery(
    lambda now, key_id: _active(ApiKey, now, pk=key_id, user__is_active=True).select_related("user"),
    samples={"now": SAMPLE_NOW, "key_id": SAMPLE_UUID},
    fields={"now": _EXPIRES_AT, "key_id": ApiKey._meta.pk},
)
_signing_key_by_kid = PreparedQuery(
    lambda now, kid: _active(CustomerSigningKey, now, pk=kid).select_related("workspace"),
    samples={"now": SAMPLE_NOW, "kid": SAMPLE_UUID},
    fields={"now": _EXPIRES_AT, "kid": CustomerSigningKey._meta.pk},
)
_signing_key_any_state = PreparedQuery(  # only when a kid was refused: why (signing_key_state)
    lambda kid: CustomerSigningKey.objects.filter(pk=kid).order_by().only("expires_at", "revoked_at"),
    samples={"kid": SAMPLE_UUID},
    fields={"kid": CustomerSigningKey._meta.pk},
)
_platform_key_by_kid = PreparedQuery(
    lambda now, kid: _active(PlatformTokenKey, now, pk=kid),
    samples={"now": SAMPLE_NOW, "kid": SAMPLE_TEXT},
    fields={"now": _EXPIRES_AT, "kid": PlatformTokenKey._meta.pk},
)
_platform_key_current = PreparedQuery(  # every mint: the newest active, unretired key
    lambda now: _active(PlatformTokenKey, now, retired_at__isnull=True).order_by("-created_at")[:1],
    samples={"now": SAMPLE_NOW},
    fields={"now": _EXPIRES_AT},
)


def client_secret_match(*, client_key: str, client_secret: str, now=None) -> ClientSecret | None:
    """The active secret of the active client ``client_key`` that equals ``client_secret``."""
    if not client_key or not client_secret or max(len(client_key), len(client_secret)) > MAX_PRESENTED_LENGTH:
        return None
    if not is_storable_text(client_key):  # the secret is only hashed; the key reaches the query
        return None
    candidates = _client_secrets.all(now=now or timezone.now(), client_key=client_key)
    match = None
    for secret in candidates:  # a client has one secret, or two during a rotation grace period
        if hashing.check_digest(client_secret, secret.digest) and match is None:
            match = secret
    return match


def api_key_match(*, key: str, now=None) -> ApiKey | None:
    """The active API key, of an active user, equal to ``key`` (64-char or imported legacy 32-char)."""
    key_format = api_key_format(key)
    if key_format == ApiKeyFormat.V2:
        key_id = uuid.UUID(hex=key[:32])
        api_key = _api_key_by_id.first(now=now or timezone.now(), key_id=key_id)
        if api_key is None or not hashing.check_digest(key, api_key.digest):
            return None
        return api_key
    if key_format == ApiKeyFormat.LEGACY:
        active = ApiKey.objects.active(now or timezone.now()).filter(user__is_active=True).select_related("user")
        api_key = active.filter(digest__in=hashing.candidate_digests(key)).first()
        if api_key is None or not hashing.check_digest(key, api_key.digest):
            return None
        return api_key
    return None


def signing_key_get_active(*, kid: str, now=None) -> CustomerSigningKey | None:
    """The active customer signing key ``kid`` with its workspace, or None."""
    try:
        kid_uuid = uuid.UUID(str(kid))
    except (ValueError, TypeError, AttributeError):
        return None
    return _signing_key_by_kid.first(now=now or timezone.now(), kid=kid_uuid)


def signing_key_state(*, kid: str, now=None) -> CredentialState | None:
    """Why ``kid`` is not active, for a refusal that says so: its state, or None when no key has it.
    Only refusals ask (the accepted path is signing_key_get_active's one query). A kid is no secret (every
    token signed with the key carries it), so saying that it expired tells a caller nothing new."""
    try:
        kid_uuid = uuid.UUID(str(kid))
    except (ValueError, TypeError, AttributeError):
        return None
    key = _signing_key_any_state.first(kid=kid_uuid)
    return key.state(now) if key is not None else None


def platform_token_key_current(*, now=None) -> PlatformTokenKey | None:
    """The key that signs new API tokens: the newest active, unretired one."""
    return _platform_key_current.first(now=now or timezone.now())


def platform_token_key_get_active(*, kid: str, now=None) -> PlatformTokenKey | None:
    """An active (possibly retired) platform key by ``kid``: retired keys still verify."""
    if not is_storable_text(kid) or len(kid) > (PlatformTokenKey._meta.pk.max_length or 0):
        return None
    return _platform_key_by_kid.first(now=now or timezone.now(), kid=kid)


def api_key_get_active(*, key_id: uuid.UUID, now=None) -> ApiKey | None:
    """The active API key, of an active user, with primary key ``key_id`` (an API token's key), or None."""
    return _api_key_by_id.first(now=now or timezone.now(), key_id=key_id)
