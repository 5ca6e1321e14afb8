"""Live fan-out: telling every open socket of a customer, on every server process, about an event.

The send API and the inbox endpoints call ``notify_customers`` after their transaction commits
(``transaction.on_commit``), so whatever a socket receives is already stored. A call is one
``group_send_many`` on the Channels layer (authplatform/layers.py: one publication on the live bus,
one Redis ``PUBLISH`` across processes, in-process on one) however many customers it names: each
distinct list of frames once, with the customers' groups that get it. Each process then hands it to
its own sockets of those customers (live/socketio_sessions.py). The call returns once the publication
is handed to the event loop; it never waits for delivery and never raises. A publication that fails
is logged and counted (``authplatform.bus.bus.stats``): the message is in the inbox and a
reconnecting client fetches it from there (docs/live-delivery.md: every ``connect`` is the client's
cue to resync).

Customer keys are decided here and nowhere else: the Socket.IO consumer joins its customer's group
(``customer_group(customer_key(...))``) after authenticating.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from authplatform.metrics import COMMITTED_AT
from live.socketio_protocol import event_frame
from live.socketio_sessions import FRAMES, SESSION_END, SIGNING_KEY_REVOKED, customer_group, kid_group, live_layer

logger = logging.getLogger(__name__)

IN_APP_MESSAGE_EVENT = "inAppMessage"
# {"count": n}: the customer's unread inbox count, after each delivery and read (badges).
UNREAD_COUNT_EVENT = "unreadCount"
# {"unseen", "unread", "total"}: the customer's counts, beside every unreadCount.
COUNTS_EVENT = "counts"
# {"ids": [message ids] | null, "change", "filter"?}: items changed on another tab, device or the API.
INBOX_UPDATED_EVENT = "inboxUpdated"

__all__ = [
    "IN_APP_MESSAGE_EVENT",
    "UNREAD_COUNT_EVENT",
    "COUNTS_EVENT",
    "INBOX_UPDATED_EVENT",
    "SIGNING_KEY_REVOKED",
    "CustomerNotification",
    "customer_key",
    "notify_customers",
    "end_signing_key_sessions",
]


@dataclass(frozen=True)
class CustomerNotification:
    """One Socket.IO event for all sockets of one customer."""

    workspace_code: str
    product_space_code: str
    customer_id: str
    event: str
    data: Any


def customer_key(*, workspace_code: str, product_space_code: str, customer_id: str) -> str:
    """The key of a customer's sockets in every process's session map and in publications.

    Customer ids are free text (up to CUSTOMER_ID_MAX_LENGTH chars); a fixed-size digest keeps a
    1,000-recipient publication small and puts no customer id on the wire to Redis.
    """
    return hashlib.sha256(f"{workspace_code}\0{product_space_code}\0{customer_id}".encode()).hexdigest()[:32]


def live_order_key(*, workspace_code: str, product_space_code: str) -> str:
    """The key of a product space's numbered sends in publications (authplatform/live_order.py)."""
    return hashlib.sha256(f"{workspace_code}\0{product_space_code}".encode()).hexdigest()[:16]


def notify_customers(
    notifications: Iterable[CustomerNotification],
    *,
    sequence: tuple[str, int | None] | None = None,
    committed_at: float | None = None,
) -> None:
    """Emit each notification to its customer's sockets, in order per customer (``inAppMessage``
    before the ``unreadCount`` that follows it). Never raises (see module docstring).

    Events travel as the Socket.IO frames the sockets send, encoded here once per distinct payload
    (a send gives 1,000 customers the same message); customers that get the same frames are listed
    together, so a send's publication is one ``live.frames`` message per distinct unread count, each
    with its customers' groups.

    ``sequence`` (``live_order_key(...)``, number): a send's place in its product space's order. Each
    process delivers numbered sends in that order, and each socket hands the number to its client as
    the events' offset (live/recovery.py).

    ``committed_at`` (``time.time()`` of a send's commit) rides on the publication's last message, so
    each process can time its fan-out (authplatform/metrics.py, ``authplatform_live_fanout_seconds``).
    """
    frames: list[str] = []
    frame_index: dict[tuple[str, int], int] = {}  # (event, id(data)): notifications share one payload
    frames_by_customer: dict[str, list[int]] = {}
    for n in notifications:
        key = (n.event, id(n.data))
        index = frame_index.get(key)
        if index is None:
            try:
                frames.append(event_frame(n.event, n.data))
            except (TypeError, ValueError):
                logger.error("Dropped a Socket.IO event that cannot be sent as JSON: %r.", n.event)
                continue
            index = frame_index[key] = len(frames) - 1
        customer = customer_key(
            workspace_code=n.workspace_code, product_space_code=n.product_space_code, customer_id=n.customer_id
        )
        frames_by_customer.setdefault(customer, []).append(index)
    if not frames_by_customer:
        return
    groups_by_frames: dict[tuple[int, ...], list[str]] = {}
    for customer, indices in frames_by_customer.items():
        groups_by_frames.setdefault(tuple(indices), []).append(customer_group(customer))
    number = sequence[1] if sequence is not None else None
    sends = []
    for frame_indices, groups in groups_by_frames.items():
        message: dict[str, Any] = {"type": FRAMES, "frames": [frames[i] for i in frame_indices]}
        if number is not None:
            message["seq"] = number
        sends.append((message, groups))
    if committed_at is not None:
        sends[-1][0][COMMITTED_AT] = committed_at  # the layer hands the messages out in this order
    try:
        live_layer().group_send_many_nowait(
            sends, order=(sequence[0], number) if sequence is not None and number is not None else None
        )
    except Exception:
        logger.exception("Could not publish a live send; the inbox holds it.")


def end_signing_key_sessions(
    kid: Any,
    *,
    reason: str = SIGNING_KEY_REVOKED,
    message: str = "The signing key of this session's token was revoked.",
) -> None:
    """Disconnect every socket, on every process, that authenticated with signing key ``kid``."""
    try:
        live_layer().group_send_many_nowait(
            [({"type": SESSION_END, "reason": reason, "message": message}, [kid_group(str(kid))])]
        )
    except Exception:
        logger.exception("Could not publish the end of signing key %s's sessions; the recheck ends them.", kid)
