"""A consumer ``dispatch`` and ``websocket_disconnect`` without Channels' database hops.

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

Relies on: ``channels.consumer.get_handler_name``, the consumer calling ``self.dispatch(message)``
for each message, ``StopConsumer`` ending it, and ``self.groups`` / ``channel_layer.group_discard`` as
in Channels' ``websocket_disconnect``. Breaks visibly in: tests/live_delivery/test_socketio.py (every
event test) and tests/live_delivery/test_revocation_at_scale.py (no session left in a process's map
after its sockets closed) if Channels changes how handlers are named or called.
"""

from __future__ import annotations

import logging

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer

logger = logging.getLogger(__name__)


class DirectDispatchMixin:
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
