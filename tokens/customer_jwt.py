"""Verifying customer JWTs: the one function that the REST API and the Socket.IO consumer both call.

A customer's backend signs the token (the first seed document's TypeScript example, RS256) with a
private key whose public half is registered here as a CustomerSigningKey. Rules (docs/design.md
"Customer JWTs"):

- the ``kid`` header selects the key; the algorithm is the key's own, never the token's ``alg``
  (so ``alg: none`` and HS256-signed-with-the-public-key are refused);
- ``exp`` and ``sub`` are required; ``type`` must be "customer"; ``workspace_id`` must be the key's
  workspace; ``product_space_code`` must name a product space of that workspace;
- claim types as RFC 7519 says: PyJWT checks a string ``sub`` and rejects unknown ``crit`` headers,
  but coerces a string ``exp``/``nbf``/``iat`` to a number, so we check those types ourselves;
- ``jku``/``x5u``/``jwk`` headers are ignored, never fetched; tokens over CUSTOMER_JWT_MAX_BYTES are
  refused before anything is parsed.

Failures raise CredentialRefused with a machine ``reason`` and a message that says what to fix; both
reach the client (HTTP error body, Socket.IO connect_error).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import serialization

from authplatform.conf import platform_settings
from authplatform.errors import CredentialRefused
from authplatform.fastpaths.row_cache import ImmutableRowCache
from authplatform.text import is_storable_text
from credentials import selectors
from credentials.models import CODE_VALIDATOR, CredentialState, ProductSpace
from credentials.services import last_used_touch
from tokens.bearer import presented_token_header
from tokens.principals import CUSTOMER_ID_MAX_LENGTH, CustomerPrincipal

CUSTOMER_TOKEN_TYPE = "customer"
NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")


@lru_cache(maxsize=1024)
def _public_key(fingerprint: str, pem: str):
    # Parsing a PEM costs about as much as the RS256 check itself; a stored key never changes, so one
    # parse per fingerprint (a revoked key is refused by the lookup before this cache is consulted).
    return serialization.load_pem_public_key(pem.encode())


# A product space is never changed or deleted once created: found once, kept (authplatform/fastpaths).
_product_spaces: ImmutableRowCache[ProductSpace] = ImmutableRowCache(ProductSpace)

_CODE_PATTERN: re.Pattern[str] = CODE_VALIDATOR.regex  # type: ignore[assignment]  # compiled by RegexValidator


def _is_code(value) -> bool:
    """A product space code's shape, checked before it reaches a query (a NUL is a 500 on PostgreSQL)."""
    return isinstance(value, str) and _CODE_PATTERN.fullmatch(value) is not None


def _is_numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def customer_jwt_verify(token: str) -> CustomerPrincipal:
    """The customer a token speaks for, or CredentialRefused saying why not. Never returns None."""
    header = presented_token_header(token, max_bytes=platform_settings.CUSTOMER_JWT_MAX_BYTES)

    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise CredentialRefused("signing_key_unknown", "The token has no kid header naming its signing key.")
    key = selectors.signing_key_get_active(kid=kid)
    if key is None:
        if selectors.signing_key_state(kid=kid) == CredentialState.EXPIRED:
            # A rotated key whose overlap is over: the customer's backend still signs with the old key.
            raise CredentialRefused(
                "signing_key_expired",
                "The token's signing key (kid) has passed its end date (it was rotated): sign with its successor.",
            )
        raise CredentialRefused("signing_key_unknown", "The token's signing key (kid) is unknown or revoked.")
    if header.get("alg") != key.algorithm:
        raise CredentialRefused("algorithm_not_allowed", f"Customer tokens must be signed with {key.algorithm}.")

    try:
        # exp/nbf/iat are checked by PyJWT against the real clock, with a small leeway.
        claims = jwt.decode(
            token,
            key=_public_key(key.fingerprint, key.public_key_pem),
            algorithms=[key.algorithm],  # pinned to the key, never read from the token
            options={"require": ["exp", "sub"], "verify_aud": False},
            leeway=min(platform_settings.CUSTOMER_JWT_LEEWAY, 30),
        )
    except jwt.ExpiredSignatureError:
        raise CredentialRefused("token_expired", "The token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise CredentialRefused("token_not_yet_valid", "The token is not valid yet (nbf/iat in the future).") from None
    except jwt.InvalidSignatureError:
        raise CredentialRefused(
            "invalid_signature", "The token's signature does not verify with its signing key."
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise CredentialRefused("invalid_claims", f"The token lacks the required '{exc.claim}' claim.") from None
    except jwt.PyJWTError as exc:
        raise CredentialRefused("token_invalid", f"The token is not valid: {exc}.") from None

    for name in NUMERIC_DATE_CLAIMS:
        if name in claims and not _is_numeric(claims[name]):
            raise CredentialRefused("invalid_claims", f"The '{name}' claim must be a number (RFC 7519 NumericDate).")
    subject = claims["sub"]
    if not subject or len(subject) > CUSTOMER_ID_MAX_LENGTH:
        raise CredentialRefused("invalid_claims", f"The 'sub' claim must be 1 to {CUSTOMER_ID_MAX_LENGTH} characters.")
    if not is_storable_text(subject):
        # The subject becomes a customer id in the database and a channel-layer group name: PostgreSQL
        # refuses NUL and a lone surrogate cannot be encoded, either would be a 500 later on.
        raise CredentialRefused("invalid_claims", "The 'sub' claim must be text without NUL or lone surrogates.")
    if claims.get("type") != CUSTOMER_TOKEN_TYPE:
        raise CredentialRefused("wrong_token_type", "The token's 'type' claim must be \"customer\".")
    if claims.get("workspace_id") != key.workspace.code:
        raise CredentialRefused("wrong_workspace", "The token's 'workspace_id' is not the signing key's workspace.")
    code = claims.get("product_space_code")
    product_space = _product_spaces.get(workspace_id=key.workspace_id, code=code) if _is_code(code) else None
    if product_space is None:
        raise CredentialRefused(
            "unknown_product_space", "The token's 'product_space_code' is not a product space of its workspace."
        )

    try:
        expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC)
    except (OverflowError, ValueError, OSError):  # signed, numeric, but past year 9999
        raise CredentialRefused("invalid_claims", "The 'exp' claim is out of range.") from None

    last_used_touch(key)
    return CustomerPrincipal(
        customer_id=subject,
        workspace=key.workspace,
        product_space=product_space,
        signing_key=key,
        expires_at=expires_at,
        claims=claims,
    )
