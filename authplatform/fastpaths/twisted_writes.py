"""One ``send()`` per connection per event-loop turn, instead of an epoll registration per write.

Twisted's transports never write at once: ``FileDescriptor.write`` buffers and calls
``reactor.addWriter``, which on the asyncio reactor is ``loop.add_writer`` (an ``epoll_ctl``); the
next ``select`` reports the socket writable, ``doWrite`` sends the buffer, and ``removeWriter`` is a
second ``epoll_ctl``. Two system calls and an event dispatch per socket that is written to, though
the socket's buffer is almost always free. Ending a signing key's 5,000 sessions on a process writes
to 5,000 sockets in a row: a profile put 58 % of that phase in ``addWriter`` (``epoll_ctl`` and
asyncio's fd bookkeeping).

Installed here, ``addWriter`` only notes the connection and schedules one ``call_soon`` for all the
connections noted in this turn; that callback calls each one's ``doWrite`` (one ``send()`` of
everything written to it this turn: a session's ``sessionEnded``, DISCONNECT and close frame go out
together) and registers with the loop, as before, only the connections whose socket did not take it
all. Order of bytes per connection, back-pressure (producers), half-close and ``loseConnection`` are
Twisted's own ``doWrite``'s; only its trigger changes.

Relies on (Twisted 26: ``twisted/internet/asyncioreactor.py``): ``AsyncioSelectorReactor.addWriter``,
``removeWriter``, ``getWriters``, ``_readOrWrite(selectable, read)``, ``_writers``, and
``_asyncioEventloop``; ``FileDescriptor.stopWriting`` calling ``removeWriter`` once its buffer is
empty. Breaks visibly in: every live-server test (nothing is written at all if ``doWrite`` is not
called), tests/live_delivery/test_revocation_at_scale.py (sessionEnded then a normal close on every
socket), and tests/foundation/test_server_edge.py (answers then end of output).
"""

from __future__ import annotations

from twisted.internet.asyncioreactor import AsyncioSelectorReactor

_original_add = AsyncioSelectorReactor.addWriter
_original_remove = AsyncioSelectorReactor.removeWriter
_original_get = AsyncioSelectorReactor.getWriters


def _pending(reactor) -> dict:
    try:
        return reactor._fastpath_pending_writes
    except AttributeError:
        reactor._fastpath_pending_writes = {}  # noted this turn, flushed by the next _flush
        reactor._fastpath_batch = {}  # being flushed now
        reactor._fastpath_flushing = None  # the one whose doWrite runs now
        return reactor._fastpath_pending_writes


def _add_writer(self, writer) -> None:
    pending = _pending(self)
    if writer in pending or writer in self._writers:
        return
    pending[writer] = True
    if len(pending) == 1:
        self._asyncioEventloop.call_soon(_flush, self)


def _remove_writer(self, writer) -> None:
    _pending(self).pop(writer, None)
    self._fastpath_batch.pop(writer, None)  # lost meanwhile: its doWrite must not run
    if self._fastpath_flushing is writer:
        self._fastpath_flushing = None  # doWrite emptied the buffer: nothing to register
    _original_remove(self, writer)


def _get_writers(self) -> list:
    return _original_get(self) + [w for w in _pending(self) if w not in self._writers]


def _flush(self) -> None:
    batch = self._fastpath_batch = _pending(self)
    self._fastpath_pending_writes = {}
    for writer in list(batch):
        if batch.pop(writer, None) is None:
            continue  # removed since it was noted (its connection was lost)
        self._fastpath_flushing = writer
        self._readOrWrite(writer, False)  # as the loop would on "writable": doWrite, or disconnect on error
        if self._fastpath_flushing is writer and not getattr(writer, "disconnected", False):
            try:
                if writer.fileno() != -1:
                    _original_add(self, writer)  # the socket's buffer is full: wait for writable
            except Exception:
                self._log.failure("Could not wait for a connection to become writable.")
    self._fastpath_flushing = None


def install() -> None:
    """Patch the asyncio reactor's writer registration (idempotent)."""
    if AsyncioSelectorReactor.addWriter is _add_writer:
        return
    AsyncioSelectorReactor.addWriter = _add_writer  # type: ignore[method-assign]
    AsyncioSelectorReactor.removeWriter = _remove_writer  # type: ignore[method-assign]
    AsyncioSelectorReactor.getWriters = _get_writers  # type: ignore[method-assign]
