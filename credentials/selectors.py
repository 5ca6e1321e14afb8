"""Selectors: reading credentials back, as the authentication classes need them.

Each finds a presented credential with one indexed query and checks its secret in constant time.
They return None for anything that does not match (unknown, wrong secret, revoked, expired): the
caller decides which error to show, and no lookup here says *why* to an attacker.
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from credentials import hashing
from credentials.models import ApiKey, ClientSecret, CustomerSigningKey, PlatformTokenKey
from credentials.services import API_KEY_LENGTH, LEGACY_API_KEY_LENGTH

MAX_PRESENTED_LENGTH = 256  # nothing we issue is longer; longer input is refused unhashed


def client_secret_match(*, client_key: str, client_secret: str, now=None) -> ClientSecret | None:
    """The active secret of the active client ``client_key`` that equals ``client_secret``."""
    if not client_key or not client_secret or max(len(client_key), len(client_secret)) > MAX_PRESENTED_LENGTH:
        return None
    candidates = (
        ClientSecret.objects.active(now or timezone.now())
        .filter(client__client_key=client_key, client__is_active=True)
        .select_related("client__workspace")
    )
    match = None
    for secret in candidates:  # a client has one secret, or two during a rotation grace period
        if hashing.check_digest(client_secret, secret.digest) and match is None:
            match = secret
    return match


def api_key_match(*, key: str, now=None) -> ApiKey | None:
    """The active API key equal to ``key`` (64-char or imported legacy 32-char)."""
    if not isinstance(key, str):
        return None
    active = ApiKey.objects.active(now or timezone.now()).select_related("user")
    if len(key) == API_KEY_LENGTH:
        try:
            key_id = uuid.UUID(hex=key[:32])
        except ValueError:
            return None
        api_key = active.filter(pk=key_id).first()
        if api_key is None or not hashing.check_digest(key, api_key.digest):
            return None
        return api_key
    if len(key) == LEGACY_API_KEY_LENGTH and all(c in hashing.BASE62 for c in key):
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
    return (
        CustomerSigningKey.objects.active(now or timezone.now())
        .select_related("workspace")
        .filter(pk=kid_uuid)
        .first()
    )


def platform_token_key_current(*, now=None) -> PlatformTokenKey | None:
    """The key that signs new API tokens: the newest active, unretired one."""
    return (
        PlatformTokenKey.objects.active(now or timezone.now())
        .filter(retired_at__isnull=True)
        .order_by("-created_at")
        .first()
    )


def platform_token_key_get_active(*, kid: str, now=None) -> PlatformTokenKey | None:
    """An active (possibly retired) platform key by ``kid``: retired keys still verify."""
    if not isinstance(kid, str) or len(kid) > 32:
        return None
    return PlatformTokenKey.objects.active(now or timezone.now()).filter(pk=kid).first()
