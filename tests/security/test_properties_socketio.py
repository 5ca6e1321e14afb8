"""Property-based tests of the Socket.IO carrier, against the real daphne server: the ``auth`` payload of
the CONNECT packet, raw Engine.IO / Socket.IO frames, and the WebSocket handshake itself.

The client is a bare aiohttp WebSocket speaking the protocol by hand (text frames such as ``40{...}``
after the server's ``0{...}`` open packet), from one loopback address per test. Properties, for every
input:

- the server answers within BOUND seconds: a CONNECT gets ``40{"sid"}`` or a CONNECT_ERROR whose data
  is ``{"message", "data": {"reason"}}``; any other frame is followed by an answer to an Engine.IO ping
  sent after it (so the socket is never left wedged), or by a close;
- every frame the server sends is a well-formed Engine.IO / Socket.IO packet; it closes only with the
  protocol's codes (1000, 4002, 4003, 4008, 4009), never 4011 (server failure) or without a close frame;
- a CONNECT is accepted only with a customer JWT that DESIGN.md "Customer JWTs" accepts (the same
  oracle as the HTTP carrier), in ``auth: {token: "Bearer <jwt>"}``; the pristine one is accepted;
- no row changes (tests/security/test_properties_http.py ``assert_rows``): a refused CONNECT changes
  nothing; an accepted one only moves ``last_used_at`` of its signing key forward;
- a refused WebSocket handshake is a 4xx with the JSON error body, never a 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from engineio import packet as eio
from hypothesis import given
from hypothesis import strategies as st
from socketio import packet as sio

from tests.security.test_properties_http import (  # noqa: F401  (caller, creds, summary: fixtures)
    BOUND,
    Caller,
    Credentials,
    TokenRecipe,
    assert_rows,
    caller,
    creds,
    customer_token_acceptable,
    customer_tokens,
    json_values,
    note_accepted,
    property_settings,
    row_key,
    snapshot,
    summary,
    tally,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SOCKET_PATH = "/api/v1/wss/socket.io/"
SOCKET_QUERY = "EIO=4&transport=websocket"
CLEAN_CLOSES = {1000, 4002, 4003, 4008, 4009}  # realtime/socketio_protocol.py CloseCode, less SERVER_ERROR


# --- a raw Socket.IO client -----------------------------------------------------------------------
class Frames:
    """One test's WebSockets: an event loop and an aiohttp session on the caller's loopback address."""

    def __init__(self, server, source_ip: str) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.session = self.run(self._session(source_ip))

    async def _session(self, source_ip: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(source_ip, 0)),
            timeout=aiohttp.ClientTimeout(total=None, connect=BOUND),
        )

    def run(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, 4 * BOUND))

    async def open(self, carrier: str) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket past the server's open packet (checked)."""
        ws = await self.session.ws_connect(
            f"ws://127.0.0.1:{self.server.port}{SOCKET_PATH}?{SOCKET_QUERY}",
            timeout=aiohttp.ClientWSTimeout(ws_close=BOUND),
        )
        first = await ws.receive(timeout=BOUND)
        assert first.type == aiohttp.WSMsgType.TEXT and first.data.startswith("0"), first
        handshake = json.loads(first.data[1:])
        assert isinstance(handshake["sid"], str) and handshake["upgrades"] == [], handshake
        assert all(isinstance(handshake[k], int) for k in ("pingInterval", "pingTimeout", "maxPayload")), handshake
        return ws

    def close(self) -> None:
        self.run(self.session.close())
        self.loop.close()


@dataclass
class Exchange:
    """What the server did after one frame: the frames it sent, and its close code if it closed."""

    replies: list[str]
    close_code: int | None
    elapsed: float

    @property
    def closed(self) -> bool:
        return self.close_code is not None


async def exchange(ws: aiohttp.ClientWebSocketResponse, sends: list[str | bytes], *, until, carrier: str) -> Exchange:
    """Send ``sends``, then read until ``until(reply)`` holds or the server closes, within BOUND."""
    record = tally(carrier)
    start = time.monotonic()
    replies: list[str] = []
    close_code = None
    try:
        for frame in sends:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
    except (ConnectionError, aiohttp.ClientError):
        pass  # closed under us: the close is read below
    try:
        async with asyncio.timeout(BOUND):
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.TEXT:
                    replies.append(message.data)
                    if until(message.data):
                        break
                elif message.type == aiohttp.WSMsgType.BINARY:  # never sent by this server
                    replies.append(repr(message.data))
                else:  # CLOSE, CLOSED, ERROR: without a close frame aiohttp reports no code (1006)
                    close_code = ws.close_code or 1006
                    break
    except TimeoutError:
        record.unanswered += 1
        raise AssertionError(f"no answer within {BOUND} s after {sends!r}; heard {replies}") from None
    result = Exchange(replies, close_code, time.monotonic() - start)
    record.slowest = max(record.slowest, result.elapsed)
    if result.closed:
        record.outcomes[f"close {close_code}"] += 1
    if result.closed and close_code not in CLEAN_CLOSES:
        record.server_errors += 1
        raise AssertionError(f"closed with {close_code} after {sends!r}")
    for reply in replies:
        if not well_formed(reply):
            record.non_json += 1
            raise AssertionError(f"not a protocol frame: {reply!r}")
    return result


