"""Admin: who may reach it, who may act, and the read-only audit log."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey, AuditEvent, Client, CustomerSigningKey, PlatformTokenKey, User, Workspace
from credentials.selectors import api_key_match
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    assert_forbidden,
    submit,
    workspace,
)

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    reverse("admin:index"),
    admin_page(Workspace),
    admin_page(Workspace, "add"),
    admin_page(Client),
    admin_page(Client, "add"),
    admin_page(ApiKey),
    admin_page(ApiKey, "add"),
    admin_page(ApiKey, "import"),
    admin_page(CustomerSigningKey),
    admin_page(CustomerSigningKey, "add"),
    admin_page(CustomerSigningKey, "upload"),
    admin_page(PlatformTokenKey),
    admin_page(PlatformTokenKey, "add"),
    admin_page(AuditEvent),
    admin_page(User),
    admin_page(User, "add"),
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_every_page_opens_for_an_admin(admin_client, workspace, page):
    assert admin_client.get(page).status_code == 200


def test_every_object_page_opens_for_an_admin(admin_client, api_user, workspace):
    client, _ = services.client_create(actor=CLI, workspace=workspace)
    api_key, _ = services.api_key_create(actor=CLI, user=api_user)
    signing_key, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    platform_key = services.platform_token_key_rotate(actor=CLI)
    objects = [
        workspace,
        workspace.product_spaces.get(),
        client,
        client.secrets.get(),
        api_key,
        signing_key,
        platform_key,
        api_user,
        api_user.memberships.get(),
        AuditEvent.objects.first(),
    ]
    for obj in objects:
        model = type(obj)
        assert admin_client.get(admin_page(model)).status_code == 200, model
        assert admin_client.get(admin_page(model, "change", obj.pk)).status_code == 200, model


def test_create_admin_account(admin_client):
    page = admin_client.get(admin_page(User, "add"))
    response = submit(
        admin_client,
        page,
        "user_form",
        username="ops",
        usable_password="true",
        password1="a long Passphrase 42",
        password2="a long Passphrase 42",
    )
    assert response.status_code == 302
    assert User.objects.get(username="ops").check_password("a long Passphrase 42")


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_non_staff_users_cannot_reach_admin(client, api_user, page):
    for who in (None, api_user):  # anonymous, then a signed-in user who is not staff
        if who is not None:
            client.force_login(who)
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_non_staff_user_cannot_create_through_admin(client, api_user, workspace):
    client.force_login(api_user)
    response = client.post(admin_page(Client, "add"), {"workspace": workspace.pk, "name": "sneaky"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert not Client.objects.exists()


@pytest.fixture
def view_only_staff(db):
    user = User.objects.create_user(username="auditor", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_apikey", "view_auditevent"]))
    return user


def test_view_only_staff_can_list_but_not_act(client, view_only_staff, api_user):
    api_key, plaintext = services.api_key_create(actor=CLI, user=api_user)
    client.force_login(view_only_staff)

    listing = client.get(admin_page(ApiKey))
    assert listing.status_code == 200 and api_key.hint in listing.content.decode()
    assert listing.context["action_form"] is None  # rotate and revoke need the change permission
    for action in ("revoke", "rotate"):
        response = client.post(
            admin_page(ApiKey),
            {"action": action, "index": 0, "confirm": "yes", "_selected_action": [str(api_key.pk)], "reason": "x"},
        )
        assert response.status_code == 200 and "admin/change_list.html" in [t.name for t in response.templates]
    assert api_key_match(key=plaintext) == api_key
    assert ApiKey.objects.count() == 1
    assert_forbidden(client.get(admin_page(ApiKey, "add")))
    assert_forbidden(client.get(admin_page(ApiKey, "import")))
    assert not AuditEvent.objects.filter(via="admin").exists()


# --- audit log ----------------------------------------------------------------------------------
@pytest.fixture
def audited(admin_client, workspace):
    """A success and a refusal, both made in admin."""
    page = admin_client.get(admin_page(Workspace, "add"))
    admin_client.post(page.wsgi_request.path, {"name": "acme"})  # duplicate: refused
    admin_client.post(page.wsgi_request.path, {"name": "initech"})
    return AuditEvent.objects.filter(via="admin")


def test_audit_log_lists_and_filters(admin_client, audited):
    assert {(e.action, e.outcome) for e in audited} == {
        ("workspace.create", "failure"),
        ("workspace.create", "success"),
    }
    cl = admin_client.get(admin_page(AuditEvent)).context["cl"]
    assert cl.date_hierarchy == "at"
    # The credential filter shows only while one is chosen (from a credential's "Audit log" link).
    assert [f.title for f in cl.filter_specs] == ["workspace", "action", "outcome", "via", "target type"]

    failures = admin_client.get(admin_page(AuditEvent) + "?outcome__exact=failure").context["cl"].result_list
    assert [e.details["errors"] for e in failures] == [["Workspace with this Name already exists."]]
    by_admin = admin_client.get(admin_page(AuditEvent) + "?via=admin&action=workspace.create")
    assert set(by_admin.context["cl"].result_list) == set(audited)
    event = audited.first()
    this_year = admin_client.get(admin_page(AuditEvent) + f"?at__year={event.at.year}")
    assert event in this_year.context["cl"].result_list


def test_audit_log_is_read_only_even_for_superusers(admin_client, admin_user, audited):
    event = audited.first()
    listing = admin_client.get(admin_page(AuditEvent))
    assert listing.context["action_form"] is None  # no actions at all: no "delete selected"
    assert not listing.context["has_add_permission"]

    detail = admin_client.get(admin_page(AuditEvent, "change", event.pk))
    assert detail.status_code == 200 and not detail.context["has_change_permission"]
    assert not detail.context["has_delete_permission"]

    assert_forbidden(admin_client.get(admin_page(AuditEvent, "add")))
    assert_forbidden(admin_client.post(admin_page(AuditEvent, "change", event.pk), {"action": "x"}))
    assert_forbidden(admin_client.post(admin_page(AuditEvent, "delete", event.pk), {"post": "yes"}))
    response = admin_client.post(
        admin_page(AuditEvent),
        {"action": "delete_selected", "index": 0, "post": "yes", "_selected_action": [str(event.pk)]},
    )
    assert response.status_code in (200, 302)
    event.refresh_from_db()
    assert AuditEvent.objects.filter(pk=event.pk, action=event.action).exists()
    assert AuditEvent.objects.filter(via="admin").count() == 2
