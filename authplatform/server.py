"""daphne, with every answer it gives before Django in the JSON error body (DESIGN.md "Error body").

Run it as daphne, with daphne's arguments::

    python -m authplatform.server -b 127.0.0.1 -p 8000 authplatform.asgi:application

What Twisted, daphne and autobahn answer by themselves, and what becomes of it here:

- a malformed request (request line, header syntax, too many headers, Content-Length, chunked body):
  Twisted writes a bare ``400`` → a JSON 400, ``malformed_request``;
- the request line and headers over ``totalHeadersSize``: a bare ``400`` → JSON 414 ``uri_too_long``
  when the request line alone is too long, else 431 ``headers_too_large``;
- one line over ``MAX_LENGTH``: the connection was closed without a word → the same 414 or 431;
- a form body (``multipart/form-data``, urlencoded) was parsed by Twisted, a bad one answered with the
  bare 400: not parsed any more, so the API parses its bodies itself and answers;
- daphne's own refusals (header bytes it does not accept, ...): an HTML page → JSON;
- a refused WebSocket upgrade (a malformed handshake; the application closing before accepting):
  autobahn's status line with no body → JSON;
- a WebSocket frame over daphne's limit (``--websocket-max-frame-size``, 1 MiB): autobahn dropped the
  TCP connection → a close frame with code 1009, as for any other failure it detects.

After an HTTP refusal the connection closes as a careful server does it: the answer, then end of
output, then whatever the client still sends is read and dropped for a few seconds, so a client that
has not finished sending still reads the answer instead of a connection reset.

Internals relied on, checked by tests/foundation/test_server_edge.py against a running server:
daphne's ``Server.run`` assigns its factories to ``self.http_factory`` and ``self.ws_factory`` before
it listens and uses them after (the properties below put ours in their place); Twisted's
``HTTPChannel._respondToBadRequestAndDisconnect`` is its one way out for a malformed request;
``HTTPChannel.lineReceived`` sees the request line and each header line, ``allHeadersReceived`` ends
them; ``Request(parsePOSTFormSubmission=False)``; daphne's ``WebRequest.basic_error`` and autobahn's
``sendHttpErrorResponse`` write their refusals.
"""

from __future__ import annotations

import daphne.server  # isort:skip  (installs Twisted's asyncio reactor: before anything imports Twisted's)

from authplatform import idle_gc  # isort:skip
from authplatform.fastpaths import twisted_aborts, twisted_writes  # isort:skip

twisted_writes.install()  # one send() per connection per loop turn (see the module)
twisted_aborts.install()  # an aborted connection ends on the loop's next turn, not through a timer

import gc
import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from daphne import cli, http_protocol, ws_protocol
from twisted.internet import reactor
from twisted.protocols.policies import ProtocolWrapper
from twisted.web import http

from authplatform import background
from authplatform.fastpaths import autobahn_logging
from authplatform.fastpaths.batched_timer import BatchedTimer

# A machine code per status the transport answers with; any other status keeps error_body's default.
REASONS = {400: "malformed_request", 414: "uri_too_long", 431: "headers_too_large"}
MESSAGES = {
    400: "The request is not valid HTTP.",
    414: "The request path is too long.",
    431: "The request headers are too large.",
    500: "Something went wrong on our side.",
}
# How long a refused connection is read and drained before it is closed regardless.
LINGER_SECONDS = 5.0


def error_json(code: int, message: str | None = None) -> bytes:
    """The error body as bytes. ``message`` (for people) defaults to one per status; a 500 always has
    the default, since the text given with it (an exception, an internal step) is for the log."""
    # Imported here: authplatform.errors needs Django's settings, which the application sets up only
    # once the command line has loaded it.
    from authplatform.errors import error_body, status_message

    if message and code != 500:
        message = message.rstrip(".") + "."
    else:
        message = MESSAGES.get(code) or status_message(code)
    body = error_body(code, message, REASONS.get(code))
    return json.dumps(body).encode()


def error_response(code: int, message: str | None = None, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """A whole HTTP/1.1 error response that ends the connection."""
    body = error_json(code, message)
    head = [
        f"HTTP/1.1 {code} {HTTPStatus(code).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class HTTPChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 connection, refusing with the error body."""

    _head_size = 0  # bytes of the request line and header lines so far, as Twisted counts them
    _in_headers = False  # past the request line, before the blank line
    _refused = False
    _linger = None

    def lineReceived(self, line: bytes) -> None:
        self._head_size += len(line)
        if self._head_size > self.totalHeadersSize:  # Twisted's own check would answer a bare 400
            return self.refuse(431 if self._in_headers else 414)
        request_line = not self._in_headers and bool(line)  # (a blank line before it is skipped)
        super().lineReceived(line)
        if request_line:
            self._in_headers = True

    def allHeadersReceived(self) -> None:
        self._head_size, self._in_headers = 0, False
        super().allHeadersReceived()

    def lineLengthExceeded(self, line: bytes) -> None:
        self.refuse(431 if self._in_headers else 414)

    def _respondToBadRequestAndDisconnect(self) -> None:
        self.refuse(400)

    def refuse(self, code: int) -> None:
        """Answer ``code`` with the error body, then stop reading requests on this connection."""
        if self._refused:
            return
        self._refused = True
        self.clearLineBuffer()  # what is buffered is not parsed any further
        self.setTimeout(None)
        transport: Any = self.transport  # a TCP transport (or TLS's wrapper): more than ITransport says
        transport.write(error_response(code))
        if isinstance(transport, ProtocolWrapper):  # TLS, which has no half-close
            self.loseConnection()
        else:
            transport.loseWriteConnection()
            self._linger = self.callLater(LINGER_SECONDS, transport.abortConnection)

    def dataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().dataReceived(data)

    def connectionLost(self, reason=None) -> None:
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        super().connectionLost(reason)


class WebRequest(http_protocol.WebRequest):
    def __init__(self, channel, *args, **kwargs) -> None:
        # The API parses its own bodies (any content type); Twisted would parse form bodies first and
        # refuse a malformed one itself.
        super().__init__(channel, *args, parsePOSTFormSubmission=False, **kwargs)

    def basic_error(self, status: int, status_text: bytes, body: str) -> None:
        """daphne's refusals and its last-resort 500/503, as the error body (``body`` is daphne's text)."""
        payload = error_json(status, body)
        self.handle_reply(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"Content-Type", b"application/json"), (b"Content-Length", str(len(payload)).encode())],
            }
        )
        self.handle_reply({"type": "http.response.body", "body": payload})


