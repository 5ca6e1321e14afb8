"""Channel layer for the embedded, single-process default.

Channels' InMemoryChannelLayer (4.3) costs more than it needs to on a large fan-out, which profiles of
a 1,000-customer send showed (`python -m bench --only fanout --profile`):
- it sweeps every channel and every group for expired entries on *each* send and receive, so fanning
  one message out to N sockets was O(N²) (~75% of server time). Sweeping at most once per second keeps
  expiry working (an expired message may linger up to a second longer) at O(N) per fan-out;
- ``send`` builds a new ``asyncio.Queue`` on every call (the default argument of ``setdefault``), and
  ``group_send`` makes a task per member and waits for them with ``as_completed``. ``send`` never
  waits (``put_nowait``), so sending to the members one after the other gives the same result
  without a task, a queue and a future per member.
Messages are still copied per receiver, as the stock layer does.

Relies on: ``channels.layers.InMemoryChannelLayer``'s ``channels``/``groups`` dicts and
``_clean_expired``. Breaks visibly in: tests/foundation/test_channel_layers.py if Channels changes them.
"""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    SWEEP_INTERVAL = 1.0  # seconds

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_INTERVAL
        super()._clean_expired()

    async def send(self, channel, message) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group, message) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass  # as the stock layer: a full channel misses this message, the others get it
