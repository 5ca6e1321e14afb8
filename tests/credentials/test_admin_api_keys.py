"""Admin: API keys (create, show once, rotate, revoke, import legacy), users and memberships."""

import pytest

from credentials import hashing, services
from credentials.audit import CLI
from credentials.models import ApiKey, ApiKeyFormat, AuditOutcome, Membership, User
from credentials.selectors import api_key_match
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    assert_audited,
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

LEGACY_KEY = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"


def test_create_api_key_shows_it_once(admin_client, admin_user, api_user):
    page = admin_client.get(admin_page(ApiKey, "add") + f"?user={api_user.pk}")
    response = submit(admin_client, page, "apikey_form", comment="CI deploys")

    assert_show_once_page(response)
    [plaintext] = shown_secrets(response)
    api_key = ApiKey.objects.get(user=api_user)
    assert len(plaintext) == 64 and plaintext.startswith(api_key.pk.hex)
    assert api_key_match(key=plaintext) == api_key
    assert api_key.format == ApiKeyFormat.V2 and api_key.comment == "CI deploys"
    assert api_key.digest != plaintext and plaintext not in api_key.digest
    assert hashing.check_digest(plaintext, api_key.digest)
    assert_audited("api_key.create", by=admin_user, target=api_key, secret=plaintext)

    assert_nowhere_else(
        admin_client,
        plaintext,
        admin_page(ApiKey),
        admin_page(ApiKey, "change", api_key.pk),
        admin_page(User, "change", api_user.pk),
        shown_by=response,
    )


def test_sixth_api_key_is_refused_in_the_form(admin_client, admin_user, api_user):
    for n in range(5):
        services.api_key_create(actor=CLI, user=api_user, comment=f"key {n}")

    page = admin_client.get(admin_page(ApiKey, "add") + f"?user={api_user.pk}")
    response = submit(admin_client, page, "apikey_form", comment="one too many")

    assert response.status_code == 200
    assert "A user can have at most 5 active API keys. Delete one first." in response.content.decode()
    assert not shown_secrets(response)
    assert ApiKey.objects.filter(user=api_user).count() == 5
    assert_audited("api_key.create", by=admin_user, target=api_user, outcome=AuditOutcome.FAILURE)


def test_rotate_api_key(admin_client, admin_user, api_user):
    old, old_plaintext = services.api_key_create(actor=CLI, user=api_user, comment="laptop")

    response = run_action(admin_client, ApiKey, "rotate", [old], reason="laptop stolen")

    assert_show_once_page(response)
    [new_plaintext] = shown_secrets(response)
    new = api_key_match(key=new_plaintext)
    assert new is not None and new.pk != old.pk and new.comment == "laptop" and new.user == api_user
    assert api_key_match(key=old_plaintext) is None
    old.refresh_from_db()
    assert old.state() == "revoked" and old.revoked_by == admin_user and old.revoked_reason == "laptop stolen"
    event = assert_audited("api_key.rotate", by=admin_user, target=old, secret=new_plaintext)
    assert event.details["new_key"] == str(new.pk)
    assert_audited("api_key.create", by=admin_user, target=new)
    assert_nowhere_else(
        admin_client, new_plaintext, admin_page(ApiKey), admin_page(ApiKey, "change", new.pk), shown_by=response
    )


def test_rotating_a_revoked_key_is_refused(admin_client, admin_user, api_user):
    api_key, _ = services.api_key_create(actor=CLI, user=api_user)
    services.api_key_revoke(actor=CLI, api_key=api_key)

    response = run_action(admin_client, ApiKey, "rotate", [api_key], reason="")

    assert response.status_code == 200
    assert "Only an active API key can be rotated." in response.content.decode()
    assert ApiKey.objects.filter(user=api_user).count() == 1
    assert_audited("api_key.rotate", by=admin_user, target=api_key, outcome=AuditOutcome.FAILURE)


def test_revoke_api_key(admin_client, admin_user, api_user):
    api_key, plaintext = services.api_key_create(actor=CLI, user=api_user)

    response = run_action(admin_client, ApiKey, "revoke", [api_key], reason="not needed")

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.state() == "revoked" and api_key.revoked_reason == "not needed"
    assert api_key_match(key=plaintext) is None
    assert_audited("api_key.revoke", by=admin_user, target=api_key)
    listing = admin_client.get(admin_page(ApiKey) + "?status=revoked")
    assert list(listing.context["cl"].result_list) == [api_key]


