"""Numbered publications delivered in number order, per stream, in each process.

A product space's sends are numbered 1, 2, 3, ... in commit order (notifications.models.MessageSequence),
and a socket's recovery offset is the highest number it has been given (live/recovery.py). Delivered
out of order, a socket could be given 12, drop, and recover "after 12" without ever getting 11. Yet
publications can arrive out of order: two request threads hand their announcements over in the order
their ``on_commit`` callbacks run, and two processes publish to Redis independently.

So each process delivers a stream's numbered publications in order: ``n + 1`` right after ``n``; one
that arrives early waits for the numbers before it, at most LIVE_ORDER_HOLD_MS, and then goes out with
the numbers that are still missing skipped (a publication that failed must not hold up the rest; its
message is in the inbox, and a socket that was given the later number cannot recover what it skipped,
which is the documented limit of a lost publication). A number at or below what was delivered (the
first publications a process sees after it starts, or a skipped one arriving late) goes out at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from authplatform.conf import platform_settings
from authplatform.metrics import live_failure_count

Deliver = Callable[[dict], Awaitable[None]]


@dataclass
class _Stream:
    delivered: int  # the highest number delivered
    held: dict[int, dict] = field(default_factory=dict)
    release: asyncio.TimerHandle | None = None


class LiveOrder:
    """Per stream key, the numbered publications held until the numbers before them were delivered."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._streams: dict[str, _Stream] = {}
        self.skipped = 0  # numbers given up on after the hold (each one a lost or very late publication)

    async def offer(self, key: str, number: int, publication: dict) -> None:
        stream = self._streams.get(key)
        if stream is None:  # the first this process sees of the stream: nothing earlier to wait for
            self._streams[key] = stream = _Stream(delivered=number - 1)
        if number <= stream.delivered:
            await self._deliver(publication)
            return
        stream.held[number] = publication
        await self._deliver_ready(stream)
        if stream.held and stream.release is None:
            self._hold(stream)

    def _hold(self, stream: _Stream) -> None:
        loop = asyncio.get_running_loop()
        hold = platform_settings.LIVE_ORDER_HOLD_MS / 1000
        stream.release = loop.call_later(hold, lambda: loop.create_task(self._give_up_waiting(stream)))

    async def _deliver_ready(self, stream: _Stream) -> None:
        while (publication := stream.held.pop(stream.delivered + 1, None)) is not None:
            stream.delivered += 1
            await self._deliver(publication)

    async def _give_up_waiting(self, stream: _Stream) -> None:
        stream.release = None
        if not stream.held:
            return
        first = min(stream.held)
        self.skipped += first - stream.delivered - 1
        live_failure_count("order_skipped", first - stream.delivered - 1)
        stream.delivered = first - 1
        await self._deliver_ready(stream)
        if stream.held:  # another gap further on: it gets a hold of its own
            self._hold(stream)
