"""Peer (row 6): python-socketio's own AsyncServer under uvicorn, with the same JWT check as ours.

The connect handler calls the project's ``customer_jwt_verify`` (the function our Socket.IO consumer
and the REST API call) through Channels' ``database_sync_to_async``, on the same database, and puts
the socket in a room per customer. ``POST /send {"recipients": [...], "message": {...}}``
emits ``inAppMessage`` to each customer's room: it stores nothing, so it is the Socket.IO layer's own
cost that our send API (store, then fan out) is compared with. ``GET /healthz`` answers 200.

Run: ``uvicorn bench.peers.sio_app:app --lifespan off`` with the bench environment (bench/servers.py).
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

import socketio  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402

from tokens.customer_jwt import CredentialRefused, customer_jwt_verify  # noqa: E402

# SIO_REDIS_URL: several processes share rooms through python-socketio's own AsyncRedisManager (the
# peer of our two processes over Redis).
_redis_url = os.environ.get("SIO_REDIS_URL")
sio = socketio.AsyncServer(
    async_mode="asgi",
    transports=["websocket"],
    client_manager=socketio.AsyncRedisManager(_redis_url) if _redis_url else None,
)
verify = database_sync_to_async(customer_jwt_verify)
BEARER = "Bearer "
IN_APP_MESSAGE_EVENT = "inAppMessage"


def customer_room(workspace_code: str, product_space_code: str, customer_id: str) -> str:
    return f"customer:{workspace_code}:{product_space_code}:{customer_id}"


@sio.event
async def connect(sid, environ, auth):
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token.startswith(BEARER):
        raise socketio.exceptions.ConnectionRefusedError("Send auth.token = 'Bearer <jwt>'.")
    try:
        principal = await verify(token[len(BEARER) :])
    except CredentialRefused as exc:
        raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
    await sio.enter_room(
        sid, customer_room(principal.workspace.code, principal.product_space.code, principal.customer_id)
    )


async def _body(receive) -> bytes:
    chunks = []
    while True:
        event = await receive()
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            return b"".join(chunks)


async def _answer(send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def http_app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":
        return await _answer(send, 200, {"status": "ok"})
    if scope["path"] == "/send" and scope["method"] == "POST":
        request = json.loads(await _body(receive))
        workspace, product_space = request["workspace_code"], request["product_space_code"]
        for customer_id in request["recipients"]:
            await sio.emit(
                IN_APP_MESSAGE_EVENT, request["message"], to=customer_room(workspace, product_space, customer_id)
            )
        return await _answer(send, 202, {"recipients": len(request["recipients"])})
    return await _answer(send, 404, {"code": 404})


app = socketio.ASGIApp(sio, other_asgi_app=http_app, socketio_path="socket.io")
