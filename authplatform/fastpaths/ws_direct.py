"""Writing to a daphne WebSocket at once, from the event loop, with frames encoded once for all sockets.

An ASGI ``send`` is a coroutine: daphne's ``Server.handle_reply`` checks the connection and hands the
message to the connection's protocol, whose ``handle_reply`` frames it (autobahn's ``sendMessage``) and
writes it. Ending a signing key's 5,000 sessions on a process that way means waking 5,000 consumer
tasks to await three sends each, and framing the same ``sessionEnded`` and DISCONNECT 5,000 times; a
send to 1,000 customers, 1,000 tasks awaiting three sends each. Here the consumer keeps its
connection's protocol and, for messages that are the same for many sockets (``prepare``: a revocation's
end, a send's frames with their offset), writes the frames already framed: one ``transport.write`` per
socket, called synchronously by the layer's direct handler (authplatform/layers.py
``handle_directly``), no task woken. A connection that negotiated permessage-deflate (autobahn
compresses per connection) or queues its writes (autobahn's ``send_queue``) gets daphne's own
``handle_reply`` for each message instead; so does the close, which autobahn must see to run the close
handshake.

Relies on (daphne 4, autobahn 24+): daphne's ``Server.create_application`` passing
``send=functools.partial(server.handle_reply, protocol)``; autobahn's ``WebSocketProtocol.state`` /
``STATE_OPEN``, ``_perMessageCompress``, ``send_queue``, ``transport`` and ``PreparedMessage``
(``payloadHybi``: the framed message); daphne's ``WebSocketProtocol.handle_reply``. If daphne stops
passing that partial, ``daphne_protocol`` returns None and consumers use the ASGI ``send`` as before.
Breaks visibly in tests/live_delivery/test_revocation_at_scale.py (each socket's ``sessionEnded``,
DISCONNECT and close 1000), tests/live_delivery/test_socketio.py (every event a socket is sent) and
tests/live_delivery/test_recovery.py (each event's offset).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autobahn.websocket.protocol import PreparedMessage
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol


@dataclass(frozen=True)
class PreparedFrames:
    """Text messages framed once, as a server sends them (unmasked, uncompressed), back to back."""

    texts: tuple[str, ...]
    wire: bytes


@functools.lru_cache(maxsize=256)  # a send's distinct frame lists (one per distinct count), and the ends
def prepare(texts: tuple[str, ...]) -> PreparedFrames:
    wire = b"".join(
        PreparedMessage(text.encode(), isBinary=False, applyMask=False, doNotCompress=True).payloadHybi
        for text in texts
    )
    return PreparedFrames(texts, wire)


def daphne_protocol(send: Callable[..., Any]) -> WebSocketProtocol | None:
    """The connection behind an ASGI ``send`` given by daphne, or None (another server, a test's
    communicator, a middleware's wrapper)."""
    if (
        isinstance(send, functools.partial)
        and getattr(send.func, "__func__", None) is Server.handle_reply
        and len(send.args) == 1
        and isinstance(send.args[0], WebSocketProtocol)
    ):
        return send.args[0]
    return None


def write_now(protocol: WebSocketProtocol, frames: PreparedFrames) -> bool:
    """Write ``frames`` to the connection now (sent with the loop turn's other writes: see
    twisted_writes); False if it is no longer open (closing, closed: nothing is written)."""
    if protocol.state != WebSocketProtocol.STATE_OPEN:
        return False
    if protocol._perMessageCompress is None and not protocol.send_queue:
        protocol.transport.write(frames.wire)
    else:
        for text in frames.texts:
            protocol.handle_reply({"type": "websocket.send", "text": text})
    return True


def close_now(protocol: WebSocketProtocol, code: int) -> None:
    """Start the close handshake with ``code``, as the ASGI ``websocket.close`` does (if still open)."""
    if protocol.state == WebSocketProtocol.STATE_OPEN:
        protocol.handle_reply({"type": "websocket.close", "code": code})
