"""Services: every change to stored credentials goes through one of these functions.

Views, admin actions, management commands and consumers call them, so each rule (limits, rotation
grace, what gets audited) is decided in exactly one place. Bad input raises Django's ValidationError
with a message for a person and changes nothing; the refusal itself is audited.

Functions that create a secret return it in plaintext next to the stored object: that is the only
moment it exists outside the caller's hands. Callers show it once and forget it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from authplatform.conf import platform_settings
from credentials import hashing
from credentials.audit import Actor, audit_failures, audit_record
from credentials.models import (
    ApiKey,
    ApiKeyFormat,
    Client,
    ClientSecret,
    CustomerSigningKey,
    Membership,
    PlatformTokenKey,
    ProductSpace,
    Role,
    SigningKeySource,
    User,
    Workspace,
    api_key_format,
)

CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CLIENT_KEY_PREFIX = "ck_"
CLIENT_SECRET_PREFIX = "cs_"


# --- helpers ------------------------------------------------------------------------------------
def _new_code(model) -> str:
    # 36^8 ≈ 2.8e12 codes: a collision is rare, but checked rather than assumed away.
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if not model.objects.filter(code=code).exists():
            return code


def _clean(instance, *, exclude: list[str] | None = None) -> None:
    """Model validation (field formats, unique names) as a ValidationError with readable messages."""
    instance.full_clean(exclude=exclude)


def _locked(instance):
    """``instance`` re-read with its row locked until the transaction ends. Call inside transaction.atomic().

    A service checks and changes this row, never the object its caller loaded earlier: a concurrent
    call of the same service waits here for this one to commit, then sees its result and is refused.
    (SQLite has no row locks; its IMMEDIATE transactions serialize all writers at BEGIN instead, so
    the re-read inside the transaction sees the previous writer's result there too.)
    """
    model = type(instance)
    try:
        return model.objects.select_for_update().get(pk=instance.pk)
    except model.DoesNotExist:
        raise ValidationError(f"This {model._meta.verbose_name} no longer exists.") from None


def _revoke(credential, *, actor: Actor, reason: str, now=None) -> None:
    credential.revoked_at = now or timezone.now()
    credential.revoked_by = actor.user
    credential.revoked_reason = (reason or "")[:500]
    credential.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])


def _overlap_check(seconds, what: str) -> None:
    """A rotation's grace period (or overlap): whole seconds, 0 up to CLIENT_SECRET_MAX_GRACE_SECONDS,
    the one bound for every kind of credential."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValidationError(f"The {what} is a whole number of seconds.")
    if seconds < 0:
        raise ValidationError(f"The {what} cannot be negative.")
    if seconds > platform_settings.CLIENT_SECRET_MAX_GRACE_SECONDS:
        raise ValidationError(f"The {what} can be at most {platform_settings.CLIENT_SECRET_MAX_GRACE_SECONDS} seconds.")


def _rotation_start(credential, *, seconds, what: str, noun: str, stops: str):
    """The checks of a rotation that retires the old credential after an overlap (API keys, signing
    keys), made on the row locked in this transaction; returns that row. Only a rotation gives these
    credentials an end date, so one that has it was rotated already."""
    _overlap_check(seconds, what)
    credential = _locked(credential)
    if not credential.is_active():
        raise ValidationError(f"Only an active {noun} can be rotated.")
    if credential.expires_at is not None:
        raise ValidationError(
            f"This {noun} was already rotated; it {stops} at {credential.expires_at:%Y-%m-%d %H:%M:%S} UTC."
        )
    return credential


def _rotation_retire(credential, *, seconds: int, actor: Actor, reason: str) -> None:
    """The old credential of a rotation: revoked now with no overlap, else ending after it."""
    if seconds == 0:
        _revoke(credential, actor=actor, reason=reason or "rotated")
    else:
        credential.expires_at = timezone.now() + timedelta(seconds=seconds)
        credential.save(update_fields=["expires_at"])


def last_used_touch(credential, *, now=None) -> None:
    """Record use of a credential, at most once per LAST_USED_RESOLUTION seconds.

    The in-memory value decides first (no query at all on most requests); the conditional UPDATE makes
    concurrent requests on other processes write at most one row change per window.
    """
    now = now or timezone.now()
    window = timedelta(seconds=platform_settings.LAST_USED_RESOLUTION)
    seen = credential.last_used_at
    if seen is not None and now - seen < window:
        return
    model = type(credential)
    stale = model.objects.filter(pk=credential.pk)
    stale = stale.filter(last_used_at__isnull=True) | stale.filter(last_used_at__lt=now - window)
    stale.update(last_used_at=now)
    credential.last_used_at = now


# --- workspaces and product spaces -------------------------------------------------------------
def workspace_create(
    *, actor: Actor, name: str, display_name: str = "", product_space_name: str | None = None
) -> Workspace:
    with audit_failures(actor=actor, action="workspace.create"), transaction.atomic():
        workspace = Workspace(code=_new_code(Workspace), name=name, display_name=display_name)
        _clean(workspace)
        workspace.save()
        audit_record(actor=actor, action="workspace.create", target=workspace)
        if product_space_name:
            product_space_create(actor=actor, workspace=workspace, name=product_space_name)
    return workspace


def product_space_create(*, actor: Actor, workspace: Workspace, name: str) -> ProductSpace:
    with audit_failures(actor=actor, action="product_space.create", target=workspace), transaction.atomic():
        product_space = ProductSpace(workspace=workspace, code=_new_code(ProductSpace), name=name)
        _clean(product_space)
        product_space.save()
        audit_record(
            actor=actor, action="product_space.create", target=product_space, details={"workspace": workspace.code}
        )
    return product_space


# --- clients and client secrets -----------------------------------------------------------------
def _client_secret_add(*, actor: Actor, client: Client) -> tuple[ClientSecret, str]:
    plaintext = CLIENT_SECRET_PREFIX + hashing.random_base62(40)
    secret = ClientSecret.objects.create(
        client=client, digest=hashing.make_digest(plaintext), hint=plaintext[:7], created_by=actor.user
    )
    return secret, plaintext


def client_create(*, actor: Actor, workspace: Workspace, name: str = "") -> tuple[Client, str]:
    """A new client and its first secret. Returns (client, secret plaintext)."""
    with audit_failures(actor=actor, action="client.create", target=workspace), transaction.atomic():
        client = Client(
            workspace=workspace,
            name=name or "Client",
            client_key=CLIENT_KEY_PREFIX + hashing.random_base62(24),
            created_by=actor.user,
        )
        _clean(client)
        client.save()
        secret, plaintext = _client_secret_add(actor=actor, client=client)
        audit_record(
            actor=actor,
            action="client.create",
            target=client,
            details={"workspace": workspace.code, "secret": secret.hint},
        )
    return client, plaintext


def client_secret_rotate(
    *, actor: Actor, client: Client, grace_seconds: int, reason: str = ""
) -> tuple[ClientSecret, str]:
    """Issue a new secret; the client's current secrets stay valid for ``grace_seconds`` (0: not at all)."""
    with audit_failures(actor=actor, action="client_secret.rotate", target=client), transaction.atomic():
        _overlap_check(grace_seconds, "grace period")
        # The client's lock orders this rotation after a concurrent deactivation or rotation, so it sees
        # the deactivation, or the secret the other rotation issued.
        client = _locked(client)
        if not client.is_active:
            raise ValidationError("This client is deactivated; its secrets cannot be rotated.")
        now = timezone.now()
        old = list(ClientSecret.objects.select_for_update().filter(client=client).active(now))
        for secret in old:
            if grace_seconds == 0:
                _revoke(secret, actor=actor, reason=reason or "rotated", now=now)
            else:
                ends = now + timedelta(seconds=grace_seconds)
                if secret.expires_at is None or secret.expires_at > ends:
                    secret.expires_at = ends
                    secret.save(update_fields=["expires_at"])
        new, plaintext = _client_secret_add(actor=actor, client=client)
        audit_record(
            actor=actor,
            action="client_secret.rotate",
            target=client,
            details={
                "new_secret": new.hint,
                "old_secrets": [s.hint for s in old],
                "grace_seconds": grace_seconds,
                "reason": reason,
            },
        )
    return new, plaintext


def _credential_revoke(
    credential,
    *,
    actor: Actor,
    action: str,
    reason: str,
    noun: str,
    details: Callable[[Any], dict] = lambda credential: {},
    also: Callable[[Any], None] = lambda credential: None,
):
    """Every revocation's one shape: lock the row, refuse one already revoked, revoke it (and ``also``
    what the kind needs besides), audit. Returns the locked, revoked row."""
    with audit_failures(actor=actor, action=action, target=credential), transaction.atomic():
        credential = _locked(credential)
        if credential.revoked_at is not None:
            raise ValidationError(f"This {noun} is already revoked.")
        _revoke(credential, actor=actor, reason=reason)
        also(credential)
        audit_record(actor=actor, action=action, target=credential, details={**details(credential), "reason": reason})
    return credential


def client_secret_revoke(*, actor: Actor, secret: ClientSecret, reason: str = "") -> ClientSecret:
    return _credential_revoke(
        secret,
        actor=actor,
        action="client_secret.revoke",
        reason=reason,
        noun="secret",
        details=lambda secret: {"client": secret.client.client_key},
    )


def client_deactivate(*, actor: Actor, client: Client, reason: str = "") -> Client:
    """Revoke a whole client: it and every secret of it stop working at once."""
    with audit_failures(actor=actor, action="client.deactivate", target=client), transaction.atomic():
        client = _locked(client)
        if not client.is_active:
            raise ValidationError("This client is already deactivated.")
        client.is_active = False
        client.save(update_fields=["is_active"])
        now = timezone.now()
        # Locked: a secret revoked on its own meanwhile keeps that revocation's time and reason.
        for secret in ClientSecret.objects.select_for_update().filter(client=client).active(now):
            _revoke(secret, actor=actor, reason=reason or "client deactivated", now=now)
        audit_record(actor=actor, action="client.deactivate", target=client, details={"reason": reason})
    return client


# --- API users and API keys ---------------------------------------------------------------------
def api_user_create(*, actor: Actor, email: str, workspace: Workspace | None = None, role: str | None = None) -> User:
    with audit_failures(actor=actor, action="api_user.create"), transaction.atomic():
        email = (email or "").strip()
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(f"{email!r} is not a valid email address.") from None
        longest = User._meta.get_field("username").max_length or 0  # the email is the username too
        if len(email) > longest:
            raise ValidationError(f"An email address can have at most {longest} characters here.")
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(f"A user with the email {email} already exists.")
        if role is not None and role not in Role.values:
            raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
        if role is not None and workspace is None:
            raise ValidationError("A role needs a workspace.")
        user = User(username=email, email=email)
        user.set_unusable_password()  # API users sign in with keys, never a password
        user.save()
        audit_record(actor=actor, action="api_user.create", target=user)
        if workspace is not None:
            membership_set(actor=actor, user=user, workspace=workspace, role=role or Role.READ)
    return user


def user_active_set(*, actor: Actor, user: User, active: bool, reason: str = "") -> User:
    """Let a user (and so every API key and token of theirs) work again, or stop it at once.
    Audited as ``user.activate`` / ``user.deactivate``; setting what is already set changes nothing."""
    action = "user.activate" if active else "user.deactivate"
    with audit_failures(actor=actor, action=action, target=user), transaction.atomic():
        user = _locked(user)
        if user.is_active != active:
            user.is_active = active
            user.save(update_fields=["is_active"])
            audit_record(actor=actor, action=action, target=user, details={"reason": reason})
    return user


def user_delete(*, actor: Actor, user: User) -> None:
    """Delete a user with their memberships and API keys (which stop at once); audited as
    ``user.delete`` with what it took along, since the rows themselves are gone."""
    with audit_failures(actor=actor, action="user.delete", target=user), transaction.atomic():
        user = _locked(user)
        details = {
            "username": user.get_username(),
            "api_keys": [str(pk) for pk in user.api_keys.values_list("pk", flat=True)],
            "memberships": [list(row) for row in user.memberships.values_list("workspace__code", "role")],
        }
        audit_record(actor=actor, action="user.delete", target=user, details=details)
        user.delete()


def membership_set(*, actor: Actor, user: User, workspace: Workspace, role: str) -> Membership:
    with audit_failures(actor=actor, action="membership.set", target=user), transaction.atomic():
        if role not in Role.values:
            raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
        membership, _ = Membership.objects.update_or_create(user=user, workspace=workspace, defaults={"role": role})
        audit_record(
            actor=actor, action="membership.set", target=user, details={"workspace": workspace.code, "role": role}
        )
    return membership


def membership_remove(*, actor: Actor, membership: Membership) -> None:
    """Take a user out of a workspace: their keys and tokens lose its role at once."""
    with audit_failures(actor=actor, action="membership.remove", target=membership.user), transaction.atomic():
        membership = _locked(membership)
        user, workspace, role = membership.user, membership.workspace, membership.role
        membership.delete()
        audit_record(
            actor=actor, action="membership.remove", target=user, details={"workspace": workspace.code, "role": role}
        )


def _api_key_check_limit(user: User, *, replacing: ApiKey | None = None) -> None:
    # Lock the user's row so two concurrent creations cannot both see four active keys.
    User.objects.select_for_update().filter(pk=user.pk).first()
    limit = platform_settings.API_KEY_MAX_ACTIVE
    active = ApiKey.objects.filter(user=user).active()
    if replacing is not None:  # a key being rotated out (perhaps still in its grace period) frees its place
        active = active.exclude(pk=replacing.pk)
    if active.count() >= limit:
        raise ValidationError(f"A user can have at most {limit} active API keys. Delete one first.")


def api_key_create(
    *, actor: Actor, user: User, comment: str = "", replacing: ApiKey | None = None
) -> tuple[ApiKey, str]:
    """A new 64-char key: its UUID as 32 hex chars, then 32 random base62 chars. Returns (key, plaintext).
    ``replacing``: the key a rotation replaces, which does not count against the user's limit."""
    with audit_failures(actor=actor, action="api_key.create", target=user), transaction.atomic():
        _api_key_check_limit(user, replacing=replacing)
        key_id = uuid.uuid4()
        plaintext = key_id.hex + hashing.random_base62(32)
        api_key = ApiKey(
            id=key_id,
            user=user,
            format=ApiKeyFormat.V2,
            digest=hashing.make_digest(plaintext),
            hint=plaintext[:8],
            comment=comment or "",
            created_by=actor.user,
        )
        _clean(api_key, exclude=["digest"])
        api_key.save()
        audit_record(actor=actor, action="api_key.create", target=api_key, details={"user": str(user.pk)})
    return api_key, plaintext


def api_key_import_legacy(*, actor: Actor, user: User, key: str, comment: str = "") -> ApiKey:
    """Import a legacy 32-char ``[0-9A-Za-z]`` key issued elsewhere, so it keeps working here."""
    with audit_failures(actor=actor, action="api_key.import", target=user), transaction.atomic():
        key = (key or "").strip()
        if api_key_format(key) != ApiKeyFormat.LEGACY:
            raise ValidationError("A legacy API key is exactly 32 characters from 0-9, A-Z and a-z.")
        if ApiKey.objects.filter(digest__in=hashing.candidate_digests(key)).exists():
            raise ValidationError("This API key is already stored.")
        _api_key_check_limit(user)
        api_key = ApiKey(
            user=user,
            format=ApiKeyFormat.LEGACY,
            digest=hashing.make_digest(key),
            hint=key[:4],
            comment=comment or "",
            created_by=actor.user,
        )
        try:
            with transaction.atomic():
                api_key.save()
        except IntegrityError:  # the same key imported at the same moment, for this user or another
            raise ValidationError("This API key is already stored.") from None
        audit_record(actor=actor, action="api_key.import", target=api_key, details={"user": str(user.pk)})
    return api_key


def api_key_revoke(*, actor: Actor, api_key: ApiKey, reason: str = "") -> ApiKey:
    """Revoke (delete) a key: it and every API token minted from it stop working at once."""
    return _credential_revoke(
        api_key,
        actor=actor,
        action="api_key.revoke",
        reason=reason,
        noun="API key",
        details=lambda api_key: {"user": str(api_key.user_id)},
    )


def api_key_rotate(*, actor: Actor, api_key: ApiKey, grace_seconds: int = 0, reason: str = "") -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same comment. With ``grace_seconds`` 0 the old key and its
    tokens stop at once; otherwise the old key expires after the grace period, and its tokens with it
    (a token is refused as soon as its key is no longer active)."""
    with audit_failures(actor=actor, action="api_key.rotate", target=api_key), transaction.atomic():
        api_key = _rotation_start(
            api_key, seconds=grace_seconds, what="grace period", noun="API key", stops="stops working"
        )
        _rotation_retire(api_key, seconds=grace_seconds, actor=actor, reason=reason)
        new, plaintext = api_key_create(actor=actor, user=api_key.user, comment=api_key.comment, replacing=api_key)
        audit_record(
            actor=actor,
            action="api_key.rotate",
            target=api_key,
            details={
                "new_key": str(new.pk),
                "grace_seconds": grace_seconds,
                "expires_at": api_key.expires_at.isoformat() if api_key.expires_at else None,
                "reason": reason,
            },
        )
    return new, plaintext


# --- customer signing keys ----------------------------------------------------------------------
def _public_key_fingerprint(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _spki_pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def parse_rsa_public_key(pem: str):
    """An uploaded public key, checked: PEM, RSA, at least SIGNING_KEY_MIN_BITS. Raises ValidationError."""
    text = (pem or "").strip()
    if "PRIVATE KEY" in text:
        raise ValidationError(
            "This is a private key. Upload only the public key (-----BEGIN PUBLIC KEY-----); the private "
            "key must stay with you. Nothing was stored."
        )
    if not text:
        raise ValidationError("Paste or upload a PEM public key (-----BEGIN PUBLIC KEY-----).")
    try:
        public_key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError):
        raise ValidationError(
            "This is not a PEM public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----)."
        ) from None
    except UnsupportedAlgorithm:  # e.g. an EC key on a curve cryptography does not know: not RSA either
        raise ValidationError("Customer tokens are signed with RS256: the key must be an RSA key.") from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValidationError("Customer tokens are signed with RS256: the key must be an RSA key.")
    minimum = platform_settings.SIGNING_KEY_MIN_BITS
    if public_key.key_size < minimum:
        raise ValidationError(f"The RSA key has {public_key.key_size} bits; at least {minimum} are required.")
    return public_key


def _signing_key_store(*, actor: Actor, workspace: Workspace, public_key, name: str, source: str) -> CustomerSigningKey:
    fingerprint = _public_key_fingerprint(public_key)
    if CustomerSigningKey.objects.filter(workspace=workspace, fingerprint=fingerprint).exists():
        raise ValidationError("This public key is already registered for this workspace.")
    key = CustomerSigningKey(
        workspace=workspace,
        name=name,
        public_key_pem=_spki_pem(public_key),
        fingerprint=fingerprint,
        source=source,
        created_by=actor.user,
    )
    _clean(key, exclude=["public_key_pem", "fingerprint"])
    try:
        with transaction.atomic():
            key.save()
    except IntegrityError:  # the same key uploaded twice at the same moment
        raise ValidationError("This public key is already registered for this workspace.") from None
    audit_record(
        actor=actor,
        action=f"signing_key.{'generate' if source == SigningKeySource.GENERATED else 'upload'}",
        target=key,
        details={"workspace": workspace.code, "fingerprint": fingerprint},
    )
    return key


def signing_key_generate(*, actor: Actor, workspace: Workspace, name: str = "") -> tuple[CustomerSigningKey, str]:
    """A new RSA-2048 key pair: stores the public half, returns (key, private PEM). The private key is
    never stored: the caller shows it once."""
    with audit_failures(actor=actor, action="signing_key.generate", target=workspace), transaction.atomic():
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key = _signing_key_store(
            actor=actor,
            workspace=workspace,
            public_key=private_key.public_key(),
            name=name,
            source=SigningKeySource.GENERATED,
        )
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    return key, private_pem


def signing_key_register(
    *, actor: Actor, workspace: Workspace, public_key_pem: str, name: str = ""
) -> CustomerSigningKey:
    with audit_failures(actor=actor, action="signing_key.upload", target=workspace), transaction.atomic():
        public_key = parse_rsa_public_key(public_key_pem)
        return _signing_key_store(
            actor=actor, workspace=workspace, public_key=public_key, name=name, source=SigningKeySource.UPLOADED
        )


def signing_key_revoke(*, actor: Actor, key: CustomerSigningKey, reason: str = "") -> CustomerSigningKey:
    """Revoke a signing key: every customer token signed with it is refused from now on."""
    key = _credential_revoke(
        key,
        actor=actor,
        action="signing_key.revoke",
        reason=reason,
        noun="signing key",
        details=lambda key: {"workspace": key.workspace.code},
    )
    transaction.on_commit(lambda: _signing_key_revoked_signal(key))
    return key


def signing_key_rotate(
    *, actor: Actor, key: CustomerSigningKey, overlap_seconds: int, reason: str = ""
) -> tuple[CustomerSigningKey, str]:
    """Generate the successor of ``key`` in its workspace (same name) and end ``key`` after
    ``overlap_seconds``: until then both verify, so a customer's backend switches without a gap; then
    the old key expires, its tokens are refused and its live sessions end (the recheck's "active" is
    the same rule). 0 revokes it now. Returns (new key, private PEM), the private key shown once."""
    with audit_failures(actor=actor, action="signing_key.rotate", target=key), transaction.atomic():
        key = _rotation_start(key, seconds=overlap_seconds, what="overlap", noun="signing key", stops="stops verifying")
        new, private_pem = signing_key_generate(actor=actor, workspace=key.workspace, name=key.name)
        _rotation_retire(key, seconds=overlap_seconds, actor=actor, reason=reason)
        if overlap_seconds == 0:
            transaction.on_commit(lambda: _signing_key_revoked_signal(key))
        audit_record(
            actor=actor,
            action="signing_key.rotate",
            target=key,
            details={
                "workspace": key.workspace.code,
                "new_kid": str(new.kid),
                "overlap_seconds": overlap_seconds,
                "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                "reason": reason,
            },
        )
    return new, private_pem


def _signing_key_revoked_signal(key: CustomerSigningKey) -> None:
    from credentials.signals import signing_key_revoked

    signing_key_revoked.send(sender=CustomerSigningKey, key=key)


def customer_env_block(*, key: CustomerSigningKey, private_pem: str, product_space: ProductSpace | None) -> str:
    """The first seed document's CUSTOMER_* variables, ready to paste into a .env file.

    The private key goes on one line with literal ``\\n`` escapes, which the seed's normalizePrivateKey
    turns back into newlines.
    """
    one_line = private_pem.strip().replace("\n", "\\n")
    product_space = product_space or key.workspace.product_spaces.order_by("created_at", "id").first()
    lines = [
        ("CUSTOMER_JWT_PRIVATE_KEY", one_line),
        ("CUSTOMER_SIGNING_KEY_ID", str(key.kid)),
        ("CUSTOMER_UNIQUE_CUSTOMER_ID", "REPLACE_WITH_YOUR_CUSTOMER_ID"),
        ("CUSTOMER_WORKSPACE_ID", key.workspace.code),
        ("CUSTOMER_PRODUCT_SPACE_CODE", product_space.code if product_space else "REPLACE_WITH_PRODUCT_SPACE_CODE"),
        ("CUSTOMER_JWT_EXPIRES_IN", "15m"),
    ]
    return "\n".join(f'{name}="{value}"' for name, value in lines) + "\n"


# --- platform token keys ------------------------------------------------------------------------
def platform_token_key_rotate(*, actor: Actor, reason: str = "") -> PlatformTokenKey:
    """A new key signs API tokens from now on; the previous ones are retired (they keep verifying
    the tokens they signed until those expire)."""
    with audit_failures(actor=actor, action="platform_token_key.rotate"), transaction.atomic():
        now = timezone.now()
        retired = list(PlatformTokenKey.objects.select_for_update().filter(retired_at__isnull=True).active(now))
        for old in retired:
            old.retired_at = now
            old.save(update_fields=["retired_at"])
        key = PlatformTokenKey.objects.create(
            kid=secrets.token_hex(8),
            encrypted_secret=hashing.encrypt_secret(secrets.token_bytes(32)),
            created_by=actor.user,
        )
        audit_record(
            actor=actor,
            action="platform_token_key.rotate",
            target=key,
            details={"retired": [k.kid for k in retired], "reason": reason},
        )
    return key


def platform_token_key_revoke(*, actor: Actor, key: PlatformTokenKey, reason: str = "") -> PlatformTokenKey:
    """Revoke a platform key: every API token it signed is refused from now on."""

    def retire(key: PlatformTokenKey) -> None:
        if key.retired_at is None:
            key.retired_at = key.revoked_at
            key.save(update_fields=["retired_at"])

    return _credential_revoke(
        key, actor=actor, action="platform_token_key.revoke", reason=reason, noun="key", also=retire
    )
