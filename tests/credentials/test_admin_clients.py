"""Admin: workspaces, product spaces, clients and client secrets."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import hashing, services
from credentials.audit import CLI
from credentials.models import AuditEvent, AuditOutcome, Client, ClientSecret, ProductSpace, Workspace
from credentials.selectors import client_secret_match
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    assert_audited,
    assert_forbidden,
    assert_nowhere_else,
    assert_show_once_page,
    audit_events,
    other_workspace,
    run_action,
    shown_secrets,
    submit,
    workspace,
)

pytestmark = pytest.mark.django_db


# --- workspaces and product spaces --------------------------------------------------------------
def test_create_workspace_with_first_product_space(admin_client, admin_user):
    page = admin_client.get(admin_page(Workspace, "add"))
    response = submit(
        admin_client, page, "workspace_form", name="acme-prod", display_name="Acme production", product_space_name="web"
    )

    workspace = Workspace.objects.get(name="acme-prod")
    assert response.status_code == 302 and response["Location"] == admin_page(Workspace, "change", workspace.pk)
    assert workspace.display_name == "Acme production"
    assert re.fullmatch(r"[A-Z0-9]{8}", workspace.code)
    product_space = workspace.product_spaces.get()
    assert product_space.name == "web" and re.fullmatch(r"[A-Z0-9]{8}", product_space.code)
    assert_audited("workspace.create", by=admin_user, target=workspace)
    assert_audited("product_space.create", by=admin_user, target=product_space)
    assert product_space.code in admin_client.get(response["Location"]).content.decode()


def test_duplicate_workspace_name_is_shown_and_changes_nothing(admin_client, admin_user, workspace):
    page = admin_client.get(admin_page(Workspace, "add"))
    response = submit(admin_client, page, "workspace_form", name="acme", product_space_name="other")

    assert response.status_code == 200
    assert "Workspace with this Name already exists." in response.content.decode()
    assert Workspace.objects.count() == 1 and ProductSpace.objects.count() == 1
    assert_audited("workspace.create", by=admin_user, outcome=AuditOutcome.FAILURE)


def test_add_product_space_preselects_the_workspace(admin_client, admin_user, workspace):
    page = admin_client.get(admin_page(ProductSpace, "add") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "productspace_form", name="mobile")

    assert response.status_code == 302
    product_space = workspace.product_spaces.get(name="mobile")
    assert_audited("product_space.create", by=admin_user, target=product_space)


def test_duplicate_product_space_name_is_shown_and_changes_nothing(admin_client, admin_user, workspace):
    page = admin_client.get(admin_page(ProductSpace, "add") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "productspace_form", name="web")

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert workspace.product_spaces.count() == 1
    assert_audited("product_space.create", by=admin_user, target=workspace, outcome=AuditOutcome.FAILURE)


def test_workspace_display_name_can_be_edited_but_not_its_name_or_code(admin_client, workspace):
    page = admin_client.get(admin_page(Workspace, "change", workspace.pk))
    response = submit(admin_client, page, "workspace_form", display_name="Acme Inc.", name="renamed", code="AAAAAAAA")

    assert response.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.display_name, workspace.name) == ("Acme Inc.", "acme") and workspace.code != "AAAAAAAA"


def test_workspaces_cannot_be_deleted_in_admin(admin_client, workspace):
    assert_forbidden(admin_client.get(admin_page(Workspace, "delete", workspace.pk)))
    assert_forbidden(admin_client.post(admin_page(Workspace, "delete", workspace.pk), {"post": "yes"}))
    assert Workspace.objects.filter(pk=workspace.pk).exists()


# --- clients ------------------------------------------------------------------------------------
def test_create_client_shows_its_secret_once(admin_client, admin_user, workspace):
    page = admin_client.get(admin_page(Client, "add") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "client_form", name="Backend")

    assert_show_once_page(response)
    client = Client.objects.get(name="Backend", workspace=workspace)
    [plaintext] = shown_secrets(response)
    assert client.client_key in response.content.decode()

    # It works, it is stored only as a digest, and the audit log names it without revealing it.
    stored = client_secret_match(client_key=client.client_key, client_secret=plaintext)
    assert stored is not None and stored.client == client
    assert stored.digest != plaintext and plaintext not in stored.digest
    assert hashing.check_digest(plaintext, stored.digest)
    assert_audited("client.create", by=admin_user, target=client, secret=plaintext)

    # Never again: not on the client's pages, the secrets' pages, the audit log, a cookie or the session.
    event = AuditEvent.objects.get(action="client.create", outcome="success")
    assert_nowhere_else(
        admin_client,
        plaintext,
        admin_page(Client),
        admin_page(Client, "change", client.pk),
        admin_page(ClientSecret),
        admin_page(ClientSecret, "change", stored.pk),
        admin_page(AuditEvent),
        admin_page(AuditEvent, "change", event.pk),
        shown_by=response,
    )


def test_create_client_needs_a_workspace(admin_client):
    page = admin_client.get(admin_page(Client, "add"))
    response = submit(admin_client, page, "client_form", name="Backend")

    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not Client.objects.exists()


@pytest.fixture
def client_with_secret(workspace):
    client, plaintext = services.client_create(actor=CLI, workspace=workspace, name="Backend")
    return client, plaintext


def test_rotate_client_secret_with_grace_period(admin_client, admin_user, client_with_secret):
    client, old_plaintext = client_with_secret
    old = client.secrets.get()

    response = run_action(
        admin_client, Client, "rotate_secret", [client], grace_seconds="3600", reason="yearly rotation"
    )

    assert_show_once_page(response)
    [new_plaintext] = shown_secrets(response)
    new = client_secret_match(client_key=client.client_key, client_secret=new_plaintext)
    assert new is not None and new.pk != old.pk and new.digest != new_plaintext

    # The old secret keeps working for the grace period, and only for it.
    old.refresh_from_db()
    assert old.revoked_at is None
    assert timedelta(seconds=3590) < old.expires_at - timezone.now() <= timedelta(seconds=3600)
    assert client_secret_match(client_key=client.client_key, client_secret=old_plaintext) == old
    later = timezone.now() + timedelta(seconds=3601)
    assert client_secret_match(client_key=client.client_key, client_secret=old_plaintext, now=later) is None
    assert client_secret_match(client_key=client.client_key, client_secret=new_plaintext, now=later) == new

    assert "keep working for 3600 seconds" in response.content.decode()
    event = assert_audited("client_secret.rotate", by=admin_user, target=client, secret=new_plaintext)
    assert event.details["grace_seconds"] == 3600 and event.details["reason"] == "yearly rotation"
    assert_nowhere_else(
        admin_client,
        new_plaintext,
        admin_page(Client, "change", client.pk),
        admin_page(ClientSecret),
        shown_by=response,
    )


def test_rotate_client_secret_with_zero_grace_revokes_the_old_one_now(admin_client, admin_user, client_with_secret):
    client, old_plaintext = client_with_secret

    response = run_action(admin_client, Client, "rotate_secret", [client], grace_seconds="0", reason="leaked")

    assert_show_once_page(response)
    assert "The previous secrets were revoked." in response.content.decode()
    [new_plaintext] = shown_secrets(response)
    old = client.secrets.get(revoked_at__isnull=False)
    assert old.revoked_by == admin_user and old.revoked_reason == "leaked"
    assert client_secret_match(client_key=client.client_key, client_secret=old_plaintext) is None
    assert client_secret_match(client_key=client.client_key, client_secret=new_plaintext) is not None
    assert_audited("client_secret.rotate", by=admin_user, target=client)


def test_negative_grace_period_is_refused_in_the_form(admin_client, admin_user, client_with_secret):
    client, old_plaintext = client_with_secret

    response = run_action(admin_client, Client, "rotate_secret", [client], grace_seconds="-5", reason="")

    assert response.status_code == 200
    assert "The grace period cannot be negative." in response.content.decode()
    assert "admin/credentials/action_confirmation.html" in [t.name for t in response.templates]
    assert client.secrets.count() == 1 and client.secrets.get().expires_at is None
    assert client_secret_match(client_key=client.client_key, client_secret=old_plaintext) is not None
    assert_audited("client_secret.rotate", by=admin_user, target=client, outcome=AuditOutcome.FAILURE)
    assert not audit_events("client_secret.rotate")


def test_grace_period_must_be_a_number(admin_client, client_with_secret):
    client, _ = client_with_secret
    response = run_action(admin_client, Client, "rotate_secret", [client], grace_seconds="soon")

    assert response.status_code == 200 and "Enter a whole number." in response.content.decode()
    assert client.secrets.count() == 1


def test_rotating_several_clients_shows_each_new_secret(admin_client, workspace):
    first, _ = services.client_create(actor=CLI, workspace=workspace, name="One")
    second, _ = services.client_create(actor=CLI, workspace=workspace, name="Two")

    response = run_action(admin_client, Client, "rotate_secret", [first, second], grace_seconds="60")

    assert_show_once_page(response)
    secrets = shown_secrets(response)
    assert len(secrets) == 2
    for client in (first, second):
        matches = [s for s in secrets if client_secret_match(client_key=client.client_key, client_secret=s)]
        assert len(matches) == 1


def test_revoke_client_secret(admin_client, admin_user, client_with_secret):
    client, plaintext = client_with_secret
    secret = client.secrets.get()

    response = run_action(admin_client, ClientSecret, "revoke", [secret], reason="left in a log")

    assert response.status_code == 302
    secret.refresh_from_db()
    assert secret.state() == "revoked" and secret.revoked_by == admin_user
    assert secret.revoked_reason == "left in a log"
    assert client_secret_match(client_key=client.client_key, client_secret=plaintext) is None
    assert_audited("client_secret.revoke", by=admin_user, target=secret)


def test_revoking_a_revoked_secret_shows_why_and_changes_nothing(admin_client, admin_user, client_with_secret):
    client, _ = client_with_secret
    secret = client.secrets.get()
    services.client_secret_revoke(actor=CLI, secret=secret, reason="first")

    response = run_action(admin_client, ClientSecret, "revoke", [secret], reason="second")

    assert response.status_code == 200
    assert "This secret is already revoked." in response.content.decode()
    secret.refresh_from_db()
    assert secret.revoked_reason == "first" and secret.revoked_by is None
    assert_audited("client_secret.revoke", by=admin_user, target=secret, outcome=AuditOutcome.FAILURE)


def test_deactivate_client_stops_every_secret(admin_client, admin_user, client_with_secret):
    client, plaintext = client_with_secret

    response = run_action(admin_client, Client, "deactivate", [client], reason="customer left")

    assert response.status_code == 302
    client.refresh_from_db()
    assert client.is_active is False
    assert all(secret.state() == "revoked" for secret in client.secrets.all())
    assert client_secret_match(client_key=client.client_key, client_secret=plaintext) is None
    assert_audited("client.deactivate", by=admin_user, target=client)

    # A deactivated client's secret cannot be rotated: the service says so in the form.
    response = run_action(admin_client, Client, "rotate_secret", [client], grace_seconds="0")
    assert "This client is deactivated" in response.content.decode()
    assert client.secrets.count() == 1


def test_client_and_secret_pages_are_read_only_and_not_deletable(admin_client, client_with_secret):
    client, _ = client_with_secret
    secret = client.secrets.get()
    for model, obj in ((Client, client), (ClientSecret, secret)):
        page = admin_client.get(admin_page(model, "change", obj.pk))
        assert page.status_code == 200 and not page.context["has_change_permission"]
        assert_forbidden(admin_client.post(admin_page(model, "change", obj.pk), {"name": "x"}))
        assert_forbidden(admin_client.post(admin_page(model, "delete", obj.pk), {"post": "yes"}))
    assert_forbidden(admin_client.get(admin_page(ClientSecret, "add")))
    client.refresh_from_db()
    assert client.name == "Backend" and ClientSecret.objects.filter(pk=secret.pk).exists()


def test_status_filter_matches_each_credential_state(admin_client, workspace):
    client, _ = services.client_create(actor=CLI, workspace=workspace, name="States")
    expired = client.secrets.get()
    services.client_secret_rotate(actor=CLI, client=client, grace_seconds=1)
    ClientSecret.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked, _ = services.client_secret_rotate(actor=CLI, client=client, grace_seconds=0)
    services.client_secret_revoke(actor=CLI, secret=revoked)
    active, _ = services.client_secret_rotate(actor=CLI, client=client, grace_seconds=0)

    for state in ("active", "expired", "revoked"):
        response = admin_client.get(admin_page(ClientSecret) + f"?status={state}")
        shown = list(response.context["cl"].result_list)
        assert shown and all(secret.state() == state for secret in shown), state
    assert list(admin_client.get(admin_page(ClientSecret) + "?status=active").context["cl"].result_list) == [active]
    listing = admin_client.get(admin_page(ClientSecret)).content.decode()
    for label in ("Active", "Expired", "Revoked"):
        assert label in listing