def well_formed(reply: str) -> bool:
    """An Engine.IO packet the server may send; a MESSAGE holds a Socket.IO packet; a CONNECT_ERROR
    holds {"message", "data": {"reason"}}."""
    try:
        packet = eio.Packet(encoded_packet=reply)
    except Exception:
        return False
    if packet.packet_type in (eio.PING, eio.PONG, eio.NOOP):
        return True
    if packet.packet_type != eio.MESSAGE or not isinstance(packet.data, str):
        return False
    try:
        inner = sio.Packet(encoded_packet=packet.data)
    except Exception:
        return False
    if inner.packet_type == sio.CONNECT:
        return isinstance(inner.data, dict) and isinstance(inner.data.get("sid"), str) and inner.data["sid"]
    if inner.packet_type == sio.CONNECT_ERROR:
        return connect_error_shape(inner.data)
    if inner.packet_type == sio.EVENT:
        return isinstance(inner.data, list) and inner.data and isinstance(inner.data[0], str)
    return inner.packet_type == sio.DISCONNECT


def socketio_codec_reads(text: str) -> bool:
    """Whether the Socket.IO codec (python-socketio's, which the server uses too) reads ``text``."""
    try:
        sio.Packet(encoded_packet=text)
    except Exception:
        return False
    return True


def connect_error_shape(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and set(data) == {"message", "data"}
        and isinstance(data["message"], str)
        and data["message"]
        and isinstance(data["data"], dict)
        and set(data["data"]) == {"reason"}
        and isinstance(data["data"]["reason"], str)
        and data["data"]["reason"]
    )


def connect_reply(reply: str) -> bool:
    """A CONNECT or CONNECT_ERROR on the default namespace."""
    return reply.startswith("40") or reply.startswith("44")


def accepted_connect(result: Exchange) -> bool:
    return any(r.startswith("40{") for r in result.replies)


@pytest.fixture
def frames(daphne_server, caller: Caller):
    wire = Frames(daphne_server, caller.source_ip)
    yield wire
    wire.close()


# --- the auth payload of CONNECT --------------------------------------------------------------------
@dataclass(frozen=True)
class AuthRecipe:
    """What a CONNECT carries: ``token`` (a customer JWT recipe) behind ``scheme`` in auth.token, plus
    ``extra`` keys; or ``value`` as the whole auth payload (``kind == "raw"``), or as auth.token
    (``"token_value"``), or no payload at all (``"none"``)."""

    kind: str
    token: TokenRecipe | None = None
    scheme: str = "Bearer "
    extra: Any = None
    value: Any = None

    def frame(self, creds: Credentials, caller: Caller):
        if self.kind == "none":
            return "40", None
        if self.kind == "raw":
            return "40" + json.dumps(self.value), None
        if self.kind == "token_value":
            return "40" + json.dumps({"token": self.value}), None
        built = self.token.build(creds, caller)
        auth = {**(self.extra or {}), "token": f"{self.scheme}{built.token}"}
        return "40" + json.dumps(auth), built


auth_recipes = st.one_of(
    st.builds(
        AuthRecipe,
        kind=st.just("token"),
        token=customer_tokens(),
        scheme=st.sampled_from(
            ["Bearer ", "Bearer ", "bearer ", "BEARER ", "Bearer  ", "Bearer\t", "", "Basic ", "Bearer x "]
        ),
        extra=st.one_of(
            st.none(), st.dictionaries(st.sampled_from(["pid", "offset", "sid", "auth", "x"]), json_values, max_size=2)
        ),
    ),
    st.builds(AuthRecipe, kind=st.just("raw"), value=json_values),
    st.builds(AuthRecipe, kind=st.just("token_value"), value=json_values),
    st.just(AuthRecipe(kind="none")),
)


