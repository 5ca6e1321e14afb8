"""A connect reads its token and its state in one trip to the database thread, before its socket joins
its groups (live/consumers.py). A send whose delivery begins in between would pass the socket by, so
the consumer reads the state again after joining whenever this process began a delivery meanwhile.

The race is made to happen every time: the real connect-state source runs, then, still inside the
connect's database call, a real send commits and the test waits until this process has begun to
deliver it; only then does the connect go on to join. Driven as daphne drives a consumer (an
``asyncio.Queue`` of ASGI events), on the real layer and bus of the embedded default.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import deque

import pytest
from channels.layers import get_channel_layer
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol as DaphneWebSocketProtocol

from live.consumers import SocketIOConsumer
from live.recovery import connect_state_source
from notifications import services
from notifications.selectors import Sender
from tests.live_delivery.test_socketio import make_tenant

pytestmark = [pytest.mark.django_db(transaction=True)]

WRITER = Sender(label="test", role_in=lambda workspace: "write")
SCOPE = {
    "type": "websocket",
    "path": "/api/v1/wss/socket.io/",
    "query_string": b"EIO=4&transport=websocket",
    "headers": [],
    "subprotocols": [],
    "client": ("127.0.0.1", 50000),
}


@pytest.fixture
def own_layer(settings):
    # A fresh in-process layer (no Redis) bound to this test's event loop; channels resets its layers
    # when CHANNEL_LAYERS changes.
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "authplatform.layers.LiveChannelLayer", "CONFIG": {"redis_url": ""}}
    }
    yield get_channel_layer()


@pytest.fixture
def send_during_the_state_read():
    """The registered connect-state source, followed (in the connect's database thread) by a send to
    ``recipient`` whose delivery this process has begun before the source returns; during the first
    ``reads`` reads (1 unless the test says otherwise). ``messages``: the sends, in order."""
    real = connect_state_source.source
    assert real is not None
    sent: dict = {"reads": 1, "messages": []}

    def source(**kwargs):
        state = real(**kwargs)
        if len(sent["messages"]) < sent["reads"]:
            layer = get_channel_layer()
            began = layer.deliveries_begun
            sent["messages"].append(
                services.in_app_message_send(
                    sender=WRITER,
                    product_space_code=sent["space"].code,
                    recipients=[sent["recipient"]],
                    title=f"during read {len(sent['messages']) + 1}",
                    body="b",
                    category="c",
                ).message
            )
            deadline = time.monotonic() + 10
            while layer.deliveries_begun == began:
                assert time.monotonic() < deadline, "the send's delivery never began"
                time.sleep(0.005)
        return state

    connect_state_source.register(source)
    yield sent
    connect_state_source.register(real)


async def connect_and_listen(token: str, seconds: float) -> list[str]:
    """The frames one socket is sent: Engine.IO open, a CONNECT with ``token``, then ``seconds`` more."""
    queue: asyncio.Queue = asyncio.Queue()
    frames: list[str] = []

    async def send(message: dict) -> None:
        if message["type"] == "websocket.send":
            frames.append(message["text"])

    queue.put_nowait({"type": "websocket.connect"})
    app = asyncio.create_task(SocketIOConsumer.as_asgi()(dict(SCOPE), queue.get, send))
    deadline = asyncio.get_running_loop().time() + 10
    while not frames:
        assert asyncio.get_running_loop().time() < deadline, "no Engine.IO open"
        await asyncio.sleep(0.01)
    queue.put_nowait({"type": "websocket.receive", "text": "40" + json.dumps({"token": f"Bearer {token}"})})
    await asyncio.sleep(seconds)
    queue.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(app, 5)
    return frames


def events(frames: list[str]) -> list[tuple[str, object, str]]:
    """(event, data, offset) of each Socket.IO event frame (offset None when it has none)."""
    out = []
    for frame in frames:
        if frame.startswith("42"):
            name, data, *offset = json.loads(frame[2:])
            out.append((name, data, offset[0] if offset else None))
    return out


def test_a_send_delivered_while_the_connect_read_its_state_is_not_lost(own_layer, send_during_the_state_read):
    tenant = make_tenant()
    send_during_the_state_read.update(space=tenant.product_space, recipient="alice")
    frames = asyncio.run(connect_and_listen(tenant.token("alice"), 1.0))

    (message,) = send_during_the_state_read["messages"]
    assert frames[1].startswith("40{") and '"pid"' in frames[1], frames  # connected, with recovery
    heard = events(frames)
    # The send committed after the state was first read and was delivered before the socket joined:
    # the socket still holds it, through the counts it was given (read again) or the message itself.
    unread = [(data["count"], offset) for name, data, offset in heard if name == "unreadCount"]
    got_message = [offset for name, _, offset in heard if name == "inAppMessage"]
    assert got_message == [str(message.sequence)] or unread[-1] == (1, str(message.sequence)), heard


# --- under daphne: frames written directly by the layer wait for the CONNECT answer ---------------------
class FakeDaphneConnection(DaphneWebSocketProtocol):
    """daphne's connection as the consumer sees it (authplatform/fastpaths/ws_direct.py): what goes
    through ASGI ``send`` and what is written to its transport directly, in one list, in order."""

    def __init__(self) -> None:  # no autobahn set-up: nothing here speaks to a network
        self.written: list[str] = []
        self.state = self.STATE_OPEN
        self._perMessageCompress = None
        self.send_queue = deque()
        self.transport = self

    def handle_reply(self, message: dict) -> None:  # daphne's path (ASGI send)
        if message["type"] == "websocket.send":
            self.written.append(message["text"])

    def write(self, data: bytes) -> None:  # the direct path: server frames, unmasked text
        while data:
            length, start = data[1] & 0x7F, 2
            if length == 126:
                length, start = int.from_bytes(data[2:4], "big"), 4
            elif length == 127:
                length, start = int.from_bytes(data[2:10], "big"), 10
            self.written.append(data[start : start + length].decode())
            data = data[start + length :]


def test_under_daphne_a_send_delivered_before_the_connect_is_answered_follows_the_answer(
    own_layer, send_during_the_state_read
):
    """Two reads: during the first a send passes the socket by (so it reads again once joined); during
    the second, another send reaches the joined socket before its CONNECT is answered. Its frames,
    which the layer hands over directly under daphne, must wait and follow the answer."""
    tenant = make_tenant()
    send_during_the_state_read.update(space=tenant.product_space, recipient="bob", reads=2)
    connection = FakeDaphneConnection()
    server = Server.__new__(Server)  # only its handle_reply is used
    server.connections = {connection: {}}

    async def run() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        queue.put_nowait({"type": "websocket.connect"})
        send = functools.partial(server.handle_reply, connection)
        app = asyncio.create_task(SocketIOConsumer.as_asgi()(dict(SCOPE), queue.get, send))
        deadline = asyncio.get_running_loop().time() + 10
        while not connection.written:
            assert asyncio.get_running_loop().time() < deadline, "no Engine.IO open"
            await asyncio.sleep(0.01)
        token = tenant.token("bob")
        queue.put_nowait({"type": "websocket.receive", "text": "40" + json.dumps({"token": f"Bearer {token}"})})
        await asyncio.sleep(1.0)
        queue.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(app, 5)

    asyncio.run(run())
    first, second = send_during_the_state_read["messages"]
    frames = connection.written
    answer = next(i for i, frame in enumerate(frames) if frame.startswith("40{"))
    heard = events(frames)
    assert all(not frame.startswith("42") for frame in frames[:answer]), frames  # nothing before the answer
    # The first send is in the state read again after joining; the second comes live, once, after it.
    assert [offset for name, _, offset in heard if name == "inAppMessage"] == [str(second.sequence)], heard
    assert ("unreadCount", {"count": 1}, str(first.sequence)) in heard, heard
