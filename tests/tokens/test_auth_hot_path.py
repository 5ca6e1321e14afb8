"""The per-request authentication path: one indexed query per credential, nothing cached that a
revocation could outlive, and the same answers as before.

In process: each authentication class is counted (django_assert_num_queries) and each credential is
revoked between two calls. Over HTTP: the shared daphne server (another process, with its own compiled
queries and memos, warmed by a first request) refuses every kind of credential on the very next request
after the test process revokes it.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.request import Request

from authplatform.errors import APIError
from authplatform.fastpaths import prepared
from credentials import selectors, services
from credentials.audit import CLI
from credentials.models import ApiKey, Client, ClientSecret, CustomerSigningKey, PlatformTokenKey, ProductSpace
from tests.live import random_loopback
from tokens import authentication, bearer, customer_jwt
from tokens.services import api_token_mint

HERE = ipaddress.ip_address("127.0.0.1")
ADDRESS = random_loopback()  # this module's requests come from here (drf_request)


def drf_request(**headers) -> Request:
    # An address of its own: with REDIS_URL the failed-authentication budget is shared with every server
    # process of the run, and other tests' refusals from 127.0.0.1 (schemathesis's) would be counted here.
    return Request(RequestFactory().get("/", REMOTE_ADDR=ADDRESS, **headers))


def customer_token(key, private_pem, product_space_code: str, *, sub: str = "CUST-1") -> str:
    now = int(time.time())
    claims = {
        "type": "customer",
        "workspace_id": key.workspace.code,
        "product_space_code": product_space_code,
        "sub": sub,
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": str(key.kid)})


@pytest.fixture
def creds(workspace, api_user, api_key):
    """One credential of each kind, plus the objects to revoke them by."""
    client, secret = services.client_create(actor=CLI, workspace=workspace, name="backend")
    signing_key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace)
    stored_api_key = ApiKey.objects.get(pk=uuid.UUID(hex=api_key[:32]))
    token = api_token_mint(actor=CLI, api_key=stored_api_key, client_ip=HERE, no_ip_protection=True).token
    product_space = workspace.product_spaces.get()
    return {
        "client": client,
        "client_secret": secret,
        "api_key": api_key,
        "stored_api_key": stored_api_key,
        "api_token": token,
        "signing_key": signing_key,
        "private_pem": private_pem,
        "customer_jwt": customer_token(signing_key, private_pem, product_space.code),
        "product_space": product_space,
    }


def _authenticators(creds):
    return {
        "client": (
            authentication.ClientCredentialsAuthentication(),
            drf_request(HTTP_X_CLIENT_KEY=creds["client"].client_key, HTTP_X_CLIENT_SECRET=creds["client_secret"]),
        ),
        "api_key": (authentication.ApiKeyAuthentication(), drf_request(HTTP_API_KEY=creds["api_key"])),
        "api_token": (
            authentication.ApiTokenAuthentication(),
            drf_request(HTTP_AUTHORIZATION=f"Bearer {creds['api_token']}"),
        ),
        "customer_jwt": (
            authentication.CustomerJWTAuthentication(),
            drf_request(HTTP_AUTHORIZATION=f"Bearer {creds['customer_jwt']}"),
        ),
    }


# One query for each credential presented: the API token is two credentials (the platform key that
# signed it and the API key it speaks for), each checked against the database on every request.
QUERIES = {"client": 1, "api_key": 1, "api_token": 2, "customer_jwt": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", sorted(QUERIES))
def test_each_authentication_is_one_query_per_credential(creds, kind, django_assert_num_queries):
    auth, request = _authenticators(creds)[kind]
    assert auth.authenticate(request) is not None  # first use: last_used_at written, memos filled
    for _ in range(3):  # every later request: only the lookups, never fewer (no cache of the credential)
        with django_assert_num_queries(QUERIES[kind]):
            assert auth.authenticate(request) is not None


def _revoke(creds, kind) -> None:
    if kind == "client":
        services.client_secret_revoke(actor=CLI, secret=ClientSecret.objects.get(client=creds["client"]))
    elif kind == "api_key":
        services.api_key_revoke(actor=CLI, api_key=creds["stored_api_key"])
    elif kind == "api_token":
        services.platform_token_key_revoke(actor=CLI, key=PlatformTokenKey.objects.get())
    else:
        services.signing_key_revoke(actor=CLI, key=CustomerSigningKey.objects.get(pk=creds["signing_key"].kid))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", sorted(QUERIES))
def test_revocation_is_refused_on_the_next_call(creds, kind):
    auth, request = _authenticators(creds)[kind]
    for _ in range(3):
        assert auth.authenticate(request) is not None
    _revoke(creds, kind)
    with pytest.raises(APIError):
        auth.authenticate(request)


@pytest.mark.django_db(transaction=True)
def test_api_token_is_refused_once_its_api_key_is_revoked(creds):
    auth, request = _authenticators(creds)["api_token"]
    assert auth.authenticate(request) is not None
    services.api_key_revoke(actor=CLI, api_key=creds["stored_api_key"])
    with pytest.raises(APIError) as error:
        auth.authenticate(request)
    assert error.value.reason == "api_key_revoked"


@pytest.mark.django_db(transaction=True)
def test_deactivated_client_and_expired_credentials_are_refused_at_once(creds):
    auth, request = _authenticators(creds)["client"]
    assert auth.authenticate(request) is not None
    services.client_deactivate(actor=CLI, client=Client.objects.get(pk=creds["client"].pk))
    with pytest.raises(APIError):
        auth.authenticate(request)
    # expiry is compared with the time of each call, not the time the query was compiled
    auth, request = _authenticators(creds)["api_key"]
    assert auth.authenticate(request) is not None
    ApiKey.objects.filter(pk=creds["stored_api_key"].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(APIError):
        auth.authenticate(request)


@pytest.mark.django_db(transaction=True)
def test_prepared_lookups_give_what_the_orm_gives(creds):
    """Same rows, same types (datetimes, UUIDs), related objects loaded, for each value bound."""
    now = timezone.now()
    key = creds["signing_key"]
    got = selectors.signing_key_get_active(kid=str(key.kid))
    orm = CustomerSigningKey.objects.active(now).select_related("workspace").get(pk=key.kid)
    assert got is not None and got._state.adding is False and got._state.db == "default"
    for field in CustomerSigningKey._meta.concrete_fields:
        assert getattr(got, field.attname) == getattr(orm, field.attname), field.name
    assert isinstance(got.kid, uuid.UUID) and got.created_at.tzinfo is not None
    assert "workspace" in got._state.fields_cache and got.workspace == orm.workspace  # no second query
    assert got.workspace.code == orm.workspace.code
    assert selectors.signing_key_get_active(kid=str(uuid.uuid4())) is None  # another value, another row

    secret = selectors.client_secret_match(client_key=creds["client"].client_key, client_secret=creds["client_secret"])
    assert secret is not None and secret.client == creds["client"]
    assert secret.client.workspace == creds["client"].workspace
    assert (
        selectors.client_secret_match(client_key=creds["client"].client_key + "x", client_secret=creds["client_secret"])
        is None
    )
    found = selectors.api_key_match(key=creds["api_key"])
    assert found == creds["stored_api_key"] and found.user.pk == creds["stored_api_key"].user_id
    platform_key = PlatformTokenKey.objects.get()
    assert selectors.platform_token_key_get_active(kid=platform_key.kid) == platform_key
    assert selectors.platform_token_key_get_active(kid=platform_key.kid + "x") is None
    assert selectors.platform_token_key_current() == platform_key
    newer = services.platform_token_key_rotate(actor=CLI, reason="test")
    assert selectors.platform_token_key_current() == newer != platform_key  # the newest unretired one
    assert selectors.platform_token_key_get_active(kid=platform_key.kid) == platform_key  # retired still verifies
    services.platform_token_key_revoke(actor=CLI, key=newer)
    assert selectors.platform_token_key_current() is None
    # a time before the credential's expiry is bound as well (not the compile-time sample)
    ApiKey.objects.filter(pk=found.pk).update(expires_at=now + timedelta(hours=1))
    assert selectors.api_key_match(key=creds["api_key"], now=now) == found
    assert selectors.api_key_match(key=creds["api_key"], now=now + timedelta(hours=2)) is None


def test_prepared_query_refuses_a_sample_it_cannot_find():
    query = prepared.PreparedQuery(
        lambda code: ProductSpace.objects.filter(code="SAMEAAAA"),  # ignores its value
        samples={"code": "ZZZZZZZZ"},
        fields={"code": ProductSpace._meta.get_field("code")},
    )
    with pytest.raises(ValueError, match="not a parameter"):
        query.all(code="ABCDEFGH")


@pytest.mark.django_db(transaction=True)
def test_product_space_is_remembered_but_a_miss_is_not(creds, workspace, django_assert_num_queries):
    key, pem = creds["signing_key"], creds["private_pem"]
    customer_jwt._product_spaces.clear()
    later_name = f"later-{uuid.uuid4().hex[:6]}"
    unknown = customer_token(key, pem, "NOSUCH00")
    with pytest.raises(customer_jwt.CredentialRefused) as error:
        customer_jwt.customer_jwt_verify(unknown)
    assert error.value.reason == "unknown_product_space"
    # created after a miss: found on the next token (the miss was not remembered)
    later = services.product_space_create(actor=CLI, workspace=workspace, name=later_name)
    token = customer_token(key, pem, later.code)
    principal = customer_jwt.customer_jwt_verify(token)
    assert principal.product_space == later and principal.product_space.name == later_name
    # then from memory: the signing key's lookup only; each call gets its own instance
    with django_assert_num_queries(1):
        again = customer_jwt.customer_jwt_verify(token)
    assert again.product_space == later and again.product_space is not principal.product_space
    # the memo is keyed by workspace too: the code is not accepted for another workspace's key
    other = services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:12]}", product_space_name="Main")
    other_key, other_pem = services.signing_key_generate(actor=CLI, workspace=other)
    with pytest.raises(customer_jwt.CredentialRefused) as error:
        customer_jwt.customer_jwt_verify(customer_token(other_key, other_pem, later.code))
    assert error.value.reason == "unknown_product_space"


def test_unverified_header_memo_returns_copies_and_never_remembers_a_failure():
    token = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": "abc"})
    first = bearer.unverified_header(token)
    first["kid"] = "changed"
    assert bearer.unverified_header(token)["kid"] == "abc"
    for _ in range(2):
        with pytest.raises(jwt.DecodeError):
            bearer.unverified_header(token[:-1] + "!")


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_every_kind_is_refused_by_the_server_process_on_the_next_request(api, creds):
    """Revoked here, refused there: the daphne process keeps nothing a revocation could outlive."""
    requests = {
        "client": lambda: api.get(
            f"workspaces/{creds['client'].workspace.code}",
            headers={"x-client-key": creds["client"].client_key, "x-client-secret": creds["client_secret"]},
        ),
        "api_key": lambda: api.get("user/apikeys/current", headers={"Api-Key": creds["api_key"]}),
        "api_token": lambda: api.get("user/apikeys/current", headers={"Authorization": f"Bearer {creds['api_token']}"}),
        "customer_jwt": lambda: api.get("customer/me", headers={"Authorization": f"Bearer {creds['customer_jwt']}"}),
    }
    for kind in ("client", "customer_jwt", "api_token", "api_key"):  # the API key last: the token needs it
        for _ in range(3):  # warm whatever the server compiles or remembers
            assert requests[kind]().status_code == 200, kind
        _revoke(creds, kind)
        assert requests[kind]().status_code in (401, 403), kind