@given(recipe=auth_recipes)
@property_settings(80)
def test_connect_auth_payload(frames, caller, creds, recipe):
    """A CONNECT is answered within BOUND with CONNECT (a valid customer JWT as 'Bearer <jwt>' in
    auth.token, nothing else) or a CONNECT_ERROR naming its reason; nothing changes unless accepted."""
    frame, built = recipe.frame(creds, caller)
    before = snapshot()

    async def scenario() -> Exchange:
        ws = await frames.open("CONNECT auth")
        try:
            tally("CONNECT auth").tried += 1
            return await exchange(ws, [frame], until=connect_reply, carrier="CONNECT auth")
        finally:
            await ws.close()

    result = frames.run(scenario())
    if not socketio_codec_reads(frame[1:]):
        # A payload that cannot follow a packet type (a number such as 0.0 reads as an ack id, then
        # junk): not a Socket.IO packet at all, so the socket is closed as for any malformed frame.
        assert result.close_code == 4002, result
        tally("CONNECT auth").outcomes["not a packet"] += 1
        assert_rows(before)
        return
    assert not result.closed, result  # a refusal is a CONNECT_ERROR, the socket stays open
    assert result.replies and connect_reply(result.replies[-1]), result
    accepted = accepted_connect(result)
    note_accepted("CONNECT auth", accepted)
    tally("CONNECT auth").outcomes["CONNECT" if accepted else "CONNECT_ERROR"] += 1
    if accepted:
        assert built is not None and recipe.scheme.strip().lower() == "bearer", (recipe, result)
        assert customer_token_acceptable(built, creds), (result, built)
    if built is not None and built.pristine and recipe.scheme == "Bearer " and not recipe.extra:
        assert accepted, result
    used = {row_key(creds.signing_key), row_key(creds.other_key)} if accepted else set()
    assert_rows(before, used=used)


# --- raw frames -------------------------------------------------------------------------------------------
VALID_CONNECT = "<CONNECT with the pristine token>"
socketio_frames = st.builds(
    lambda kind, namespace, ack, data: f"4{kind}{namespace}{ack}{data}",
    st.sampled_from("0123456789"),
    st.sampled_from(["", "/", "/,", "/admin,", "/a/b,", "//,", "/\u00e9,"]),
    st.sampled_from(["", "1", "12", "-1", "1-"]),
    st.one_of(st.just(""), json_values.map(json.dumps)),
)
# Frames a client may well send (the socket stays open), so that sequences reach later states too.
benign_frames = st.sampled_from(
    [
        VALID_CONNECT,
        VALID_CONNECT,
        "41",
        "2",
        "3",
        "6",
        "5",
        '42["hello",{"a":1}]',
        '4212["withAck"]',
        "43",
        '40/admin,{"token":"Bearer x"}',
        "41/admin,",
        "40",
        '40{"token":42}',
    ]
)
raw_frames = st.one_of(
    benign_frames,
    benign_frames,
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.builds(
        lambda digit, rest: digit + rest,
        st.sampled_from("0123456789"),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    ),
    socketio_frames,
    st.sampled_from(
        [
            "40",
            "41",
            "1",
            "2",
            "3",
            "5",
            "6",
            "4",
            "",
            "40/",
            "2probe",
            "0{}",
            "4" + "[" * 2000 + "]" * 2000,
            "42" + "[" * 2000 + "]" * 2000,
            '451-["upload",{"_placeholder":true,"num":0}]',
            '42["hello"]',
            '4212["withAck"]',
            '40{"token":"Bearer x"}',
            '40{"token":"Bearer \\ud800"}',
            "40null",
            "40[]",
            '44{"message":"x"}',
        ]
    ),
    st.binary(max_size=20),
    st.just(VALID_CONNECT),
)


