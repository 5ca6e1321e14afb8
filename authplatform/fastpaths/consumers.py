"""A consumer ``dispatch`` without Channels' per-message database hop.

Channels' ``AsyncConsumer.dispatch`` (channels 4: ``channels/consumer.py``) runs
``aclose_old_connections()`` before every handler: a hop through Django's one sync thread for every
frame, pings and emits included. A consumer whose database calls all go through
``database_sync_to_async`` (which closes stale connections itself) does not need it, so this
``dispatch`` finds the handler as Channels does (``get_handler_name``) and calls it directly.

Relies on: ``channels.consumer.get_handler_name`` and the consumer calling ``self.dispatch(message)``
for each message. Breaks visibly in: tests/live_delivery/test_socketio.py (every event test) if
Channels changes how handlers are named or called.
"""

from __future__ import annotations

import logging

from channels.consumer import get_handler_name

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
