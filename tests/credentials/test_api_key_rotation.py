"""API-key rotation with a grace period: the old key and its tokens keep working until it ends.

What the old key's tokens do is checked with the verifier the API itself uses
(tokens/api_tokens.py), against the real clock: a grace period of a second
is waited out, not faked.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from authplatform.errors import CredentialRefused
from credentials import selectors, services
from credentials.audit import CLI
from credentials.models import ApiKey, AuditOutcome
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    assert_audited,
    assert_show_once_page,
    audit_events,
    run_action,
    shown_secrets,
    submit,
    workspace,
)
from tokens.api_tokens import api_token_encode, api_token_verify

pytestmark = pytest.mark.django_db


def api_token(api_key: ApiKey) -> str:
    now = int(time.time())
    return api_token_encode(payload={"id": str(api_key.pk), "exp": now + 600, "expt": 600, "ips": [], "rn": False})


def refused(verify, *args, **kwargs) -> str:
    with pytest.raises(CredentialRefused) as caught:
        verify(*args, **kwargs)
    return caught.value.reason


def test_api_key_rotation_with_grace_keeps_the_old_key_and_its_tokens_until_it_ends(api_user):
    old, old_plaintext = services.api_key_create(actor=CLI, user=api_user, comment="ci")
    token = api_token(old)
    before = timezone.now()

    new, new_plaintext = services.api_key_rotate(actor=CLI, api_key=old, grace_seconds=1, reason="yearly")

    old.refresh_from_db()
    assert old.revoked_at is None and before + timedelta(seconds=1) <= old.expires_at <= timezone.now() + timedelta(
        seconds=1
    )
    assert selectors.api_key_match(key=old_plaintext) == old
    assert api_token_verify(token, ip=None).api_key == old  # its tokens work during the grace period
    assert selectors.api_key_match(key=new_plaintext) == new and new.comment == "ci"
    [event] = audit_events("api_key.rotate")
    assert event.target_id == str(old.pk)
    assert event.details["new_key"] == str(new.pk) and event.details["grace_seconds"] == 1
    assert event.details["reason"] == "yearly"

    time.sleep(max(0.0, (old.expires_at - timezone.now()).total_seconds()) + 0.05)
    assert selectors.api_key_match(key=old_plaintext) is None
    assert refused(api_token_verify, token, ip=None) == "api_key_revoked"
    assert old.state() == "expired"
    assert selectors.api_key_match(key=new_plaintext) == new


def test_api_key_rotation_without_grace_stops_the_old_key_and_its_tokens_now(api_user):
    old, old_plaintext = services.api_key_create(actor=CLI, user=api_user)
    token = api_token(old)
    services.api_key_rotate(actor=CLI, api_key=old)  # grace_seconds defaults to 0: today's behaviour
    old.refresh_from_db()
    assert old.state() == "revoked" and old.expires_at is None
    assert refused(api_token_verify, token, ip=None) == "api_key_revoked"


def test_api_key_rotation_with_grace_works_at_the_key_limit(api_user):
    old, _ = services.api_key_create(actor=CLI, user=api_user)
    for _ in range(4):
        services.api_key_create(actor=CLI, user=api_user)
    services.api_key_rotate(actor=CLI, api_key=old, grace_seconds=3600)
    assert ApiKey.objects.filter(user=api_user).active().count() == 6  # the old one until its grace ends
    with pytest.raises(ValidationError, match="at most 5 active API keys"):
        services.api_key_create(actor=CLI, user=api_user)


def test_a_key_in_its_grace_period_is_not_rotated_twice(api_user):
    old, _ = services.api_key_create(actor=CLI, user=api_user)
    services.api_key_rotate(actor=CLI, api_key=old, grace_seconds=3600)
    with pytest.raises(ValidationError, match="already rotated"):
        services.api_key_rotate(actor=CLI, api_key=old, grace_seconds=60)
    assert ApiKey.objects.filter(user=api_user).count() == 2
    assert audit_events("api_key.rotate", AuditOutcome.FAILURE)


@pytest.mark.parametrize(
    "grace, message",
    [
        (-1, "cannot be negative"),
        (30 * 86400 + 1, "at most"),
        ("60", "whole number"),
        (True, "whole number"),
    ],
)
def test_bad_api_key_grace_is_refused_and_changes_nothing(api_user, grace, message):
    old, old_plaintext = services.api_key_create(actor=CLI, user=api_user)
    with pytest.raises(ValidationError, match=message):
        services.api_key_rotate(actor=CLI, api_key=old, grace_seconds=grace)
    old.refresh_from_db()
    assert old.is_active() and old.expires_at is None and ApiKey.objects.count() == 1
    [event] = audit_events("api_key.rotate", AuditOutcome.FAILURE)
    assert any(message in error for error in event.details["errors"])


def test_admin_rotates_an_api_key_with_a_grace_period_and_links_old_to_new(admin_client, admin_user, api_user):
    old, old_plaintext = services.api_key_create(actor=CLI, user=api_user, comment="laptop")

    confirmation = admin_client.get(admin_page(ApiKey, "rotate", old.pk))
    assert "every API token minted from it" in confirmation.content.decode()
    response = submit(admin_client, confirmation, "apikey_form", grace_seconds="3600", reason="new laptop")

    assert_show_once_page(response)
    [new_plaintext] = shown_secrets(response)
    new = selectors.api_key_match(key=new_plaintext)
    assert "keeps working for 3600 seconds" in response.content.decode()
    old.refresh_from_db()
    assert old.state() == "active" and old.expires_at is not None
    event = assert_audited("api_key.rotate", by=admin_user, target=old, secret=new_plaintext)
    assert event.details["grace_seconds"] == 3600

    old_page = admin_client.get(admin_page(ApiKey, "change", old.pk)).content.decode()
    assert admin_page(ApiKey, "change", new.pk) in old_page  # the old key's page links to its replacement
    new_page = admin_client.get(admin_page(ApiKey, "change", new.pk)).content.decode()
    assert admin_page(ApiKey, "change", old.pk) in new_page  # and the new one to what it replaced


def test_admin_refuses_a_bad_api_key_grace_on_the_form(admin_client, admin_user, api_user):
    old, _ = services.api_key_create(actor=CLI, user=api_user)
    response = run_action(admin_client, ApiKey, "rotate", [old], grace_seconds="-5")
    assert response.status_code == 200 and "cannot be negative" in response.content.decode()
    assert ApiKey.objects.count() == 1