@given(sequence=st.lists(raw_frames, min_size=1, max_size=4))
@property_settings(60)
def test_raw_frames(frames, caller, creds, sequence):
    """After any frame the server answers a ping sent behind it, or closes with a protocol code, within
    BOUND; everything it sends is a protocol frame; a CONNECT is accepted only with the valid token."""
    token = (
        TokenRecipe(
            header={"alg": "RS256", "typ": "JWT", "kid": str(creds.signing_key.kid)},
            claims={
                "type": "customer",
                "workspace_id": creds.workspace.code,
                "product_space_code": creds.product_spaces[0],
                "sub": "CUST-RAW",
                "exp": int(time.time()) + 600,
            },
            signer="key",
            pristine=True,
        )
        .build(creds, caller)
        .token
    )
    before = snapshot()

    async def scenario() -> bool:
        ws = await frames.open("raw frames")
        connected_with_token = False
        try:
            for i, frame in enumerate(sequence):
                tally("raw frames").tried += 1
                if frame == VALID_CONNECT:
                    frame = "40" + json.dumps({"token": f"Bearer {token}"})
                    sent_valid = True
                else:
                    sent_valid = False
                # An Engine.IO ping right behind it: its pong proves the socket still listens.
                probe = f"probe-{i}"
                result = await exchange(
                    ws,
                    [frame, f"2{probe}"],
                    carrier="raw frames",
                    until=lambda reply, probe=probe: reply == f"3{probe}",
                )
                if not result.closed:
                    tally("raw frames").outcomes["answered"] += 1
                if accepted_connect(result):
                    assert sent_valid or connected_with_token, (frame, result)
                    connected_with_token = True
                if result.closed:
                    break
            return connected_with_token
        finally:
            await ws.close()

    connected = frames.run(scenario())
    note_accepted("raw frames", connected)
    assert_rows(before, used={row_key(creds.signing_key)} if connected else set())


# --- the WebSocket handshake ------------------------------------------------------------------------------
handshake_queries = st.one_of(
    st.just(SOCKET_QUERY),
    st.builds(
        lambda eio_value, transport, extra: "&".join(p for p in (eio_value, transport, extra) if p),
        st.sampled_from(["EIO=4", "EIO=3", "EIO=5", "EIO=", "", "EIO=4&EIO=3", "EIO=3&EIO=4", "EIO=%00"]),
        st.sampled_from(["transport=websocket", "transport=polling", "transport=", "", "transport=WEBSOCKET"]),
        st.sampled_from(["", "sid=abc", "t=123", "b64=1", "%zz", "sid="]),
    ),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40),
)


def key_bytes(key: str) -> int:
    try:
        return len(base64.b64decode(key, validate=True))
    except ValueError:
        return -1


def raw_upgrade(server, source_ip: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, float]:
    """A WebSocket upgrade request by hand: (status, headers, body, seconds)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *(f"{k}: {v}" for k, v in headers.items())]
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=2 * BOUND, source_address=(source_ip, 0)) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        answer_headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
        if status != 101:
            length = int(answer_headers.get("content-length", "0"))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
    return status, answer_headers, body, time.monotonic() - start


@given(
    query=handshake_queries,
    path=st.sampled_from([SOCKET_PATH, SOCKET_PATH.rstrip("/"), "/api/v1/wss/other/", "/socket.io/"]),
    version=st.sampled_from(["13", "13", "13", "8", "", "abc"]),
    key=st.one_of(
        st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode()),
        st.sampled_from(["", "short", "!!!", base64.b64encode(b"x" * 15).decode()]),
    ),
)
@property_settings(30)
def test_websocket_handshake(daphne_server, caller, query, path, version, key):
    """A WebSocket upgrade is switched (101) only for the Socket.IO path with EIO=4 and the websocket
    transport (and a valid WebSocket handshake: RFC 6455's version 13, or hybi's 8, which autobahn also
    speaks); any other is a 4xx with the JSON error body."""
    record = tally("WebSocket handshake")
    record.tried += 1
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": version,
        "Sec-WebSocket-Key": key,
    }
    status, answer_headers, body, elapsed = raw_upgrade(daphne_server, caller.source_ip, f"{path}?{query}", headers)
    record.outcomes[status] += 1
    record.slowest = max(record.slowest, elapsed)
    if status >= 500:
        record.server_errors += 1
    assert status < 500, (status, body)
    assert elapsed < BOUND
    if status == 101:
        note_accepted("WebSocket handshake", True)
        params = [p.partition("=") for p in query.split("&")]
        eio_values = [v for k, _, v in params if k == "EIO"]
        transports = [v for k, _, v in params if k == "transport"]
        assert path.startswith(SOCKET_PATH.rstrip("/")) and eio_values[-1:] == ["4"], (path, query)
        assert transports[-1:] == ["websocket"] and "sid" not in [k for k, _, _ in params], query
        assert version in ("8", "13") and key_bytes(key) == 16, (version, key)  # autobahn speaks both
        return
    json_error = answer_headers.get("content-type") == "application/json"
    try:
        error = json.loads(body) if json_error else None
    except ValueError:
        error = None
    if not (isinstance(error, dict) and error.get("code") == status):
        record.non_json += 1
    assert json_error and isinstance(error, dict), (status, answer_headers, body)
    assert error["code"] == status and 400 <= status < 500, error
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["reason"], str), error
    assert set(error) <= {"code", "message", "reason", "invalid_authentication", "details"}, error