def test_revoking_several_keys_reports_each_refusal(admin_client, admin_user, api_user):
    active, _ = services.api_key_create(actor=CLI, user=api_user)
    revoked, _ = services.api_key_create(actor=CLI, user=api_user)
    services.api_key_revoke(actor=CLI, api_key=revoked, reason="earlier")

    response = run_action(admin_client, ApiKey, "revoke", [active, revoked], reason="cleanup")

    assert response.status_code == 302
    shown = [str(m) for m in admin_client.get(response["Location"]).context["messages"]]
    assert "Revoked 1 API key(s)." in shown
    assert any("This API key is already revoked." in m for m in shown)
    active.refresh_from_db()
    revoked.refresh_from_db()
    assert active.state() == "revoked" and revoked.revoked_reason == "earlier"


def test_import_legacy_key(admin_client, admin_user, api_user):
    page = admin_client.get(admin_page(ApiKey, "import") + f"?user={api_user.pk}")
    response = submit(admin_client, page, "apikey_form", key=LEGACY_KEY, comment="from the old system")

    api_key = ApiKey.objects.get(user=api_user)
    assert response.status_code == 302 and response["Location"] == admin_page(ApiKey, "change", api_key.pk)
    assert api_key.format == ApiKeyFormat.LEGACY
    assert api_key_match(key=LEGACY_KEY) == api_key
    assert api_key.digest != LEGACY_KEY and LEGACY_KEY not in api_key.digest
    assert_audited("api_key.import", by=admin_user, target=api_key, secret=LEGACY_KEY)
    assert_nowhere_else(admin_client, LEGACY_KEY, response["Location"], admin_page(ApiKey), shown_by=response)


@pytest.mark.parametrize(
    "key, message",
    [
        (LEGACY_KEY[:31], "A legacy API key is exactly 32 characters from 0-9, A-Z and a-z."),
        (LEGACY_KEY[:31] + "-", "A legacy API key is exactly 32 characters from 0-9, A-Z and a-z."),
    ],
)
def test_malformed_legacy_key_is_refused_and_not_echoed(admin_client, admin_user, api_user, key, message):
    page = admin_client.get(admin_page(ApiKey, "import") + f"?user={api_user.pk}")
    response = submit(admin_client, page, "apikey_form", key=key)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert key not in response.content.decode()  # a key is never rendered back into the page
    assert not ApiKey.objects.exists()
    assert_audited("api_key.import", by=admin_user, target=api_user, outcome=AuditOutcome.FAILURE)


def test_importing_a_stored_legacy_key_again_is_refused(admin_client, admin_user, api_user):
    services.api_key_import_legacy(actor=CLI, user=api_user, key=LEGACY_KEY)
    page = admin_client.get(admin_page(ApiKey, "import") + f"?user={api_user.pk}")
    response = submit(admin_client, page, "apikey_form", key=LEGACY_KEY)

    assert "This API key is already stored." in response.content.decode()
    assert LEGACY_KEY not in response.content.decode()
    assert ApiKey.objects.count() == 1


def test_api_keys_change_list_filters_by_format(admin_client, api_user):
    services.api_key_create(actor=CLI, user=api_user)
    legacy = services.api_key_import_legacy(actor=CLI, user=api_user, key=LEGACY_KEY)

    listing = admin_client.get(admin_page(ApiKey) + "?format__exact=legacy")
    assert list(listing.context["cl"].result_list) == [legacy]
    assert "Create API key" in listing.content.decode() and "Import legacy key" in listing.content.decode()


# --- users and memberships ----------------------------------------------------------------------
def test_user_page_lists_keys_and_links_to_key_creation(admin_client, api_user):
    api_key, plaintext = services.api_key_create(actor=CLI, user=api_user, comment="shown in the inline")
    page = admin_client.get(admin_page(User, "change", api_user.pk)).content.decode()

    assert "shown in the inline" in page and api_key.hint in page and plaintext not in page
    assert admin_page(ApiKey, "add") + f"?user={api_user.pk}" in page
    assert admin_page(ApiKey, "import") + f"?user={api_user.pk}" in page


