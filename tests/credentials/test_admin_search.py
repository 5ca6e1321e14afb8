"""The admin finds a credential by what the API shows: an API key's full id, a signing key's kid (whole or its
first characters), a client's key."""

from __future__ import annotations

import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey, Client, ClientSecret, CustomerSigningKey
from tests.credentials.test_admin_support import admin_page, admin_user, api_user, workspace  # noqa: F401

pytestmark = pytest.mark.django_db


def listed(response, obj) -> bool:
    return f"/{obj.pk}/change/" in response.content.decode()


def test_api_key_by_its_full_id(admin_client, api_user):
    wanted, _ = services.api_key_create(actor=CLI, user=api_user)
    other, _ = services.api_key_create(actor=CLI, user=api_user)
    found = admin_client.get(admin_page(ApiKey), {"q": str(wanted.pk)})
    assert listed(found, wanted) and not listed(found, other)


def test_signing_key_by_its_kid(admin_client, workspace):
    wanted, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    other, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    found = admin_client.get(admin_page(CustomerSigningKey), {"q": str(wanted.kid)})
    assert listed(found, wanted) and not listed(found, other)


def test_the_admin_has_no_view_site_link_to_the_api_root(admin_client):
    assert 'href="/"' not in admin_client.get("/admin/").content.decode()


@pytest.mark.parametrize("length", [8, 13, 23])  # the first group, and into the second and fourth
def test_signing_key_by_the_first_characters_of_its_kid(admin_client, workspace, length):
    wanted, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    others = [services.signing_key_generate(actor=CLI, workspace=workspace)[0] for _ in range(3)]
    prefix = str(wanted.kid)[:length]
    assert not any(str(other.kid).startswith(prefix) for other in others)  # 16**8 to one
    found = admin_client.get(admin_page(CustomerSigningKey), {"q": prefix})
    assert listed(found, wanted) and not any(listed(found, other) for other in others)
    # A prefix, not any part: the kid's last characters find nothing.
    assert not listed(admin_client.get(admin_page(CustomerSigningKey), {"q": str(wanted.kid)[-12:]}), wanted)


def test_client_and_its_secrets_by_client_key(admin_client, workspace):
    wanted, _ = services.client_create(actor=CLI, workspace=workspace, name="Backend")
    other, _ = services.client_create(actor=CLI, workspace=workspace, name="Backend too")
    services.client_secret_rotate(actor=CLI, client=wanted, grace_seconds=60)
    found = admin_client.get(admin_page(Client), {"q": wanted.client_key})
    assert listed(found, wanted) and not listed(found, other)
    secrets_found = admin_client.get(admin_page(ClientSecret), {"q": wanted.client_key})
    assert all(listed(secrets_found, secret) for secret in wanted.secrets.all())
    assert not any(listed(secrets_found, secret) for secret in other.secrets.all())
