"""An aborted connection's end scheduled on the event loop at once, instead of through Twisted's timers.

Why: autobahn ends a server connection whose close handshake completed with ``abortConnection`` (the
client has answered the server's close frame; the TCP connection is reset rather than closed in an
orderly way, as RFC 6455 lets the server do). Twisted's ``abortConnection`` defers the end with
``reactor.callLater(0, connectionLost, …)``: a ``DelayedCall`` on Twisted's heap, and on the asyncio
reactor the loop's timer cancelled and armed again (``_reschedule``) each time the next due call
moves, each a ``TimerHandle`` pushed onto a heap that also holds every socket's heartbeat. Ending a
signing key's 5,000 sessions on a process does that 5,000 times while the close replies come in: in a
py-spy profile of the revocation row, 10 % of a server's main-thread samples were inside
``abortConnection``, and the timer dispatch that ran the deferred ends (``_onTimer`` →
``runUntilCurrent``) more besides.

How: on the asyncio reactor, ``abortConnection`` does what Twisted's does (stop reading and writing,
ignore further events, mark the connection as aborting) and hands ``connectionLost`` to
``loop.call_soon``: still after the current callback returns (the protocol that asked may still be
on the stack), never in it; a failure of that ``connectionLost`` is logged as Twisted's timed calls
log theirs. Any other reactor keeps Twisted's own.

Relies on (Twisted 26: ``twisted/internet/tcp.py``): ``_AbortingMixin.abortConnection`` being the
method ``tcp.Connection`` uses, its ``disconnected`` / ``_aborting`` flags, ``stopReading``,
``stopWriting``, ``doRead`` / ``doWrite`` and ``connectionLost(reason)`` (which closes the socket with
SO_LINGER 0 when ``reason`` is a ``ConnectionAborted``); ``AsyncioSelectorReactor._asyncioEventloop``.
Breaks visibly in tests/foundation/test_twisted_aborts.py (no delayed call; the peer sees a reset;
connectionLost once, after the caller returns) and tests/live_delivery/test_revocation_at_scale.py.
"""

from __future__ import annotations

from twisted.internet import error, tcp
from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.logger import Logger
from twisted.python import failure

_original_abort = tcp._AbortingMixin.abortConnection
_log = Logger()


def _ignore(*args, **kwargs) -> None:
    return None


def _end(connection, reason: failure.Failure) -> None:
    try:
        connection.connectionLost(reason)
    except Exception:
        _log.failure("while ending an aborted connection")


def _abort_connection(self) -> None:
    reactor = self.reactor
    if not isinstance(reactor, AsyncioSelectorReactor):
        _original_abort(self)
        return
    if self.disconnected or self._aborting:
        return
    self._aborting = True
    self.stopReading()
    self.stopWriting()
    self.doRead = _ignore
    self.doWrite = _ignore
    reactor._asyncioEventloop.call_soon(_end, self, failure.Failure(error.ConnectionAborted()))


def install() -> None:
    """Patch Twisted's TCP abort (idempotent)."""
    tcp._AbortingMixin.abortConnection = _abort_connection  # type: ignore[method-assign]


def uninstall() -> None:
    """Twisted's own again (tests)."""
    tcp._AbortingMixin.abortConnection = _original_abort  # type: ignore[method-assign]
