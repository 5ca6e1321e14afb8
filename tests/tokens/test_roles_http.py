"""Workspace roles over real HTTP: a valid credential without the role gets 403 without invalid_authentication."""

import uuid

import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import Membership
from tests.live import assert_error

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def user_with_role(workspace, role):
    user = services.api_user_create(
        actor=CLI, email=f"{uuid.uuid4().hex[:10]}@example.com", workspace=workspace if role else None, role=role
    )
    return services.api_key_create(actor=CLI, user=user)[1]


@pytest.mark.parametrize("role, can_admin", [(None, False), ("read", False), ("write", False), ("admin", True)])
def test_roles_rank_read_write_admin(api, workspace, role, can_admin):
    key = user_with_role(workspace, role)
    read = api.get(f"workspaces/{workspace.code}", headers={"Api-Key": key})
    admin = api.get(f"workspaces/{workspace.code}/memberships", headers={"Api-Key": key})
    if role is None:  # no role at all: 404 like an unknown code, so codes cannot be probed
        assert_error(read, 404, "not_found", invalid_authentication=False)
        assert_error(admin, 404, "not_found", invalid_authentication=False)
        return
    assert read.status_code == 200 and read.json()["caller"]["role"] == role
    if can_admin:
        assert admin.status_code == 200 and admin.json()[0]["role"] == "admin"
    else:
        body = assert_error(admin, 403, "insufficient_role", invalid_authentication=False)
        assert "'admin'" in body["message"] and workspace.code in body["message"]


def test_role_applies_to_tokens_and_is_read_on_every_request(api, workspace, api_user, api_key):
    token = api.get("user/apikeys/token", headers={"Api-Key": api_key}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get(f"workspaces/{workspace.code}", headers=bearer).json()["caller"]["role"] == "write"
    assert_error(
        api.get(f"workspaces/{workspace.code}/memberships", headers=bearer),
        403,
        "insufficient_role",
        invalid_authentication=False,
    )
    services.membership_remove(actor=CLI, membership=Membership.objects.get(user=api_user))
    # No role left: the workspace is as unknown to this caller as a code that names nothing.
    assert_error(
        api.get(f"workspaces/{workspace.code}", headers=bearer), 404, "not_found", invalid_authentication=False
    )


def test_another_workspace_is_404_for_a_client_so_codes_cannot_be_probed(api, workspace):
    other = services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:10]}")
    client, secret = services.client_create(actor=CLI, workspace=other)
    headers = {"x-client-key": client.client_key, "x-client-secret": secret}
    existing = api.get(f"workspaces/{workspace.code}", headers=headers)
    unknown = api.get("workspaces/ZZZZZZZZ", headers=headers)
    assert_error(existing, 404, "not_found", invalid_authentication=False)
    assert existing.json() == unknown.json()
    assert api.get(f"workspaces/{other.code}", headers=headers).status_code == 200
    # A client is its workspace's backend ("write"), not an administrator.
    assert_error(
        api.get(f"workspaces/{other.code}/memberships", headers=headers),
        403,
        "insufficient_role",
        invalid_authentication=False,
    )


def test_unknown_workspace_is_404(api, api_key):
    assert_error(api.get("workspaces/ZZZZZZZZ", headers={"Api-Key": api_key}), 404, invalid_authentication=False)


def test_invalid_api_key_on_a_role_endpoint_is_403_with_invalid_authentication(api, workspace):
    assert_error(
        api.get(f"workspaces/{workspace.code}", headers={"Api-Key": "A" * 32}),
        403,
        "invalid_api_key",
        invalid_authentication=True,
    )
