"""The Channels layer of live delivery: groups kept in each process, one bus publication per send.

``LiveChannelLayer`` (CHANNEL_LAYERS["default"], with and without REDIS_URL) gives consumers the
Channels API -- ``self.channel_layer``, ``self.channel_name``, ``group_add`` / ``group_discard``,
``group_send``, handler methods named by message type -- over the live bus (authplatform/bus.py):

- **Groups are process-local.** ``group_add`` / ``group_discard`` change a dict in this process and
  never touch Redis: nothing to expire, renew or leave stale behind a crashed process. A channel
  whose consumer has ended leaves all its groups by itself (its ``receive`` is cancelled), so a
  consumer that forgot a ``group_discard`` leaves nothing behind either.
- **A send is one publication.** ``group_send(group, message)`` and the extension
  ``group_send_many([(message, [group, ...]), ...])`` publish once on the bus (one Redis ``PUBLISH``
  with REDIS_URL, whatever the number of groups and members; handed to this process's loop without
  it), and every process delivers the message to its own members of those groups, each distinct
  message encoded once. ``send(channel, message)`` to a channel of this process is delivered here
  without publishing; to another process's channel it is one publication.
- Delivery runs in slices of LIVE_DELIVERY_BATCH channels with a yield to the event loop between
  slices, so a send to thousands of sockets (a revocation ends 5,000 at once) never holds the loop.
- **Direct handlers** (``handle_directly``): a channel may take messages of given types on delivery,
  as a synchronous call, instead of through its inbox and its consumer's task. The call may return a
  second step, which the layer runs once every member of this process has the message (in slices
  too). A revocation uses both: every socket of the key is told at once (one pre-encoded write each,
  no task woken per socket), then each is closed; closing first would have each client's close reply,
  and the server's work on it, land between the next sockets' tells.

Messages are delivered to every member as the same dict, not a copy per channel: handlers read them
and never change them. A channel holds at most ``capacity`` messages (100); a message for a full
channel is dropped and counted (``stats``) rather than held for a consumer that stopped reading.

``group_send_many_nowait`` is the same publication from synchronous code on any thread (the
announcer thread of the send API): it queues it for the event loop and returns, never raises, never
waits for delivery -- as ``publish`` of the bus does.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from django.conf import settings

from authplatform.bus import LiveBus, make_bus
from authplatform.bus import bus as default_bus
from authplatform.conf import platform_settings
from authplatform.live_order import LiveOrder
from authplatform.metrics import live_delivered, live_failure_count

logger = logging.getLogger(__name__)

# A direct handler (``handle_directly``): takes a message on delivery; may return a second step.
DirectHandler = Callable[[dict], Callable[[], None] | None]

GROUPS = "g"  # publication: {"t": "g", "m": [message, ...], "to": [[message index, [group, ...]], ...]}
CHANNEL = "c"  # publication: {"t": "c", "c": channel name, "m": message}


@dataclass
class LayerStats:
    """Counters of this process's layer (read by tests)."""

    delivered: int = 0  # messages put into a channel of this process
    dropped_full: int = 0  # messages for a channel already holding `capacity` messages

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _Inbox:
    """One channel's messages: a deque and the future of the consumer waiting for the next one; the
    message types its consumer takes directly (``LiveChannelLayer.handle_directly``)."""

    __slots__ = ("messages", "waiter", "groups", "direct")

    def __init__(self) -> None:
        self.messages: deque = deque()
        self.waiter: asyncio.Future | None = None
        self.groups: set[str] = set()
        self.direct: Mapping[str, DirectHandler] | None = None

    def put(self, message: dict) -> None:
        self.messages.append(message)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class LiveChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush"]

    def __init__(
        self, redis_url: str | None = None, expiry: int = 60, capacity: int = 100, channel_capacity=None, **kwargs
    ) -> None:
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        url = getattr(settings, "REDIS_URL", "") if redis_url is None else redis_url
        # The process's bus when configured like it and not taken (the usual case: one layer, one
        # subscription per process); another layer instance gets a bus of its own.
        shared = url == getattr(default_bus, "url", "") and default_bus.handler is None
        self.bus: LiveBus = default_bus if shared else make_bus(url)
        self.bus.handler = self._deliver
        self.stats = LayerStats()
        self.order = LiveOrder(self._deliver)  # numbered publications, in number order
        self.prefix = f"live.{uuid.uuid4().hex[:16]}!"  # this process's channels: <prefix><random>
        self._inboxes: dict[str, _Inbox] = {}
        self._groups: dict[str, dict[str, _Inbox]] = {}
        # Group publications this process has begun to deliver: a socket that read its state before
        # joining its groups compares it around the read, to learn whether one may have passed it by
        # (live/consumers.py).
        self.deliveries_begun = 0

    # --- channels ---------------------------------------------------------------------------------
    async def new_channel(self, prefix: str = "specific") -> str:
        return self.new_local_channel()

    def new_local_channel(self) -> str:
        """``new_channel`` without awaiting (from the event loop that serves sockets)."""
        self.bus.start()  # the bus serves from this (the server's) event loop
        name = f"{self.prefix}{uuid.uuid4().hex}"
        self._inboxes[name] = _Inbox()
        return name

    async def receive(self, channel: str) -> dict:
        inbox = self._inboxes.get(channel)
        if inbox is None:  # not made by new_channel here (or already ended): never gets anything
            inbox = self._inboxes[channel] = _Inbox()
        try:
            while not inbox.messages:
                inbox.waiter = asyncio.get_running_loop().create_future()
                try:
                    await inbox.waiter
                finally:
                    inbox.waiter = None
        except asyncio.CancelledError:
            # Channels cancels a consumer's receive when the consumer ends: the channel ends with it.
            self._end_channel(channel, inbox)
            raise
        return inbox.messages.popleft()

    def handle_directly(self, channel: str, handlers: Mapping[str, DirectHandler]) -> None:
        """Messages of these types for ``channel`` (of this process) go to ``handlers[type](message)``,
        called on delivery instead of queued for the channel's consumer. A handler must not wait: it
        does its work at once, and may return a second step, which the layer calls once every member
        of this process has the message (see the module docstring)."""
        inbox = self._inboxes.get(channel)
        if inbox is None:
            raise ValueError(f"{channel!r} is not a channel of this process")
        inbox.direct = handlers

    def queued(self, channel: str) -> int:
        """How many messages wait in ``channel`` (of this process) for its consumer."""
        inbox = self._inboxes.get(channel)
        return len(inbox.messages) if inbox is not None else 0

    def inject(self, channel: str, message: dict) -> None:
        """Put ``message`` (its consumer's own ASGI event) in ``channel`` of this process, beyond its
        capacity: what the client sent is never dropped (authplatform/fastpaths/consumers.py)."""
        inbox = self._inboxes.get(channel)
        if inbox is not None:
            inbox.put(message)

    def end_channel(self, channel: str) -> None:
        """The channel's consumer has ended: drop its messages and leave its groups (idempotent)."""
        inbox = self._inboxes.get(channel)
        if inbox is not None:
            self._end_channel(channel, inbox)

    def _end_channel(self, channel: str, inbox: _Inbox) -> None:
        self._inboxes.pop(channel, None)
        for group in inbox.groups:
            members = self._groups.get(group)
            if members is not None:
                members.pop(channel, None)
                if not members:
                    del self._groups[group]
        inbox.groups.clear()

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        inbox = self._inboxes.get(channel)
        if inbox is not None:
            if len(inbox.messages) >= self.get_capacity(channel):
                raise ChannelFull(channel)
            inbox.put(message)
            self.stats.delivered += 1
        elif not channel.startswith(self.prefix):
            self.bus.publish({"t": CHANNEL, "c": channel, "m": message})

    # --- groups -----------------------------------------------------------------------------------
    async def group_add(self, group: str, channel: str) -> None:
        self.add_local(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.discard_local(group, channel)

    def add_local(self, group: str, channel: str) -> None:
        """``group_add`` without awaiting (it never waits: groups live in this process)."""
        self.require_valid_group_name(group)
        inbox = self._inboxes.get(channel)
        if inbox is None:
            raise ValueError(f"{channel!r} is not a channel of this process")
        self._groups.setdefault(group, {})[channel] = inbox
        inbox.groups.add(group)

    def discard_local(self, group: str, channel: str) -> None:
        members = self._groups.get(group)
        if members is not None:
            inbox = members.pop(channel, None)
            if inbox is not None:
                inbox.groups.discard(group)
            if not members:
                del self._groups[group]

    def local_groups(self, prefix: str = "") -> list[str]:
        """This process's groups (those starting with ``prefix``) that have members."""
        return [group for group in self._groups if group.startswith(prefix)]

    def local_members(self, group: str) -> int:
        return len(self._groups.get(group, ()))

    async def group_send(self, group: str, message: dict) -> None:
        self.group_send_many_nowait([(message, [group])])

    async def group_send_many(self, sends: Iterable[tuple[dict, Iterable[str]]]) -> None:
        """Each ``(message, groups)`` pair: ``message`` to every member of each of ``groups`` (a
        channel in two of them gets it once), on every process, as one publication."""
        self.group_send_many_nowait(sends)

    def group_send_many_nowait(
        self, sends: Iterable[tuple[dict, Iterable[str]]], *, order: tuple[str, int] | None = None
    ) -> None:
        """``order`` (stream key, number): every process delivers the stream's publications in number
        order (authplatform/live_order.py)."""
        messages: list[dict] = []
        to: list[list] = []
        for message, groups in sends:
            groups = list(groups)
            for group in groups:
                self.require_valid_group_name(group)
            if groups:
                to.append([len(messages), groups])
                messages.append(message)
        if to:
            publication: dict = {"t": GROUPS, "m": messages, "to": to}
            if order is not None:
                publication["o"] = list(order)
            self.bus.publish(publication)

    async def deliver_local(self, group: str, message: dict) -> int:
        """``message`` to this process's members of ``group`` only (what this process decided about its
        own sockets, e.g. the signing-key recheck); how many got it."""
        return await self._deliver_to([(message, [group])])

    # --- what the bus delivers ----------------------------------------------------------------------
    async def _deliver(self, publication: dict) -> None:
        order = publication.pop("o", None)
        if order is not None:
            await self.order.offer(order[0], order[1], publication)
            return
        kind = publication.get("t")
        if kind == GROUPS:
            self.deliveries_begun += 1  # before any member is chosen
            messages = publication["m"]
            await self._deliver_to((messages[index], groups) for index, groups in publication["to"])
        elif kind == CHANNEL:
            inbox = self._inboxes.get(publication.get("c", ""))
            if inbox is not None:
                then = self._put(inbox, publication["m"])
                if then is not None:
                    self._then(then)

    async def _deliver_to(self, sends: Iterable[tuple[dict, list[str]]]) -> int:
        batch = max(1, platform_settings.LIVE_DELIVERY_BATCH)
        delivered = 0
        for message, groups in sends:
            started, before = time.monotonic(), delivered
            targets: Iterable[_Inbox]
            if len(groups) == 1:
                targets = list(self._groups.get(groups[0], {}).values())
            else:  # a channel in several of the groups gets the message once
                seen: dict[int, _Inbox] = {}
                for group in groups:
                    for inbox in self._groups.get(group, {}).values():
                        seen[id(inbox)] = inbox
                targets = list(seen.values())
            thens: list[Callable[[], None]] = []  # direct handlers' second steps
            for inbox in targets:
                then = self._put(inbox, message)
                if then is not None:
                    thens.append(then)
                delivered += 1
                if delivered % batch == 0:
                    # The consumers woken so far run (and write) before the next slice is woken.
                    await asyncio.sleep(0)
            count = delivered - before
            live_delivered(message, count, delivered)  # metrics: once per message, not per channel
            delivered_in = time.monotonic() - started
            finished = ""
            if thens:
                if count % batch:
                    await asyncio.sleep(0)  # the last slice's writes go out before the second steps'
                for done, then in enumerate(thens):
                    if done and done % batch == 0:
                        await asyncio.sleep(0)
                    self._then(then)
                finished = f", then finished {len(thens)} in {time.monotonic() - started - delivered_in:.3f} s"
            if count:
                logger.log(
                    logging.INFO if count >= batch else logging.DEBUG,
                    "Delivered %s to %d channel(s) of %s in %.3f s%s.",
                    message.get("type"),
                    count,
                    ", ".join(groups[:3]) + (f" and {len(groups) - 3} more group(s)" if len(groups) > 3 else ""),
                    delivered_in,
                    finished,
                )
        return delivered

    def _put(self, inbox: _Inbox, message: dict) -> Callable[[], None] | None:
        """``message`` into ``inbox``, or to its direct handler (whose second step it returns)."""
        direct = inbox.direct
        if direct is not None:
            handler = direct.get(message.get("type", ""))
            if handler is not None:
                self.stats.delivered += 1
                try:
                    return handler(message)
                except Exception:
                    logger.exception("A direct handler of %s failed.", message.get("type"))
                    return None
        if len(inbox.messages) >= self.capacity:
            self.stats.dropped_full += 1
            live_failure_count("dropped_full")
            logger.warning("Dropped a live message for a channel holding %d unread messages.", self.capacity)
            return None
        inbox.put(message)
        self.stats.delivered += 1
        return None

    @staticmethod
    def _then(then: Callable[[], None]) -> None:
        try:
            then()
        except Exception:
            logger.exception("The second step of a direct handler failed.")

    # --- flush extension and plumbing ---------------------------------------------------------------------
    async def flush(self) -> None:
        self._inboxes.clear()
        self._groups.clear()

    async def close(self) -> None:
        pass
