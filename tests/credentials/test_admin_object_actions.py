"""Every action of the change list is also a button on the object's own page, with the same
confirmation, service and outcome (the action is written once: credentials/admin/pages.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey, Client, ClientSecret, CustomerSigningKey, PlatformTokenKey, User
from credentials.selectors import client_secret_match
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    assert_audited,
    assert_show_once_page,
    shown_secrets,
    submit,
    workspace,
)

pytestmark = pytest.mark.django_db


def object_tool_urls(response) -> list[str]:
    return [url for url in response.content.decode().split('href="')[1:] for url in [url.split('"', 1)[0]]]


def test_client_page_has_rotate_and_deactivate_buttons_that_run_the_actions(admin_client, admin_user, workspace):
    client, old_plaintext = services.client_create(actor=CLI, workspace=workspace, name="Backend")
    page = admin_client.get(admin_page(Client, "change", client.pk))
    rotate_url = admin_page(Client, "rotate_secret", client.pk)
    assert rotate_url in object_tool_urls(page)
    assert admin_page(Client, "deactivate", client.pk) in object_tool_urls(page)

    confirmation = admin_client.get(rotate_url)
    assert confirmation.status_code == 200
    assert "admin/credentials/action_confirmation.html" in [t.name for t in confirmation.templates]
    response = submit(admin_client, confirmation, "client_form", grace_seconds="0", reason="from its page")

    assert_show_once_page(response)
    [new_plaintext] = shown_secrets(response)
    assert client_secret_match(client_key=client.client_key, client_secret=new_plaintext) is not None
    assert client_secret_match(client_key=client.client_key, client_secret=old_plaintext) is None
    assert_audited("client_secret.rotate", by=admin_user, target=client, secret=new_plaintext)

    confirmation = admin_client.get(admin_page(Client, "deactivate", client.pk))
    response = submit(admin_client, confirmation, "client_form", reason="customer left")
    assert response.status_code == 302 and response["Location"] == admin_page(Client, "change", client.pk)
    client.refresh_from_db()
    assert client.is_active is False
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Deactivated 1 client(s)."]


@pytest.mark.parametrize(
    "model, action, make",
    [
        (ApiKey, "rotate", lambda ws, user: services.api_key_create(actor=CLI, user=user)[0]),
        (ApiKey, "revoke", lambda ws, user: services.api_key_create(actor=CLI, user=user)[0]),
        (ClientSecret, "revoke", lambda ws, user: services.client_create(actor=CLI, workspace=ws)[0].secrets.get()),
        (CustomerSigningKey, "revoke", lambda ws, user: services.signing_key_generate(actor=CLI, workspace=ws)[0]),
        (PlatformTokenKey, "revoke", lambda ws, user: services.platform_token_key_rotate(actor=CLI)),
    ],
)
def test_each_credential_page_has_its_actions(admin_client, workspace, api_user, model, action, make):
    obj = make(workspace, api_user)
    url = admin_page(model, action, obj.pk)
    assert url in object_tool_urls(admin_client.get(admin_page(model, "change", obj.pk)))
    response = submit(admin_client, admin_client.get(url), f"{model._meta.model_name}_form", reason="test")
    assert response.status_code in (200, 302)
    obj.refresh_from_db()
    assert obj.revoked_at is not None  # rotating an API key revokes the old one too


def test_buttons_need_the_change_permission(client, workspace):
    viewer = User.objects.create_user(username="viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_client"))
    client.force_login(viewer)
    obj, _ = services.client_create(actor=CLI, workspace=workspace)
    page = client.get(admin_page(Client, "change", obj.pk))
    assert page.status_code == 200
    assert admin_page(Client, "rotate_secret", obj.pk) not in object_tool_urls(page)
    assert client.get(admin_page(Client, "rotate_secret", obj.pk)).status_code == 403
    assert client.post(admin_page(Client, "rotate_secret", obj.pk), {"confirm": "yes"}).status_code == 403
    obj.refresh_from_db()
    assert obj.secrets.count() == 1


def test_an_unknown_object_is_a_404(admin_client):
    assert admin_client.get(admin_page(Client, "rotate_secret", 999999)).status_code == 404


def test_revoking_a_clients_last_active_secret_warns_first(admin_client, workspace):
    client, _ = services.client_create(actor=CLI, workspace=workspace, name="Backend")
    only = client.secrets.get()
    confirmation = admin_client.get(admin_page(ClientSecret, "revoke", only.pk))
    assert "the last active secret of" in confirmation.content.decode()
    # With a second active secret (during a rotation's grace) there is nothing to warn about.
    services.client_secret_rotate(actor=CLI, client=client, grace_seconds=3600)
    confirmation = admin_client.get(admin_page(ClientSecret, "revoke", only.pk))
    assert "the last active secret of" not in confirmation.content.decode()
