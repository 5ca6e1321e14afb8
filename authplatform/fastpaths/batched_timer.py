"""autobahn's per-factory timer for its handshake timeouts, with a cancel that does not scan a list.

autobahn arms a timeout through ``factory._batched_timer.call_later`` (txaio's ``_BatchedTimer``) when
a connection opens (``openHandshakeTimeout``) and when the server sends a close frame
(``closeHandshakeTimeout``), and cancels it when the handshake completes. txaio keeps the calls due in
the same second in one list and cancels with ``list.remove``: ending a signing key's 5,000 sessions
arms 5,000 close timeouts within that second, and each client's close reply then scans that list
(up to 12.5 million comparisons per process; a profile of the revocation found 31 of the 79 samples
of the servers' read path in ``list.remove``). Here a bucket is a dict, so a cancel is one deletion;
the rest is txaio's behaviour: one reactor call per bucket (whole seconds), its callbacks run in
chunks with a reactor turn between.
Buckets fire at the end of their second, not at its start (txaio rounds down, so a timeout could come
up to a second early); a cancelled call's callback never runs.

Relies on (autobahn 24+): ``WebSocketServerFactory`` arming and cancelling every protocol timeout via
``self._batched_timer.call_later(delay, func, *args)`` and the returned object's ``cancel()``; the
factory is made before it serves (authplatform/server.py ``WebSocketFactory`` sets it there). Breaks
visibly in tests/foundation/test_autobahn_fastpaths.py (a client that never answers the server's close is
dropped after the close-handshake timeout).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

CHUNK = 1000  # callbacks of one bucket run before the reactor gets a turn (txaio's, as autobahn makes it)


class BatchedCall:
    """A pending call; ``cancel()`` is idempotent and also works once the call has run."""

    __slots__ = ("_timer", "due", "func", "args", "kwargs")

    def __init__(self, timer: BatchedTimer, due: int, func: Callable, args: tuple, kwargs: dict) -> None:
        self._timer: BatchedTimer | None = timer
        self.due, self.func, self.args, self.kwargs = due, func, args, kwargs

    @property
    def pending(self) -> bool:
        return self._timer is not None

    def cancel(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer._cancel(self)


class BatchedTimer:
    """txaio's ``IBatchedTimer`` (``call_later``) over a Twisted reactor, with O(1) cancels."""

    def __init__(self, reactor: Any, *, bucket_seconds: float = 1.0, chunk: int = CHUNK) -> None:
        self._reactor = reactor
        self._bucket_seconds = bucket_seconds
        self._chunk = max(1, chunk)
        self._buckets: dict[int, tuple[Any, dict[BatchedCall, None]]] = {}

    def __len__(self) -> int:
        """Calls pending (tests)."""
        return sum(len(calls) for _, calls in self._buckets.values())

    def call_later(self, delay: float, func: Callable, *args: Any, **kwargs: Any) -> BatchedCall:
        now = self._reactor.seconds()
        due = math.ceil((now + delay) / self._bucket_seconds)
        call = BatchedCall(self, due, func, args, kwargs)
        entry = self._buckets.get(due)
        if entry is None:
            delayed = self._reactor.callLater(max(0.0, due * self._bucket_seconds - now), self._fire, due)
            entry = self._buckets[due] = (delayed, {})
        entry[1][call] = None
        return call

    def _cancel(self, call: BatchedCall) -> None:
        entry = self._buckets.get(call.due)
        if entry is None:
            return  # its bucket is running; the call is skipped there
        calls = entry[1]
        calls.pop(call, None)
        if not calls:
            del self._buckets[call.due]
            entry[0].cancel()

    def _fire(self, due: int) -> None:
        entry = self._buckets.pop(due, None)
        if entry is not None:
            self._run(list(entry[1]))

    def _run(self, calls: list[BatchedCall]) -> None:
        for call in calls[: self._chunk]:
            if call._timer is None:
                continue  # cancelled by an earlier callback of this bucket
            call._timer = None
            try:
                call.func(*call.args, **call.kwargs)
            except Exception:
                logger.exception("A WebSocket timeout callback failed.")
        if len(calls) > self._chunk:
            self._reactor.callLater(0, self._run, calls[self._chunk :])
