"""An admin's day, in Chromium, each step checked twice: what the page shows, and what the API then
accepts from whoever holds what the page showed.

Create a workspace with a product space; create a client and copy its secret from the show-once page;
rotate it with a grace period and see both secrets work, then only the new one; revoke it; generate a
signing key and sign a customer token with the CUSTOMER_* block it shows, as the seed's code does;
revoke an API key; read one credential's history in the audit log.
"""

from __future__ import annotations

import os
import re
import time

import httpx
import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey, AuditEvent, Client, ClientSecret, Workspace
from tests.browser.admin_steps import admin_path, click_link, go, message, shown_once, submit
from tests.browser.conftest import CHROMIUM, screenshot
from tests.conftest import second_pass_only
from tests.live import api_client, run_node

pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

pytestmark = [
    second_pass_only,  # the embedded default's admin in Chromium: tests/docs/test_newcomer_walk.py
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (make test installs it)"),
]

GRACE_SECONDS = 4


def env_block(text: str) -> dict[str, str]:
    return dict(re.findall(r'^(CUSTOMER_[A-Z_]+)="(.*)"$', text, re.MULTILINE))


def test_an_admins_day(admin_page, daphne_server):
    page = admin_page
    api = api_client(daphne_server)

    # A workspace with its first product space.
    go(page, admin_path(Workspace, "add"))
    submit(page, "Create workspace", name="acme-day", product_space_name="web")
    assert "Created workspace" in message(page)
    workspace = Workspace.objects.get(name="acme-day")

    # A client; its secret copied from the show-once page works on the API.
    click_link(page, "Create client")
    submit(page, "Create client", name="Backend")
    client = Client.objects.get(workspace=workspace)
    assert client.client_key in page.content()  # shown with its secret
    [first_secret] = shown_once(page, count=1)
    as_client = {"x-client-key": client.client_key}
    workspace_path = f"workspaces/{workspace.code}"
    assert api.get(workspace_path, headers={**as_client, "x-client-secret": first_secret}).status_code == 200

    # Rotated with a grace period: both secrets work, then only the new one.
    go(page, admin_path(Client, "change", client.pk))
    click_link(page, "Rotate secret")
    submit(page, "Rotate secret", grace_seconds=str(GRACE_SECONDS), reason="yearly")
    [second_secret] = shown_once(page, count=1)
    rotated_at = time.monotonic()
    for secret in (first_secret, second_secret):
        assert api.get(workspace_path, headers={**as_client, "x-client-secret": secret}).status_code == 200
    time.sleep(max(0.0, GRACE_SECONDS + 1 - (time.monotonic() - rotated_at)))
    assert api.get(workspace_path, headers={**as_client, "x-client-secret": first_secret}).status_code == 401
    assert api.get(workspace_path, headers={**as_client, "x-client-secret": second_secret}).status_code == 200

    # Revoked from its own page: refused at once.
    newest = ClientSecret.objects.filter(client=client).order_by("-created_at").first()
    go(page, admin_path(ClientSecret, "change", newest.pk))
    click_link(page, "Revoke")
    submit(page, "Revoke", reason="leaked in a log")
    assert "Revoked 1 secret(s)." in message(page)
    assert api.get(workspace_path, headers={**as_client, "x-client-secret": second_secret}).status_code == 401

    # A signing key; the CUSTOMER_* block it shows signs a token the API accepts (the seed's own code).
    go(page, admin_path(Workspace, "change", workspace.pk))
    click_link(page, "Generate signing key")
    submit(page, "Generate", name="backend")
    _private_pem, block = shown_once(page, count=2)
    env = {**env_block(block), "CUSTOMER_UNIQUE_CUSTOMER_ID": "customer-42"}
    assert env["CUSTOMER_WORKSPACE_ID"] == workspace.code
    token = run_node("sign_customer_jwt.mjs", env=env)["token"]
    me = api.get("customer/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["customer_id"] == "customer-42"

    # An API key revoked from its page: the API refuses it (403, the seed's rule for API keys).
    api_user = services.api_user_create(actor=CLI, email="deploy@example.com", workspace=workspace, role="read")
    api_key, plaintext = services.api_key_create(actor=CLI, user=api_user, comment="deploys")
    assert api.get("user", headers={"Api-Key": plaintext}).status_code == 200
    go(page, admin_path(ApiKey, "change", api_key.pk))
    click_link(page, "Revoke")
    submit(page, "Revoke", reason="the deploy bot is gone")
    assert "Revoked 1 API key(s)." in message(page)
    assert api.get("user", headers={"Api-Key": plaintext}).status_code == 403

    # That key's history, from its page: created, then revoked, and nothing of anyone else's.
    go(page, admin_path(ApiKey, "change", api_key.pk))
    click_link(page, "Audit log")
    actions = page.locator("#result_list tbody td.field-action").all_inner_texts()
    assert sorted(actions) == ["api_key.create", "api_key.revoke"], actions
    screenshot(page, "admin-day-audit-log-of-one-key")
    assert AuditEvent.objects.filter(action="client_secret.rotate", via="admin").count() == 1
    api.close()
