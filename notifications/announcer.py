"""Announcing committed changes to live sockets, off the request that made them.

Announcing a send means reading the unread count of every recipient and encoding the frames: for
1,000 recipients that was most of the send API's time when it ran in the view's thread before the
202. So services hand announcements, after their transaction commits, to this process's announcer
and return: one worker thread runs them one after another in the order they were handed over, so
whatever one process announces for a customer reaches the bus in commit order (a send's
``inAppMessage`` before its ``unreadCount``, and each count after the one before it). A count is read
when its announcement runs, so it can only be newer than the commit that asked for it, never older.

An announcement made by an HTTP request finishes only after that request's response is out
(``AnnounceAfterResponse``): a generator announcement runs to its ``yield`` at once and the rest
(the recipients' counts, building 3,000 events, handing them to the event loop) once the response has
been handed to the server. The counts used to be read before the ``yield``, beside the response: they
grow with the recipients' inboxes, and the response slowed with them (a bench run's sends, 1,000
recipients each, on SQLite: p50 77 ms before, 64 ms after). Started right after the commit,
it raced the view's last steps for the GIL and the event loop, and the 202 of a 1,000-recipient send
went out behind its fan-out in ~5 sends of 50 (50-140 ms after the view returned; bench/README.md's
send API row).

An announcement that fails is logged and counted (``stats``, and the metric
``authplatform_live_failures_total``) and never reaches the request: the inbox holds what it would have
said, and clients resync from it when they reconnect (docs/live-delivery.md). At exit, what is still
queued gets a moment to go out (``EXIT_DRAIN_SECONDS``), so a ``manage.py`` command that sends does not
lose its announcements with the process.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

from django.db import connections

from authplatform.metrics import live_failure_count

logger = logging.getLogger(__name__)

EXIT_DRAIN_SECONDS = 5.0

# A callable; a generator function's announcement runs in two steps (see ``Announcer._run``).
Announcement = Callable[[], Iterator[None] | None]

# How long an announcement waits for the response of the request that made it, at most: a response
# streamed for longer must not hold back the live events (and those queued behind them) for longer.
RESPONSE_WAIT_SECONDS = 1.0

# Set by ``AnnounceAfterResponse`` for each HTTP request: set once its response is handed to the server.
_response_sent: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "announcer_response_sent", default=None
)


@dataclass
class AnnouncerStats:
    """Counters of this process's announcer (read by tests; /metrics counts failures itself)."""

    submitted: int = 0
    announced: int = 0
    failed: int = 0  # raised inside the announcement (logged each time)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Announcer:
    """A FIFO of announcements and the one worker thread that runs them (started on first use)."""

    def __init__(self) -> None:
        self.stats = AnnouncerStats()
        # (submitted at, announcement, set once the response of the request that submitted it is out)
        self._queue: queue.SimpleQueue[tuple[float, Announcement, threading.Event | None]] = queue.SimpleQueue()
        self._running = threading.local()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # submitted and not finished
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, announcement: Announcement) -> None:
        """Queue ``announcement`` behind the earlier ones and return at once. Never raises."""
        with self._lock:
            self.stats.submitted += 1
            self._pending += 1
            # After a fork the worker stays behind in the parent: the child starts its own.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._start()
        self._queue.put((time.time(), announcement, _response_sent.get()))

    def _start(self) -> None:
        if self._pid != os.getpid():
            self._queue = queue.SimpleQueue()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._thread.start()

    @property
    def submitted_at(self) -> float | None:
        """In an announcement, when it was submitted (``time.time()``): its transaction's commit, since
        services submit from ``transaction.on_commit``. None outside one. For the fan-out latency metric."""
        return getattr(self._running, "submitted_at", None)

    def _run(self) -> None:
        while True:
            submitted_at, announcement, response_sent = self._queue.get()
            self._running.submitted_at = submitted_at
            try:
                steps = announcement()
                # A generator announcement runs to its yield now (what needs nothing but the commit),
                # and the rest, which needs the GIL, the database and the event loop, once the
                # response of the request that committed it is out.
                for _ in steps or ():
                    if response_sent is not None:
                        response_sent.wait(RESPONSE_WAIT_SECONDS)
                        response_sent = None
            except Exception:
                self.stats.failed += 1
                live_failure_count("announcement_failed")
                logger.exception("A live announcement failed; the inbox holds what it announced.")
            else:
                self.stats.announced += 1
            finally:
                self._running.submitted_at = None
                if self._queue.empty():
                    # Idle: hand the database connection back (to the pool, when pooled) instead of
                    # holding it until the next announcement.
                    connections.close_all()
                with self._lock:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.notify_all()

    def busy(self) -> bool:
        """Announcements submitted and not finished (idle_gc waits for none)."""
        return self._pending > 0

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every announcement submitted so far has run; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not self._idle.wait(left):
                    return not self._pending
        return True


announcer = Announcer()
atexit.register(announcer.wait_idle, EXIT_DRAIN_SECONDS)


class AnnounceAfterResponse:
    """ASGI middleware: the second step of what an HTTP request submits to the announcer waits until
    the request's response has been handed to the server (``RESPONSE_WAIT_SECONDS`` at most; see the
    module docstring). Announcements still run in the order they were submitted: one waiting holds
    back those behind it, so per-customer order and the live order (authplatform/live_order.py) stay.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = threading.Event()

        async def send_then_release(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                sent.set()

        token = _response_sent.set(sent)
        try:
            return await self.app(scope, receive, send_then_release)
        finally:
            sent.set()
            _response_sent.reset(token)
