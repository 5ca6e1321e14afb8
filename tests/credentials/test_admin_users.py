"""Changes to a user that decide what their credentials can do go through audited services, whichever
admin screen makes them: the active flag on the user's page, and deleting the user."""

from __future__ import annotations

import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import AuditEvent, User
from credentials.selectors import api_key_match
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    assert_audited,
    form_fields,
    workspace,
)

pytestmark = pytest.mark.django_db


def post_user_form(client, user: User, **changes):
    page = client.get(admin_page(User, "change", user.pk))
    data = form_fields(page, "user_form")
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)  # an unticked checkbox is not sent
        else:
            data[name] = [value]
    data = {name: value[0] if len(value) == 1 else value for name, value in data.items()}
    return client.post(page.wsgi_request.path, data)


def test_unticking_active_is_an_audited_deactivation_and_stops_the_keys(admin_client, admin_user, api_user):
    _, key = services.api_key_create(actor=CLI, user=api_user)
    assert api_key_match(key=key) is not None

    response = post_user_form(admin_client, api_user, is_active=None)

    assert response.status_code == 302
    api_user.refresh_from_db()
    assert api_user.is_active is False
    assert api_key_match(key=key) is None
    assert_audited("user.deactivate", by=admin_user, target=api_user)

    post_user_form(admin_client, api_user, is_active="on")
    api_user.refresh_from_db()
    assert api_user.is_active is True and api_key_match(key=key) is not None
    assert_audited("user.activate", by=admin_user, target=api_user)


def test_saving_without_changing_active_writes_no_activation_event(admin_client, api_user):
    post_user_form(admin_client, api_user, first_name="Renamed")
    api_user.refresh_from_db()
    assert api_user.first_name == "Renamed"
    assert not AuditEvent.objects.filter(action__in=["user.activate", "user.deactivate"]).exists()


def test_deleting_a_user_is_audited_with_what_it_took(admin_client, admin_user, api_user):
    confirm = admin_client.post(admin_page(User, "delete", api_user.pk), {"post": "yes"})
    assert confirm.status_code == 302
    assert not User.objects.filter(pk=api_user.pk).exists()
    event = AuditEvent.objects.get(action="user.delete")
    assert event.actor == admin_user and event.target_id == str(api_user.pk)
    assert event.details["memberships"]  # the fixture's user has a role in the workspace


def test_a_user_with_api_keys_is_deactivated_not_deleted(admin_client, api_user):
    # Credentials are never deleted in the admin (revoking keeps the record), so neither is their owner.
    services.api_key_create(actor=CLI, user=api_user)
    assert admin_client.post(admin_page(User, "delete", api_user.pk), {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=api_user.pk).exists()
    assert not AuditEvent.objects.filter(action="user.delete").exists()
