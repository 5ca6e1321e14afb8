"""The consumer loop of authplatform/fastpaths/consumers.py, driven as daphne drives it: ``receive`` is
the ``get`` of an ``asyncio.Queue`` that daphne fills with ``put_nowait`` (daphne's
``Server.create_application``), ``send`` a coroutine function.

What daphne puts there must reach the consumer's channel without a task forwarding it (one task per
socket fewer, and one wake-up fewer per event and at the socket's close); any other ``receive`` keeps
that task. The real server path is covered by every Socket.IO test; this one counts the tasks.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from authplatform.fastpaths.consumers import DirectDispatchMixin

SCOPE = {"type": "websocket", "path": "/echo", "query_string": b"", "headers": [], "subprotocols": []}
ALIAS = "direct_dispatch_test"  # a live layer of its own, without Redis: only its publisher task runs


@pytest.fixture(autouse=True)
def own_layer(settings):
    settings.CHANNEL_LAYERS = {
        **settings.CHANNEL_LAYERS,
        ALIAS: {"BACKEND": "authplatform.layers.LiveChannelLayer", "CONFIG": {"redis_url": ""}},
    }


class Echo(DirectDispatchMixin, AsyncWebsocketConsumer):
    channel_layer_alias = ALIAS

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=f"echo:{text_data}")


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def echo_session(receive_of) -> tuple[int, list[dict], asyncio.Queue]:
    """Run an Echo consumer over a daphne-like queue, ``receive_of(queue)`` as its ``receive``: the
    tasks it added while running, what it sent, and the queue after it ended."""
    layer = get_channel_layer(ALIAS)
    layer.end_channel(layer.new_local_channel())  # the bus's own task starts on this loop first
    queue: asyncio.Queue = asyncio.Queue()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    queue.put_nowait({"type": "websocket.connect"})  # daphne puts it before the application runs
    before = len(asyncio.all_tasks())
    app = asyncio.create_task(Echo.as_asgi()(dict(SCOPE), receive_of(queue), send))
    await until(lambda: len(sent) == 1)
    assert sent[0]["type"] == "websocket.accept"
    added = len(asyncio.all_tasks()) - before
    queue.put_nowait({"type": "websocket.receive", "text": "a"})
    await until(lambda: len(sent) == 2)
    assert sent[1] == {"type": "websocket.send", "text": "echo:a"}
    queue.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(app, 5)
    queue.put_nowait({"type": "websocket.receive", "text": "after the end"})
    await asyncio.sleep(0.05)
    return added, sent, queue


def test_what_daphne_puts_in_its_queue_reaches_the_consumer_without_a_forwarding_task():
    added, sent, queue = asyncio.run(echo_session(lambda queue: queue.get))
    assert added == 1  # the consumer's own task, nothing forwarding daphne's events
    assert len(sent) == 2
    assert queue.empty()  # put into the (ended) channel and dropped, not left in daphne's queue


def test_another_servers_receive_is_forwarded_by_a_task():
    def receive_of(queue: asyncio.Queue):
        async def receive() -> dict:
            return await queue.get()

        return receive

    added, sent, _ = asyncio.run(echo_session(receive_of))
    assert added == 2  # the consumer and the task reading receive()
    assert len(sent) == 2
