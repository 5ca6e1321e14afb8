"""Fixtures for the tokens tests: stored credentials, and HTTP clients with their own source address.

Each HTTP client connects from its own random loopback address (127.x.y.z; Linux routes all of
127.0.0.0/8 to lo). The server then sees a distinct client IP per test, which the IP-bound-token tests
need, and the failed-authentication throttle (per client IP) of one test never spills into another.
"""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from credentials import hashing, services
from credentials.audit import CLI


def random_loopback() -> str:
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(254) + 1}.{secrets.randbelow(253) + 2}"


@pytest.fixture
def client_from(daphne_server, transactional_db):
    """``client_from(ip=None)``: an httpx client for /api/v1/ connecting from ``ip`` (random by default)."""
    clients: list[httpx.Client] = []

    def make(ip: str | None = None) -> httpx.Client:
        ip = ip or random_loopback()
        client = httpx.Client(base_url=f"{daphne_server.api}/", timeout=20,
                              transport=httpx.HTTPTransport(local_address=ip))
        client.source_ip = ip  # what the server will see as the client IP
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(client_from) -> httpx.Client:
    return client_from()


@pytest.fixture
def workspace(transactional_db):
    return services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:12]}", product_space_name="Main")


@pytest.fixture
def api_user(workspace):
    return services.api_user_create(actor=CLI, email=f"{uuid.uuid4().hex[:12]}@example.com",
                                    workspace=workspace, role="write")


@pytest.fixture
def api_key(api_user) -> str:
    """A 64-char key (plaintext) of ``api_user``."""
    return services.api_key_create(actor=CLI, user=api_user, comment="fixture")[1]


@pytest.fixture
def legacy_key(api_user) -> str:
    """An imported legacy 32-char key (plaintext) of ``api_user``."""
    key = hashing.random_base62(32)
    services.api_key_import_legacy(actor=CLI, user=api_user, key=key, comment="legacy")
    return key


def assert_error(response: httpx.Response, code: int, reason: str | None = None, *,
                 invalid_authentication: bool) -> dict:
    """The one error body, exactly: code, message, reason and the flag only when credentials were bad."""
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if reason is not None:
        assert body["reason"] == reason, body
    if invalid_authentication:
        assert body["invalid_authentication"] is True
    else:
        assert "invalid_authentication" not in body
    assert set(body) <= {"code", "message", "reason", "invalid_authentication", "details"}
    return body
