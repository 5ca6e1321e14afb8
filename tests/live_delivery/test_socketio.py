"""Live delivery over Socket.IO, against real daphne processes (docs/design.md "Live delivery").

Clients: python-socketio's AsyncClient; raw aiohttp WebSockets for the protocol's edge cases; and the
first seed document's JavaScript example through the real socket.io-client package
(tests/js/socketio_seed_client.mjs). Messages are sent through the send API over HTTP, as a
customer's backend would; revocation goes through credentials.services in this process, which the
server processes learn of through the live bus (Redis) or their signing-key recheck.

The tests use ``transactional_db``: the server processes only see committed data.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import secrets
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import jwt
import pytest
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connections

from credentials import services as credential_services
from credentials.audit import CLI
from credentials.models import CustomerSigningKey, ProductSpace, User, Workspace
from tests.asyncapi_conformance import asyncapi
from tests.live import JS_DIR, LiveServer, random_loopback

SOCKET_PATH = "/api/v1/wss/socket.io"
WAIT = 10.0  # upper bound for anything that should happen "now"

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

# A server with a fast heartbeat and small limits, for the protocol tests.
# Its signing-key recheck is off, so a revocation can reach its sockets only through the signal and
# the live bus.
TUNED_ENV = {
    "SOCKETIO_PING_INTERVAL_MS": "400",
    "SOCKETIO_PING_TIMEOUT_MS": "400",
    "SOCKETIO_MAX_PAYLOAD_BYTES": "4096",
    "SOCKETIO_CONNECT_TIMEOUT_MS": "1500",
    "SOCKETIO_KEY_RECHECK_MS": "0",
}


@pytest.fixture(scope="module")
def tuned_server(django_db_setup, django_db_blocker):
    server = LiveServer(extra_env=TUNED_ENV).start()
    yield server
    server.stop()


# --- test data ----------------------------------------------------------------------------------
@dataclass
class Tenant:
    """A workspace with a product space, a signing key (private half kept) and a client."""

    workspace: Workspace
    product_space: ProductSpace
    key: CustomerSigningKey
    private_pem: str
    client_key: str
    client_secret: str

    def token(
        self,
        customer_id: str,
        *,
        product_space: ProductSpace | None = None,
        lifetime: int = 900,
        private_pem: str | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A customer JWT as the seed's example makes it; keyword claims override (None drops one)."""
        now = int(time.time())
        payload = {
            "type": "customer",
            "workspace_id": self.workspace.code,
            "product_space_code": (product_space or self.product_space).code,
            "sub": customer_id,
            "iat": now,
            "exp": now + lifetime,
            "jti": f"customer-{customer_id}-{now}",
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(
            payload, private_pem or self.private_pem, algorithm="RS256", headers={"kid": kid or str(self.key.kid)}
        )

    def seed_env(self, customer_id: str, *, product_space: ProductSpace | None = None) -> dict[str, str]:
        """The seed's CUSTOMER_* variables, from the block `manage.py createsigningkey` prints."""
        block = credential_services.customer_env_block(
            key=self.key, private_pem=self.private_pem, product_space=product_space or self.product_space
        )
        env = {}
        for line in block.splitlines():
            name, _, value = line.partition("=")
            env[name] = value.strip('"')
        env["CUSTOMER_UNIQUE_CUSTOMER_ID"] = customer_id
        return env


def make_tenant() -> Tenant:
    workspace = credential_services.workspace_create(
        actor=CLI, name=f"sio-{uuid.uuid4().hex[:12]}", product_space_name="app"
    )
    key, private_pem = credential_services.signing_key_generate(actor=CLI, workspace=workspace)
    client, secret = credential_services.client_create(actor=CLI, workspace=workspace, name="backend")
    return Tenant(
        workspace=workspace,
        product_space=workspace.product_spaces.get(),
        key=key,
        private_pem=private_pem,
        client_key=client.client_key,
        client_secret=secret,
    )


def other_private_pem() -> str:
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


def send_message(
    server: LiveServer, tenant: Tenant, recipients: list[str], *, title: str, product_space: ProductSpace | None = None
) -> dict:
    """POST /api/v1/in-app-messages as the tenant's backend (docs/design.md "HTTP API")."""
    response = httpx.post(
        f"{server.api}/in-app-messages",
        headers={"x-client-key": tenant.client_key, "x-client-secret": tenant.client_secret},
        json={
            "product_space_code": (product_space or tenant.product_space).code,
            "recipients": recipients,
            "title": title,
            "body": f"body of {title}",
            "category": "news",
        },
        timeout=WAIT,
    )
    assert response.status_code == 202, response.text
    return response.json()


def admin_signed_in(server: LiveServer) -> httpx.Client:
    """An HTTP client signed in to Django admin on ``server`` as a new superuser (call it before the
    scenario's event loop runs: it writes to the database and hashes a password)."""
    password = secrets.token_urlsafe(16)
    username = f"admin-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username=username, email=f"{username}@example.com", password=password)
    http = httpx.Client(base_url=server.url, timeout=WAIT)
    login = http.get("/admin/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    signed_in = http.post(
        "/admin/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf, "next": "/admin/"},
    )
    assert signed_in.status_code == 302, signed_in.text
    return http


def revoke_in_admin(admin: httpx.Client, key: CustomerSigningKey, *, reason: str = "revoked in a test") -> None:
    """Revoke a signing key as an admin does: the change list's "revoke" action, confirmed
    (credentials/admin.py), which calls credentials.services.signing_key_revoke in the server process."""
    revoked = admin.post(
        "/admin/credentials/customersigningkey/",
        data={
            "action": "revoke",
            "index": "0",
            "_selected_action": str(key.kid),
            "confirm": "yes",
            "reason": reason,
            "csrfmiddlewaretoken": admin.cookies["csrftoken"],
        },
    )
    assert revoked.status_code == 302, revoked.text
    assert "Revoked 1 signing key" in admin.get(revoked.headers["location"]).text


# --- clients --------------------------------------------------------------------------------------
class PyClient:
    """python-socketio's AsyncClient, recording every event it hears, in order.

    Each connects from its own 127.x.y.z (or ``source``), so refusals in one test never spend the
    per-IP failed-authentication budget of another.
    """

    def __init__(self, source: str | None = None) -> None:
        self.source = source or random_loopback()
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(self.source, 0)))
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.events: list[tuple[str, Any]] = []
        sio = self.sio

        @sio.event
        async def connect():
            self.events.append(("connect", sio.get_sid()))

        @sio.event
        async def connect_error(data=None):
            self.events.append(("connect_error", data))
            if isinstance(data, dict):  # the server's CONNECT_ERROR (a failed handshake is a string)
                asyncapi.observe("connect_error", data)

        @sio.event
        async def disconnect(reason=None):
            self.events.append(("disconnect", reason))

        @sio.on("*")
        async def any_event(event, *args):
            self.events.append((event, args[0] if args else None))
            asyncapi.observe(event, args[0] if args else None)  # as docs/asyncapi.yaml says it is

    async def connect(
        self,
        server: LiveServer,
        token: str | None,
        *,
        path: str = SOCKET_PATH,
        auth: Any = None,
        namespaces: list[str] | None = None,
    ) -> bool:
        if auth is None and token is not None:
            auth = {"token": f"Bearer {token}"}
        try:
            await self.sio.connect(
                server.url,
                socketio_path=path,
                transports=["websocket"],
                auth=auth,
                namespaces=namespaces,
                wait_timeout=WAIT,
            )
        except socketio.exceptions.ConnectionError:
            return False
        return True

    def data(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for(self, event: str, count: int = 1, timeout: float = WAIT) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.data(event)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count}× {event!r} within {timeout}s; heard {self.events!r}")
            await asyncio.sleep(0.02)
        return self.data(event)

    async def close(self) -> None:
        await self.sio.disconnect()
        await self.http.close()


