"""Live fan-out: telling every open socket of a customer, on every server process, about an event.

The send API and the inbox endpoints call ``notify_customers`` after their transaction commits
(``transaction.on_commit``), so whatever a socket receives is already stored. Delivery goes through
channel-layer groups (Redis across processes when REDIS_URL is set; in-memory on one process).
A failure of the layer is logged and swallowed: the message is in the inbox and a reconnecting
client fetches it from there.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

IN_APP_MESSAGE_EVENT = "inAppMessage"


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

    Customer ids are free text up to 255 chars; group names must be short ASCII, so the id is hashed.
    """
    digest = hashlib.sha256(f"{workspace_code}\0{product_space_code}\0{customer_id}".encode()).hexdigest()
    return f"customer.{digest[:40]}"


def notify_customers(notifications: Iterable[CustomerNotification]) -> None:
    """Emit each notification to its customer's sockets. Never raises (see module docstring)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_send_all)(layer, list(notifications))
    except Exception:
        logger.exception("Live fan-out failed; the messages are stored and clients resync from the inbox.")


async def _send_all(layer, notifications: list[CustomerNotification]) -> None:
    for n in notifications:
        group = customer_group(workspace_code=n.workspace_code, product_space_code=n.product_space_code,
                               customer_id=n.customer_id)
        await layer.group_send(group, {"type": "socketio.emit", "event": n.event, "data": n.data})
