"""The server's devices around autobahn (authplatform/fastpaths/): its handshake timeouts on
batched_timer.py (due calls run once their bucket is due, cancelled ones never, many of one bucket in
chunks; in the server, a client that never answers the server's close frame is still dropped after the
close-handshake timeout), and its debug-log arguments left unformatted (autobahn_logging.py)."""

from __future__ import annotations

import asyncio
import base64
import os
import pprint

import autobahn.twisted.websocket
import autobahn.websocket.protocol
from twisted.internet.task import Clock

from authplatform.fastpaths import autobahn_logging
from authplatform.fastpaths.batched_timer import BatchedTimer
from authplatform.server import CLOSE_HANDSHAKE_TIMEOUT
from tests.conftest import first_pass_only

SOCKET_IO = "/api/v1/wss/socket.io/?EIO=4&transport=websocket"


def test_calls_run_when_their_bucket_is_due_and_cancelled_ones_never():
    clock = Clock()
    clock.advance(100.25)
    timer = BatchedTimer(clock)
    ran: list[str] = []
    first = timer.call_later(10, ran.append, "first")
    second = timer.call_later(10.5, ran.append, "second")  # the same second: the same bucket
    later = timer.call_later(12, ran.append, "later")
    assert len(timer) == 3 and len(clock.getDelayedCalls()) == 2  # one reactor call per bucket
    second.cancel()
    second.cancel()  # idempotent
    clock.advance(10.7)  # 110.95: both are due within the second that ends at 111, not before its end
    assert ran == []
    clock.advance(0.1)  # 111.05
    assert ran == ["first"] and len(timer) == 1
    first.cancel()  # after it ran: nothing happens
    later.cancel()
    assert len(timer) == 0 and clock.getDelayedCalls() == []  # its bucket's reactor call went with it
    clock.advance(5)
    assert ran == ["first"]


class CountingClock(Clock):
    """Twisted's test reactor, noting each delay handed to ``callLater``."""

    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    def callLater(self, delay, *args, **kwargs):
        self.delays.append(delay)
        return super().callLater(delay, *args, **kwargs)


def test_a_bucket_runs_in_chunks_and_a_callback_may_cancel_a_later_one():
    clock = CountingClock()
    timer = BatchedTimer(clock, chunk=2)
    ran: list[int] = []
    calls = []
    for i in range(5):
        calls.append(timer.call_later(1, lambda i=i: (ran.append(i), calls[3].cancel() if i == 0 else None)))
    clock.advance(1)
    assert ran == [0, 1, 2, 4]  # 3 was cancelled by 0
    assert clock.delays == [1, 0, 0]  # the bucket, then two more chunks each after a reactor turn


@first_pass_only  # autobahn's close handshake, the same on every database and layer
def test_a_client_that_never_answers_the_close_is_dropped_after_the_close_handshake_timeout(daphne_server_factory):
    # The server closes a socket that sends no Socket.IO CONNECT in time; this client reads the close
    # frame and never answers it, so only the close-handshake timeout (on this timer) ends the TCP
    # connection.
    server = daphne_server_factory(SOCKETIO_CONNECT_TIMEOUT_MS="200")

    async def scenario() -> tuple[bytes, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {SOCKET_IO} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        received = b""
        while True:  # everything until the server ends the connection, answering nothing
            try:
                chunk = await asyncio.wait_for(reader.read(65536), CLOSE_HANDSHAKE_TIMEOUT + 20)
            except ConnectionResetError:  # autobahn aborts the connection once the timeout is up
                break
            if not chunk:
                break
            received += chunk
        writer.close()
        return head, received

    head, received = asyncio.run(scenario())
    assert head.startswith(b"HTTP/1.1 101")
    assert b"\x88" in received  # a close frame (FIN + opcode 8), after the Engine.IO open packet


def test_autobahn_debug_arguments_are_not_formatted():
    # The hot paths still look the helpers up as module globals (else replacing them does nothing).
    protocol, adapter = autobahn.websocket.protocol.WebSocketProtocol, autobahn.twisted.websocket
    assert {"hltype", "hlval"} <= set(protocol.sendData.__code__.co_names)
    assert {"hltype", "hlval"} <= set(adapter.WebSocketAdapterProtocol.dataReceived.__code__.co_names)
    assert "hlval" in autobahn.websocket.protocol.WebSocketServerProtocol._connectionLost.__code__.co_names
    assert "pformat" in protocol._connectionMade.__code__.co_names
    autobahn_logging.install()  # as the server's WebSocketFactory does
    reason = object()
    for module in autobahn_logging.MODULES:
        assert module.hltype(reason) is reason and module.hlval(reason, color="white", bold=True) is reason
    # pformat's text is made only when read, and reads as pprint's.
    settings = [("openHandshakeTimeout", 5, "WebSocketServerFactory")] * 30
    text = autobahn.websocket.protocol.pformat(settings)
    assert isinstance(text, str) and text.value is settings
    assert str(text) == pprint.pformat(settings) and f"\n{text}" == "\n" + pprint.pformat(settings)