class RawSocket:
    """A bare WebSocket speaking Engine.IO by hand, for what well-behaved clients never send.

    A background reader answers the server's pings (unless ``answer_pings`` is off) and queues every
    other frame; None in the queue means the server closed the connection.
    """

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, handshake: dict):
        self.session = session
        self.ws = ws
        self.handshake = handshake
        self.answer_pings = True
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(
        cls, server: LiveServer, *, path: str = SOCKET_PATH + "/", query: str = "EIO=4&transport=websocket"
    ) -> RawSocket:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=WAIT))
        try:
            ws = await session.ws_connect(
                f"ws://127.0.0.1:{server.port}{path}?{query}", timeout=aiohttp.ClientWSTimeout(ws_close=WAIT)
            )
            first = await ws.receive_str(timeout=WAIT)
        except BaseException:
            await session.close()
            raise
        assert first.startswith("0"), first
        return cls(session, ws, json.loads(first[1:]))

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                await self.frames.put(None)
                return
            if message.data == "2":
                if self.answer_pings:
                    await self.ws.send_str("3")
                continue
            await self.frames.put(message.data)

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def receive(self, timeout: float = WAIT) -> str | None:
        """The next frame that is not a ping; None once closed. asyncio.TimeoutError if none comes."""
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def connect_customer(self, token: str) -> str | None:
        """CONNECT with ``token``; the server's answer. An accepted CONNECT is followed by the customer's
        unread count and counts (with the offset: docs/clients.md), read here and kept in
        ``connected_count`` and ``connected_counts``."""
        await self.send("40" + json.dumps({"token": f"Bearer {token}"}))
        answer = await self.receive()
        if answer is not None and answer.startswith("40{"):
            self.connected_count = await self.receive()
            assert self.connected_count is not None and self.connected_count.startswith('42["unreadCount",')
            self.connected_counts = await self.receive()
            assert self.connected_counts is not None and self.connected_counts.startswith('42["counts",')
        return answer

    async def closed_with(self, timeout: float = WAIT) -> int:
        """Read until the server closes; its close code."""
        async with asyncio.timeout(timeout):
            while (await self.frames.get()) is not None:
                pass
        return self.ws.close_code

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()
        await self.session.close()


