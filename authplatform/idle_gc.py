"""Full garbage collections when no request is in flight, instead of inside whichever request allocates.

Why: CPython starts a full (generation 2) collection from inside an allocation, in whatever thread is
allocating, and it stops every thread while it walks each tracked object. A server process holding
1,000 sockets tracks ~130,000 objects besides those frozen at start-up (authplatform/server.py), and
a full collection of them took 50-115 ms on the 2-core bench machine. A 1,000-recipient send allocates
more than anything else the process does, so it was the request that paid, about one send in ten:
those were the bench's send API p99 (140-180 ms against p50 ~45 ms; `gc.callbacks` timestamps lined
up with each send).

How: CPython's own rule decides when a full collection is due -- after a generation-1 collection,
when more than 10 of those ran since the last full one and the objects moved to the oldest
generation since then are at least a quarter of those that survived it. This module keeps that rule
(counting the moved objects from the collector's callbacks) but takes the collection itself out of
the allocating thread: CPython's own trigger is raised to a backstop (``BACKSTOP_THRESHOLD``) and a
daemon thread runs the due collection as soon as nothing registered as busy is (HTTP requests in
flight, the announcer's queue, sockets the server is closing: authplatform/asgi.py; work queued on the
event loop, such as a send's frames for its sockets), or after ``MAX_DELAY`` seconds regardless, so
memory is never held back for longer than that. A check may hold a collection back longer when what
it waits for ends by itself and leaves the garbage (``add_busy_check(max_delay=…)``: a revocation's
closes, each bounded by the close-handshake timeout). A request that arrives while the collection runs
still waits for it; what changes is that no request causes one.

One change to the rule: after a full collection that freed next to nothing (under ``LITTLE_FREED`` of
what it walked), the next comes due when the long-lived objects have grown by half, then by all
(``MAX_GROWTH``), instead of by a quarter; one that frees more brings back the quarter. While sockets
connect, the objects grow and are all alive: on the bench each process ran ~10 full collections as
its 5,000 sockets connected, 55 ms growing to 530 ms (~3 s of a 20 s connect phase), and every one
freed nothing. Spacing them out keeps memory as tight wherever collections find garbage.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

logger = logging.getLogger(__name__)

DEFAULT_FULL_THRESHOLD = 10  # CPython's generation-2 threshold: generation-1 collections between full ones
BACKSTOP_THRESHOLD = 100  # CPython's own trigger, for when this module's thread cannot run
GROWTH = 0.25  # CPython's: a full collection once the long-lived objects grew by a quarter
MAX_GROWTH = 1.0  # ... by all of them at most, after full collections that freed next to nothing
LITTLE_FREED = 0.01  # a full collection freeing less than this share of what it walked freed next to nothing
MAX_DELAY = 2.0  # seconds a due full collection waits for an idle moment at most
POLL_SECONDS = 0.005  # how often a waiting collection looks again whether the process is idle
LOOP_LAG = 0.005  # an event loop with nothing queued runs a callback handed to it within this


@dataclass
class IdleGcStats:
    """This process's full collections run here (read by tests and worth exporting to metrics)."""

    due: int = 0  # times CPython's rule said a full collection was due
    idle: int = 0  # run when nothing was busy
    forced: int = 0  # run after MAX_DELAY with something still busy
    full_collections: int = 0  # every full collection seen, whoever started it

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class IdleCollector:
    def __init__(self) -> None:
        self.stats = IdleGcStats()
        self._busy_checks: list[tuple[Callable[[], bool], float | None]] = []
        self._due = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._saved_threshold: tuple[int, int, int] | None = None
        self._long_lived_total = 0  # objects that survived the last full collection
        self._long_lived_pending = 0  # objects moved to the oldest generation since then
        self._young = 0  # objects in generations 0 and 1 when a generation-1 collection started
        self.growth = GROWTH  # growth of the long-lived objects that makes the next full collection due
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def installed(self) -> bool:
        return self._saved_threshold is not None

    def add_busy_check(self, check: Callable[[], bool], *, max_delay: float | None = None) -> None:
        """``check()`` True: a full collection now would stall someone waiting (e.g. a request).
        ``max_delay``: how long this check may hold a due collection back (default ``MAX_DELAY``)."""
        self._busy_checks.append((check, max_delay))

    def busy(self) -> bool:
        return any(check() for check, _ in self._busy_checks) or self._loop_busy()

    def _holding(self, waited: float) -> bool:
        """Whether something busy still holds a due collection back, ``waited`` seconds after it came due."""
        for check, max_delay in self._busy_checks:
            if waited < (MAX_DELAY if max_delay is None else max_delay) and check():
                return True
        return waited < MAX_DELAY and self._loop_busy()

    def _loop_busy(self) -> bool:
        """Whether the server's event loop has work queued (e.g. a send's frames for 1,000 sockets,
        delivered after its announcement ended): a callback handed to it now waits behind that work."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        ran = threading.Event()
        started = time.monotonic()
        try:
            loop.call_soon_threadsafe(ran.set)
        except RuntimeError:  # closed meanwhile
            return False
        return not ran.wait(MAX_DELAY) or time.monotonic() - started > LOOP_LAG

    def install(self, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Take over full collections for this process (idempotent); ``loop``: the server's event
        loop, which must have nothing queued for a collection to run."""
        with self._lock:
            if self.installed:
                return
            self._loop = loop
            threshold = gc.get_threshold()
            self._saved_threshold = threshold
            self._long_lived_total = len(gc.get_objects(generation=2))
            self._long_lived_pending = 0
            gc.callbacks.append(self._on_collection)
            gc.set_threshold(threshold[0], threshold[1], BACKSTOP_THRESHOLD)
            self._thread = threading.Thread(target=self._run, name="idle-gc", daemon=True)
            self._thread.start()

    def uninstall(self) -> None:
        """Give full collections back to CPython's own trigger (tests)."""
        with self._lock:
            if self._saved_threshold is None:
                return
            gc.set_threshold(*self._saved_threshold)
            self._saved_threshold = None
            if self._on_collection in gc.callbacks:
                gc.callbacks.remove(self._on_collection)
            self._due.set()  # wakes the thread, which sees it is no longer installed and ends
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            # Set again until it ends: a collection's callback still running in another thread may clear
            # ``_due`` after the set above (the thread then slept on until the join timed out: 5 s).
            deadline = time.monotonic() + 5
            while thread.is_alive() and time.monotonic() < deadline:
                self._due.set()
                thread.join(0.05)
        self._due.clear()

    def _on_collection(self, phase: str, info: dict) -> None:
        # Called by CPython around every collection, in the thread that triggered it: keep it cheap.
        generation = info["generation"]
        if generation == 2:
            if phase == "stop":
                self.stats.full_collections += 1
                self._long_lived_total = len(gc.get_objects(generation=2))
                self._long_lived_pending = 0
                freed = info["collected"]
                if freed < LITTLE_FREED * (self._long_lived_total + freed):
                    self.growth = min(self.growth * 2, MAX_GROWTH)
                else:
                    self.growth = GROWTH
                self._due.clear()
        elif generation == 1:
            if phase == "start":
                self._young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
            else:
                # Survivors of a generation-1 collection move to the oldest generation.
                self._long_lived_pending += max(0, self._young - info["collected"])
                if (
                    gc.get_count()[2] > DEFAULT_FULL_THRESHOLD
                    and self._long_lived_pending >= self._long_lived_total * self.growth
                    and not self._due.is_set()
                ):
                    self.stats.due += 1
                    self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            if not self.installed:
                return
            started = time.monotonic()
            while self.installed and self._holding(time.monotonic() - started):
                time.sleep(POLL_SECONDS)
            if not self.installed:
                return
            if self.busy():
                self.stats.forced += 1
            else:
                self.stats.idle += 1
            try:
                gc.collect()  # the callback clears ``_due`` and starts counting afresh
            except Exception:  # a finalizer's error must not end the thread
                logger.exception("A full garbage collection failed.")
                self._due.clear()


collector = IdleCollector()


class RequestsInFlight:
    """ASGI middleware: how many HTTP requests this process is answering (a busy check above).
    Runs on the server's one event loop, so the count needs no lock."""

    def __init__(self, app) -> None:
        self.app = app
        self.count = 0

    def busy(self) -> bool:
        return self.count > 0

    async def __call__(self, scope, receive, send):
        self.count += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.count -= 1
