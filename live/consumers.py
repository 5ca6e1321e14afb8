"""The Socket.IO endpoint that customers' browsers and apps connect to for live delivery.

One ``SocketIOConsumer`` per WebSocket at ``/api/v1/wss/socket.io/``: Engine.IO v4 (open, server
pings, max payload) carrying Socket.IO v5 on the default namespace. The customer authenticates on the
Socket.IO CONNECT packet (``auth: {token: "Bearer <jwt>"}``), not on the HTTP upgrade, so a refusal
reaches the client as ``connect_error`` with a readable message. Once connected the session is in
two groups of this process's Channels layer (authplatform/layers.py): its customer's and its signing
key's (live/socketio_sessions.py). What the layer delivers arrives as Channels intends, through the
consumer's channel, to a handler named by the message type: ``live.frames`` (events to write, encoded
once by the sender) and ``session.end`` (key revoked). The token's ``exp`` ends the session too.
Under daphne, both are taken on delivery instead (the layer's ``handle_directly``), with no task
woken per socket (authplatform/fastpaths/ws_direct.py): ``live.frames`` are framed once for every
socket given the same frames and written at once (a 1,000-recipient send's fan-out p99 went from
0.91x to 0.76x python-socketio's), and a revocation tells all of a process's sockets first and closes
them after.

Nothing a client sends can crash the consumer: every bad frame closes the socket with a close code
(socketio_protocol.CloseCode), and anything unexpected is logged and closes it with 4011, which
socket.io-client answers by reconnecting.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from engineio import packet as eio
from socketio import packet as sio

from authplatform.client_ip import IPAddress, scope_client_ip
from authplatform.conf import platform_settings
from authplatform.errors import CredentialRefused, InvalidCredentials
from authplatform.fastpaths import ws_direct
from authplatform.fastpaths.consumers import DirectDispatchMixin
from authplatform.metrics import OPEN_SOCKETS, live_connect_count
from live.fanout import customer_key
from live.recovery import ConnectState, connect_state_source, with_offset
from live.socketio_protocol import (
    DEFAULT_NAMESPACE,
    INVALID_NAMESPACE_MESSAGE,
    CloseCode,
    EngineOptions,
    ProtocolError,
    connect_error_frame,
    connected_frame,
    decode_engineio,
    decode_socketio,
    disconnect_frame,
    event_frame,
    frame_too_large,
    handshake_refusal,
    new_sid,
    open_frame,
    ping_frame,
    pong_frame,
)
from live.socketio_sessions import FRAMES, SESSION_END, TOKEN_EXPIRED, TOKEN_EXPIRED_MESSAGE, local_sessions
from tokens.authentication import TOO_MANY_FAILURES, too_many_failures_message
from tokens.bearer import parse_bearer
from tokens.customer_jwt import customer_jwt_verify
from tokens.principals import CustomerPrincipal
from tokens.throttle import auth_failure_register

logger = logging.getLogger(__name__)

PONG_FRAME = pong_frame()  # "3": Engine.IO's PONG, the answer to our pings

# Sent just before the server disconnects a session, so the client knows why (Socket.IO's DISCONNECT
# packet carries no reason): {"reason": "token_expired" | "signing_key_revoked", "message": "..."}.
SESSION_ENDED_EVENT = "sessionEnded"
__all__ = ["SocketIOConsumer", "SESSION_ENDED_EVENT", "TOKEN_EXPIRED"]

TOKEN_FORMAT_MESSAGE = "Send the customer JWT as auth: { token: 'Bearer <jwt>' } in the Socket.IO connection."
AUTH_UNAVAILABLE_MESSAGE = "The token could not be checked just now; try again shortly."


@functools.lru_cache(maxsize=16)
def _session_end_messages(reason: str, message: str) -> tuple[dict, ...]:
    """``sessionEnded`` with its reason, the namespace's DISCONNECT, and a normal close, as ASGI
    messages; the same for every socket that ends for the same reason (the server only reads them).

    An expired token ends the session without the DISCONNECT: socket.io-client then reconnects by
    itself, calls an ``auth`` function for a fresh token and recovers what it missed meanwhile
    (docs/clients.md). A DISCONNECT (a revoked signing key) stops it: no new token helps there."""
    ended = {"type": "websocket.send", "text": event_frame(SESSION_ENDED_EVENT, {"reason": reason, "message": message})}
    close = {"type": "websocket.close", "code": int(CloseCode.NORMAL)}
    if reason == TOKEN_EXPIRED:
        return (ended, close)
    return (ended, {"type": "websocket.send", "text": disconnect_frame()}, close)


@functools.lru_cache(maxsize=16)
def _session_end_frames(reason: str, message: str) -> tuple[ws_direct.PreparedFrames, int]:
    """``_session_end_messages`` framed once for every socket (authplatform/fastpaths/ws_direct.py):
    the frames, and the close code."""
    *sends, close = _session_end_messages(reason, message)
    return ws_direct.prepare(tuple(m["text"] for m in sends)), close["code"]


@functools.lru_cache(maxsize=256)
def _with_offsets(frames: tuple[str, ...], offset: int) -> tuple[str, ...]:
    """``frames`` with ``offset`` appended to each: the same for every socket given one send's frames
    (their strings, and so the tuple's hash, are shared by all of them)."""
    return tuple(with_offset(frame, offset) for frame in frames)


class ServerCloses:
    """Sockets this process has begun to close whose consumers have not ended yet: a revocation's
    5,000 at once, their close handshakes still under way. A full garbage collection waits while there
    are any (authplatform/idle_gc.py, a busy check): walking a process's 10,000 sockets' objects took
    0.3 s of the loop in the middle of a revocation, and every client's close waited behind it."""

    in_flight = 0

    def busy(self) -> bool:
        return self.in_flight > 0


server_closes = ServerCloses()


def _end_reason(message: dict) -> tuple[str, str]:
    """The reason and message of a ``session.end``, with defaults."""
    return (
        str(message.get("reason") or "session_ended"),
        str(message.get("message") or "The server ended this session."),
    )


def verify_or_count_failure(token: str, ip: IPAddress | None) -> CustomerPrincipal:
    """customer_jwt_verify, with a refusal counted against the client IP's failed-authentication
    budget exactly as the REST API counts it (tokens/throttle.py); over budget, the refusal says so."""
    try:
        return customer_jwt_verify(token)
    except CredentialRefused:
        wait = auth_failure_register(ip)
        if wait is not None:
            raise CredentialRefused(TOO_MANY_FAILURES, too_many_failures_message(wait)) from None
        raise


def customer_token_from_auth(auth: Any) -> str | None:
    """The JWT of a CONNECT packet's ``{"token": "Bearer <jwt>"}``, or None when it is not there."""
    value = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_bearer(value)
    except InvalidCredentials:
        return None


def principal_customer_key(principal: CustomerPrincipal) -> str:
    """The customer a token speaks for, as live.fanout names it."""
    return customer_key(
        workspace_code=principal.workspace.code,
        product_space_code=principal.product_space.code,
        customer_id=principal.customer_id,
    )


@dataclass(frozen=True)
class CustomerSession:
    """What a successful CONNECT established on one socket."""

    sid: str
    kid: str
    customer: str
    expires_at: float  # Unix time

    @classmethod
    def for_principal(cls, principal: CustomerPrincipal) -> CustomerSession:
        return cls(
            sid=new_sid(),
            kid=str(principal.signing_key.kid),
            customer=principal_customer_key(principal),
            expires_at=principal.expires_at.timestamp(),
        )


class SocketIOConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = EngineOptions.from_settings()
        self.engine_sid = new_sid()
        self.session: CustomerSession | None = None
        self.pid: str | None = None  # connection state recovery (live/recovery.py), when the session has it
        self.offset = 0  # the highest message number this socket has been given
        self._answered = False  # the CONNECT answer and what follows it are out: live frames may be written
        self._closing = False  # we sent a close, or the client went away: send nothing more
        self._counted_close = False  # in server_closes.in_flight
        self._released = False
        self._pong = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._connect_deadline: asyncio.Task | None = None
        # daphne's connection, written to directly (see end_session_now)
        self._protocol: ws_direct.WebSocketProtocol | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Exception:
            # Closing with 4011 makes socket.io-client reconnect with backoff; its next `connect` is
            # its cue to resync.
            logger.exception("Socket.IO connection %s failed; closing it.", self.engine_sid)
            await self._close(CloseCode.SERVER_ERROR)
        finally:
            await self._release()

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        refusal = handshake_refusal(query)
        if refusal:
            logger.info("Refused a Socket.IO handshake from %s: %s.", scope_client_ip(self.scope), refusal)
            await self._close(CloseCode.NORMAL)  # before accept: daphne answers the upgrade with 403
            return
        await self.accept()
        self._protocol = ws_direct.daphne_protocol(self.base_send)
        if self._protocol is not None and hasattr(self.channel_layer, "handle_directly"):
            self.channel_layer.handle_directly(
                self.channel_name, {SESSION_END: self._session_end_now, FRAMES: self._frames_now}
            )
        await self._send_frame(open_frame(self.engine_sid, self.options))
        self._spawn(self._heartbeat())
        self._connect_deadline = self._spawn(self._close_unless_connected_in_time())

    async def disconnect(self, code: int) -> None:
        self._closing = True  # the client went away; _release (after StopConsumer) cleans up

    async def _release(self) -> None:
        if self._released:
            return
        self._released = True
        self._closing = True
        if self._counted_close:
            server_closes.in_flight -= 1
        for task in list(self._tasks):
            task.cancel()
        await self._leave_session()

    # --- frames from the client ---------------------------------------------------------------
    def handle_on_arrival(self, message: dict) -> bool:
        """A pong counts the moment it arrives (authplatform/fastpaths/consumers.py). Queued, it would
        wait behind a CONNECT still reading its token and connect state from the database, and the
        heartbeat would close a socket whose client answered in time."""
        if message.get("type") == "websocket.receive" and message.get("text") == PONG_FRAME:
            self._pong.set()
            return True
        return False

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self._closing:
            return
        try:
            if text_data is None:
                raise ProtocolError("binary frames are not accepted", CloseCode.UNSUPPORTED_DATA)
            if frame_too_large(text_data, self.options.max_payload_bytes):
                raise ProtocolError(
                    f"frame over maxPayload ({self.options.max_payload_bytes} bytes)", CloseCode.TOO_LARGE
                )
            await self._on_engineio(decode_engineio(text_data))
        except ProtocolError as exc:
            logger.info(
                "Closing Socket.IO connection %s from %s: %s.", self.engine_sid, scope_client_ip(self.scope), exc
            )
            await self._close(exc.close_code)

    async def _on_engineio(self, packet: eio.Packet) -> None:
        kind = packet.packet_type
        if kind == eio.PONG:
            self._pong.set()
        elif kind == eio.MESSAGE:
            await self._on_socketio(decode_socketio(packet.data))
        elif kind == eio.PING:  # a probe ("2probe") or an Engine.IO v3 habit: answer in kind
            await self._send_frame(pong_frame(packet.data))
        elif kind == eio.CLOSE:
            await self._close(CloseCode.NORMAL)
        elif kind == eio.OPEN:
            raise ProtocolError("only the server sends OPEN")
        # UPGRADE and NOOP mean nothing on a WebSocket-only connection.

    async def _on_socketio(self, packet: sio.Packet) -> None:
        namespace = packet.namespace or DEFAULT_NAMESPACE
        if packet.packet_type == sio.CONNECT:
            if namespace != DEFAULT_NAMESPACE:
                await self._send_frame(connect_error_frame(INVALID_NAMESPACE_MESSAGE, "unknown_namespace", namespace))
            elif self.session is None:
                await self._connect_customer(packet.data)
            # A repeated CONNECT on a connected namespace changes nothing (its token is not read).
        elif packet.packet_type == sio.DISCONNECT:
            if namespace == DEFAULT_NAMESPACE:
                await self._leave_session()
                if self._connect_deadline is None:
                    # Without a session the socket must CONNECT again in time, as after the handshake,
                    # or it would idle on its pings for ever.
                    self._connect_deadline = self._spawn(self._close_unless_connected_in_time())
        # EVENT / ACK: clients have no events to send here; ignored like events without a handler.

    async def _connect_customer(self, auth: Any) -> None:
        token = customer_token_from_auth(auth)
        if token is None:
            await self._refuse("token_missing", TOKEN_FORMAT_MESSAGE)
            return
        layer = self.channel_layer
        deliveries_before = layer.deliveries_begun
        try:
            # The token and the connect state in one trip to the database thread (see below).
            principal, state = await asyncio.wait_for(
                database_sync_to_async(self._verify_and_read_state)(token, scope_client_ip(self.scope), auth),
                platform_settings.SOCKETIO_AUTH_TIMEOUT_MS / 1000,
            )
        except CredentialRefused as exc:
            await self._refuse(exc.reason, exc.message)
            return
        except Exception:
            logger.exception("Could not check a customer token on Socket.IO connection %s.", self.engine_sid)
            await self._refuse("auth_unavailable", AUTH_UNAVAILABLE_MESSAGE)
            return

        if self._closing or self.session is not None:
            return  # the socket went away, or connected, while its token was being checked
        if principal.expires_at.timestamp() <= time.time():
            # Accepted within the JWT leeway, but a session ends at its token's exp: it would end at once,
            # and socket.io-client would reconnect with the same token again and again.
            await self._refuse(TOKEN_EXPIRED, TOKEN_EXPIRED_MESSAGE)
            return
        bus = layer.bus
        if not bus.ready and not await bus.wait_ready(platform_settings.LIVE_REDIS_TIMEOUT_MS / 1000):
            # Without the bus's subscription the socket would look connected and hear nothing.
            # Closing makes the client retry with backoff until Redis is back; the inbox holds what
            # it missed.
            logger.warning("Socket.IO connection %s: the live bus is not subscribed; closing it.", self.engine_sid)
            await self._close(CloseCode.SERVER_ERROR)
            return

        session = self.session = CustomerSession.for_principal(principal)
        OPEN_SOCKETS.inc()  # until _leave_session clears self.session
        if self._connect_deadline is not None:
            self._connect_deadline.cancel()  # the deadline is for the first CONNECT only
            self._connect_deadline = None
        # From here on what this process delivers reaches the socket (and waits in its channel until
        # this handler returns). The state read with the token holds everything committed before it was
        # read; what committed after reaches the socket live unless its delivery began before the join.
        # No delivery began since the read started: the state holds. Otherwise it is read again, now.
        local_sessions.add(self, customer=session.customer, kid=session.kid, expires_at=session.expires_at)
        if state is not None and layer.deliveries_begun != deliveries_before:
            try:
                state = await asyncio.wait_for(
                    database_sync_to_async(self._read_state)(principal, auth),
                    platform_settings.SOCKETIO_AUTH_TIMEOUT_MS / 1000,
                )
            except Exception:
                logger.exception("Could not read the connect state of Socket.IO connection %s.", self.engine_sid)
                state = None
        await self._start_session(state, auth)

    def _verify_and_read_state(
        self, token: str, ip: IPAddress | None, auth: dict
    ) -> tuple[CustomerPrincipal, ConnectState | None]:
        """In the database thread: the token's principal, and the connect state read right after it."""
        principal = verify_or_count_failure(token, ip)
        if principal.expires_at.timestamp() <= time.time():
            return principal, None  # refused as expired (_connect_customer)
        return principal, self._read_state(principal, auth)

    def _read_state(self, principal: CustomerPrincipal, auth: dict) -> ConnectState | None:
        """The connect state (live/recovery.py), in the database thread; None without a source or when
        it cannot be read: connected all the same, without recovery (the client reads its inbox on
        `connect`), and not read again."""
        source = connect_state_source.source
        if source is None:
            return None
        try:
            customer = principal_customer_key(principal)
            return source(principal=principal, customer=customer, pid=auth.get("pid"), offset=auth.get("offset"))
        except Exception:
            logger.exception("Could not read the connect state of Socket.IO connection %s.", self.engine_sid)
            return None

    async def _start_session(self, state: ConnectState | None, auth: dict) -> None:
        """Answer the CONNECT, recovering the session when the client asks for it (live/recovery.py):
        the CONNECT answer, what the socket missed (each with its offset), then the unread count."""
        session = self.session
        assert session is not None
        if state is None:
            live_connect_count(outcome="not_recovered" if auth.get("pid") is not None else "fresh", events=0)
            await self._send_frame(connected_frame(session.sid))
        else:
            outcome = "recovered" if state.recovered else "not_recovered" if auth.get("pid") is not None else "fresh"
            live_connect_count(outcome=outcome, events=len(state.replay) + len(state.last_frames))
            self.pid, self.offset = state.pid, state.offset
            await self._send_frame(connected_frame(session.sid, pid=state.pid))
            for number, frame in state.replay:
                await self._send_frame(with_offset(frame, number))
            for frame in state.last_frames:
                await self._send_frame(with_offset(frame, self.offset))
        self._answered = True

    async def _refuse(self, reason: str, message: str) -> None:
        logger.info("Socket.IO CONNECT from %s refused: %s.", scope_client_ip(self.scope), reason)
        await self._send_frame(connect_error_frame(message, reason))

    # --- what the channel layer delivers (live/socketio_sessions.py) -----------------------------
    async def live_frames(self, message: dict) -> None:
        """``live.frames``: Socket.IO event frames for this customer, encoded once by the sender
        (live/fanout.py), handed straight to the server (one socket write per loop turn for them all)."""
        frames = self._frames_to_send(message)
        if frames:
            send = self.base_send
            for frame in frames:
                await send({"type": "websocket.send", "text": frame})

    def _frames_now(self, message: dict) -> None:
        """``live.frames`` taken on delivery under daphne (the layer's direct handler): written at once,
        framed once for every socket given the same frames (authplatform/fastpaths/ws_direct.py), with
        no task woken per socket. Until the CONNECT is answered, and while earlier messages still wait
        in the channel, it waits there too, for ``live_frames``: a socket's events keep their order."""
        layer = self.channel_layer
        if not self._answered or layer.queued(self.channel_name):
            layer.inject(self.channel_name, message)
            return None
        frames = self._frames_to_send(message)
        if frames and self._protocol is not None:
            ws_direct.write_now(self._protocol, ws_direct.prepare(frames))
        return None

    def _frames_to_send(self, message: dict) -> tuple[str, ...] | None:
        """The frames of ``message`` for this socket, each with its offset when the session has a pid
        (live/recovery.py); None when it has nothing to send (no session, or a number it already has)."""
        if self.session is None or self._closing:
            return None
        frames = message["frames"]
        if self.pid is None:
            return tuple(frames)
        number = message.get("seq")
        if number is not None:
            if number <= self.offset:
                return None  # replayed on connect, or in the inbox the client read on connect
            self.offset = number
        return _with_offsets(tuple(frames), self.offset)

    async def session_end(self, message: dict) -> None:
        """``session.end``: the session's signing key was revoked (or has otherwise ended)."""
        await self.end_session(*_end_reason(message))

    def _session_end_now(self, message: dict) -> functools.partial | None:
        """``session.end`` taken on delivery (the layer's direct handler): the client is told now; the
        close is the second step, which the layer runs once all of this process's sockets are told."""
        return self.end_session_now(*_end_reason(message))

    async def send_frame(self, frame: str) -> None:
        if self.session is not None:
            await self._send_frame(frame)

    async def close_for_outage(self) -> None:
        await self._close(CloseCode.SERVER_ERROR)

    # --- ending a session ---------------------------------------------------------------------
    async def end_session(self, reason: str, message: str) -> None:
        """Tell the client why, disconnect the namespace (socket.io-client then does not reconnect on
        its own: it needs a new token), and close the socket.

        A revocation runs this for thousands of sockets in a row, so it hands the three ASGI messages
        (built once per reason) straight to the server, without the consumer's per-frame wrappers;
        under daphne it writes them to the connection at once (``end_session_now``)."""
        if self._protocol is not None:
            close_now = self.end_session_now(reason, message)
            if close_now is not None:
                close_now()
            return
        if self.session is None or self._closing:
            return
        self._begin_close()
        send = self.base_send
        *frames, close = _session_end_messages(reason, message)
        try:
            for frame in frames:
                await send(frame)
        finally:
            try:
                await send(close)
            except Exception:
                logger.debug("Closing Socket.IO connection %s failed.", self.engine_sid, exc_info=True)

    def end_session_now(self, reason: str, message: str) -> functools.partial | None:
        """``end_session`` without awaiting, under daphne: ``sessionEnded`` (and the DISCONNECT) framed
        once for every socket and written now; returns the close, to be called next (None: nothing to
        end). Between the two the socket hears nothing more and ignores what it reads (``_closing``)."""
        if self.session is None or self._closing or self._protocol is None:
            return None
        self._begin_close()
        frames, code = _session_end_frames(reason, message)
        if not ws_direct.write_now(self._protocol, frames):
            return None  # closing or closed already
        return functools.partial(ws_direct.close_now, self._protocol, code)

    async def _leave_session(self) -> None:
        session, self.session = self.session, None
        self.pid, self.offset, self._answered = None, 0, False
        if session is not None:
            OPEN_SOCKETS.dec()
            local_sessions.discard(self, customer=session.customer, kid=session.kid)

    # --- Engine.IO heartbeat and deadlines ----------------------------------------------------
    async def _heartbeat(self) -> None:
        """Ping every pingInterval; no pong within pingTimeout closes the socket (Engine.IO v4)."""
        interval = self.options.ping_interval_ms / 1000
        timeout = self.options.ping_timeout_ms / 1000
        while not self._closing:
            await asyncio.sleep(interval)
            if self._closing:
                return
            self._pong.clear()
            await self._send_frame(ping_frame())
            try:
                await asyncio.wait_for(self._pong.wait(), timeout)
            except TimeoutError:
                logger.info("Socket.IO connection %s missed its pong; closing it.", self.engine_sid)
                await self._close(CloseCode.TIMEOUT)
                return

    async def _close_unless_connected_in_time(self) -> None:
        await asyncio.sleep(self.options.connect_timeout_ms / 1000)
        if self.session is None:  # (the task is cancelled once a CONNECT is accepted)
            logger.info("Socket.IO connection %s sent no accepted CONNECT in time; closing it.", self.engine_sid)
            await self._close(CloseCode.TIMEOUT)

    # --- plumbing -------------------------------------------------------------------------------
    def _begin_close(self) -> None:
        """We close: send nothing more, and count the socket in ``server_closes`` until it is gone."""
        self._closing = True
        if not self._counted_close:
            self._counted_close = True
            server_closes.in_flight += 1

    async def _send_frame(self, frame: str) -> None:
        if not self._closing:
            await self.send(text_data=frame)

    async def _close(self, code: CloseCode) -> None:
        if self._closing:
            return
        self._begin_close()
        try:
            await self.close(code=int(code))  # autobahn refuses an IntEnum: it checks type(code) is int
        except Exception:
            logger.debug("Closing Socket.IO connection %s failed.", self.engine_sid, exc_info=True)

    def _spawn(self, coro: Coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "Socket.IO connection %s: background task failed; closing it.",
                self.engine_sid,
                exc_info=task.exception(),
            )
            # A socket without its heartbeat or expiry must not linger: close it, the client reconnects.
            self._spawn(self._close(CloseCode.SERVER_ERROR))
