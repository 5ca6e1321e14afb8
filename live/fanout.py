"""Live fan-out: telling every open socket of a customer, on every server process, about an event.

The send API and the inbox endpoints call ``notify_customers`` after their transaction commits
(``transaction.on_commit``), so whatever a socket receives is already stored. Delivery goes through
channel-layer groups (Redis across processes when REDIS_URL is set; in-memory on one process).
A failure of the layer is logged and swallowed: the message is in the inbox and a reconnecting
client fetches it from there (README "Live delivery": every ``connect`` is the client's cue to resync).

Group names are decided here and nowhere else: the Socket.IO consumer joins ``customer_group`` and
``signing_key_group`` after authenticating.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from authplatform.conf import platform_settings
from live.socketio_protocol import event_frame

logger = logging.getLogger(__name__)

IN_APP_MESSAGE_EVENT = "inAppMessage"
# {"count": n}: the customer's unread inbox count, after each delivery and read (badges).
UNREAD_COUNT_EVENT = "unreadCount"

# Channel-layer message types the consumer handles (``socketio.emit`` → ``socketio_emit``).
EMIT_MESSAGE_TYPE = "socketio.emit"
END_SESSION_MESSAGE_TYPE = "socketio.end_session"

SIGNING_KEY_REVOKED = "signing_key_revoked"


@dataclass(frozen=True)
class CustomerNotification:
    """One Socket.IO event for all sockets of one customer."""

    workspace_code: str
    product_space_code: str
    customer_id: str
    event: str
    data: Any


def customer_group(*, workspace_code: str, product_space_code: str, customer_id: str) -> str:
    """The channel-layer group of a customer's sockets.

    Customer ids are free text (up to CUSTOMER_ID_MAX_LENGTH chars); group names must be short ASCII, so the id is hashed.
    """
    digest = hashlib.sha256(f"{workspace_code}\0{product_space_code}\0{customer_id}".encode()).hexdigest()
    return f"customer.{digest[:40]}"


def signing_key_group(kid: Any) -> str:
    """The channel-layer group of the sockets that authenticated with signing key ``kid``."""
    return f"signing-key.{str(kid).lower()}"


def notify_customers(notifications: Iterable[CustomerNotification]) -> None:
    """Emit each notification to its customer's sockets. Never raises (see module docstring).

    One layer message per customer carries all of its events, in order (``inAppMessage`` before the
    ``unreadCount`` that follows it): a send to 1,000 customers is 1,000 group sends, not 2,000, and
    with Redis each receiving process pops half as many messages.

    Events travel as the Socket.IO frames the sockets send, encoded here once per distinct payload:
    the message a send gives 1,000 customers was JSON-encoded by each of their 1,000 consumers, and
    a string costs nothing to copy in the in-memory layer (the bench's fan-out profile).
    """
    frames_by_customer: dict[tuple[str, str, str], list[str]] = {}
    encoded: dict[tuple[str, int], str] = {}  # (event, id(data)): notifications share one payload
    for n in notifications:
        key = (n.event, id(n.data))
        frame = encoded.get(key)
        if frame is None:
            try:
                frame = encoded[key] = event_frame(n.event, n.data)
            except (TypeError, ValueError):
                logger.error("Dropped a Socket.IO event that cannot be sent as JSON: %r.", n.event)
                continue
        frames_by_customer.setdefault((n.workspace_code, n.product_space_code, n.customer_id), []).append(frame)
    sends = [(customer_group(workspace_code=w, product_space_code=p, customer_id=c),
              {"type": EMIT_MESSAGE_TYPE, "frames": frames}) for (w, p, c), frames in frames_by_customer.items()]
    _group_send_now(sends, what="Live fan-out")


def end_signing_key_sessions(kid: Any, *, reason: str = SIGNING_KEY_REVOKED,
                             message: str = "The signing key of this session's token was revoked.") -> None:
    """Disconnect every socket, on every process, that authenticated with signing key ``kid``."""
    _group_send_now([(signing_key_group(kid),
                      {"type": END_SESSION_MESSAGE_TYPE, "reason": reason, "message": message})],
                    what="Ending signing-key sessions")


def _group_send_now(sends: list[tuple[str, dict]], *, what: str) -> None:
    """Run the group sends from sync code (views, on_commit hooks, signal receivers) or, when this
    thread already runs an event loop, schedule them on it. Never raises."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        try:
            async_to_sync(_group_send_all)(layer, sends, what)
        except Exception:
            logger.exception("%s failed; the messages are stored and clients resync from the inbox.", what)
        return
    task = loop.create_task(_group_send_all(layer, sends, what))
    _pending.add(task)  # keep a reference until done, or the task may be collected mid-flight
    task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task] = set()


async def _group_send_all(layer, sends: list[tuple[str, dict]], what: str) -> None:
    """Send to the groups concurrently, at most FANOUT_CONCURRENCY at a time (one after the other, a
    send to 1,000 customers costs 1,000 Redis round trips in a row). Each send is bounded by the layer
    timeout; failures are counted and logged, not raised. Callers send one message per group, so
    nothing here needs ordering.

    FANOUT_CONCURRENCY workers share one iterator, rather than a task (and a wait_for task) per group:
    creating 2,000 tasks was most of a 1,000-customer fan-out's 40-60 ms before any socket was
    written to (measured with the bench). With the in-memory layer, whose group_send never waits, the first worker
    simply sends them all."""
    timeout = platform_settings.CHANNEL_LAYER_TIMEOUT_MS / 1000
    pending = iter(sends)
    errors: list[BaseException] = []

    async def worker() -> None:
        for group, message in pending:
            try:
                async with asyncio.timeout(timeout):
                    await layer.group_send(group, message)
            except Exception as exc:
                errors.append(exc)

    workers = min(len(sends), max(1, platform_settings.FANOUT_CONCURRENCY))
    await asyncio.gather(*(worker() for _ in range(workers)))
    if errors:
        logger.error("%s: %d of %d group sends failed (first: %r); the messages are stored and "
                     "clients resync from the inbox.", what, len(errors), len(sends), errors[0])
