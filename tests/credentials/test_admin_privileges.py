"""Admin user pages: only superusers grant admin access or permissions.

A staff user allowed to change users manages API users and their own profile. Whatever it POSTs, it
cannot make anyone (itself included) staff or superuser, or give groups or permissions, and it cannot
take over an account with more access than its own by changing that account's password.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from credentials.models import User
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    assert_forbidden,
    form_fields,
    workspace,
)

pytestmark = pytest.mark.django_db

PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


@pytest.fixture
def user_manager(db):
    """Staff who may view and change users (and see memberships), nothing more."""
    user = User.objects.create_user(username="manager", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_user", "change_user", "view_membership"]))
    return user


@pytest.fixture
def powerful_group(db):
    group = Group.objects.create(name="key admins")
    group.permissions.set(Permission.objects.filter(codename__in=["add_apikey", "change_apikey", "delete_user"]))
    return group


def privileges(user: User) -> dict:
    user = User.objects.get(pk=user.pk)
    return {
        "is_superuser": user.is_superuser,
        "is_staff": user.is_staff,
        "groups": set(user.groups.values_list("pk", flat=True)),
        "user_permissions": set(user.user_permissions.values_list("pk", flat=True)),
    }


def post_change(client, user: User, field: str, group: Group):
    """POST the user's change form as the page offers it, with ``field`` flipped to grant more (or, for
    one's own is_staff, to drop it): what a hand-made request would send even when the page shows no
    such control."""
    page = client.get(admin_page(User, "change", user.pk))
    assert page.status_code == 200
    data = form_fields(page, "user_form")
    current = privileges(user)
    for name in ("groups", "user_permissions"):  # multiple selects: a browser sends the selected options only
        if name in data:
            data[name] = [str(pk) for pk in current[name]]
    if field in ("is_superuser", "is_staff"):
        if getattr(user, field):
            data.pop(field, None)  # an unticked checkbox is simply not sent
        else:
            data[field] = ["on"]
    elif field == "groups":
        data["groups"] = [str(group.pk)]
    else:
        data["user_permissions"] = [
            str(p.pk) for p in Permission.objects.filter(codename__in=["add_user", "delete_apikey"])
        ]
    data["first_name"] = ["Changed"]  # a field the manager may change, to see the POST went through
    data = {name: value[0] if len(value) == 1 else value for name, value in data.items()}
    return client.post(page.wsgi_request.path, data)


@pytest.mark.parametrize("field", PRIVILEGE_FIELDS)
def test_staff_cannot_change_its_own_privileges(client, user_manager, powerful_group, field):
    client.force_login(user_manager)
    before = privileges(user_manager)

    response = post_change(client, user_manager, field, powerful_group)

    assert response.status_code == 302  # the rest of the form was saved...
    assert User.objects.get(pk=user_manager.pk).first_name == "Changed"
    assert privileges(user_manager) == before  # ...but not the privilege
    page = client.get(admin_page(User, "change", user_manager.pk))
    assert f'name="{field}"' not in page.content.decode()  # shown read-only, if at all


@pytest.mark.parametrize("field", PRIVILEGE_FIELDS)
def test_staff_cannot_change_privileges_of_another_user(client, user_manager, api_user, powerful_group, field):
    client.force_login(user_manager)
    before = privileges(api_user)

    response = post_change(client, api_user, field, powerful_group)

    assert response.status_code == 302
    assert User.objects.get(pk=api_user.pk).first_name == "Changed"
    assert privileges(api_user) == before


@pytest.mark.parametrize("field", PRIVILEGE_FIELDS)
def test_superuser_can_change_privileges(admin_client, api_user, powerful_group, field):
    before = privileges(api_user)

    response = post_change(admin_client, api_user, field, powerful_group)

    assert response.status_code == 302
    after = privileges(api_user)
    assert after[field] != before[field]
    assert {k: v for k, v in after.items() if k != field} == {k: v for k, v in before.items() if k != field}


def test_staff_cannot_take_over_accounts_with_admin_access(client, user_manager, admin_user, api_user):
    """Setting another admin's password (or editing their account) would be signing in as them."""
    other_staff = User.objects.create_user(username="colleague", is_staff=True)
    client.force_login(user_manager)
    for target in (admin_user, other_staff):
        password_page = reverse("admin:auth_user_password_change", args=[target.pk])
        assert_forbidden(client.get(password_page))
        assert_forbidden(
            client.post(
                password_page,
                {"password1": "a long Passphrase 42", "password2": "a long Passphrase 42", "usable_password": "true"},
            )
        )
        assert not User.objects.get(pk=target.pk).has_usable_password()
        response = client.post(
            admin_page(User, "change", target.pk),
            {"username": target.username, "is_active": "on", "first_name": "Changed"},
        )
        assert_forbidden(response)
        assert User.objects.get(pk=target.pk).first_name == ""
        # Still visible to someone who may view users.
        assert client.get(admin_page(User, "change", target.pk)).status_code == 200

    # API users and their own account they still manage.
    for target in (api_user, user_manager):
        response = client.post(
            reverse("admin:auth_user_password_change", args=[target.pk]),
            {"password1": "a long Passphrase 42", "password2": "a long Passphrase 42", "usable_password": "true"},
        )
        assert response.status_code == 302
        assert User.objects.get(pk=target.pk).check_password("a long Passphrase 42")