class HTTPFactory(http_protocol.HTTPFactory):
    # A plain HTTP/1.1 channel instead of Twisted's wrapper that can switch to HTTP/2 after TLS ALPN:
    # HTTP/2 is not offered (acceptableProtocols) and would answer its errors past this module.
    protocol = HTTPChannel

    def buildProtocol(self, addr):
        channel = super().buildProtocol(addr)  # daphne sets its WebRequest here
        channel.requestFactory = WebRequest
        return channel

    def acceptableProtocols(self) -> list[bytes]:
        return [b"http/1.1"]


class WebSocketProtocol(ws_protocol.WebSocketProtocol):
    def sendHttpErrorResponse(self, code: int, reason: str, responseHeaders=None) -> None:
        """autobahn refusing an upgrade; ``reason`` is its text (a handshake error, or daphne's
        "Access denied" when the application closed before accepting)."""
        message = {400: reason, 403: "The WebSocket upgrade was refused."}.get(code)
        self.sendData(error_response(code, message, responseHeaders or ()))


CLOSE_HANDSHAKE_TIMEOUT = 10  # seconds


class WebSocketFactory(ws_protocol.WebSocketFactory):
    protocol = WebSocketProtocol

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # autobahn drops the TCP connection when it fails one (a frame over the size limit, a protocol
        # error); a close frame with the code (1009 message too big, 1002, 1007) tells the client why.
        # daphne's later setProtocolOptions call leaves options it does not name as they are.
        # After sending a close frame autobahn waits closeHandshakeTimeout (1 s by default) for the
        # client's, then aborts the TCP connection, and an abort discards what the client had not read
        # yet: when thousands of sessions end at once (a signing key revoked) busy clients lost their
        # `sessionEnded` and saw 1006. The client's answer may take longer than a second; waiting costs
        # only an open socket.
        self.setProtocolOptions(failByDrop=False, closeHandshakeTimeout=CLOSE_HANDSHAKE_TIMEOUT)
        # Those timeouts with cancels that do not scan a list, and autobahn's debug-log arguments left
        # unformatted: both cost most on a revocation's 5,000 closes (the modules say how much).
        self._batched_timer = BatchedTimer(reactor)
        autobahn_logging.install()


class Server(daphne.server.Server):
    """daphne's server with the factories above, and without daphne's access log.

    ``Server.run`` creates daphne's two factories, assigns them to these attributes and then uses
    them (listens with one, configures the other); the setters put ours in their place.
    The access log is the application's (authplatform/request_log.py: one record per request, in the
    log's format, with the credential and the request id); daphne's would repeat it on stdout in a
    format of its own, and as plain text in a JSON log.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["action_logger"] = None
        super().__init__(*args, **kwargs)

    def run(self) -> None:
        freeze_startup_objects()
        idle_gc.collector.install(loop=daphne.server.twisted_loop)
        background.start_all()  # what the apps run beside serving (authplatform/background.py)
        super().run()

    @property
    def http_factory(self) -> HTTPFactory:
        return self._project_http_factory

    @http_factory.setter
    def http_factory(self, daphne_factory) -> None:
        self._project_http_factory = HTTPFactory(self)

    @property
    def ws_factory(self) -> WebSocketFactory:
        return self._project_ws_factory

    @ws_factory.setter
    def ws_factory(self, daphne_factory) -> None:
        self._project_ws_factory = WebSocketFactory(self, server=self.server_name)


def freeze_startup_objects() -> None:
    """Take what start-up built (modules, classes, settings, the URLconf's views) out of the garbage
    collector's sight. A full collection walks every tracked object; with 5,000 sockets per process they
    took 100-550 ms, one of them inside a signing key's revocation. What was imported before serving
    lives as long as the process, so walking it again and again finds nothing."""
    from django.urls import get_resolver

    from authplatform.metrics import FROZEN_OBJECTS

    _ = get_resolver().url_patterns  # the views' modules, imported now rather than on the first request
    gc.collect()  # start-up's own garbage is freed, not frozen
    gc.freeze()
    FROZEN_OBJECTS.set(gc.get_freeze_count())  # /metrics: authplatform_gc_frozen_objects


class CommandLineInterface(cli.CommandLineInterface):
    description = "The authplatform server: daphne, with JSON error bodies for what it refuses itself"
    server_class = Server


if __name__ == "__main__":
    CommandLineInterface.entrypoint()
