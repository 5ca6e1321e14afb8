"""A consumer loop, ``dispatch`` and ``websocket_disconnect`` without Channels' per-message costs.

Channels' ``AsyncConsumer.dispatch`` (channels 4: ``channels/consumer.py``) runs
``aclose_old_connections()`` before every handler, and ``AsyncWebsocketConsumer.websocket_disconnect``
(``channels/generic/websocket.py``) runs it once more when the socket closes: each a hop through
Django's one sync thread, for every frame (pings and emits included) and for every closing socket.
When a signing key with 5,000 sockets on a process is revoked, those 5,000 disconnect hops queue up
on that one thread, and a profile of the revocation put 20-30 % of the server's CPU in them. A
consumer whose database calls all go through ``database_sync_to_async`` (which closes stale
connections itself, on the thread that opened them) does not need either, so this ``dispatch`` finds
the handler as Channels does (``get_handler_name``) and calls it directly, and this
``websocket_disconnect`` does what Channels' does (leave ``self.groups``, call ``disconnect``, stop
the consumer) without the hop.

With the live layer (authplatform/layers.py: it has ``inject``), ``__call__`` also replaces Channels'
``await_many_dispatch``, which for every channel message ends a receive task, creates a new one and
runs an ``asyncio.wait`` over both sources: the ASGI server's events go into the consumer's own
channel, and the consumer reads that one channel, so a fan-out costs each socket one task wake-up.
Measured on the fan-out bench (1,000 sockets, one send), the layer with Channels' loop cost 10-20 ms
more p99 than delivering without a layer. Events keep their order per source; the channel ends
(leaving its groups) when the consumer does. Under daphne, whose ``receive`` is the ``get`` of an
``asyncio.Queue`` it fills with ``put_nowait``, that ``put_nowait`` puts into the channel itself;
under another server a task forwards ``receive()``'s events. Without that task a socket has one task
fewer for its whole life, each event it reads (a pong, its close) one wake-up fewer, and its end one
cancellation fewer: a revocation's 5,000 closes per process each paid for two.

Relies on: daphne's ``Server.create_application`` giving ``receive=input_queue.get`` and its
protocols putting events with ``application_queue.put_nowait`` (else the task is used);
``channels.consumer.get_handler_name``; what ``AsyncConsumer.__call__`` sets up
(``scope``, ``channel_layer``, ``channel_name``, ``channel_receive``, ``base_send``) and that a
handler raising ``StopConsumer`` ends the consumer; ``self.groups`` / ``channel_layer.group_discard``
as in Channels' ``websocket_disconnect``. Breaks visibly in: tests/live_delivery/test_socketio.py
(every event test) and tests/live_delivery/test_revocation_at_scale.py (no session left in a
process's groups after its sockets closed) if Channels changes how consumers are set up, or how
handlers are named or called.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

RECEIVE_FAILED = "fastpath.receive_failed"  # the ASGI server's receive() raised (not a handler's type)


def daphne_input_queue(receive) -> asyncio.Queue | None:
    """The queue behind an ASGI ``receive`` that is daphne's ``input_queue.get``, else None."""
    queue = getattr(receive, "__self__", None)
    if type(queue) is asyncio.Queue and getattr(receive, "__func__", None) is asyncio.Queue.get:
        return queue
    return None


class DirectDispatchMixin:
    # Given by the consumer class this is mixed into (channels' AsyncConsumer / AsyncWebsocketConsumer).
    channel_layer_alias: str
    groups: list[str]

    if TYPE_CHECKING:  # declared for the type checker only: a body here would shadow the consumer's

        async def disconnect(self, code: int) -> None: ...

    async def __call__(self, scope, receive, send) -> None:
        layer = get_channel_layer(self.channel_layer_alias)
        inject = getattr(layer, "inject", None)
        if inject is None:
            await super().__call__(scope, receive, send)  # type: ignore[misc]  # AsyncConsumer's
            return
        # AsyncConsumer.__call__ with one queue instead of await_many_dispatch's two: the client's
        # ASGI events are put in the consumer's own channel as they come, so a channel message costs
        # one task wake-up instead of a new receive task and an asyncio.wait per message (a fan-out
        # is one message per socket).
        self.scope = scope
        self.channel_layer = layer
        self.channel_name = await layer.new_channel()
        self.channel_receive = functools.partial(layer.receive, self.channel_name)
        self.base_send = send
        pump = None
        queue = daphne_input_queue(receive)
        arrive = functools.partial(self._arrive, inject, self.channel_name)
        if queue is not None:  # what daphne puts in its queue goes into the channel at once
            while not queue.empty():
                arrive(queue.get_nowait())
            queue.put_nowait = arrive  # type: ignore[method-assign]
        else:
            pump = asyncio.get_running_loop().create_task(self._pump(receive, arrive))
        try:
            while True:
                message = await layer.receive(self.channel_name)
                if message.get("type") == RECEIVE_FAILED:
                    raise message["error"]  # as await_many_dispatch would have raised it
                await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            if pump is not None:
                pump.cancel()
            layer.end_channel(self.channel_name)  # what daphne puts after this is dropped

    def _arrive(self, inject, channel: str, message: dict) -> None:
        if not self.handle_on_arrival(message):
            inject(channel, message)

    def handle_on_arrival(self, message: dict) -> bool:
        """Whether the consumer took ``message`` as it arrived, ahead of those queued before it."""
        return False

    @staticmethod
    async def _pump(receive, arrive) -> None:
        try:
            while True:
                arrive(await receive())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            arrive({"type": RECEIVE_FAILED, "error": exc})

    async def dispatch(self, message: dict) -> None:
        try:
            handler = getattr(self, get_handler_name(message), None)
        except ValueError:
            handler = None
        if handler is None:
            logger.warning("%s ignored a message of type %r.", type(self).__name__, message.get("type"))
            return
        await handler(message)

    async def websocket_disconnect(self, message: dict) -> None:
        layer = getattr(self, "channel_layer", None)
        if layer is not None:
            for group in self.groups:
                await layer.group_discard(group, self.channel_name)
        await self.disconnect(message.get("code", 1000))
        raise StopConsumer()
