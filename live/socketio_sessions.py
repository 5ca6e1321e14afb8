"""The authenticated Socket.IO sessions of this server process: their groups, expiry and recheck.

Delivery goes through the Channels layer (authplatform/layers.py, over the live bus): a session joins
two groups of this process's layer -- its customer's (``customer_group``) and its signing key's
(``kid_group``) -- and a send or a revocation is one ``group_send_many`` whose messages each process
hands to its own members: ``live.frames`` (Socket.IO frames to write, encoded once by the sender) and
``session.end`` (say why, disconnect, close). Groups live in the process and nowhere else: nothing
about sockets is stored in Redis. The layer delivers in slices of LIVE_DELIVERY_BATCH channels with a
yield to the event loop between slices, so that pings, handshakes and close handshakes of the other
sockets keep being served: ending 5,000 sessions in one go held the loop long enough for clients to
time out their close handshakes (1006).

What stays here is what a process decides about its own sessions, which therefore never crosses the
bus: token expiry (one timer per process, a heap, not a sleeping task per socket), the outage close,
and the signing-key recheck. Revocation normally reaches sockets through the ``signing_key_revoked``
signal and the layer (live/signals.py), within milliseconds on every process. That path misses
revocations the bus cannot carry to this process: a ``manage.py`` command or a second process while
the bus is the in-process one, or any revocation while Redis is down. So each process also re-reads,
every SOCKETIO_KEY_RECHECK_MS, which of its sockets' signing keys are still active (one indexed query
per process, whatever the number of sockets) and ends the sessions of the rest. "Active" is the
credentials app's own rule (``CustomerSigningKey.objects.active``): revoked, expired and deleted keys
all end their sessions.

A session is normally a Socket.IO consumer (it has a ``channel_name``); anything else with
``send_frame`` / ``end_session`` / ``close_for_outage`` (a test standing in for a socket) gets a
channel of its own whose messages a task hands to those methods.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from authplatform.conf import platform_settings
from authplatform.layers import LiveChannelLayer
from credentials.models import CustomerSigningKey

logger = logging.getLogger(__name__)

QUERY_CHUNK = 500  # kids per IN (...) list
SIGNING_KEY_REVOKED = "signing_key_revoked"
TOKEN_EXPIRED = "token_expired"
KEY_INACTIVE_MESSAGE = "The signing key of this session's token was revoked or has expired."
TOKEN_EXPIRED_MESSAGE = "The token has expired; connect again with a new one."

# Message types of the layer's groups (live/fanout.py sends them; consumers' handlers read them).
FRAMES = "live.frames"  # {"type", "frames": [Socket.IO frame, ...]}
SESSION_END = "session.end"  # {"type", "reason", "message"}


def customer_group(customer: str) -> str:
    """The group of a customer's sockets (``customer`` is live.fanout's ``customer_key``)."""
    return f"customer.{customer}"


def kid_group(kid: str) -> str:
    """The group of the sockets whose token a signing key ``kid`` signed."""
    return f"kid.{kid}"


def live_layer() -> LiveChannelLayer:
    layer = get_channel_layer()
    if not isinstance(layer, LiveChannelLayer):
        raise RuntimeError("CHANNEL_LAYERS['default'] must be authplatform.layers.LiveChannelLayer.")
    return layer


class LiveSession(Protocol):
    async def send_frame(self, frame: str) -> None: ...

    async def end_session(self, reason: str, message: str) -> None: ...

    async def close_for_outage(self) -> None: ...


def _active_kids(kids: list[str]) -> set[str]:
    now = timezone.now()
    active: set[str] = set()
    for start in range(0, len(kids), QUERY_CHUNK):
        chunk = kids[start : start + QUERY_CHUNK]
        active.update(
            str(pk) for pk in CustomerSigningKey.objects.active(now).filter(pk__in=chunk).values_list("pk", flat=True)
        )
    return active


class LocalSessions:
    """This process's open sessions by signing key ``kid``, their expiry timer, the task that rechecks
    their keys, and their membership of the layer's groups."""

    def __init__(self) -> None:
        self._by_kid: dict[str, set[LiveSession]] = defaultdict(set)
        self._expiry: dict[LiveSession, float] = {}
        self._heap: list[tuple[float, int, LiveSession]] = []
        self._seq = itertools.count()
        # Bound by _bind_loop() before any use (add() calls it first).
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._wake: asyncio.Event = None  # type: ignore[assignment]
        self._expire_task: asyncio.Task | None = None
        self._recheck: asyncio.Task | None = None
        self._adapters: dict[LiveSession, tuple[str, asyncio.Task]] = {}

    # --- membership -----------------------------------------------------------------------------
    def add(self, session: LiveSession, *, customer: str, kid: str, expires_at: float | None = None) -> None:
        """Register ``session`` (``expires_at``: a Unix time at which it ends with ``token_expired``)."""
        self._bind_loop()
        layer = live_layer()
        channel = self._channel_of(session, layer)
        layer.add_local(customer_group(customer), channel)
        layer.add_local(kid_group(kid), channel)
        self._by_kid[kid].add(session)
        if expires_at is not None:
            self._expiry[session] = expires_at
            heapq.heappush(self._heap, (expires_at, next(self._seq), session))
            if self._heap[0][2] is session:
                self._wake.set()
            if self._expire_task is None or self._expire_task.done():
                self._expire_task = self._loop.create_task(self._expire_forever(self._wake))
        interval = platform_settings.SOCKETIO_KEY_RECHECK_MS
        if interval > 0 and (self._recheck is None or self._recheck.done()):
            self._recheck = self._loop.create_task(self._recheck_forever(interval / 1000))

    def discard(self, session: LiveSession, *, customer: str, kid: str) -> None:
        layer = live_layer()
        channel = getattr(session, "channel_name", None)
        adapter = self._adapters.get(session)
        if adapter is not None:
            channel = adapter[0]
        if channel is not None:
            layer.discard_local(customer_group(customer), channel)
            layer.discard_local(kid_group(kid), channel)
        sessions = self._by_kid.get(kid)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._by_kid[kid]
                if adapter is not None and not any(session in group for group in self._by_kid.values()):
                    del self._adapters[session]
                    adapter[1].cancel()  # its channel ends with its receive
        if self._expiry.pop(session, None) is not None and len(self._heap) > 2 * len(self._expiry) + 64:
            # Entries of ended sessions are skipped when they come up, but would hold their sockets
            # until then (a token may last days): rebuild without them once they are the majority.
            self._heap = [entry for entry in self._heap if self._expiry.get(entry[2]) == entry[0]]
            heapq.heapify(self._heap)

    def _channel_of(self, session: LiveSession, layer: LiveChannelLayer) -> str:
        channel = getattr(session, "channel_name", None)
        if channel is not None:
            return channel
        adapter = self._adapters.get(session)
        if adapter is None:
            channel = layer.new_local_channel()
            adapter = self._adapters[session] = (channel, self._loop.create_task(_relay(layer, channel, session)))
        return adapter[0]

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_kid.values())

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # tests run one loop per scenario; a server has one for ever
            self._loop, self._wake = loop, asyncio.Event()
            self._expire_task = self._recheck = None

    async def close_all_for_outage(self) -> None:
        """The bus lost its subscription: these sockets would hear nothing; close them (4011)."""
        sessions = [s for group in self._by_kid.values() for s in group]
        await _in_slices(sessions, lambda s: s.close_for_outage())

    # --- token expiry -------------------------------------------------------------------------------
    async def _expire_forever(self, wake: asyncio.Event) -> None:
        while True:
            now = time.time()
            due = []
            while self._heap and self._heap[0][0] <= now:
                expires_at, _, session = heapq.heappop(self._heap)
                if self._expiry.get(session) == expires_at:
                    due.append(session)
            if due:
                await end_sessions(due, TOKEN_EXPIRED, TOKEN_EXPIRED_MESSAGE)
                continue
            wake.clear()
            delay = self._heap[0][0] - now if self._heap else None
            try:
                await asyncio.wait_for(wake.wait(), delay)
            except TimeoutError:
                pass

    # --- signing-key recheck ------------------------------------------------------------------------
    async def _recheck_forever(self, interval: float) -> None:
        timeout = platform_settings.SOCKETIO_AUTH_TIMEOUT_MS / 1000
        while self._by_kid:
            await asyncio.sleep(interval)
            kids = list(self._by_kid)
            if not kids:
                break
            try:
                active = await asyncio.wait_for(database_sync_to_async(_active_kids)(kids), timeout)
            except Exception:
                logger.warning("Signing-key recheck failed; retrying in %.1fs.", interval, exc_info=True)
                continue
            inactive = [kid for kid in kids if kid not in active]
            for kid in inactive:
                logger.info("Ending Socket.IO sessions: signing key %s is no longer active.", kid)
            await end_sessions(
                [s for kid in inactive for s in self._by_kid.get(kid, ())], SIGNING_KEY_REVOKED, KEY_INACTIVE_MESSAGE
            )
        self._recheck = None


async def end_sessions(sessions: Iterable[LiveSession], reason: str, message: str) -> None:
    await _in_slices(list(sessions), lambda s: s.end_session(reason, message))


async def _in_slices(sessions: list[LiveSession], action) -> None:
    batch = max(1, platform_settings.LIVE_DELIVERY_BATCH)
    for start in range(0, len(sessions), batch):
        if start:
            await asyncio.sleep(0)
        for session in sessions[start : start + batch]:
            try:
                await action(session)
            except Exception:
                logger.exception("Ending a Socket.IO session failed.")


async def _relay(layer: LiveChannelLayer, channel: str, session: LiveSession) -> None:
    """A session that is not a consumer: its channel's messages, as the consumer's handlers take them."""
    try:
        while True:
            message = await layer.receive(channel)
            try:
                if message.get("type") == FRAMES:
                    for frame in message["frames"]:
                        await session.send_frame(frame)
                elif message.get("type") == SESSION_END:
                    await session.end_session(message["reason"], message["message"])
            except Exception:
                logger.exception("Relaying a live message failed.")
    finally:
        layer.end_channel(channel)  # cancelled (the session left): the channel leaves its groups


local_sessions = LocalSessions()
live_layer().bus.on_lost = local_sessions.close_all_for_outage