class NodeSocket:
    """tests/js/socketio_seed_client.mjs (the seed's example on socket.io-client) as a subprocess."""

    def __init__(self, server: LiveServer, env: dict[str, str], *, script: str = "socketio_seed_client.mjs"):
        self.lines: list[str] = []
        self._records: queue.Queue[dict] = queue.Queue()
        self.records: list[dict] = []
        self.process = subprocess.Popen(
            ["node", str(JS_DIR / script)],
            cwd=JS_DIR,
            text=True,
            env={**os.environ, "SERVER_URL": server.url, "MAX_SECONDS": "60", **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith("@@ "):
                self._records.put(json.loads(line[3:]))

    def wait_for(self, event: str, timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        for record in self.records:
            if record["event"] == event:
                return record
        while True:
            try:
                record = self._records.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"node heard no {event!r} within {timeout}s:\n" + "\n".join(self.lines)) from None
            self.records.append(record)
            if record["event"] == event:
                return record

    def wait_for_count(self, event: str, count: int, timeout: float = WAIT) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(heard := self.heard(event)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"node heard {len(heard)} {event!r}, not {count}:\n" + "\n".join(self.lines))
            time.sleep(0.02)
        return heard

    def heard(self, event: str) -> list[dict]:
        while not self._records.empty():
            self.records.append(self._records.get_nowait())
        return [r for r in self.records if r["event"] == event]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run(coro):
    """Run one scenario on a fresh event loop (the tests themselves are sync: transactional_db)."""
    return asyncio.run(asyncio.wait_for(coro, 90))


async def in_db_thread(function, *args, **kwargs):
    """Django's ORM from inside a scenario: in a worker thread, whose connection is closed after (one
    left open would keep the test database from being dropped)."""

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(call)


async def still_silent(client: PyClient, event: str, seconds: float) -> None:
    await asyncio.sleep(seconds)
    assert client.data(event) == [], client.events


# --- connecting and receiving -------------------------------------------------------------------
def test_python_client_connects_and_receives_in_app_message(daphne_server):
    tenant = make_tenant()

    async def scenario():
        client = PyClient()
        assert await client.connect(daphne_server, tenant.token("CUSTOMER3")), client.events
        sid = client.data("connect")[0]
        assert isinstance(sid, str) and len(sid) >= 16
        sent = await asyncio.to_thread(send_message, daphne_server, tenant, ["CUSTOMER3"], title="Hello")
        [message] = await client.wait_for("inAppMessage")
        assert message["title"] == "Hello" and message["body"] == "body of Hello"
        assert message["id"] == sent["id"]
        # The count right after connecting (so a client holds an offset before any message), then the new one.
        assert await client.wait_for("unreadCount", 2) == [{"count": 0}, {"count": 1}]
        await client.close()

    run(scenario())


def test_every_socket_of_the_customer_receives_and_nobody_else(daphne_server):
    """Several tabs of one customer all get it; the same customer id in another product space or
    workspace, and another customer of the same product space, get only their own messages."""
    tenant, other_tenant = make_tenant(), make_tenant()
    second_space = credential_services.product_space_create(actor=CLI, workspace=tenant.workspace, name="second")

    async def scenario():
        sockets = {
            "tab1": (PyClient(), tenant.token("CUSTOMER3")),
            "tab2": (PyClient(), tenant.token("CUSTOMER3")),
            "other_customer": (PyClient(), tenant.token("CUSTOMER4")),
            "other_space": (PyClient(), tenant.token("CUSTOMER3", product_space=second_space)),
            "other_workspace": (PyClient(), other_tenant.token("CUSTOMER3")),
        }
        for name, (client, token) in sockets.items():
            assert await client.connect(daphne_server, token), (name, client.events)

        await asyncio.to_thread(send_message, daphne_server, tenant, ["CUSTOMER3"], title="for tabs")
        await asyncio.to_thread(send_message, daphne_server, tenant, ["CUSTOMER4"], title="for 4")
        await asyncio.to_thread(
            send_message, daphne_server, tenant, ["CUSTOMER3"], title="for space 2", product_space=second_space
        )
        await asyncio.to_thread(send_message, daphne_server, other_tenant, ["CUSTOMER3"], title="for ws 2")
        expected = {
            "tab1": "for tabs",
            "tab2": "for tabs",
            "other_customer": "for 4",
            "other_space": "for space 2",
            "other_workspace": "for ws 2",
        }
        for client, _ in sockets.values():
            await client.wait_for("inAppMessage")
        await asyncio.sleep(0.5)  # anything misrouted would have arrived by now
        for name, (client, _) in sockets.items():
            assert [m["title"] for m in client.data("inAppMessage")] == [expected[name]], name
            await client.close()

    run(scenario())


def test_seed_javascript_example_connects_and_receives(daphne_server):
    tenant = make_tenant()
    node = NodeSocket(daphne_server, tenant.seed_env("CUSTOMER3"))
    try:
        connected = node.wait_for("connect")
        send_message(daphne_server, tenant, ["CUSTOMER3"], title="Hello from the seed")
        received = node.wait_for("inAppMessage")
        assert received["message"]["title"] == "Hello from the seed"
        assert node.wait_for_count("unreadCount", 2)[1]["data"] == {"count": 1}
        # The seed's own handlers ran: its console lines are there.
        assert f"Connected: {connected['id']}" in node.lines
        assert any(line.startswith("Received in-app message:") for line in node.lines)
    finally:
        node.close()


def test_seed_javascript_example_sees_connect_error_reason(daphne_server):
    tenant, other_tenant = make_tenant(), make_tenant()
    env = tenant.seed_env("CUSTOMER3")
    env["CUSTOMER_WORKSPACE_ID"] = other_tenant.workspace.code
    node = NodeSocket(daphne_server, env)
    try:
        error = node.wait_for("connect_error")
        assert error["message"] == "The token's 'workspace_id' is not the signing key's workspace."
        assert error["data"] == {"reason": "wrong_workspace"}
        assert f"WebSocket connection failed: {error['message']}" in node.lines
        assert node.heard("connect") == []
    finally:
        node.close()


# --- refused tokens -------------------------------------------------------------------------------
BAD_TOKENS = {
    # name: (how to make it from a tenant and another tenant, expected reason)
    "expired": (lambda t, o: t.token("C1", lifetime=-120), "token_expired"),
    "invalid_signature": (lambda t, o: t.token("C1", private_pem=other_private_pem()), "invalid_signature"),
    "unknown_key": (lambda t, o: t.token("C1", kid=str(uuid.uuid4())), "signing_key_unknown"),
    "wrong_type": (lambda t, o: t.token("C1", type="admin"), "wrong_token_type"),
    "wrong_workspace": (lambda t, o: t.token("C1", workspace_id=o.workspace.code), "wrong_workspace"),
    "other_workspace_product_space": (
        lambda t, o: t.token("C1", product_space=o.product_space),
        "unknown_product_space",
    ),
    "not_a_jwt": (lambda t, o: "not-a-jwt", "token_malformed"),
    # JSON can carry what an HTTP header cannot: a lone surrogate in the token, NUL in signed claims
    "lone_surrogate_in_token": (lambda t, o: t.token("C1")[:-4] + "\ud800", "token_malformed"),
    "nul_in_sub": (lambda t, o: t.token("C\x001"), "invalid_claims"),
    "lone_surrogate_in_sub": (lambda t, o: t.token("C\ud8001"), "invalid_claims"),
    "nul_in_product_space_code": (
        lambda t, o: t.token("C1", product_space_code="ABCD\x00EFG"),
        "unknown_product_space",
    ),
}


@pytest.mark.parametrize("case", BAD_TOKENS)
def test_bad_token_gets_connect_error_with_its_reason(daphne_server, case):
    tenant, other_tenant = make_tenant(), make_tenant()
    make_token, reason = BAD_TOKENS[case]
    token = make_token(tenant, other_tenant)

    async def scenario():
        client = PyClient()
        assert not await client.connect(daphne_server, token)
        [error] = client.data("connect_error")
        assert error["data"] == {"reason": reason}
        assert isinstance(error["message"], str) and len(error["message"]) > 10
        assert client.data("connect") == []
        await client.close()

    run(scenario())


@pytest.mark.parametrize("auth", [None, {}, {"token": 42}, {"token": "Basic abc"}, {"token": "Bearer a b"}, "Bearer x"])
def test_missing_or_malformed_auth_gets_connect_error(daphne_server, auth):
    async def scenario():
        client = PyClient()
        assert not await client.connect(daphne_server, None, auth=auth)
        [error] = client.data("connect_error")
        assert error["data"] == {"reason": "token_missing"}
        assert "Bearer <jwt>" in error["message"]
        await client.close()

    run(scenario())


def test_failed_connects_spend_the_same_per_ip_budget_as_the_rest_api(daphne_server_factory):
    """Over AUTH_FAILURE_BURST refusals in a 60 s window from one address, refusals say so; a good
    token from that address still connects (only failures are throttled)."""
    server = daphne_server_factory(AUTH_FAILURE_BURST="3")
    tenant = make_tenant()
    bad_token = tenant.token("C1", lifetime=-120)

    async def scenario(source: str) -> list[str]:
        reasons = []
        for _ in range(4):
            client = PyClient(source)
            assert not await client.connect(server, bad_token)
            reasons.append(client.data("connect_error")[0]["data"]["reason"])
            await client.close()
        good = PyClient(source)
        assert await good.connect(server, tenant.token("C1"))
        await good.close()
        return reasons

    window = int(time.time() // 60)
    reasons = run(scenario(random_loopback()))
    if int(time.time() // 60) != window:  # the throttle's fixed window turned mid-loop: once more
        reasons = run(scenario(random_loopback()))
    assert reasons == ["token_expired"] * 3 + ["too_many_authentication_failures"]


# --- the session ends: revocation, expiry -------------------------------------------------------
def test_revoking_the_signing_key_disconnects_its_sockets(daphne_server):
    """Only the sockets of the revoked key go; another key's socket of the same workspace stays."""
    tenant = make_tenant()
    other_key, other_pem = credential_services.signing_key_generate(actor=CLI, workspace=tenant.workspace)

    async def scenario():
        doomed, survivor = PyClient(), PyClient()
        assert await doomed.connect(daphne_server, tenant.token("C1"))
        assert await survivor.connect(daphne_server, tenant.token("C1", private_pem=other_pem, kid=str(other_key.kid)))
        started = time.monotonic()
        await in_db_thread(credential_services.signing_key_revoke, actor=CLI, key=tenant.key, reason="test")
        [reason] = await doomed.wait_for("disconnect")
        elapsed = time.monotonic() - started
        assert reason == doomed.sio.reason.SERVER_DISCONNECT
        [ended] = doomed.data("sessionEnded")
        assert ended["reason"] == "signing_key_revoked" and "revoked" in ended["message"]
        # The signal reaches this server only through Redis; without it the server's once-a-second
        # recheck of its sockets' keys does.
        assert elapsed < 3.0, elapsed
        await still_silent(survivor, "disconnect", 1.2)
        await asyncio.to_thread(send_message, daphne_server, tenant, ["C1"], title="after revocation")
        await survivor.wait_for("inAppMessage")
        # The revoked key's token is refused from now on.
        again = PyClient()
        assert not await again.connect(daphne_server, tenant.token("C1"))
        assert again.data("connect_error")[0]["data"] == {"reason": "signing_key_unknown"}
        for client in (doomed, survivor, again):
            await client.close()

    run(scenario())


def test_revoking_in_the_admin_disconnects_within_a_second(tuned_server):
    """The admin's revocation runs in the server process: its signal reaches the key's sessions through
    the live bus (the tuned server has no recheck to fall back on)."""
    tenant = make_tenant()
    admin = admin_signed_in(tuned_server)

    async def scenario():
        client = PyClient()
        assert await client.connect(tuned_server, tenant.token("C1"))
        started = time.monotonic()
        await asyncio.to_thread(revoke_in_admin, admin, tenant.key)
        await client.wait_for("disconnect", timeout=2)
        assert time.monotonic() - started < 1.0
        assert client.data("sessionEnded")[0]["reason"] == "signing_key_revoked"
        admin.close()
        await client.close()

    run(scenario())


def test_token_expiry_ends_the_session_without_a_namespace_disconnect(daphne_server):
    tenant = make_tenant()

    async def scenario():
        client = PyClient()
        started = time.monotonic()
        assert await client.connect(daphne_server, tenant.token("C1", lifetime=2))
        [reason] = await client.wait_for("disconnect", timeout=6)
        assert 1.0 < time.monotonic() - started < 4.5
        # The transport closes, with no DISCONNECT packet: a client reconnects by itself, with a fresh token
        # from an `auth` function (tests/live_delivery/test_recovery.py); a DISCONNECT would stop it.
        assert reason != client.sio.reason.SERVER_DISCONNECT
        assert client.data("sessionEnded")[0]["reason"] == "token_expired"
        await client.close()

    run(scenario())


def test_seed_javascript_example_is_disconnected_on_revocation(daphne_server):
    tenant = make_tenant()
    node = NodeSocket(daphne_server, tenant.seed_env("CUSTOMER3"))
    try:
        node.wait_for("connect")
        credential_services.signing_key_revoke(actor=CLI, key=tenant.key, reason="test")
        assert node.wait_for("sessionEnded")["data"]["reason"] == "signing_key_revoked"
        # "io server disconnect": socket.io-client does not reconnect on its own with the dead token.
        assert node.wait_for("disconnect")["reason"] == "io server disconnect"
        assert "Disconnected: io server disconnect" in node.lines
    finally:
        node.close()


# --- Engine.IO heartbeat ----------------------------------------------------------------------------
def test_open_packet_states_the_configured_heartbeat_and_limits(tuned_server):
    async def scenario():
        raw = await RawSocket.open(tuned_server)
        assert raw.handshake["upgrades"] == []
        assert raw.handshake["pingInterval"] == 400 and raw.handshake["pingTimeout"] == 400
        assert raw.handshake["maxPayload"] == 4096
        assert isinstance(raw.handshake["sid"], str) and len(raw.handshake["sid"]) >= 16
        await raw.close()

    run(scenario())


def test_ping_pong_keeps_an_idle_socket_open(tuned_server):
    tenant = make_tenant()

    async def scenario():
        client = PyClient()
        assert await client.connect(tuned_server, tenant.token("C1"))
        await asyncio.sleep(3 * 0.4 + 0.4 + 0.3)  # past two full interval + timeout cycles
        assert client.data("disconnect") == [] and client.sio.connected
        await asyncio.to_thread(send_message, tuned_server, tenant, ["C1"], title="still here")
        await client.wait_for("inAppMessage")
        await client.close()

    run(scenario())


def test_seed_javascript_example_stays_connected_past_two_ping_intervals(tuned_server):
    tenant = make_tenant()
    node = NodeSocket(tuned_server, tenant.seed_env("CUSTOMER3"))
    try:
        node.wait_for("connect")
        time.sleep(3 * 0.4 + 0.4 + 0.3)
        assert node.heard("disconnect") == []
        send_message(tuned_server, tenant, ["CUSTOMER3"], title="still here")
        assert node.wait_for("inAppMessage")["message"]["title"] == "still here"
    finally:
        node.close()


def test_missed_pongs_close_the_socket(tuned_server):
    async def scenario():
        raw = await RawSocket.open(tuned_server)
        raw.answer_pings = False
        started = time.monotonic()
        assert await raw.closed_with() == 4008
        assert 0.6 < time.monotonic() - started < 3.0  # interval + timeout = 0.8 s
        await raw.close()

    run(scenario())


def test_a_socket_without_connect_is_closed_after_the_connect_timeout(tuned_server):
    async def scenario():
        raw = await RawSocket.open(tuned_server)  # answers pings, never sends CONNECT
        started = time.monotonic()
        assert await raw.closed_with() == 4008
        assert 1.2 < time.monotonic() - started < 4.0
        await raw.close()

    run(scenario())


# --- what clients should not send -------------------------------------------------------------------
async def assert_server_still_serves(server: LiveServer, tenant: Tenant) -> None:
    raw = await RawSocket.open(server)
    reply = await raw.connect_customer(tenant.token("C1"))
    assert reply.startswith("40{"), reply
    await raw.close()


@pytest.mark.parametrize(
    "frame, close_code",
    [
        ("x", 4002),  # not an Engine.IO packet
        ("", 4002),
        ("9", 4002),  # unknown Engine.IO type
        ("0", 4002),  # OPEN comes from servers only
        ("4", 4002),  # MESSAGE without a Socket.IO packet
        ('4{"a":1}', 4002),
        ("48", 4002),  # unknown Socket.IO type
        ('44{"message":"x"}', 4002),  # CONNECT_ERROR comes from servers only
        ("40{not json", 4002),
        ("4" + "[" * 2000 + "]" * 2000, 4002),  # nested past the JSON decoder's recursion (Engine.IO payload)
        ("42" + "[" * 2000 + "]" * 2000, 4002),  # the same inside a Socket.IO EVENT
        ('451-["upload",{"_placeholder":true,"num":0}]', 4003),  # binary event
        (b"\x04\x00\x01", 4003),  # binary frame
        ("4" + "2" + json.dumps(["big", "x" * 5000]), 4009),  # over maxPayload (4096)
    ],
)
def test_malformed_binary_and_oversized_frames_close_cleanly(tuned_server, frame, close_code):
    tenant = make_tenant()

    async def scenario():
        raw = await RawSocket.open(tuned_server)
        if isinstance(frame, bytes):
            await raw.ws.send_bytes(frame)
        else:
            await raw.send(frame)
        assert await raw.closed_with() == close_code
        await raw.close()
        await assert_server_still_serves(tuned_server, tenant)

    run(scenario())


def test_frame_over_daphnes_limit_closes_cleanly(daphne_server):
    tenant = make_tenant()

    async def scenario():
        raw = await RawSocket.open(daphne_server)
        await raw.send("42" + json.dumps(["big", "x" * (1024 * 1024 + 10)]))
        # daphne (autobahn) refuses frames over 1 MiB itself: it fails the connection with 1009, which
        # a client still busy sending sees as 1006. The consumer is not involved.
        assert await raw.closed_with() in (1006, 1009)
        await raw.close()
        await assert_server_still_serves(daphne_server, tenant)

    run(scenario())
    assert "Exception inside application" not in daphne_server.log_tail(400)


def test_events_from_the_client_are_ignored(tuned_server):
    tenant = make_tenant()

    async def scenario():
        raw = await RawSocket.open(tuned_server)
        assert (await raw.connect_customer(tenant.token("C1"))).startswith("40{")
        await raw.send('42["hello",{"a":1}]')
        await raw.send('4212["withAck"]')
        await raw.send("3")  # an unsolicited pong
        await raw.send("6")  # NOOP
        await asyncio.sleep(0.5)
        assert not raw.ws.closed
        await asyncio.to_thread(send_message, tuned_server, tenant, ["C1"], title="after junk")
        frame = await raw.receive()
        assert frame.startswith('42["inAppMessage",'), frame
        await raw.close()

    run(scenario())


def test_unknown_namespace_gets_connect_error_and_the_connection_stays_usable(tuned_server):
    tenant = make_tenant()

    async def scenario():
        raw = await RawSocket.open(tuned_server)
        await raw.send('40/admin,{"token":"Bearer x"}')
        reply = await raw.receive()
        assert reply == '44/admin,{"message":"Invalid namespace","data":{"reason":"unknown_namespace"}}'
        assert (await raw.connect_customer(tenant.token("C1"))).startswith("40{")
        await raw.close()

        client = PyClient()
        refusals = []
        client.sio.on("connect_error", refusals.append, namespace="/admin")
        assert not await client.connect(tuned_server, tenant.token("C1"), namespaces=["/admin"])
        assert refusals == [{"message": "Invalid namespace", "data": {"reason": "unknown_namespace"}}]
        await client.close()

    run(scenario())


def test_client_disconnect_ends_delivery_to_that_socket(tuned_server):
    """A namespace DISCONNECT from the client ends delivery to that connection; without a new CONNECT
    the socket is closed once the connect timeout passes again, as after the handshake."""
    tenant = make_tenant()

    async def scenario():
        raw = await RawSocket.open(tuned_server)
        assert (await raw.connect_customer(tenant.token("C1"))).startswith("40{")
        await asyncio.sleep(2.0)  # past the first connect timeout (1.5 s): that deadline was met
        await raw.send("41")
        started = time.monotonic()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(send_message, tuned_server, tenant, ["C1"], title="nobody listens")
        heard = []
        while (frame := await raw.receive()) is not None:  # pings are answered, nothing else comes
            heard.append(frame)
        assert heard == [] and raw.ws.close_code == 4008
        assert 1.2 < time.monotonic() - started < 4.0
        await raw.close()

    run(scenario())


def test_connect_again_after_disconnect_on_the_same_socket(tuned_server):
    tenant = make_tenant()

    async def scenario():
        raw = await RawSocket.open(tuned_server)
        assert (await raw.connect_customer(tenant.token("C1"))).startswith("40{")
        await raw.send("41")
        assert (await raw.connect_customer(tenant.token("C1"))).startswith("40{")
        await asyncio.sleep(2.0)  # past the connect timeout: the re-armed deadline was met as well
        await asyncio.to_thread(send_message, tuned_server, tenant, ["C1"], title="after reconnect")
        assert json.loads((await raw.receive())[2:])[0] == "inAppMessage"
        await raw.close()

    run(scenario())


def test_a_socket_silent_for_longer_than_the_redis_socket_timeout_still_receives(daphne_server):
    """The bus's subscription waits for publications for ever, on a connection whose commands time
    out after LIVE_REDIS_TIMEOUT_MS (5 s): a quiet channel must not count as a lost subscription and
    close every socket (second CI pass)."""
    tenant = make_tenant()

    async def scenario():
        client = PyClient()
        assert await client.connect(daphne_server, tenant.token("C1")), client.events
        await asyncio.sleep(7.0)
        await asyncio.to_thread(send_message, daphne_server, tenant, ["C1"], title="after the quiet")
        [message] = await client.wait_for("inAppMessage")
        assert message["title"] == "after the quiet"
        assert client.data("disconnect") == []
        await client.close()

    run(scenario())


# --- handshakes and HTTP --------------------------------------------------------------------------
@pytest.mark.parametrize("path", [SOCKET_PATH, SOCKET_PATH + "/"])
def test_path_with_and_without_trailing_slash(daphne_server, path):
    tenant = make_tenant()

    async def scenario():
        raw = await RawSocket.open(daphne_server, path=path)
        assert (await raw.connect_customer(tenant.token("C1"))).startswith("40{")
        await raw.close()

    run(scenario())


@pytest.mark.parametrize(
    "query",
    [
        "EIO=3&transport=websocket",
        "transport=websocket",
        "EIO=4&transport=polling",
        "EIO=4&transport=websocket&sid=abc",
    ],
)
def test_handshake_that_no_v4_websocket_client_sends_is_refused(daphne_server, query):
    async def scenario():
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await RawSocket.open(daphne_server, query=query)
        assert refused.value.status == 403

    run(scenario())


def test_other_websocket_paths_are_refused_without_an_error(daphne_server):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"ws://127.0.0.1:{daphne_server.port}/api/v1/other")
        assert refused.value.status == 403

    run(scenario())
    assert "Exception inside application" not in daphne_server.log_tail(400)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", SOCKET_PATH + "/?EIO=4&transport=polling"),
        ("GET", SOCKET_PATH + "?EIO=4&transport=polling&t=abc"),
        ("POST", SOCKET_PATH + "/?EIO=4&transport=polling&sid=abc"),
        ("GET", SOCKET_PATH + "/"),
    ],
)
def test_long_polling_gets_a_400_naming_the_websocket_transport(daphne_server, method, path):
    response = httpx.request(method, daphne_server.url + path, content=b"40", timeout=WAIT)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == 400 and body["reason"] == "transport_not_supported"
    assert "websocket" in body["message"].lower() and "polling" in body["message"]


def test_python_client_with_default_transports_fails_clearly(daphne_server):
    """python-socketio's default starts with long-polling: it fails on the 400, it does not hang."""

    async def scenario():
        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(daphne_server.url, socketio_path=SOCKET_PATH, wait_timeout=WAIT)
        await sio.disconnect()

    run(scenario())
