"""Sockets the server is closing count as busy for the idle garbage collector (authplatform/idle_gc.py):
a full collection in the middle of a revocation held the loop while 5,000 close handshakes waited.

Driven as daphne drives a consumer (an ``asyncio.Queue`` of ASGI events), on the real layer."""

from __future__ import annotations

import asyncio
import json

import pytest

from live.consumers import SocketIOConsumer, server_closes
from live.socketio_sessions import SESSION_END, kid_group
from tests.live_delivery.test_connect_race import SCOPE, own_layer  # noqa: F401  (a fixture)
from tests.live_delivery.test_socketio import make_tenant

pytestmark = [pytest.mark.django_db(transaction=True)]


async def until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_socket_the_server_closes_is_busy_until_it_is_gone(own_layer):  # noqa: F811
    tenant = make_tenant()
    token = tenant.token("alice")

    async def scenario() -> tuple[int, int, int, list[dict]]:
        queue: asyncio.Queue = asyncio.Queue()
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        queue.put_nowait({"type": "websocket.connect"})
        app = asyncio.create_task(SocketIOConsumer.as_asgi()(dict(SCOPE), queue.get, send))
        await until(lambda: any(m.get("text", "").startswith("0{") for m in sent))
        queue.put_nowait({"type": "websocket.receive", "text": "40" + json.dumps({"token": f"Bearer {token}"})})
        await until(lambda: any(m.get("text", "").startswith("40{") for m in sent))
        before = server_closes.in_flight
        # The signing key is revoked: the layer tells the socket, which sends sessionEnded and closes.
        await own_layer.deliver_local(
            kid_group(str(tenant.key.kid)), {"type": SESSION_END, "reason": "signing_key_revoked", "message": "m"}
        )
        await until(lambda: any(m["type"] == "websocket.close" for m in sent))
        during = server_closes.in_flight
        assert server_closes.busy()
        queue.put_nowait({"type": "websocket.disconnect", "code": 1000})  # the client's close reply
        await asyncio.wait_for(app, 5)
        return before, during, server_closes.in_flight, sent

    before, during, after, sent = asyncio.run(scenario())
    assert during == before + 1 and after == before, (before, during, after)
    assert any('"sessionEnded"' in m.get("text", "") for m in sent)
