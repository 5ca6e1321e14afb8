"""Engine.IO v4 and Socket.IO v5 framing for the live-delivery consumer.

Packets are encoded and decoded only by the libraries' codecs (``engineio.packet.Packet``,
``socketio.packet.Packet``); this module adds what the codecs leave to a server: which handshakes we
accept, which frames count as malformed, and the few frames the server composes. Wire facts checked
against socket.io-client 4.8.4 are in docs/clients.md.

We serve the WebSocket transport only (no long-polling, so no upgrades) and the default namespace
only. Clients send no events of their own: the server pushes, the client listens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from engineio import packet as eio
from socketio import packet as sio

from authplatform.conf import platform_settings

ENGINEIO_PROTOCOL = "4"
WEBSOCKET_TRANSPORT = "websocket"
DEFAULT_NAMESPACE = "/"

# Socket.IO's own text for a CONNECT to a namespace the server does not have.
INVALID_NAMESPACE_MESSAGE = "Invalid namespace"


class CloseCode(IntEnum):
    """WebSocket close codes we send. Daphne (autobahn) lets an application send only 1000 or
    3000-4999, so the RFC 6455 meanings are mirrored in the private range as 4000 + the RFC code's
    last digits."""

    NORMAL = 1000
    PROTOCOL_ERROR = 4002  # RFC 1002: a frame that is not Engine.IO / Socket.IO
    UNSUPPORTED_DATA = 4003  # RFC 1003: binary frames and binary events
    TIMEOUT = 4008  # no CONNECT in time, or pongs missed
    TOO_LARGE = 4009  # RFC 1009: frame over maxPayload
    SERVER_ERROR = 4011  # RFC 1011: channel layer or server failure; the client reconnects


class ProtocolError(ValueError):
    """A frame the protocol does not allow; the connection is closed with ``close_code``."""

    def __init__(self, message: str, close_code: CloseCode = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.close_code = close_code


@dataclass(frozen=True)
class EngineOptions:
    ping_interval_ms: int
    ping_timeout_ms: int
    max_payload_bytes: int
    connect_timeout_ms: int

    @classmethod
    def from_settings(cls) -> EngineOptions:
        return cls(
            ping_interval_ms=platform_settings.SOCKETIO_PING_INTERVAL_MS,
            ping_timeout_ms=platform_settings.SOCKETIO_PING_TIMEOUT_MS,
            max_payload_bytes=platform_settings.SOCKETIO_MAX_PAYLOAD_BYTES,
            connect_timeout_ms=platform_settings.SOCKETIO_CONNECT_TIMEOUT_MS,
        )


def new_sid() -> str:
    """A session id like Engine.IO's own: 20 URL-safe characters, unguessable."""
    return secrets.token_urlsafe(15)


def handshake_refusal(query: dict[str, list[str]]) -> str | None:
    """Why a WebSocket handshake with this query string is refused, or None to accept it.

    Refusing the upgrade only shows the client a generic error, so this is kept for requests no
    Socket.IO v4 client with ``transports: ['websocket']`` sends.
    """
    if query.get("EIO", [None])[-1] != ENGINEIO_PROTOCOL:
        return "unsupported Engine.IO protocol version (EIO=4 is required)"
    transport = query.get("transport", [None])[-1]
    if transport != WEBSOCKET_TRANSPORT:
        return f"unsupported transport {transport!r} (only websocket)"
    if "sid" in query:
        return "upgrade of an existing session (no long-polling sessions exist here)"
    return None


def frame_too_large(text: str, limit: int) -> bool:
    # A character is 1-4 UTF-8 bytes: decide on the length alone when that settles it.
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8")) > limit


def decode_engineio(text: str) -> eio.Packet:
    """An Engine.IO packet from a text frame (binary frames never reach here)."""
    try:
        packet = eio.Packet(encoded_packet=text)
    except (ValueError, IndexError, TypeError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise ProtocolError(f"not an Engine.IO packet: {exc}") from None
    if packet.packet_type not in (eio.OPEN, eio.CLOSE, eio.PING, eio.PONG, eio.MESSAGE, eio.UPGRADE, eio.NOOP):
        raise ProtocolError(f"unknown Engine.IO packet type {packet.packet_type}")
    return packet


def decode_socketio(data: Any) -> sio.Packet:
    """A Socket.IO packet from an Engine.IO MESSAGE's data.

    The Engine.IO codec JSON-decodes any payload that does not start with a digit, so a MESSAGE like
    ``4{"a":1}`` arrives as a dict; Socket.IO packets are always text starting with their type digit.
    """
    if not isinstance(data, str) or not data:  # the codec reads "" as an empty EVENT: refuse it here
        raise ProtocolError("an Engine.IO message must carry a Socket.IO packet")
    try:
        packet = sio.Packet(encoded_packet=data)
    except (ValueError, IndexError, TypeError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise ProtocolError(f"not a Socket.IO packet: {exc}") from None
    if packet.packet_type in (sio.BINARY_EVENT, sio.BINARY_ACK):
        raise ProtocolError("binary events are not accepted", CloseCode.UNSUPPORTED_DATA)
    if packet.packet_type not in (sio.CONNECT, sio.DISCONNECT, sio.EVENT, sio.ACK):
        raise ProtocolError(f"unexpected Socket.IO packet type {packet.packet_type!r} from a client")
    return packet


# --- frames the server sends --------------------------------------------------------------------
def open_frame(sid: str, options: EngineOptions) -> str:
    return eio.Packet(
        eio.OPEN,
        {
            "sid": sid,
            "upgrades": [],
            "pingInterval": options.ping_interval_ms,
            "pingTimeout": options.ping_timeout_ms,
            "maxPayload": options.max_payload_bytes,
        },
    ).encode()


def ping_frame() -> str:
    return eio.Packet(eio.PING).encode()


def pong_frame(data: Any = None) -> str:
    return eio.Packet(eio.PONG, data).encode()


def _message_frame(packet: sio.Packet) -> str:
    encoded = packet.encode()
    if not isinstance(encoded, str):  # a list: the codec split out binary attachments
        raise ValueError("binary payloads are not sent over this socket")
    return eio.Packet(eio.MESSAGE, encoded).encode()


def connected_frame(sid: str, pid: str | None = None) -> str:
    """The CONNECT answer; with ``pid`` the client keeps offsets and can recover (live/recovery.py)."""
    return _message_frame(sio.Packet(sio.CONNECT, {"sid": sid, "pid": pid} if pid else {"sid": sid}))


def connect_error_frame(message: str, reason: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """CONNECT_ERROR: socket.io-client fires ``connect_error`` with ``error.message`` = message and
    ``error.data`` = ``{"reason": reason}``."""
    return _message_frame(
        sio.Packet(sio.CONNECT_ERROR, {"message": message, "data": {"reason": reason}}, namespace=namespace)
    )


def event_frame(event: str, data: Any) -> str:
    if not isinstance(event, str) or not event:
        raise ValueError("an event needs a name")
    return _message_frame(sio.Packet(sio.EVENT, [event, data], binary=False))


def disconnect_frame() -> str:
    return _message_frame(sio.Packet(sio.DISCONNECT))
