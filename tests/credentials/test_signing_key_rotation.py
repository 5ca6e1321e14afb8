"""A signing key rotated as one action: a successor generated in the same workspace (its private key
shown once) and an end date for the old key, whose tokens keep verifying until then and no longer.

Checked with the verifier the API uses (tokens/customer_jwt.py), against the real clock.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import jwt
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from credentials import selectors, services
from credentials.audit import CLI
from credentials.models import AuditOutcome, CustomerSigningKey
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    assert_audited,
    assert_show_once_page,
    audit_events,
    shown_secrets,
    submit,
    workspace,
)
from tests.credentials.test_api_key_rotation import refused
from tokens.customer_jwt import customer_jwt_verify

pytestmark = pytest.mark.django_db


def customer_token(key: CustomerSigningKey, private_pem: str) -> str:
    claims = {
        "type": "customer",
        "sub": "cust-1",
        "workspace_id": key.workspace.code,
        "product_space_code": key.workspace.product_spaces.first().code,
        "exp": int(time.time()) + 600,
    }
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": str(key.kid)})


def test_signing_key_rotation_makes_a_successor_and_ends_the_old_key_after_the_overlap(workspace):
    old, old_private = services.signing_key_generate(actor=CLI, workspace=workspace, name="backend")
    old_token = customer_token(old, old_private)
    before = timezone.now()

    new, new_private = services.signing_key_rotate(actor=CLI, key=old, overlap_seconds=1, reason="yearly")

    assert new.workspace == workspace and new.kid != old.kid and new.name == "backend"
    assert "PRIVATE KEY" in new_private
    old.refresh_from_db()
    assert old.revoked_at is None and before + timedelta(seconds=1) <= old.expires_at
    assert customer_jwt_verify(old_token).signing_key == old  # customers switch without a gap
    assert customer_jwt_verify(customer_token(new, new_private)).signing_key == new
    [event] = audit_events("signing_key.rotate")
    assert event.target_id == str(old.pk) and event.details["new_kid"] == str(new.kid)
    assert event.details["overlap_seconds"] == 1 and event.details["reason"] == "yearly"
    assert new_private not in str(event.details)

    time.sleep(max(0.0, (old.expires_at - timezone.now()).total_seconds()) + 0.05)
    assert selectors.signing_key_get_active(kid=str(old.kid)) is None
    assert refused(customer_jwt_verify, old_token) == "signing_key_expired"
    assert CustomerSigningKey.objects.filter(pk=old.pk).active().count() == 0
    assert old.state() == "expired"
    assert customer_jwt_verify(customer_token(new, new_private)).signing_key == new


def test_a_refused_kid_is_told_apart_expired_revoked_or_unknown(workspace):
    rotated, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    successor, _ = services.signing_key_rotate(actor=CLI, key=rotated, overlap_seconds=60)
    revoked, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    services.signing_key_revoke(actor=CLI, key=revoked)
    rotated.refresh_from_db()
    state = lambda key, now=None: selectors.signing_key_state(kid=str(key), now=now)  # noqa: E731
    assert state(rotated.kid) == "active" and state(successor.kid) == "active"
    assert state(rotated.kid, rotated.expires_at) == "expired" == state(rotated.kid, rotated.expires_at + timedelta(1))
    assert state(revoked.kid) == "revoked"
    assert state(uuid.uuid4()) is None and state("not-a-kid") is None and state("") is None


def test_signing_key_rotation_without_overlap_revokes_the_old_key_now(workspace):
    old, old_private = services.signing_key_generate(actor=CLI, workspace=workspace)
    services.signing_key_rotate(actor=CLI, key=old, overlap_seconds=0)
    old.refresh_from_db()
    assert old.state() == "revoked" and old.revoked_reason == "rotated"
    assert refused(customer_jwt_verify, customer_token(old, old_private)) == "signing_key_unknown"


@pytest.mark.parametrize("state", ["revoked", "rotating"])
def test_only_a_key_not_already_ending_is_rotated(workspace, state):
    old, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    if state == "revoked":
        services.signing_key_revoke(actor=CLI, key=old)
    else:
        services.signing_key_rotate(actor=CLI, key=old, overlap_seconds=3600)
    count = CustomerSigningKey.objects.count()
    with pytest.raises(ValidationError, match="Only an active signing key|already rotated"):
        services.signing_key_rotate(actor=CLI, key=old, overlap_seconds=60)
    assert CustomerSigningKey.objects.count() == count
    assert audit_events("signing_key.rotate", AuditOutcome.FAILURE)


def test_bad_overlap_is_refused_and_changes_nothing(workspace):
    old, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    with pytest.raises(ValidationError, match="cannot be negative"):
        services.signing_key_rotate(actor=CLI, key=old, overlap_seconds=-1)
    old.refresh_from_db()
    assert old.is_active() and old.expires_at is None and CustomerSigningKey.objects.count() == 1


def test_admin_rotates_a_signing_key_from_its_page(admin_client, admin_user, workspace):
    old, _ = services.signing_key_generate(actor=CLI, workspace=workspace, name="backend")
    page = admin_client.get(admin_page(CustomerSigningKey, "change", old.pk)).content.decode()
    assert admin_page(CustomerSigningKey, "rotate", old.pk) in page

    confirmation = admin_client.get(admin_page(CustomerSigningKey, "rotate", old.pk))
    assert "live connections" in confirmation.content.decode()
    response = submit(admin_client, confirmation, "customersigningkey_form", overlap_seconds="600", reason="yearly")

    assert_show_once_page(response)
    private_pem, env_block = shown_secrets(response)
    new = CustomerSigningKey.objects.exclude(pk=old.pk).get()
    assert "PRIVATE KEY" in private_pem and f'CUSTOMER_SIGNING_KEY_ID="{new.kid}"' in env_block
    assert str(new.kid) in response.content.decode()
    old.refresh_from_db()
    assert old.state() == "active" and old.expires_at is not None
    assert_audited("signing_key.rotate", by=admin_user, target=old, secret=private_pem)

    old_page = admin_client.get(admin_page(CustomerSigningKey, "change", old.pk)).content.decode()
    assert admin_page(CustomerSigningKey, "change", new.pk) in old_page
    # Once the overlap has ended, the Expired filter finds it.
    CustomerSigningKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = admin_client.get(admin_page(CustomerSigningKey) + "?status=expired").content.decode()
    assert str(old.kid) in expired and str(new.kid) not in expired


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_old_keys_live_sessions_end_when_its_overlap_ends(daphne_server):
    """No revocation signal is sent for an expiry: the server's recheck of its sockets' keys (the same
    "active" rule) ends the old key's sessions once its overlap is over; the new key's session stays."""
    from tests.live_delivery.test_socketio import PyClient, in_db_thread, make_tenant, run, still_silent

    tenant = make_tenant()

    async def scenario():
        old_socket = PyClient()
        assert await old_socket.connect(daphne_server, tenant.token("C1"))
        new, new_pem = await in_db_thread(services.signing_key_rotate, actor=CLI, key=tenant.key, overlap_seconds=2)
        new_socket = PyClient()
        assert await new_socket.connect(daphne_server, tenant.token("C1", private_pem=new_pem, kid=str(new.kid)))
        started = time.monotonic()
        await still_silent(old_socket, "disconnect", 1.0)  # the overlap: both keys' sessions stay
        await old_socket.wait_for("disconnect", timeout=6)
        assert 0.9 < time.monotonic() - started < 5.0
        assert "expired" in old_socket.data("sessionEnded")[0]["message"]
        await still_silent(new_socket, "disconnect", 1.2)
        for client in (old_socket, new_socket):
            await client.close()

    run(scenario())
