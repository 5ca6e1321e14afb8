"""The authenticated Socket.IO sessions of this server process: who gets what, and when a session ends.

The map customer → sessions and signing key → sessions lives here, in the process, and nowhere else
(authplatform/bus.py: nothing about sockets is stored in Redis). The bus hands every publication to
``local_sessions.deliver``, which writes the frames to this process's sockets of each recipient,
and ends the sessions of a revoked signing key.

Work over many sockets (a fan-out, a revocation, tokens that expire at the same second, the outage
close) runs in slices of LIVE_DELIVERY_BATCH sockets with a yield to the event loop between slices, so
that pings, handshakes and close handshakes of the other sockets keep being served: ending 5,000
sessions in one go held the loop long enough for clients to time out their close handshakes (1006).
Token expiry is one timer per process (a heap), not a sleeping task per socket.

Revocation normally reaches sockets through the ``signing_key_revoked`` signal and the bus
(live/signals.py), within milliseconds on every process. That path misses revocations the bus cannot
carry to this process: a ``manage.py`` command or a second process while the bus is the in-process
one, or any revocation while Redis is down. So each process also re-reads, every
SOCKETIO_KEY_RECHECK_MS, which of its sockets' signing keys are still active (one indexed query per
process, whatever the number of sockets) and ends the sessions of the rest. "Active" is the
credentials app's own rule (``CustomerSigningKey.objects.active``): revoked, expired and deleted keys
all end their sessions.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import defaultdict
from typing import Iterable, Protocol

from channels.db import database_sync_to_async
from django.utils import timezone

from authplatform.conf import platform_settings
from credentials.models import CustomerSigningKey
from authplatform.bus import bus

logger = logging.getLogger(__name__)

QUERY_CHUNK = 500  # kids per IN (...) list
SIGNING_KEY_REVOKED = "signing_key_revoked"
TOKEN_EXPIRED = "token_expired"
KEY_INACTIVE_MESSAGE = "The signing key of this session's token was revoked or has expired."
TOKEN_EXPIRED_MESSAGE = "The token has expired; connect again with a new one."

# Publication kinds (live/fanout.py builds them, ``deliver`` reads them).
EMIT = "emit"
END_SESSIONS = "end"


class LiveSession(Protocol):
    async def send_frame(self, frame: str) -> None: ...

    async def end_session(self, reason: str, message: str) -> None: ...

    async def close_for_outage(self) -> None: ...


def _active_kids(kids: list[str]) -> set[str]:
    now = timezone.now()
    active: set[str] = set()
    for start in range(0, len(kids), QUERY_CHUNK):
        chunk = kids[start:start + QUERY_CHUNK]
        active.update(str(pk) for pk in
                      CustomerSigningKey.objects.active(now).filter(pk__in=chunk).values_list("pk", flat=True))
    return active


class LocalSessions:
    """This process's open sessions by customer key and by signing key ``kid``, their expiry timer,
    and the task that rechecks their keys."""

    def __init__(self) -> None:
        self._by_customer: dict[str, set[LiveSession]] = defaultdict(set)
        self._by_kid: dict[str, set[LiveSession]] = defaultdict(set)
        self._expiry: dict[LiveSession, float] = {}
        self._heap: list[tuple[float, int, LiveSession]] = []
        self._seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._expire_task: asyncio.Task | None = None
        self._recheck: asyncio.Task | None = None

    # --- membership -----------------------------------------------------------------------------
    def add(self, session: LiveSession, *, customer: str, kid: str, expires_at: float | None = None) -> None:
        """Register ``session`` (``expires_at``: a Unix time at which it ends with ``token_expired``)."""
        self._bind_loop()
        self._by_customer[customer].add(session)
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
        for index, key in ((self._by_customer, customer), (self._by_kid, kid)):
            sessions = index.get(key)
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del index[key]
        if self._expiry.pop(session, None) is not None and len(self._heap) > 2 * len(self._expiry) + 64:
            # Entries of ended sessions are skipped when they come up, but would hold their sockets
            # until then (a token may last days): rebuild without them once they are the majority.
            self._heap = [entry for entry in self._heap if self._expiry.get(entry[2]) == entry[0]]
            heapq.heapify(self._heap)

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_kid.values())

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # tests run one loop per scenario; a server has one for ever
            self._loop, self._wake = loop, asyncio.Event()
            self._expire_task = self._recheck = None

    # --- what the bus delivers --------------------------------------------------------------------
    async def deliver(self, publication: dict) -> None:
        """One bus publication: ``{"t": "emit", "frames": [...], "to": [[[frame index, ...],
        [customer key, ...]], ...]}`` or ``{"t": "end", "kids": [...], "reason", "message"}``."""
        kind = publication.get("t")
        if kind == EMIT:
            await self._emit(publication)
        elif kind == END_SESSIONS:
            sessions = [s for kid in publication.get("kids") or () for s in self._by_kid.get(str(kid), ())]
            if not sessions:
                return
            started = time.monotonic()
            await end_sessions(sessions, str(publication.get("reason") or "session_ended"),
                               str(publication.get("message") or "The server ended this session."))
            logger.info("Ended %d Socket.IO session(s) of signing key(s) %s in %.3f s (%s).", len(sessions),
                        ", ".join(map(str, publication.get("kids") or ())), time.monotonic() - started,
                        publication.get("reason"))

    async def _emit(self, publication: dict) -> None:
        frames: list[str] = publication["frames"]
        targets: list[tuple[list[LiveSession], list[int]]] = []
        for indices, customers in publication["to"]:
            for customer in customers:
                sessions = self._by_customer.get(customer)
                if sessions:
                    targets.append((list(sessions), indices))
        if not targets:
            return
        # Every socket gets its first event (the message) before any gets its second (the unread
        # count): the first frame is what a person waits for.
        batch = max(1, platform_settings.LIVE_DELIVERY_BATCH)
        written = 0
        for position in range(max(len(indices) for _, indices in targets)):
            for sessions, indices in targets:
                if position >= len(indices):
                    continue
                frame = frames[indices[position]]
                for session in sessions:
                    await session.send_frame(frame)
                    written += 1
                    if written % batch == 0:
                        await asyncio.sleep(0)

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
            await end_sessions([s for kid in inactive for s in self._by_kid.get(kid, ())],
                               SIGNING_KEY_REVOKED, KEY_INACTIVE_MESSAGE)
        self._recheck = None


async def end_sessions(sessions: Iterable[LiveSession], reason: str, message: str) -> None:
    await _in_slices(list(sessions), lambda s: s.end_session(reason, message))


async def _in_slices(sessions: list[LiveSession], action) -> None:
    batch = max(1, platform_settings.LIVE_DELIVERY_BATCH)
    for start in range(0, len(sessions), batch):
        if start:
            await asyncio.sleep(0)
        for session in sessions[start:start + batch]:
            try:
                await action(session)
            except Exception:
                logger.exception("Ending a Socket.IO session failed.")


local_sessions = LocalSessions()
bus.handler = local_sessions.deliver
bus.on_lost = local_sessions.close_all_for_outage
