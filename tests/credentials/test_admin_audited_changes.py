"""Every change that decides what a credential can do (a user's active flag, a membership and its role, a
client's active flag, a product space) goes through an audited service, whichever admin screen makes it:
the screens not covered elsewhere (the user, membership, client and workspace tests), and a check over
every registered admin that no screen writes these rows past the services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.test import RequestFactory

from credentials import services
from credentials.audit import CLI
from credentials.models import AuditEvent, Client, Membership, ProductSpace, User, Workspace
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    assert_audited,
    assert_forbidden,
    audit_events,
    other_workspace,
    submit,
    workspace,
)

pytestmark = pytest.mark.django_db

# The rows whose changes decide what a credential can do, and the services that change them.
AUDITED_MODELS = (User, Membership, Client, ProductSpace)


def test_changing_a_role_on_the_membership_page_is_audited(admin_client, admin_user, api_user, workspace):
    membership = api_user.memberships.get(workspace=workspace)
    page = admin_client.get(admin_page(Membership, "change", membership.pk))
    response = submit(admin_client, page, "membership_form", role="read")
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "read"
    event = assert_audited("membership.set", by=admin_user, target=api_user)
    assert event.details == {"workspace": workspace.code, "role": "read"}


def test_deleting_memberships_from_the_list_is_audited_for_each(
    admin_client, admin_user, api_user, workspace, other_workspace
):
    services.membership_set(actor=CLI, user=api_user, workspace=other_workspace, role="read")
    selected = [str(pk) for pk in api_user.memberships.values_list("pk", flat=True)]
    response = admin_client.post(
        admin_page(Membership), {"action": "delete_selected", "post": "yes", "_selected_action": selected}
    )
    assert response.status_code == 302
    assert not api_user.memberships.exists()
    removed = [event for event in audit_events("membership.remove") if event.via == "admin"]
    assert {event.details["workspace"] for event in removed} == {workspace.code, other_workspace.code}
    assert all(event.actor == admin_user for event in removed)


def test_moving_a_membership_to_another_workspace_on_the_user_page_is_a_removal_and_a_grant(
    admin_client, admin_user, api_user, workspace, other_workspace
):
    page = admin_client.get(admin_page(User, "change", api_user.pk))
    response = submit(admin_client, page, "user_form", **{"memberships-0-workspace": str(other_workspace.pk)})
    assert response.status_code == 302
    assert {(m.workspace, m.role) for m in api_user.memberships.all()} == {(other_workspace, "write")}
    removed = assert_audited("membership.remove", by=admin_user, target=api_user)
    granted = assert_audited("membership.set", by=admin_user, target=api_user)
    assert removed.details == {"workspace": workspace.code, "role": "write"}
    assert granted.details == {"workspace": other_workspace.code, "role": "write"}


def test_a_role_given_on_the_add_admin_user_page_is_audited(admin_client, admin_user, workspace):
    page = admin_client.get(admin_page(User, "add"))
    response = submit(
        admin_client,
        page,
        "user_form",
        username="ops",
        password1="a long pass phrase 42",
        password2="a long pass phrase 42",
        **{"memberships-TOTAL_FORMS": "1", "memberships-0-workspace": str(workspace.pk), "memberships-0-role": "admin"},
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    user = User.objects.get(username="ops")
    assert user.memberships.get().role == "admin"
    event = assert_audited("membership.set", by=admin_user, target=user)
    assert event.details == {"workspace": workspace.code, "role": "admin"}


def test_deleting_users_from_the_list_is_audited_for_each(admin_client, admin_user, workspace):
    users = [services.api_user_create(actor=CLI, email=f"u{i}@example.com", workspace=workspace) for i in range(2)]
    response = admin_client.post(
        admin_page(User),
        {"action": "delete_selected", "post": "yes", "_selected_action": [str(user.pk) for user in users]},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[user.pk for user in users]).exists()
    deleted = {event.target_id for event in audit_events("user.delete") if event.actor == admin_user}
    assert deleted == {str(user.pk) for user in users}


def test_a_client_is_deactivated_only_by_the_audited_action(admin_client, workspace):
    client, _ = services.client_create(actor=CLI, workspace=workspace, name="Backend")
    page = admin_client.get(admin_page(Client, "change", client.pk))
    assert "is_active" not in page.context["adminform"].form.fields  # shown, never a form field
    assert_forbidden(admin_client.post(admin_page(Client, "change", client.pk), {"name": "Backend"}))
    listing = admin_client.get(admin_page(Client))
    assert not listing.context["cl"].list_editable
    client.refresh_from_db()
    assert client.is_active and not AuditEvent.objects.filter(action="client.deactivate").exists()


def test_product_spaces_are_made_only_by_the_audited_service(admin_client, workspace):
    product_space = workspace.product_spaces.get()
    assert_forbidden(admin_client.post(admin_page(ProductSpace, "change", product_space.pk), {"name": "renamed"}))
    assert_forbidden(admin_client.post(admin_page(ProductSpace, "delete", product_space.pk), {"post": "yes"}))
    # The workspace page lists its product spaces read-only: a product space posted with its form is ignored.
    page = admin_client.get(admin_page(Workspace, "change", workspace.pk))
    submit(
        admin_client,
        page,
        "workspace_form",
        **{"product_spaces-TOTAL_FORMS": "2", "product_spaces-1-name": "sneaky", "product_spaces-0-name": "renamed"},
    )
    assert list(workspace.product_spaces.values_list("name", flat=True)) == ["web"]
    assert AuditEvent.objects.filter(action="product_space.create").count() == 1  # the fixture's


def superuser_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_no_admin_screen_writes_these_rows_past_the_services(admin_user, api_user, workspace):
    """For each admin of these models, and each inline of them on another's page: whatever a superuser may
    add, change or delete there is handed to the services, not to Django's own save and delete."""
    request = superuser_request(admin_user)
    client, _ = services.client_create(actor=CLI, workspace=workspace)
    existing = {
        User: api_user,
        Membership: api_user.memberships.get(),
        Client: client,
        ProductSpace: workspace.product_spaces.get(),
    }
    own = lambda screen, method: getattr(type(screen), method) is not getattr(ModelAdmin, method)  # noqa: E731
    checked = set()
    for model_admin in admin.site._registry.values():
        screens = [model_admin, *model_admin.get_inline_instances(request)]
        for screen in screens:
            if screen.model not in AUDITED_MODELS:
                continue
            checked.add(screen.model)
            obj, name = existing[screen.model], f"{type(screen).__name__} on {type(model_admin).__name__}"
            assert not getattr(screen, "list_editable", ()), name
            if screen is not model_admin:  # an inline: its page's admin routes the formset
                if (
                    screen.has_add_permission(request, obj)
                    or screen.has_change_permission(request, obj)
                    or screen.has_delete_permission(request, obj)
                ):
                    assert own(model_admin, "save_formset"), name
                continue
            if screen.has_change_permission(request, obj):
                assert own(screen, "save_model"), name
            if screen.has_add_permission(request):
                assert own(screen, "save_model") or own(screen, "add_view"), name
            if screen.has_delete_permission(request, obj):
                assert own(screen, "delete_model") and own(screen, "delete_queryset"), name
    assert checked == set(AUDITED_MODELS)
