"""The credential services: issue, rotate and revoke, each audited; bad input refused with nothing changed.

Presented credentials are checked through the selectors the authentication classes use, so a test here
fails when a rotated, revoked or imported credential would be accepted or refused wrongly on a request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from credentials import hashing, selectors, services
from credentials.audit import Actor
from credentials.models import (
    ApiKey,
    ApiKeyFormat,
    AuditEvent,
    AuditOutcome,
    ClientSecret,
    CustomerSigningKey,
    PlatformTokenKey,
    ProductSpace,
    SigningKeySource,
    User,
    Workspace,
)

pytestmark = pytest.mark.django_db

ADMIN_IP = "198.51.100.7"


# --- fixtures and helpers ------------------------------------------------------------------------
@pytest.fixture
def admin():
    return User.objects.create_user(username="root-admin", email="root@example.com", is_staff=True)


@pytest.fixture
def actor(admin):
    return Actor(user=admin, ip=ADMIN_IP, via="admin")


@pytest.fixture
def workspace(actor):
    return services.workspace_create(actor=actor, name="acme-prod", product_space_name="Web")


@pytest.fixture
def api_user(actor):
    return services.api_user_create(actor=actor, email="dev@example.com")


def last_event(action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).order_by("-id").first()
    assert event is not None, f"no audit event {action}"
    return event


def assert_audited(
    action: str, *, outcome: str = AuditOutcome.SUCCESS, target=None, actor: Actor, error: str | None = None
) -> AuditEvent:
    """The newest ``action`` event records who, from where, on what, and how it ended."""
    event = last_event(action)
    assert event.outcome == outcome
    assert event.actor_label == actor.label and event.actor_id == (actor.user.pk if actor.user else None)
    assert event.via == actor.via and event.ip == actor.ip
    if target is not None:
        assert (event.target_type, event.target_id) == (target._meta.label_lower, str(target.pk))
    if error is not None:
        assert any(error in message for message in event.details["errors"]), event.details
    return event


def rsa_public_pem(bits: int = 2048) -> tuple[str, rsa.RSAPrivateKey]:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return pem, private_key


def pem_body_lines(pem: str) -> list[str]:
    return [line for line in pem.strip().splitlines() if not line.startswith("-----")]


def legacy_key() -> str:
    return hashing.random_base62(32)


# --- client secrets ------------------------------------------------------------------------------
def test_client_create_stores_only_a_digest_of_the_secret(actor, workspace):
    client, secret = services.client_create(actor=actor, workspace=workspace, name="backend")
    stored = ClientSecret.objects.get(client=client)
    assert secret.startswith("cs_") and len(secret) == 43
    assert stored.digest.startswith("hmac-sha256$") and secret not in stored.digest
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=secret) == stored
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=secret + "x") is None
    assert_audited("client.create", target=client, actor=actor)


def test_rotation_keeps_the_old_secret_valid_until_the_grace_period_ends(actor, workspace):
    client, old_secret = services.client_create(actor=actor, workspace=workspace)
    before = timezone.now()
    new, new_secret = services.client_secret_rotate(actor=actor, client=client, grace_seconds=3600, reason="yearly")
    after = timezone.now()

    old = ClientSecret.objects.exclude(pk=new.pk).get(client=client)
    assert before + timedelta(hours=1) <= old.expires_at <= after + timedelta(hours=1)
    assert old.revoked_at is None

    def matches(secret, at):
        return selectors.client_secret_match(client_key=client.client_key, client_secret=secret, now=at)

    assert matches(old_secret, after) == old
    assert matches(old_secret, old.expires_at - timedelta(seconds=1)) == old
    assert matches(old_secret, old.expires_at) is None
    assert matches(old_secret, old.expires_at + timedelta(seconds=1)) is None
    # the new secret works throughout and after
    assert matches(new_secret, after) == new
    assert matches(new_secret, old.expires_at + timedelta(days=1)) == new

    event = assert_audited("client_secret.rotate", target=client, actor=actor)
    assert event.details["grace_seconds"] == 3600 and event.details["reason"] == "yearly"
    assert old_secret not in str(event.details) and new_secret not in str(event.details)


def test_rotation_with_zero_grace_revokes_the_old_secret_at_once(actor, workspace):
    client, old_secret = services.client_create(actor=actor, workspace=workspace)
    new, new_secret = services.client_secret_rotate(actor=actor, client=client, grace_seconds=0)

    old = ClientSecret.objects.exclude(pk=new.pk).get(client=client)
    assert old.revoked_at is not None and old.revoked_by == actor.user and old.revoked_reason == "rotated"
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=old_secret) is None
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=new_secret) == new
    assert_audited("client_secret.rotate", target=client, actor=actor)


@pytest.mark.parametrize(
    "grace, message",
    [
        (-1, "cannot be negative"),
        (30 * 86400 + 1, "at most"),
        ("60", "whole number"),
        (1.5, "whole number"),
    ],
)
def test_bad_grace_period_is_refused_and_changes_nothing(actor, workspace, grace, message):
    client, old_secret = services.client_create(actor=actor, workspace=workspace)
    with pytest.raises(ValidationError, match=message):
        services.client_secret_rotate(actor=actor, client=client, grace_seconds=grace)

    old = ClientSecret.objects.get(client=client)  # still exactly one secret
    assert old.expires_at is None and old.revoked_at is None
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=old_secret) == old
    assert_audited("client_secret.rotate", outcome=AuditOutcome.FAILURE, target=client, actor=actor, error=message)


def test_revoked_secret_stops_matching_at_once(actor, workspace):
    client, secret = services.client_create(actor=actor, workspace=workspace)
    stored = ClientSecret.objects.get(client=client)
    services.client_secret_revoke(actor=actor, secret=stored, reason="leaked")

    stored.refresh_from_db()
    assert (stored.revoked_by, stored.revoked_reason) == (actor.user, "leaked")
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=secret) is None
    assert_audited("client_secret.revoke", target=stored, actor=actor)

    with pytest.raises(ValidationError, match="already revoked"):
        services.client_secret_revoke(actor=actor, secret=stored)
    assert_audited("client_secret.revoke", outcome=AuditOutcome.FAILURE, target=stored, actor=actor)


def test_deactivated_client_is_refused_even_during_a_grace_period(actor, workspace):
    client, old_secret = services.client_create(actor=actor, workspace=workspace)
    _, new_secret = services.client_secret_rotate(actor=actor, client=client, grace_seconds=3600)

    services.client_deactivate(actor=actor, client=client, reason="offboarded")

    client.refresh_from_db()
    assert client.is_active is False
    assert not ClientSecret.objects.filter(client=client).active().exists()
    for secret in (old_secret, new_secret):
        assert selectors.client_secret_match(client_key=client.client_key, client_secret=secret) is None
    assert_audited("client.deactivate", target=client, actor=actor)

    with pytest.raises(ValidationError, match="already deactivated"):
        services.client_deactivate(actor=actor, client=client)
    assert_audited("client.deactivate", outcome=AuditOutcome.FAILURE, target=client, actor=actor)
    with pytest.raises(ValidationError, match="deactivated"):
        services.client_secret_rotate(actor=actor, client=client, grace_seconds=0)
    assert ClientSecret.objects.filter(client=client).count() == 2


# --- API keys ------------------------------------------------------------------------------------
def test_api_key_is_uuid_hex_and_32_base62_and_matches(actor, api_user):
    api_key, plaintext = services.api_key_create(actor=actor, user=api_user, comment="ci")

    assert len(plaintext) == 64
    assert plaintext[:32] == api_key.pk.hex
    assert all(c in hashing.BASE62 for c in plaintext[32:])
    assert api_key.format == ApiKeyFormat.V2 and plaintext not in api_key.digest
    assert selectors.api_key_match(key=plaintext) == api_key
    wrong_tail = plaintext[:32] + ("A" if plaintext[32] != "A" else "B") + plaintext[33:]
    assert selectors.api_key_match(key=wrong_tail) is None
    assert_audited("api_key.create", target=api_key, actor=actor)


def test_a_user_has_at_most_five_active_keys(actor, api_user):
    keys = [services.api_key_create(actor=actor, user=api_user)[0] for _ in range(5)]

    with pytest.raises(ValidationError, match="at most 5 active API keys"):
        services.api_key_create(actor=actor, user=api_user)
    assert ApiKey.objects.filter(user=api_user).count() == 5
    assert_audited("api_key.create", outcome=AuditOutcome.FAILURE, target=api_user, actor=actor, error="at most 5")
    # importing counts too
    with pytest.raises(ValidationError, match="at most 5"):
        services.api_key_import_legacy(actor=actor, user=api_user, key=legacy_key())
    assert ApiKey.objects.filter(user=api_user).count() == 5

    services.api_key_revoke(actor=actor, api_key=keys[0], reason="unused")
    sixth, plaintext = services.api_key_create(actor=actor, user=api_user)
    assert selectors.api_key_match(key=plaintext) == sixth
    assert ApiKey.objects.filter(user=api_user).active().count() == 5


def test_legacy_key_import_keeps_the_key_working(actor, api_user):
    key = legacy_key()
    imported = services.api_key_import_legacy(actor=actor, user=api_user, key=f"  {key}\n", comment="from v1")

    assert imported.format == ApiKeyFormat.LEGACY and key not in imported.digest
    assert selectors.api_key_match(key=key) == imported
    assert selectors.api_key_match(key=key[:-1] + ("a" if key[-1] != "a" else "b")) is None
    assert_audited("api_key.import", target=imported, actor=actor)


@pytest.mark.parametrize("bad", ["", "a" * 31, "a" * 33, "a" * 31 + "-", "a" * 31 + "é", "a" * 64])
def test_malformed_legacy_key_is_refused(actor, api_user, bad):
    with pytest.raises(ValidationError, match="exactly 32 characters"):
        services.api_key_import_legacy(actor=actor, user=api_user, key=bad)
    assert not ApiKey.objects.exists()
    assert_audited("api_key.import", outcome=AuditOutcome.FAILURE, target=api_user, actor=actor)


def test_duplicate_legacy_key_is_refused_for_any_user(actor, api_user):
    key = legacy_key()
    services.api_key_import_legacy(actor=actor, user=api_user, key=key)
    other = services.api_user_create(actor=actor, email="other@example.com")

    for user in (api_user, other):
        with pytest.raises(ValidationError, match="already stored"):
            services.api_key_import_legacy(actor=actor, user=user, key=key)
        assert_audited("api_key.import", outcome=AuditOutcome.FAILURE, target=user, actor=actor)
    assert ApiKey.objects.count() == 1


def test_api_key_rotate_replaces_the_key(actor, api_user):
    old, old_plaintext = services.api_key_create(actor=actor, user=api_user, comment="deploy bot")
    for _ in range(4):  # at the limit: rotating must still work, it frees the old key's place first
        services.api_key_create(actor=actor, user=api_user)

    new, new_plaintext = services.api_key_rotate(actor=actor, api_key=old)

    old.refresh_from_db()
    assert old.revoked_at is not None and old.revoked_reason == "rotated"
    assert selectors.api_key_match(key=old_plaintext) is None
    assert selectors.api_key_match(key=new_plaintext) == new
    assert new.comment == "deploy bot"
    event = assert_audited("api_key.rotate", target=old, actor=actor)
    assert event.details["new_key"] == str(new.pk)

    with pytest.raises(ValidationError, match="Only an active API key"):
        services.api_key_rotate(actor=actor, api_key=old)
    assert_audited("api_key.rotate", outcome=AuditOutcome.FAILURE, target=old, actor=actor)


def test_api_key_revoke_is_immediate_and_once(actor, api_user):
    api_key, plaintext = services.api_key_create(actor=actor, user=api_user)
    services.api_key_revoke(actor=actor, api_key=api_key, reason="left the team")
    assert selectors.api_key_match(key=plaintext) is None
    assert_audited("api_key.revoke", target=api_key, actor=actor)

    with pytest.raises(ValidationError, match="already revoked"):
        services.api_key_revoke(actor=actor, api_key=api_key)
    assert_audited("api_key.revoke", outcome=AuditOutcome.FAILURE, target=api_key, actor=actor)


# --- customer signing keys -----------------------------------------------------------------------
def test_generated_signing_key_stores_only_the_public_half(actor, workspace):
    key, private_pem = services.signing_key_generate(actor=actor, workspace=workspace, name="backend 2025")

    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    stored_public = serialization.load_pem_public_key(key.public_key_pem.encode())
    assert stored_public.public_numbers() == private_key.public_key().public_numbers()
    assert key.source == SigningKeySource.GENERATED and key.algorithm == "RS256"

    # nothing of the private key in the row nor in any audit event
    row_values = " ".join(str(getattr(key, f.attname)) for f in CustomerSigningKey._meta.concrete_fields)
    audit_values = " ".join(str(e.details) for e in AuditEvent.objects.all())
    for line in pem_body_lines(private_pem):
        assert line not in row_values and line not in audit_values
    assert "PRIVATE" not in row_values
    assert selectors.signing_key_get_active(kid=str(key.kid)) == key
    assert_audited("signing_key.generate", target=key, actor=actor)


def test_registered_public_key_is_stored_normalised(actor, workspace):
    public_pem, private_key = rsa_public_pem()
    pkcs1_pem = (
        private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    )

    key = services.signing_key_register(actor=actor, workspace=workspace, public_key_pem=pkcs1_pem, name="theirs")

    assert key.source == SigningKeySource.UPLOADED
    assert key.public_key_pem == public_pem  # stored as SubjectPublicKeyInfo whatever was uploaded
    assert_audited("signing_key.upload", target=key, actor=actor)


# An EC public key on secp112r1, a curve `cryptography` cannot load (made with openssl ecparam).
UNSUPPORTED_CURVE_PEM = """-----BEGIN PUBLIC KEY-----
MDIwEAYHKoZIzj0CAQYFK4EEAAYDHgAEBhU/wQ/kjiK6maDGX6qhmHA/cpeFIW1K
Q7mz5A==
-----END PUBLIC KEY-----
"""


def _private_pem(private_key, fmt) -> str:
    return private_key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.mark.parametrize(
    "case",
    ["pkcs8 private", "pkcs1 private", "garbage", "empty", "truncated", "rsa-1024", "ec p-256", "ec unknown curve"],
)
def test_bad_public_key_is_refused_with_a_clear_message(actor, workspace, case):
    public_pem, private_key = rsa_public_pem()
    pem, message = {
        "pkcs8 private": (_private_pem(private_key, serialization.PrivateFormat.PKCS8), "This is a private key"),
        "pkcs1 private": (
            _private_pem(private_key, serialization.PrivateFormat.TraditionalOpenSSL),
            "This is a private key",
        ),
        "garbage": ("hello, I am a key", "not a PEM public key"),
        "empty": ("   ", "Paste or upload a PEM public key"),
        "truncated": (public_pem[: len(public_pem) // 2], "not a PEM public key"),
        "rsa-1024": (rsa_public_pem(1024)[0], "1024 bits; at least 2048"),
        "ec p-256": (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
            "RSA key",
        ),
        "ec unknown curve": (UNSUPPORTED_CURVE_PEM, "RSA key"),
    }[case]

    with pytest.raises(ValidationError, match=message):
        services.signing_key_register(actor=actor, workspace=workspace, public_key_pem=pem)
    assert not CustomerSigningKey.objects.exists()
    assert_audited("signing_key.upload", outcome=AuditOutcome.FAILURE, target=workspace, actor=actor, error=message)


def test_a_public_key_is_registered_once_per_workspace(actor, workspace):
    public_pem, _ = rsa_public_pem()
    services.signing_key_register(actor=actor, workspace=workspace, public_key_pem=public_pem)

    with pytest.raises(ValidationError, match="already registered"):
        services.signing_key_register(actor=actor, workspace=workspace, public_key_pem=public_pem)
    assert CustomerSigningKey.objects.count() == 1
    assert_audited("signing_key.upload", outcome=AuditOutcome.FAILURE, target=workspace, actor=actor)

    other = services.workspace_create(actor=actor, name="acme-test")
    services.signing_key_register(actor=actor, workspace=other, public_key_pem=public_pem)
    assert CustomerSigningKey.objects.count() == 2


def test_revoked_signing_key_is_no_longer_active_while_others_stay(actor, workspace):
    revoked, _ = services.signing_key_generate(actor=actor, workspace=workspace)
    kept, _ = services.signing_key_generate(actor=actor, workspace=workspace)
    assert selectors.signing_key_get_active(kid=str(revoked.kid)) == revoked  # several active at once

    services.signing_key_revoke(actor=actor, key=revoked, reason="rotated out")

    assert selectors.signing_key_get_active(kid=str(revoked.kid)) is None
    assert selectors.signing_key_get_active(kid=str(kept.kid)) == kept
    revoked.refresh_from_db()
    assert (revoked.revoked_by, revoked.revoked_reason) == (actor.user, "rotated out")
    assert_audited("signing_key.revoke", target=revoked, actor=actor)

    with pytest.raises(ValidationError, match="already revoked"):
        services.signing_key_revoke(actor=actor, key=revoked)
    assert_audited("signing_key.revoke", outcome=AuditOutcome.FAILURE, target=revoked, actor=actor)


# --- platform token keys -------------------------------------------------------------------------
def test_platform_token_key_rotation_retires_the_previous_key(actor):
    first = services.platform_token_key_rotate(actor=actor)
    assert selectors.platform_token_key_current() == first
    first_raw = hashing.decrypt_secret(first.encrypted_secret)
    assert len(first_raw) == 32
    assert first_raw.hex() not in first.encrypted_secret
    assert_audited("platform_token_key.rotate", target=first, actor=actor)

    second = services.platform_token_key_rotate(actor=actor)

    first.refresh_from_db()
    assert selectors.platform_token_key_current() == second
    assert first.retired_at is not None
    # a retired key still verifies the tokens it signed
    assert selectors.platform_token_key_get_active(kid=first.kid) == first
    assert hashing.decrypt_secret(second.encrypted_secret) != first_raw
    event = assert_audited("platform_token_key.rotate", target=second, actor=actor)
    assert event.details["retired"] == [first.kid]


def test_platform_token_key_revoke(actor):
    first = services.platform_token_key_rotate(actor=actor)
    second = services.platform_token_key_rotate(actor=actor)

    services.platform_token_key_revoke(actor=actor, key=first, reason="suspected leak")
    assert selectors.platform_token_key_get_active(kid=first.kid) is None
    assert selectors.platform_token_key_current() == second
    assert_audited("platform_token_key.revoke", target=first, actor=actor)

    services.platform_token_key_revoke(actor=actor, key=second)
    second.refresh_from_db()
    assert second.retired_at is not None
    assert selectors.platform_token_key_current() is None
    assert selectors.platform_token_key_get_active(kid=second.kid) is None

    with pytest.raises(ValidationError, match="already revoked"):
        services.platform_token_key_revoke(actor=actor, key=second)
    assert_audited("platform_token_key.revoke", outcome=AuditOutcome.FAILURE, target=second, actor=actor)
    assert PlatformTokenKey.objects.count() == 2


# --- pepper rotation -----------------------------------------------------------------------------
def test_pepper_rotation_keeps_old_digests_valid_through_fallbacks(actor, workspace, api_user):
    old_pepper = settings.AUTHPLATFORM["PEPPER"]
    new_pepper = secrets.token_urlsafe(32)
    client, secret = services.client_create(actor=actor, workspace=workspace)
    api_key, plaintext = services.api_key_create(actor=actor, user=api_user)
    legacy = legacy_key()
    services.api_key_import_legacy(actor=actor, user=api_user, key=legacy)

    def old_credentials_match() -> list[bool]:
        return [
            selectors.client_secret_match(client_key=client.client_key, client_secret=secret) is not None,
            selectors.api_key_match(key=plaintext) == api_key,
            selectors.api_key_match(key=legacy) is not None,
        ]

    rotating = {**settings.AUTHPLATFORM, "PEPPER": new_pepper, "PEPPER_FALLBACKS": [old_pepper]}
    with override_settings(AUTHPLATFORM=rotating):
        assert old_credentials_match() == [True, True, True]
        # new digests use the new pepper
        rotated, rotated_secret = services.client_secret_rotate(actor=actor, client=client, grace_seconds=60)
        expected = hmac.new(new_pepper.encode(), rotated_secret.encode(), hashlib.sha256).hexdigest()
        assert rotated.digest == f"hmac-sha256${expected}"
        # a legacy key stored under the old pepper is still recognised as a duplicate
        with pytest.raises(ValidationError, match="already stored"):
            services.api_key_import_legacy(actor=actor, user=api_user, key=legacy)

    rotated_out = {**settings.AUTHPLATFORM, "PEPPER": new_pepper, "PEPPER_FALLBACKS": []}
    with override_settings(AUTHPLATFORM=rotated_out):
        assert old_credentials_match() == [False, False, False]
        assert selectors.client_secret_match(client_key=client.client_key, client_secret=rotated_secret) == rotated


def test_empty_pepper_refuses_to_store_anything(actor, api_user):
    with override_settings(AUTHPLATFORM={**settings.AUTHPLATFORM, "PEPPER": ""}):
        with pytest.raises(RuntimeError, match="PEPPER is empty"):
            services.api_key_create(actor=actor, user=api_user)
    assert not ApiKey.objects.exists()


# --- the audit log -------------------------------------------------------------------------------
def test_cli_actor_is_recorded_as_system(workspace):
    cli = Actor(via="cli")
    services.client_create(actor=cli, workspace=workspace)
    event = assert_audited("client.create", actor=cli)
    assert event.actor_label == "system (cli)" and event.actor is None and event.ip is None


def test_duplicate_workspace_is_refused_and_audited(actor, workspace):
    with pytest.raises(ValidationError, match="already exists"):
        services.workspace_create(actor=actor, name="acme-prod", product_space_name="Other")
    assert list(Workspace.objects.values_list("name", flat=True)) == ["acme-prod"]
    assert ProductSpace.objects.count() == 1
    assert_audited("workspace.create", outcome=AuditOutcome.FAILURE, actor=actor, error="already exists")


@pytest.mark.parametrize(
    "email, message",
    [
        ("not-an-email", "not a valid email"),
        ("", "not a valid email"),
        # valid, but longer than the username column it is also stored in (PostgreSQL would raise DataError)
        ("x" * 60 + "@" + "a" * 60 + "." + "b" * 60 + ".com", "at most 150 characters"),
    ],
)
def test_bad_api_user_email_is_refused(actor, email, message):
    users_before = User.objects.count()
    with pytest.raises(ValidationError, match=message):
        services.api_user_create(actor=actor, email=email)
    assert User.objects.count() == users_before
    assert_audited("api_user.create", outcome=AuditOutcome.FAILURE, actor=actor, error=message)


def test_audit_events_cannot_be_changed_or_deleted(actor, workspace):
    event = last_event("workspace.create")

    event.action = "nothing.happened"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.get(pk=event.pk).action == "workspace.create"
