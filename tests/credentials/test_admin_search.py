"""The admin finds a credential by what the API shows: an API key's full id, a signing key's kid."""

from __future__ import annotations

import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey, CustomerSigningKey
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
