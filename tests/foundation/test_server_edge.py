"""What the server answers before Django sees a request: the JSON error body too, never a bare status
or a dropped connection (DESIGN.md "Error body"; authplatform/server.py).

The requests are written byte by byte on raw sockets, since HTTP clients refuse to send most of them.
Every request says ``Connection: close`` so that reading until the server closes is one whole answer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from dataclasses import dataclass

import aiohttp
import pytest

from credentials import services
from credentials.audit import CLI

pytestmark = [pytest.mark.live]

TIMEOUT = 10.0  # seconds for any one exchange
SOCKET_IO = "/api/v1/wss/socket.io/?EIO=4&transport=websocket"


@dataclass
class Answer:
    status_line: str
    headers: dict[str, str]
    body: bytes


def exchange(server, request: bytes) -> Answer:
    """Send ``request`` as is, as a client does (all of it), then read the answer until the server
    closes the connection. A server that refuses early must still let the client finish sending."""
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(request)
        except OSError as exc:
            raise AssertionError(f"the server reset the connection while the request was sent: {exc!r}") from exc
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    raw = b"".join(chunks)
    assert raw, "the connection was closed with no answer"
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(status_line, headers, body)


def assert_json_error(answer: Answer, code: int, reason: str | None = None) -> dict:
    assert answer.status_line.startswith(f"HTTP/1.1 {code} "), (answer.status_line, answer.body[:200])
    assert answer.headers.get("content-type") == "application/json", answer.headers
    assert int(answer.headers["content-length"]) == len(answer.body)
    body = json.loads(answer.body)
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["reason"], str) and body["reason"]
    if reason is not None:
        assert body["reason"] == reason, body
    return body


def request(
    method: str,
    target: bytes | str,
    headers: list[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    raw_headers: bytes = b"",
) -> bytes:
    if isinstance(target, str):
        target = target.encode()
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n" + raw_headers + b"\r\n" + body


# --- bodies Twisted used to parse ----------------------------------------------------------------
@pytest.fixture
def api_key(transactional_db) -> str:
    workspace = services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:12]}", product_space_name="Main")
    user = services.api_user_create(
        actor=CLI, email=f"{uuid.uuid4().hex[:12]}@example.com", workspace=workspace, role="write"
    )
    return services.api_key_create(actor=CLI, user=user)[1]


MULTIPART_TYPES = [
    "multipart/form-data",
    "multipart/form-data; boundary=nothing-like-it",
    'multipart/form-data; boundary="',
]


@pytest.mark.parametrize("content_type", MULTIPART_TYPES)
def test_multipart_content_type_with_a_bad_boundary_reaches_the_api(daphne_server, api_key, content_type):
    """Twisted no longer parses form bodies: the API reads the JSON body whatever the type says."""
    body = b'{"comment": "sent as multipart"}'
    answer = exchange(
        daphne_server,
        request(
            "POST",
            "/api/v1/user/apikeys",
            [("Api-Key", api_key), ("Content-Type", content_type), ("Content-Length", str(len(body)))],
            body,
        ),
    )
    assert answer.status_line.startswith("HTTP/1.1 201 "), (answer.status_line, answer.body)
    assert json.loads(answer.body)["comment"] == "sent as multipart"


@pytest.mark.parametrize("content_type", MULTIPART_TYPES)
def test_multipart_content_type_with_a_body_that_is_not_json_is_the_apis_400(daphne_server, api_key, content_type):
    body = b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n"
    answer = exchange(
        daphne_server,
        request(
            "POST",
            "/api/v1/user/apikeys",
            [("Api-Key", api_key), ("Content-Type", content_type), ("Content-Length", str(len(body)))],
            body,
        ),
    )
    assert_json_error(answer, 400, "malformed_body")


# --- sizes ---------------------------------------------------------------------------------------
def test_headers_over_the_total_limit_are_431(daphne_server):
    headers = [(f"X-Filler-{i}", "v" * 1000) for i in range(20)]  # 20 KB in lines under the line limit
    assert_json_error(exchange(daphne_server, request("GET", "/api/v1/user", headers)), 431, "headers_too_large")


def test_one_header_line_over_the_line_limit_is_431(daphne_server):
    answer = exchange(daphne_server, request("GET", "/api/v1/user", [("X-Long", "v" * 20_000)]))
    assert_json_error(answer, 431, "headers_too_large")


def test_a_100_kb_authorization_header_is_431(daphne_server):
    answer = exchange(daphne_server, request("GET", "/api/v1/user", [("Authorization", "Bearer " + "a" * 100_000)]))
    assert_json_error(answer, 431, "headers_too_large")


def test_a_50_kb_path_is_414(daphne_server):
    answer = exchange(daphne_server, request("GET", "/api/v1/" + "a" * 50_000))
    assert_json_error(answer, 414, "uri_too_long")


def test_3000_query_parameters_within_the_line_limit_reach_the_api(daphne_server):
    answer = exchange(daphne_server, request("GET", "/api/v1/user?" + "&".join(["a=1"] * 3000)))  # 12 KB
    body = assert_json_error(answer, int(answer.status_line.split()[1]))
    assert body["reason"] in {"credentials_missing", "bad_request"}, body  # Django's answer, whichever


def test_3000_query_parameters_over_the_line_limit_are_414(daphne_server):
    query = "&".join(f"param{i}=1" for i in range(3000))  # 34 KB
    assert_json_error(exchange(daphne_server, request("GET", "/api/v1/user?" + query)), 414, "uri_too_long")


def test_a_body_after_too_large_headers_does_not_lose_the_answer(daphne_server):
    """The server keeps reading (and discarding) after its answer, so the client's send does not
    meet a reset and the answer is still there to read."""
    body = b"x" * 5_000_000
    answer = exchange(
        daphne_server,
        request("POST", "/api/v1/user", [("X-Long", "v" * 20_000), ("Content-Length", str(len(body)))], body),
    )
    assert_json_error(answer, 431)


# --- malformed requests --------------------------------------------------------------------------
def test_more_headers_than_twisted_allows_is_400(daphne_server):
    headers = [(f"X-H{i}", "1") for i in range(501)]
    assert_json_error(exchange(daphne_server, request("GET", "/api/v1/user", headers)), 400, "malformed_request")


def test_path_with_bytes_that_are_not_utf8_is_400(daphne_server):
    answer = exchange(daphne_server, request("GET", b"/api/v1/\xff\xfe\x80"))
    assert_json_error(answer, 400, "malformed_request")


def test_malformed_chunked_body_is_400(daphne_server):
    answer = exchange(
        daphne_server,
        request(
            "POST",
            "/api/v1/user",
            [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
            b"zz\r\n{}\r\n0\r\n\r\n",
        ),
    )
    assert_json_error(answer, 400, "malformed_request")


def test_malformed_request_line_is_400(daphne_server):
    answer = exchange(daphne_server, b"GET /api/v1/user HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n")
    assert_json_error(answer, 400, "malformed_request")


def test_header_without_a_colon_is_400(daphne_server):
    answer = exchange(daphne_server, request("GET", "/api/v1/user", raw_headers=b"no colon here\r\n"))
    assert_json_error(answer, 400, "malformed_request")


def test_header_value_with_a_control_character_daphne_refuses_is_400(daphne_server):
    """Twisted lets a vertical tab through; daphne refuses it with its own (HTML) page."""
    answer = exchange(daphne_server, request("GET", "/api/v1/user", raw_headers=b"X-Odd: a\x0bb\r\n"))
    assert_json_error(answer, 400, "malformed_request")


def test_the_server_still_serves_after_refusing(daphne_server):
    exchange(daphne_server, request("GET", "/api/v1/" + "a" * 50_000))
    answer = exchange(daphne_server, request("GET", "/healthz"))
    assert answer.status_line.startswith("HTTP/1.1 200 ")
    assert json.loads(answer.body) == {"status": "ok"}


# --- WebSocket -----------------------------------------------------------------------------------
def test_websocket_handshake_that_autobahn_refuses_is_json(daphne_server):
    answer = exchange(
        daphne_server,
        request(
            "GET", SOCKET_IO, [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")]
        ),
    )
    assert_json_error(answer, 400, "malformed_request")


def test_websocket_upgrade_the_application_refuses_is_json_403(daphne_server):
    answer = exchange(
        daphne_server,
        request(
            "GET",
            "/api/v1/other",
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
        ),
    )
    assert_json_error(answer, 403)


def test_websocket_frame_over_daphnes_limit_is_closed_with_1009(daphne_server):
    async def close_code() -> int | None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
            async with session.ws_connect(f"ws://127.0.0.1:{daphne_server.port}{SOCKET_IO}", autoclose=False) as ws:
                await ws.send_str("4" + "x" * 1_100_000)  # an Engine.IO message of 1.1 MB
                while True:
                    message = await asyncio.wait_for(ws.receive(), TIMEOUT)
                    if message.type == aiohttp.WSMsgType.CLOSE:
                        return message.data
                    if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        return None  # the connection dropped without a close frame

    assert asyncio.run(close_code()) == 1009
