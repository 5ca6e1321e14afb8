"""Values no database column can hold (a NUL byte above all: PostgreSQL refuses it in text with a
DataError) are refused before they reach a query, with the documented status and error body.

Runs against the real daphne server on both CI passes; on PostgreSQL each of these was a 500.
"""

from __future__ import annotations

import base64
import json
import socket

import pytest

from credentials.models import AuditEvent
from tests.live import api_client, assert_error

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

NUL_VALUES = ["\x00", "ab\x00cd", "AB\x00CD00"]


def unsigned_jwt(header: dict, payload: dict | None = None) -> str:
    """A JWT-shaped token with the given header (signature bytes are junk: refused before they matter)."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload or {'sub': 'x'})}.c2ln"


@pytest.mark.parametrize("kid", NUL_VALUES)
def test_bearer_kid_with_nul_is_an_unknown_signing_key(api, kid):
    # A kid that is no UUID marks an API token: the endpoints that take API tokens refuse its key...
    token = unsigned_jwt({"alg": "HS256", "typ": "JWT", "kid": kid})
    for path in ("user", "in-app-messages", "workspaces/ABCDEFGH"):
        response = api.get(path, headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, "signing_key_unknown", invalid_authentication=True)
    # ...and the customer endpoints say they take customer JWTs only.
    for path in ("customer/me", "customer/inbox"):
        response = api.get(path, headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, "credentials_not_accepted", invalid_authentication=True)


def test_customer_jwt_on_a_server_endpoint_is_told_what_it_accepts(api):
    token = unsigned_jwt({"alg": "RS256", "typ": "JWT", "kid": "5a3b1e00-0000-4000-8000-00000000a11e"})
    for path in ("in-app-messages", "workspaces/ABCDEFGH"):
        response = api.get(path, headers={"Authorization": f"Bearer {token}"})
        body = assert_error(response, 401, "credentials_not_accepted", invalid_authentication=True)
        assert body["message"] == (
            "This endpoint accepts client credentials (x-client-key and x-client-secret), an API key (Api-Key) "
            "or an API token (Authorization: Bearer, minted from an API key); the request sent a customer JWT "
            "(Authorization: Bearer), which it does not accept."
        )
        assert response.headers["www-authenticate"] == 'ClientSecret realm="api"'


@pytest.mark.parametrize("code", ["AB%00CD", "AB%00CDEF", "%00", "ABCDEFG%00"])
def test_workspace_code_with_nul_is_not_found(api, api_key, code):
    for suffix in ("", "/memberships"):
        response = api.get(f"workspaces/{code}{suffix}", headers={"Api-Key": api_key})
        assert_error(response, 404)


def test_api_key_id_with_nul_is_not_found(api, api_key):
    response = api.delete("user/apikeys/%00", headers={"Api-Key": api_key})
    assert_error(response, 404)


def raw_get(server, path: str, headers: dict[str, bytes]) -> tuple[int, dict]:
    """A GET whose header values may hold bytes httpx refuses to send (a NUL)."""
    lines = [f"GET {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body) if body else {}


@pytest.mark.parametrize("client_key", [b"\x00", b"ck_\x00abc"])
def test_client_key_with_nul_is_refused_as_wrong(daphne_server, transactional_db, client_key):
    status, body = raw_get(
        daphne_server, "/api/v1/in-app-messages", {"x-client-key": client_key, "x-client-secret": b"cs_whatever"}
    )
    assert status in (400, 401), body
    assert body["code"] == status


def test_json_body_with_nul_is_a_400_and_changes_nothing(api, api_key, api_user, workspace):
    before = (AuditEvent.objects.count(), api_user.api_keys.count())
    # Each field refuses a NUL itself, so the answer says which one (details).
    response = api.post("user/apikeys", headers={"Api-Key": api_key}, json={"comment": "a\x00b"})
    assert assert_error(response, 400, "invalid_request")["details"] == {
        "comment": ["Null characters are not allowed."]
    }
    send = {
        "product_space_code": workspace.product_spaces.first().code,
        "recipients": ["a\x00b"],
        "title": "t",
        "body": "b",
        "category": "c",
    }
    response = api.post("in-app-messages", headers={"Api-Key": api_key}, json=send)
    assert "recipients" in assert_error(response, 400, "invalid_request")["details"]
    assert (AuditEvent.objects.count(), api_user.api_keys.count()) == before


def test_query_parameter_with_nul_is_not_a_500(api, api_key):
    response = api.get("workspaces/ABCDEFGH?x=%00", headers={"Api-Key": api_key})
    assert response.status_code == 404


def test_refused_unstorable_kids_count_against_the_failure_budget(daphne_server_factory):
    # Its own server with a small burst (the shared one has a burst no test reaches).
    burst = 3
    server = daphne_server_factory(AUTH_FAILURE_BURST=str(burst), AUTH_FAILURE_WINDOW="3600")
    token = unsigned_jwt({"alg": "HS256", "kid": "ab\x00cd"})
    with api_client(server) as attacker:
        for _ in range(burst):
            assert_error(
                attacker.get("user", headers={"Authorization": f"Bearer {token}"}),
                401,
                "signing_key_unknown",
                invalid_authentication=True,
            )
        response = attacker.get("user", headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 429, "too_many_authentication_failures", invalid_authentication=True)
