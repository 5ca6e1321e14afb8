"""authplatform/fastpaths/twisted_aborts.py: on the asyncio reactor an aborted TCP connection ends on
the event loop's next turn, with no Twisted delayed call, as Twisted's own abort would otherwise: once,
after the code that aborted has returned, with ``ConnectionAborted``, the peer seeing a reset."""

from __future__ import annotations

import asyncio
import socket

import pytest
from twisted.internet import error, protocol, tcp
from twisted.internet.asyncioreactor import AsyncioSelectorReactor

from authplatform.fastpaths import twisted_aborts


class Recorder(protocol.Protocol):
    def __init__(self) -> None:
        self.lost: list = []
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason=protocol.connectionDone) -> None:
        self.lost.append(reason)


@pytest.fixture
def reactor_and_pair():
    """A Twisted TCP connection over an accepted loopback socket, on an asyncio reactor of its own (not
    installed: nothing else in this process uses it); the client end stays a plain socket."""
    loop = asyncio.new_event_loop()
    reactor = AsyncioSelectorReactor(loop)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    ours.setblocking(False)
    peer.settimeout(2)
    recorder = Recorder()
    connection = tcp.Connection(ours, recorder, reactor)
    recorder.makeConnection(connection)
    connection.startReading()
    twisted_aborts.install()
    try:
        yield loop, reactor, connection, recorder, peer
    finally:
        twisted_aborts.uninstall()
        peer.close()
        loop.close()


def turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_an_abort_ends_the_connection_on_the_next_loop_turn_without_a_delayed_call(reactor_and_pair):
    loop, reactor, connection, recorder, peer = reactor_and_pair
    calls_before = len(reactor.getDelayedCalls())
    connection.abortConnection()
    connection.abortConnection()  # again: nothing more
    assert recorder.lost == []  # never inside the caller (a protocol's dataReceived may be on the stack)
    assert len(reactor.getDelayedCalls()) == calls_before  # Twisted's abort adds one here
    turn(loop)
    assert len(recorder.lost) == 1 and recorder.lost[0].check(error.ConnectionAborted)
    assert connection.disconnected
    with pytest.raises(ConnectionResetError):  # reset, as Twisted's abort does (SO_LINGER 0)
        peer.recv(100)
    turn(loop)
    assert len(recorder.lost) == 1


def test_an_aborted_connection_reads_and_writes_nothing_more(reactor_and_pair):
    loop, reactor, connection, recorder, peer = reactor_and_pair
    peer.send(b"late bytes")
    connection.write(b"never sent")  # buffered until the loop's turn: dropped by the abort
    connection.abortConnection()
    turn(loop)
    turn(loop)
    assert recorder.lost and recorder.received == b""  # readable when the abort came: not delivered
    with pytest.raises(ConnectionResetError):
        peer.recv(100)


def test_other_reactors_keep_twisteds_own_abort():
    from twisted.internet.task import Clock

    class FakeConnection:
        disconnected = _aborting = False
        reactor = Clock()

        def stopReading(self):
            pass

        def stopWriting(self):
            pass

        def connectionLost(self, reason):
            self.lost = reason

    twisted_aborts.install()
    try:
        fake = FakeConnection()
        twisted_aborts._abort_connection(fake)
        assert len(fake.reactor.getDelayedCalls()) == 1  # Twisted's callLater(0, ...)
        fake.reactor.advance(0)
        assert fake.lost.check(error.ConnectionAborted)
    finally:
        twisted_aborts.uninstall()
