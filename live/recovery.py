"""Socket.IO connection state recovery, with the inbox as the record of what a socket missed.

socket.io-client (4.6+) speaks it by itself (docs/clients.md): the server's CONNECT answer carries a
``pid``; every event carries an offset as its last argument; after a drop the client's next CONNECT
sends ``{pid, offset}`` back (beside its ``auth``), and when the server answers with the same ``pid``
the client sets ``socket.recovered``. The Node server keeps that state in its memory or a Redis stream;
here nothing is kept at all, so a session recovers on any process, after a restart of every process,
after zero events and after any number of drops:

- **Offsets** are a product space's message numbers (notifications.models.MessageSequence: dense and
  in commit order), as strings. A socket's offset is the highest number it has been given; processes
  deliver a space's numbered sends in number order (authplatform/live_order.py), so having number n
  means having every earlier message of its customer. Right after a connect the socket gets the
  customer's ``unreadCount`` carrying the space's current number, so it holds an offset even when no
  message follows (the Node server's "zero events" failure).
- **pid** is signed (``django.core.signing``, salt ``live.pid``) over the customer's key (workspace,
  product space, customer id): it cannot be forged, and another customer's pid is worth nothing.
- **Recovery**: a CONNECT with the customer's own pid and an offset replays, in order and once, every
  inbox item of the customer numbered above the offset, then the current ``unreadCount``, and answers
  with the same pid. It is refused (a fresh session: ``recovered`` false, a new pid; the app reads
  ``GET customer/inbox``) when the pid is not the customer's, forged, or the offset does not parse or
  lies ahead of the space, when more than LIVE_RECOVERY_MAX_MESSAGES were missed, or when the oldest
  missed message was sent more than LIVE_RECOVERY_WINDOW_SECONDS ago. The window therefore bounds the
  age of what is replayed, not the time since the drop: a socket that missed nothing recovers however
  long it was gone.

What the socket's customer has stored lives in notifications/, which live/ never imports: the
notifications app registers the function that reads a connect's state (``connect_state_source``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core import signing

logger = logging.getLogger(__name__)

PID_SALT = "live.pid"
OFFSET_MAX_DIGITS = 18  # a 63-bit number


def pid_issue(*, customer: str) -> str:
    """A new session id for recovery, bound to ``customer`` (a live.fanout.customer_key)."""
    return signing.dumps([customer, secrets.token_urlsafe(6)], salt=PID_SALT, compress=False)


def pid_check(pid: Any, *, customer: str) -> bool:
    """Whether ``pid`` was issued here for ``customer``. Never raises."""
    if not isinstance(pid, str) or len(pid) > 200:
        return False
    try:
        value = signing.loads(pid, salt=PID_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    return isinstance(value, list) and len(value) == 2 and value[0] == customer


def offset_parse(value: Any) -> int | None:
    """The message number of an offset a client sent back, or None when it is not one of ours."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    if len(value) > OFFSET_MAX_DIGITS:
        return None
    return int(value)


def with_offset(frame: str, offset: int) -> str:
    """An event frame (``42["event",data]``) with ``offset`` appended as its last argument."""
    return f'{frame[:-1]},"{offset}"]'


@dataclass(frozen=True)
class ConnectState:
    """What a socket is given right after its CONNECT is accepted."""

    pid: str
    recovered: bool
    offset: int  # the socket's offset once the replay is sent
    replay: list[tuple[int, str]]  # (number, event frame without its offset), oldest first
    last_frames: tuple[str, ...]  # the customer's unreadCount and counts, after the replay, with the socket's offset


ConnectStateSource = Callable[..., ConnectState]


class _Registry:
    source: ConnectStateSource | None = None

    def register(self, source: ConnectStateSource) -> None:
        self.source = source


connect_state_source = _Registry()
"""``source(principal=..., customer=..., pid=..., offset=...)`` -> ConnectState, run in a database thread;
registered by the notifications app (notifications/recovery.py)."""
