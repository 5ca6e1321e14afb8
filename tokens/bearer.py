"""Reading ``Authorization: Bearer <jwt>`` and telling which kind of token it carries.

Two kinds of JWT arrive as Bearer tokens: customer JWTs (signed by a customer's backend with a key
registered here; ``kid`` is that key's UUID) and API tokens (minted here from an API key; ``kid`` is a
platform key id, never a UUID). The ``kid`` decides, so each authentication class can return None for
the other's tokens, as DRF expects.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Literal

import jwt

from authplatform.conf import platform_settings
from authplatform.errors import CredentialRefused, InvalidCredentials

BEARER = "bearer"


def parse_bearer(value: str | None) -> str | None:
    """The token of a ``Bearer <token>`` value; None when the value is of another scheme or absent.

    Raises InvalidCredentials when it is a Bearer value but not a single token.
    """
    if not value:
        return None
    parts = value.split()
    if not parts or parts[0].lower() != BEARER:
        return None
    if len(parts) != 2:
        raise InvalidCredentials(
            "The Authorization header must be 'Bearer <token>' with exactly one token.",
            reason="malformed_authorization_header",
        )
    return parts[1]


def request_bearer_token(request) -> str | None:
    return parse_bearer(request.META.get("HTTP_AUTHORIZATION"))


TokenKind = Literal["customer", "api"]


@lru_cache(maxsize=256)
def _unverified_header(token: str) -> dict:
    return jwt.get_unverified_header(token)


def unverified_header(token: str) -> dict:
    """``jwt.get_unverified_header(token)``, remembered for recently seen tokens.

    A compact JWT is ASCII only (base64url and dots). Anything else is refused here as a DecodeError,
    before PyJWT encodes it: a lone surrogate (possible in a Socket.IO auth payload, which is JSON)
    raised UnicodeEncodeError there, which no caller expects.

    PyJWT checks every character of all three segments in Python (~0.2 ms for an RS256 token), and a
    request read the header twice (token_kind, then the verifier) before jwt.decode parsed it a third
    time. The header is a pure function of the token string, so this is only a memo; a token that does
    not parse raises every time (exceptions are not cached). A copy, so callers cannot alter the memo.
    """
    if not token.isascii():
        raise jwt.DecodeError("A JWT is ASCII only.")
    return dict(_unverified_header(token))


def presented_token_header(token: object, *, max_bytes: int) -> dict:
    """The unverified header of a presented JWT, or CredentialRefused saying why there is none: the
    checks both verifiers (API tokens, customer JWTs) make before anything else."""
    if not isinstance(token, str) or not token:
        raise CredentialRefused("token_missing", "No token was sent.")
    if len(token) > max_bytes:
        raise CredentialRefused("token_too_large", "The token is too large.")  # refused before any parsing
    try:
        return unverified_header(token)
    except jwt.PyJWTError:
        raise CredentialRefused("token_malformed", "The token is not a well-formed JWT.") from None


def token_kind(token: str) -> TokenKind | None:
    """Which scheme a Bearer token belongs to, from its (unverified) header; None if it is no JWT.

    Oversized tokens are not even decoded (None): the verifying class then refuses them by size.
    """
    if len(token) > platform_settings.CUSTOMER_JWT_MAX_BYTES:
        return None
    try:
        header = unverified_header(token)
    except jwt.PyJWTError:
        return None
    kid = header.get("kid")
    if not isinstance(kid, str):
        return None
    try:
        uuid.UUID(kid)
    except ValueError:
        return "api"
    return "customer"
