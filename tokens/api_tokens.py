"""API tokens: JWTs minted here from an API key (the seed's "JWT Token"), signing and verifying.

The payload is exactly the seed's ``{id, exp, expt, ips, rn}``: ``id`` the API key's UUID, ``exp`` the
expiry (Unix seconds), ``expt`` the lifetime it was minted with (a renewal may not exceed it), ``ips``
the IP rules (empty: not IP-protected), ``rn`` whether it may be renewed. The header's ``kid`` names
the platform token key (never a UUID, so tokens/bearer.py tells these apart from customer JWTs);
HS256 with that key's decrypted secret. Retired platform keys keep verifying; revoked ones do not.

A token is only as alive as its API key: every verification looks the key up, so deleting or rotating
the key ends all its tokens at once. The rules for *which* token to mint live in tokens/services.py.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from authplatform.client_ip import IPAddress
from authplatform.errors import CredentialRefused
from credentials import hashing, selectors, services
from credentials.audit import Actor
from credentials.models import ApiKey, PlatformTokenKey
from tokens.bearer import presented_token_header
from tokens.ip_rules import check_ip_allowed

logger = logging.getLogger(__name__)

API_TOKEN_MAX_BYTES = 4096  # ten IPv6 CIDRs make ~1 KB; anything longer is refused unparsed
PAYLOAD_KEYS = frozenset({"id", "exp", "expt", "ips", "rn"})


@dataclass(frozen=True)
class VerifiedApiToken:
    api_key: ApiKey
    payload: dict[str, Any]


@lru_cache(maxsize=32)
def _key_secret(kid: str, encrypted_secret: str) -> bytes:
    # Decrypting costs a Fernet round per request otherwise; a stored key's secret never changes, and
    # revocation is decided by the lookup that precedes this cache.
    return hashing.decrypt_secret(encrypted_secret)


def platform_token_key_for_signing() -> PlatformTokenKey:
    """The key that signs new tokens; the very first one is created on demand."""
    key = selectors.platform_token_key_current()
    if key is None:
        key = services.platform_token_key_rotate(actor=Actor(via="api"), reason="first API token minted")
    return key


def api_token_encode(*, payload: dict[str, Any]) -> str:
    key = platform_token_key_for_signing()
    return jwt.encode(
        payload, _key_secret(key.kid, key.encrypted_secret), algorithm=key.algorithm, headers={"kid": key.kid}
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _payload_well_formed(payload: dict[str, Any]) -> bool:
    if set(payload) != PAYLOAD_KEYS:
        return False
    if not (
        isinstance(payload["id"], str)
        and _is_int(payload["exp"])
        and _is_int(payload["expt"])
        and isinstance(payload["rn"], bool)
        and isinstance(payload["ips"], list)
        and all(isinstance(ip, str) for ip in payload["ips"])
    ):
        return False
    try:
        uuid.UUID(payload["id"])
    except ValueError:
        return False
    return True


def api_token_verify(token: str, *, ip: IPAddress | None) -> VerifiedApiToken:
    """The API key a token speaks for, used from ``ip``; CredentialRefused saying why not otherwise."""
    header = presented_token_header(token, max_bytes=API_TOKEN_MAX_BYTES)
    kid = header.get("kid")
    key = selectors.platform_token_key_get_active(kid=kid) if isinstance(kid, str) and kid else None
    if key is None:
        raise CredentialRefused("signing_key_unknown", "The token's signing key (kid) is unknown or revoked.")
    if header.get("alg") != key.algorithm:
        raise CredentialRefused("algorithm_not_allowed", f"API tokens are signed with {key.algorithm}.")
    try:
        secret = _key_secret(key.kid, key.encrypted_secret)
    except ValueError:
        logger.error("Platform token key %s cannot be decrypted; check AUTHPLATFORM_KEY_ENCRYPTION_KEY.", key.kid)
        raise CredentialRefused("signing_key_unknown", "The token's signing key is not usable.") from None
    try:
        payload = jwt.decode(
            token, secret, algorithms=[key.algorithm], options={"require": sorted(PAYLOAD_KEYS), "verify_aud": False}
        )
    except jwt.ExpiredSignatureError:
        raise CredentialRefused("token_expired", "The token has expired. Get a new one with your API key.") from None
    except jwt.InvalidSignatureError:
        raise CredentialRefused("invalid_signature", "The token's signature does not verify.") from None
    except jwt.PyJWTError:
        raise CredentialRefused("token_invalid", "The token is not a valid API token.") from None
    if not _payload_well_formed(payload):
        raise CredentialRefused("token_invalid", "The token is not a valid API token.")
    if not check_ip_allowed(ip, payload["ips"]):
        raise CredentialRefused("ip_not_allowed", f"This token may not be used from your address ({ip}).")
    api_key = selectors.api_key_get_active(key_id=uuid.UUID(payload["id"]))
    if api_key is None:
        raise CredentialRefused(
            "api_key_revoked",
            "The API key this token was minted from is no longer active "
            "(deleted, rotated, revoked or expired, or its user deactivated).",
        )
    services.last_used_touch(key)  # the platform key that signed it, as every credential records its use
    return VerifiedApiToken(api_key=api_key, payload=payload)
