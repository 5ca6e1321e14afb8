"""Client credentials (x-client-key + x-client-secret) over real HTTP, on ``GET workspaces/{code}``."""

import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import Client
from tests.live import assert_error

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

CHALLENGE = 'ClientSecret realm="api"'


@pytest.fixture
def client_credentials(workspace):
    client, secret = services.client_create(actor=CLI, workspace=workspace, name="backend")
    return client.client_key, secret


def creds(key, secret) -> dict:
    return {"x-client-key": key, "x-client-secret": secret}


def assert_refused(response, reason):
    assert_error(response, 401, reason, invalid_authentication=True)
    assert response.headers["www-authenticate"] == CHALLENGE


def test_valid_credentials_say_which_client_and_workspace(api, workspace, client_credentials):
    key, secret = client_credentials
    response = api.get(f"workspaces/{workspace.code}", headers=creds(key, secret))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["workspace_id"] == workspace.code
    assert body["product_spaces"][0]["code"] == workspace.product_spaces.get().code
    assert body["caller"] == {"type": "client", "client_key": key, "role": "write"}
    assert Client.objects.get(client_key=key).last_used_at is not None


def test_wrong_secret_is_401(api, workspace, client_credentials):
    key, secret = client_credentials
    assert_refused(
        api.get(f"workspaces/{workspace.code}", headers=creds(key, secret + "x")), "invalid_client_credentials"
    )
    assert_refused(
        api.get(f"workspaces/{workspace.code}", headers=creds("ck_unknown", secret)), "invalid_client_credentials"
    )


@pytest.mark.parametrize("header", ["x-client-key", "x-client-secret"])
def test_only_one_header_is_401(api, workspace, client_credentials, header):
    key, secret = client_credentials
    value = key if header == "x-client-key" else secret
    assert_refused(api.get(f"workspaces/{workspace.code}", headers={header: value}), "client_credentials_incomplete")


def test_no_credentials_is_401_with_challenge(api, workspace):
    response = api.get(f"workspaces/{workspace.code}")
    assert_error(response, 401, "not_authenticated", invalid_authentication=True)
    assert response.headers["www-authenticate"] == CHALLENGE


def test_rotation_keeps_the_old_secret_during_grace(api, workspace, client_credentials):
    key, old = client_credentials
    client = Client.objects.get(client_key=key)
    _, new = services.client_secret_rotate(actor=CLI, client=client, grace_seconds=3600)
    assert api.get(f"workspaces/{workspace.code}", headers=creds(key, old)).status_code == 200
    assert api.get(f"workspaces/{workspace.code}", headers=creds(key, new)).status_code == 200
    # Rotating again without grace ends both earlier secrets at once.
    _, newest = services.client_secret_rotate(actor=CLI, client=client, grace_seconds=0)
    assert_refused(api.get(f"workspaces/{workspace.code}", headers=creds(key, old)), "invalid_client_credentials")
    assert_refused(api.get(f"workspaces/{workspace.code}", headers=creds(key, new)), "invalid_client_credentials")
    assert api.get(f"workspaces/{workspace.code}", headers=creds(key, newest)).status_code == 200


def test_revoked_secret_and_deactivated_client_are_401(api, workspace, client_credentials):
    key, secret = client_credentials
    client = Client.objects.get(client_key=key)
    services.client_secret_revoke(actor=CLI, secret=client.secrets.get())
    assert_refused(api.get(f"workspaces/{workspace.code}", headers=creds(key, secret)), "invalid_client_credentials")

    _, fresh = services.client_secret_rotate(actor=CLI, client=client, grace_seconds=0)
    assert api.get(f"workspaces/{workspace.code}", headers=creds(key, fresh)).status_code == 200
    services.client_deactivate(actor=CLI, client=client)
    assert_refused(api.get(f"workspaces/{workspace.code}", headers=creds(key, fresh)), "invalid_client_credentials")
