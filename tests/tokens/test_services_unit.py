"""Token minting/verification and role helpers called directly, as the send API and admin would."""

import ipaddress
from types import SimpleNamespace

import jwt
import pytest

from authplatform.errors import InvalidInput, NotPermitted, domain_error_status
from credentials import services
from credentials.audit import CLI
from credentials.models import AuditEvent, PlatformTokenKey
from tokens.api_tokens import CredentialRefused, api_token_verify
from tokens.permissions import caller_can, caller_require
from tokens.principals import ApiKeyAuth, ClientPrincipal
from tokens.services import api_token_mint

pytestmark = pytest.mark.django_db

HERE = ipaddress.ip_address("198.51.100.4")
ELSEWHERE = ipaddress.ip_address("198.51.100.5")


@pytest.fixture
def stored_key(api_user):
    return services.api_key_create(actor=CLI, user=api_user)[0]


def test_first_mint_creates_the_platform_key_and_verifies(stored_key):
    assert not PlatformTokenKey.objects.exists()
    minted = api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE)
    key = PlatformTokenKey.objects.get()
    assert jwt.get_unverified_header(minted.token)["kid"] == key.kid
    verified = api_token_verify(minted.token, ip=HERE)
    assert verified.api_key == stored_key and verified.payload == minted.payload
    with pytest.raises(CredentialRefused) as error:
        api_token_verify(minted.token, ip=ELSEWHERE)
    assert error.value.reason == "ip_not_allowed"
    # A second mint reuses the key; the issue is audited without the token.
    api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE)
    assert PlatformTokenKey.objects.count() == 1
    events = AuditEvent.objects.filter(action="api_token.issue", target_id=str(stored_key.pk))
    assert events.count() == 2
    assert all(minted.token not in str(e.details) for e in events)


def test_renewal_rules(stored_key):
    first = api_token_mint(
        actor=CLI, api_key=stored_key, client_ip=HERE, expires_in=3600, ips="request_ip,192.0.2.0/24"
    ).payload
    same = api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE, renewing=first).payload
    assert (same["expt"], same["ips"], same["rn"]) == (3600, first["ips"], True)
    with pytest.raises(NotPermitted) as error:
        api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE, renewing=first, expires_in=3601)
    assert error.value.reason == "renewal_exceeds_expt" and domain_error_status(error.value) == 403
    with pytest.raises(NotPermitted, match="addresses"):
        api_token_mint(actor=CLI, api_key=stored_key, client_ip=ELSEWHERE, renewing=first, ips="request_ip")
    with pytest.raises(NotPermitted):
        api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE, renewing={**first, "rn": False})
    with pytest.raises(InvalidInput):
        api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE, no_ip_protection=True, ips="1.2.3.4")
    unprotected = api_token_mint(actor=CLI, api_key=stored_key, client_ip=None, no_ip_protection=True).payload
    assert (unprotected["ips"], unprotected["rn"]) == ([], False)


def test_caller_can(workspace, api_user, stored_key):
    def request(user, auth):
        return SimpleNamespace(user=user, auth=auth)

    as_user = request(api_user, ApiKeyAuth(api_key=stored_key))  # role "write" (fixture)
    assert caller_can(as_user, workspace, "read") and caller_can(as_user, workspace, "write")
    assert not caller_can(as_user, workspace, "admin")
    assert not caller_can(as_user, workspace, "no-such-role")
    with pytest.raises(NotPermitted) as error:
        caller_require(as_user, workspace=workspace, role="admin")
    assert error.value.reason == "insufficient_role" and domain_error_status(error.value) == 403

    other = services.workspace_create(actor=CLI, name="other-ws")
    assert not caller_can(request(api_user, ApiKeyAuth(api_key=stored_key)), other, "read")

    client, _ = services.client_create(actor=CLI, workspace=workspace)
    principal = ClientPrincipal(client=client, secret=client.secrets.get())
    assert caller_can(request(principal, principal), workspace, "write")
    assert not caller_can(request(principal, principal), workspace, "admin")
    assert not caller_can(request(principal, principal), other, "read")

    customer = SimpleNamespace(is_authenticated=True)  # customers never hold a role
    assert not caller_can(request(customer, {}), workspace, "read")
    assert not caller_can(request(None, None), workspace, "read")


def test_verifying_a_token_records_the_use_of_its_platform_key(stored_key):
    minted = api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE)
    key = PlatformTokenKey.objects.get()
    assert key.last_used_at is None
    api_token_verify(minted.token, ip=HERE)
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_token_of_a_revoked_key_says_the_key_is_no_longer_active(stored_key):
    minted = api_token_mint(actor=CLI, api_key=stored_key, client_ip=HERE)
    services.api_key_revoke(actor=CLI, api_key=stored_key)
    with pytest.raises(CredentialRefused) as error:
        api_token_verify(minted.token, ip=HERE)
    assert error.value.reason == "api_key_revoked" and "revoked" in error.value.message