def test_membership_inline_goes_through_the_services(admin_client, admin_user, api_user, workspace, other_workspace):
    page = admin_client.get(admin_page(User, "change", api_user.pk))
    prefix = "memberships"
    membership = Membership.objects.get(user=api_user, workspace=workspace)
    assert membership.role == "write"

    # Change the existing role and add a second workspace.
    response = submit(
        admin_client,
        page,
        "user_form",
        **{
            f"{prefix}-0-role": "admin",
            f"{prefix}-TOTAL_FORMS": "2",
            f"{prefix}-1-workspace": str(other_workspace.pk),
            f"{prefix}-1-role": "read",
            f"{prefix}-1-user": str(api_user.pk),
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    assert {(m.workspace, m.role) for m in api_user.memberships.all()} == {
        (workspace, "admin"),
        (other_workspace, "read"),
    }
    assert len(audit_events("membership.set")) >= 2
    assert_audited("membership.set", by=admin_user, target=api_user)

    # Remove one.
    page = admin_client.get(admin_page(User, "change", api_user.pk))
    rows = {m.workspace_id: i for i, m in enumerate(page.context["inline_admin_formsets"][0].formset.queryset)}
    response = submit(admin_client, page, "user_form", **{f"{prefix}-{rows[other_workspace.pk]}-DELETE": "on"})
    assert response.status_code == 302
    assert list(api_user.memberships.values_list("workspace", flat=True)) == [workspace.pk]
    event = assert_audited("membership.remove", by=admin_user, target=api_user)
    assert event.details == {"workspace": other_workspace.code, "role": "read"}


def test_membership_admin_goes_through_the_services(admin_client, admin_user, api_user, other_workspace):
    page = admin_client.get(admin_page(Membership, "add"))
    response = submit(
        admin_client, page, "membership_form", user=str(api_user.pk), workspace=str(other_workspace.pk), role="read"
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=api_user, workspace=other_workspace)
    assert membership.role == "read"
    assert_audited("membership.set", by=admin_user, target=api_user)

    response = admin_client.post(admin_page(Membership, "delete", membership.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert_audited("membership.remove", by=admin_user, target=api_user)


def create_api_user_page(client):
    return client.get("/admin/credentials/user/add-api-user/")


def test_create_api_user_with_role_shows_the_first_key_once(admin_client, admin_user, workspace):
    listing = admin_client.get(admin_page(User)).content.decode()
    assert "add-api-user/" in listing  # linked from the user list

    response = submit(
        admin_client,
        create_api_user_page(admin_client),
        "user_form",
        email="ci@example.com",
        workspace=str(workspace.pk),
        role="write",
    )

    assert_show_once_page(response)
    [plaintext] = shown_secrets(response)
    user = User.objects.get(email="ci@example.com")
    assert not user.has_usable_password() and not user.is_staff
    assert Membership.objects.get(user=user).role == "write"
    assert api_key_match(key=plaintext).user == user
    assert_audited("api_user.create", by=admin_user, target=user)
    assert_audited("membership.set", by=admin_user, target=user)
    assert_audited("api_key.create", by=admin_user, target=ApiKey.objects.get(user=user), secret=plaintext)
    assert_nowhere_else(admin_client, plaintext, admin_page(User, "change", user.pk), shown_by=response)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"email": "not-an-email"}, "is not a valid email address"),
        ({"email": "new@example.com", "role": "admin"}, "A role needs a workspace."),
        ({"email": "new@example.com", "role": "owner", "workspace": "WS"}, "Unknown role"),
    ],
)
def test_create_api_user_refusals_change_nothing_and_are_audited(admin_client, admin_user, workspace, values, message):
    if values.get("workspace") == "WS":
        values = {**values, "workspace": str(workspace.pk)}
    users_before = User.objects.count()

    response = submit(admin_client, create_api_user_page(admin_client), "user_form", **values)

    assert response.status_code == 200 and message in response.content.decode()
    assert not shown_secrets(response)
    assert User.objects.count() == users_before and not ApiKey.objects.exists()
    assert_audited("api_user.create", by=admin_user, outcome=AuditOutcome.FAILURE)


def test_create_api_user_needs_add_permission(client, django_user_model):
    staff = django_user_model.objects.create_user(username="viewer", password="pw-viewer-1", is_staff=True)
    client.force_login(staff)
    assert create_api_user_page(client).status_code == 403
