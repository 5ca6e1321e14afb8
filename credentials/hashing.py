"""Keyed digests for secrets and API keys, and encryption at rest for platform signing keys.

Stored digests name their own format (``hmac-sha256$<hex>``), like Django's password hashers, so the
scheme can be upgraded later without guessing what a row holds. No key-stretching hash: every secret
here is 190+ bits of server-generated randomness (or a 32-char base62 legacy key, ~190 bits), so a fast
keyed digest is as safe as bcrypt against offline guessing and costs microseconds on the request path.
The pepper lives outside the database, so a dump alone gives no usable digest oracle.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from authplatform.conf import platform_settings

DIGEST_ALGORITHM = "hmac-sha256"
ENCRYPTION_FORMAT = "fernet"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def _peppers() -> list[str]:
    if not platform_settings.PEPPER:
        raise RuntimeError("AUTHPLATFORM PEPPER is empty: credentials cannot be stored or checked.")
    return [platform_settings.PEPPER, *platform_settings.PEPPER_FALLBACKS]


def _hmac(pepper: str, secret: str) -> str:
    mac = hmac.new(pepper.encode(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return f"{DIGEST_ALGORITHM}${mac.hexdigest()}"


def make_digest(secret: str) -> str:
    """The digest to store for a new secret (current pepper)."""
    return _hmac(_peppers()[0], secret)


def candidate_digests(secret: str) -> list[str]:
    """Digests under the current pepper and every fallback: for one indexed ``digest__in`` lookup."""
    return [_hmac(pepper, secret) for pepper in _peppers()]


def check_digest(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches ``stored``, in constant time. Never raises."""
    if not isinstance(secret, str) or not isinstance(stored, str):
        return False
    try:
        peppers = _peppers()
    except RuntimeError:
        return False
    ok = False
    # Every pepper is tried, so timing does not tell which one matched.
    for pepper in peppers:
        ok |= hmac.compare_digest(_hmac(pepper, secret).encode(), stored.encode())
    return ok


def _fernet() -> MultiFernet:
    keys = [platform_settings.KEY_ENCRYPTION_KEY, *platform_settings.KEY_ENCRYPTION_KEY_FALLBACKS]
    if not keys[0]:
        raise RuntimeError("AUTHPLATFORM KEY_ENCRYPTION_KEY is empty: signing keys cannot be stored.")
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt_secret(plaintext: bytes) -> str:
    return f"{ENCRYPTION_FORMAT}${_fernet().encrypt(plaintext).decode()}"


def decrypt_secret(stored: str) -> bytes:
    fmt, _, token = stored.partition("$")
    if fmt != ENCRYPTION_FORMAT:
        raise ValueError(f"Unknown encryption format {fmt!r}")
    try:
        return _fernet().decrypt(token.encode())
    except InvalidToken:
        raise ValueError("The stored key cannot be decrypted with the configured key-encryption keys.") from None
