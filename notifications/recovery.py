"""What a Socket.IO connect is given: a fresh session, or the recovery of one (live/recovery.py).

Read from the inbox, in the database thread of the connect, at a moment from which whatever commits
later reaches the socket live (live/consumers.py: after it joined its groups, or before, when this
process delivered nothing in between); its number is then above the offset read here, so between the
replay and the live events nothing is missed and nothing comes twice (the socket skips live numbers at
or below its offset). A fresh connect is one statement: the space's current number and the counts.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from authplatform.conf import platform_settings
from live.fanout import COUNTS_EVENT, IN_APP_MESSAGE_EVENT, UNREAD_COUNT_EVENT
from live.recovery import ConnectState, offset_parse, pid_check, pid_issue
from live.socketio_protocol import event_frame
from notifications import selectors
from notifications.serializers import inbox_item_data
from tokens.principals import CustomerPrincipal


def connect_state_read(*, principal: CustomerPrincipal, customer: str, pid: object, offset: object) -> ConnectState:
    """The state a socket of ``principal`` starts with; ``pid`` and ``offset`` as its CONNECT sent
    them (anything, or nothing)."""
    product_space, customer_id = principal.product_space, principal.customer_id
    # The current number first (see the module), and the counts with it in the same statement.
    counts, current = selectors.inbox_counts_and_sequence(product_space=product_space, customer_id=customer_id)
    after = offset_parse(offset)
    missed = None
    if after is not None and after <= current and pid_check(pid, customer=customer):
        limit = platform_settings.LIVE_RECOVERY_MAX_MESSAGES
        missed = selectors.inbox_items_after(
            product_space=product_space, customer_id=customer_id, after=after, limit=limit + 1
        )
        window = timedelta(seconds=platform_settings.LIVE_RECOVERY_WINDOW_SECONDS)
        if missed is not None and (
            len(missed) > limit or (missed and missed[0].message.created_at < timezone.now() - window)
        ):
            missed = None
    if missed is None:
        return ConnectState(
            pid=pid_issue(customer=customer), recovered=False, offset=current, replay=[], last_frames=_last(counts)
        )
    replay = [(item.message.sequence or 0, event_frame(IN_APP_MESSAGE_EVENT, inbox_item_data(item))) for item in missed]
    offset_now = max([current, after or 0, *(number for number, _ in replay)])
    if offset_now > current:
        # A send committed after the counts were read is in the replay: the counts after it must include
        # it (its live copy, counts and all, is skipped as already given).
        counts = selectors.inbox_counts(product_space=product_space, customer_id=customer_id)
    return ConnectState(pid=str(pid), recovered=True, offset=offset_now, replay=replay, last_frames=_last(counts))


def _last(counts: dict[str, int]) -> tuple[str, str]:
    """The events after a connect's replay: ``unreadCount`` and ``counts``."""
    return event_frame(UNREAD_COUNT_EVENT, {"count": counts["unread"]}), event_frame(COUNTS_EVENT, counts)
