"""The admin as an operator uses it: a real Chromium (Debian's, driven by Playwright) against the real
daphne server, signed in through the login page.

Each show-once page is reloaded, as an operator does by mistake: nothing is made or rotated twice and
the secret is not shown again. Each object page's button (Rotate, Revoke, Deactivate), the searches
that find what the API shows, and the audit log by credential and by workspace are clicked through:
the walk docs/admin.md's "At a glance" section describes. `make test` installs Chromium when it is missing.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from credentials import selectors, services
from credentials.audit import CLI
from credentials.models import (
    ApiKey,
    AuditEvent,
    Client,
    ClientSecret,
    CustomerSigningKey,
    PlatformTokenKey,
    User,
)
from tests.browser.admin_steps import admin_path, click_link, go, message, search, shown_once, signed_in, submit
from tests.browser.conftest import CHROMIUM, screenshot
from tests.conftest import second_pass_only

pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

pytestmark = [
    second_pass_only,  # the embedded default's admin in Chromium: tests/docs/test_newcomer_walk.py
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),  # the server process sees what the test writes
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (make test installs it)"),
]


# --- the tests ----------------------------------------------------------------------------------
def test_every_show_once_page_survives_a_reload(admin_page):
    page = admin_page
    workspace = services.workspace_create(actor=CLI, name="acme", product_space_name="web")

    # Create client, from the workspace's page
    go(page, f"/admin/credentials/workspace/{workspace.pk}/change/")
    click_link(page, "Create client")
    submit(page, "Create client", name="Backend")
    [client_secret] = shown_once(page, count=1)
    client = Client.objects.get()
    assert ClientSecret.objects.count() == 1
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=client_secret) is not None

    # Rotate client secret, from the client's page
    go(page, admin_path(Client, "change", client.pk))
    click_link(page, "Rotate secret")
    submit(page, "Rotate secret", grace_seconds="0", reason="browser test")
    [rotated_secret] = shown_once(page, count=1)
    assert ClientSecret.objects.count() == 2 and ClientSecret.objects.active().count() == 1
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=rotated_secret) is not None

    # Create API user, from the users list
    go(page, admin_path(User))
    click_link(page, "Create API user")
    submit(page, "Create API user", email="dev@example.com")
    [first_key] = shown_once(page, count=1)
    api_user = User.objects.get(email="dev@example.com")
    assert ApiKey.objects.filter(user=api_user).count() == 1
    assert selectors.api_key_match(key=first_key).user == api_user

    # Create API key, from the user's page
    go(page, f"/admin/credentials/user/{api_user.pk}/change/")
    click_link(page, "Create API key")
    submit(page, "Create API key", comment="ci")
    [second_key] = shown_once(page, count=1)
    assert ApiKey.objects.filter(user=api_user).count() == 2
    old_key = selectors.api_key_match(key=second_key)

    # Rotate API key with a grace period, from the key's page
    go(page, admin_path(ApiKey, "change", old_key.pk))
    click_link(page, "Rotate")
    submit(page, "Rotate", grace_seconds="60", reason="browser test")
    [third_key] = shown_once(page, count=1)
    assert ApiKey.objects.filter(user=api_user).count() == 3
    old_key.refresh_from_db()
    assert old_key.expires_at is not None and old_key.revoked_at is None
    assert selectors.api_key_match(key=third_key).comment == "ci"
    go(page, admin_path(ApiKey, "change", old_key.pk))  # the old key's page links to its replacement
    page.locator(".field-replaced_by a").click()
    assert page.url.endswith(admin_path(ApiKey, "change", selectors.api_key_match(key=third_key).pk))

    # Generate key pair, from the signing keys list
    go(page, admin_path(CustomerSigningKey))
    click_link(page, "Generate key pair")
    page.select_option("[name=workspace]", str(workspace.pk))
    submit(page, "Generate", name="backend")
    private_pem, env_block = shown_once(page, count=2)
    key = CustomerSigningKey.objects.get()
    assert "PRIVATE KEY" in private_pem and f'CUSTOMER_SIGNING_KEY_ID="{key.kid}"' in env_block

    # Rotate signing key, from its page
    go(page, admin_path(CustomerSigningKey, "change", key.pk))
    click_link(page, "Rotate")
    submit(page, "Rotate", overlap_seconds="600", reason="browser test")
    new_pem, new_block = shown_once(page, count=2)
    assert CustomerSigningKey.objects.count() == 2
    new_key = CustomerSigningKey.objects.exclude(pk=key.pk).get()
    assert new_pem != private_pem and f'CUSTOMER_SIGNING_KEY_ID="{new_key.kid}"' in new_block
    key.refresh_from_db()
    assert key.expires_at is not None and key.revoked_at is None

    # Each action ran once: one audit event each, whatever the reloads did.
    for action in (
        "client.create",
        "client_secret.rotate",
        "api_user.create",
        "api_key.rotate",
        "signing_key.generate",
        "signing_key.rotate",
    ):
        assert AuditEvent.objects.filter(action=action, outcome="success", via="admin").count() == (
            2 if action == "signing_key.generate" else 1
        ), action  # a rotation generates the successor


OBJECT_BUTTONS = [  # (model, the button on an object's page, the message once done)
    (ClientSecret, "Revoke", "Revoked 1 secret(s)."),
    (ApiKey, "Revoke", "Revoked 1 API key(s)."),
    (CustomerSigningKey, "Revoke", "Revoked 1 signing key(s)."),
    (PlatformTokenKey, "Revoke", "Revoked 1 platform key(s)."),
    (Client, "Deactivate", "Deactivated 1 client(s)."),
]


def test_each_object_page_button(admin_page):
    page = admin_page
    workspace = services.workspace_create(actor=CLI, name="acme", product_space_name="web")
    api_user = services.api_user_create(actor=CLI, email="dev@example.com")
    client, _ = services.client_create(actor=CLI, workspace=workspace, name="Backend")
    services.client_secret_rotate(actor=CLI, client=client, grace_seconds=3600)
    api_key, _ = services.api_key_create(actor=CLI, user=api_user)
    signing_key, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    platform_key = services.platform_token_key_rotate(actor=CLI)
    secret = client.secrets.order_by("created_at").first()

    objects = {
        ClientSecret: secret,
        ApiKey: api_key,
        CustomerSigningKey: signing_key,
        PlatformTokenKey: platform_key,
        Client: client,
    }
    for model, button, done in OBJECT_BUTTONS:
        obj = objects[model]
        go(page, admin_path(model, "change", obj.pk))
        click_link(page, button)
        assert page.url.endswith(admin_path(model, button.lower(), obj.pk))
        submit(page, button, reason="browser test")
        assert page.url.endswith(admin_path(model, "change", obj.pk)), page.url  # back on its page
        assert done in message(page)
        obj.refresh_from_db()
        assert (obj.is_active is False) if model is Client else (obj.revoked_at is not None), model

    # Revoking a client's last active secret warns first.
    other, _ = services.client_create(actor=CLI, workspace=workspace, name="Other")
    go(page, admin_path(ClientSecret, "change", other.secrets.get().pk))
    click_link(page, "Revoke")
    assert "the last active secret of" in page.locator("p.errornote").inner_text()


def test_searches_find_what_the_api_shows(admin_page):
    page = admin_page
    workspace = services.workspace_create(actor=CLI, name="acme", product_space_name="web")
    api_user = services.api_user_create(actor=CLI, email="dev@example.com")
    wanted, _ = services.api_key_create(actor=CLI, user=api_user, comment="wanted")
    services.api_key_create(actor=CLI, user=api_user, comment="other")
    key, _ = services.signing_key_generate(actor=CLI, workspace=workspace, name="wanted")
    services.signing_key_generate(actor=CLI, workspace=workspace, name="other")
    client, _ = services.client_create(actor=CLI, workspace=workspace, name="wanted")
    services.client_create(actor=CLI, workspace=workspace, name="other")

    for model, value, hint in [
        (ApiKey, str(wanted.pk), wanted.hint),
        (CustomerSigningKey, str(key.kid), str(key.kid)),
        (CustomerSigningKey, str(key.kid)[:8], str(key.kid)),  # the kid's first characters
        (Client, client.client_key, client.client_key),
    ]:
        go(page, admin_path(model))
        search(page, value)
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 1, (model, value)
        assert hint in rows.first.inner_text()
        assert re.search(r"\b1 result", page.locator("#changelist-search").inner_text()), model
    assert uuid.UUID(str(wanted.pk))  # the id as GET user/apikeys returns it: a UUID with dashes


def test_audit_log_by_credential_and_by_workspace(admin_page):
    page = admin_page
    workspace = services.workspace_create(actor=CLI, name="acme", product_space_name="web")
    other = services.workspace_create(actor=CLI, name="globex", product_space_name="app")
    key, _ = services.signing_key_generate(actor=CLI, workspace=workspace, name="backend")
    successor, _ = services.signing_key_rotate(actor=CLI, key=key, overlap_seconds=600, reason="yearly")
    services.client_create(actor=CLI, workspace=other, name="Other backend")

    # A credential's own history, from its page: its generation and its rotation, nothing else.
    go(page, admin_path(CustomerSigningKey, "change", key.pk))
    click_link(page, "Audit log")
    actions = page.locator("#result_list tbody td.field-action").all_inner_texts()
    assert sorted(actions) == ["signing_key.generate", "signing_key.rotate"], actions
    assert str(key.kid) in page.locator("#changelist-filter").inner_text()  # the side bar names it

    # Everything in one workspace, from the side bar: the other workspace's client is not there.
    go(page, admin_path(AuditEvent))
    page.locator("#changelist-filter").get_by_role("link", name="acme", exact=True).click()
    page.wait_for_load_state()
    assert f"workspace={workspace.code}" in page.url
    actions = page.locator("#result_list tbody td.field-action").all_inner_texts()
    assert {"workspace.create", "product_space.create", "signing_key.generate", "signing_key.rotate"} == set(actions)

    # The log searched by the new kid's first characters: its generation and the rotation that made it.
    search(page, str(successor.kid)[:8])
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2 and "signing_key.rotate" in rows.all_inner_texts()[0] + rows.all_inner_texts()[1]


def test_credential_lists_fit_a_laptop_screen(browser_context, daphne_server_factory):
    """At 1400 px, with the admin's side bar and filters open, no list scrolls sideways: status, expiry
    and last use stay in view. (On a server of its own with DEBUG on, which serves the admin's CSS.)"""
    page = signed_in(browser_context, daphne_server_factory(DEBUG="1"))
    workspace = services.workspace_create(
        actor=CLI, name="acme-production", display_name="Acme Corporation Production", product_space_name="web"
    )
    api_user = services.api_user_create(actor=CLI, email="deploy-bot@example-customer.com")
    client, _ = services.client_create(actor=CLI, workspace=workspace, name="Backend service")
    services.client_secret_rotate(actor=CLI, client=client, grace_seconds=3600, reason="yearly")
    api_key, _ = services.api_key_create(actor=CLI, user=api_user, comment="CI deploys from the build farm")
    services.api_key_rotate(actor=CLI, api_key=api_key, grace_seconds=60)
    services.signing_key_generate(actor=CLI, workspace=workspace, name="backend 2025")

    for model in (Client, ClientSecret, ApiKey, CustomerSigningKey, AuditEvent):
        go(page, admin_path(model))
        table, shown = page.evaluate("""() => [document.querySelector('#result_list').scrollWidth,
                                              document.querySelector('#changelist-form .results').clientWidth]""")
        assert table <= shown, (model.__name__, table, shown)
        screenshot(page, f"admin-{model._meta.model_name}-list")  # the lists as an operator sees them
        header = page.locator("#result_list thead").inner_text().lower()
        assert "status" in header or model is AuditEvent, header
    page.close()


def test_the_admin_runbooks_summary_is_this_walk():
    """Each button or link docs/admin.md's "At a glance" section names is one these tests click."""
    runbook = (Path(__file__).resolve().parents[2] / "docs" / "admin.md").read_text()
    section = runbook.split("## At a glance", 1)[1].split("\n## ", 1)[0]
    named = {" ".join(label.split()) for label in re.findall(r"(?<![*\w])\*([A-Z][^*]+)\*(?!\*)", section)}
    clicked = set(re.findall(r'(?:click_link\(page, |submit\(page, )"([^"]+)"', Path(__file__).read_text()))
    clicked |= {button for _, button, _ in OBJECT_BUTTONS}
    assert named and named <= clicked, named - clicked
