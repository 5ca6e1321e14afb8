"""What the send and inbox APIs tell live sockets, and when: only after the transaction commits.

These tests register a recording session in this process's session map (live/socketio_sessions.py)
under the customer's key (live.fanout decides it), where the Socket.IO consumer registers itself,
and hear what the live bus (authplatform/bus.py) delivers there: publications of this process, and
with Redis those of the daphne process too. The socket side has its own tests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from authplatform.bus import bus
from live.fanout import customer_key
from live.socketio_protocol import decode_engineio, decode_socketio
from live.socketio_sessions import local_sessions
from notifications import services
from notifications.announcer import announcer
from notifications.selectors import Sender
from tests.conftest import requires_redis
from tests.notifications.conftest import send_ok

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]

WRITER = Sender(label="test", role_in=lambda workspace: "write")


def key_of(tenant, customer_id: str, product_space: int = 0) -> str:
    return customer_key(
        workspace_code=tenant.workspace.code,
        product_space_code=tenant.product_spaces[product_space].code,
        customer_id=customer_id,
    )


class RecordingSession:
    """Stands where a socket would: the events of every frame written to it, in order."""

    def __init__(self) -> None:
        self.events: asyncio.Queue = asyncio.Queue()

    async def send_frame(self, frame: str) -> None:
        packet = decode_socketio(decode_engineio(frame).data)
        await self.events.put((packet.data[0], packet.data[1]))

    async def end_session(self, reason: str, message: str) -> None:
        pass

    async def close_for_outage(self) -> None:
        pass

    async def next_event(self, timeout: float):
        try:
            return await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            return None


def listen(keys: list[str], action, *, expect: int, quiet: float = 0.5):
    """Run the sync ``action(poll)`` while a session listens under customer ``keys``; returns
    (action's result, the first ``expect`` events after it, and whatever else arrived within ``quiet``
    seconds). ``poll(timeout)`` is the next event or None."""

    async def scenario():
        # An earlier test's announcement (same workspace codes, same keys) must not land here.
        assert await sync_to_async(announcer.wait_idle)(10)
        bus.start()  # as the server does on its event loop
        assert await bus.wait_ready(10)
        session = RecordingSession()
        for key in keys:
            local_sessions.add(session, customer=key, kid="test-listener")
        try:
            poll = async_to_sync(session.next_event)
            result = await sync_to_async(action)(poll)
            events = []
            while len(events) < expect and (event := await session.next_event(10)) is not None:
                events.append(event)
            extra = await session.next_event(quiet)
        finally:
            for key in keys:
                local_sessions.discard(session, customer=key, kid="test-listener")
        return result, events, extra

    # The listener's "kid" is no signing key: the recheck must not end it.
    with override_settings(AUTHPLATFORM={**settings.AUTHPLATFORM, "SOCKETIO_KEY_RECHECK_MS": 0}):
        return async_to_sync(scenario)()


def test_nothing_is_announced_before_commit_then_message_and_count(api, world):
    def send_in_transaction(poll):
        with transaction.atomic():
            result = services.in_app_message_send(
                sender=WRITER,
                product_space_code=world.a.code,
                recipients=["alice", "bob"],
                title="Hello",
                body="World",
                category="news",
                data={"k": "v"},
            )
            early = poll(0.5)  # the rows are written but not committed: sockets must hear nothing yet
        return result, early

    (result, early), events, extra = listen([key_of(world.a, "alice")], send_in_transaction, expect=3)
    assert early is None
    item = api.get(f"customer/inbox/{result.message.id}", headers=world.customer_headers("a", "alice")).json()
    assert events == [
        ("inAppMessage", item),
        ("unreadCount", {"count": 1}),
        ("counts", {"unseen": 1, "unread": 1, "total": 1}),
    ]
    assert item["read"] is False and item["title"] == "Hello"
    assert extra is None  # bob's events went to bob's sessions only


def test_a_rolled_back_send_is_never_announced(world):
    def send_and_roll_back(poll):
        try:
            with transaction.atomic():
                services.in_app_message_send(
                    sender=WRITER,
                    product_space_code=world.a.code,
                    recipients=["alice"],
                    title="Hello",
                    body="World",
                    category="news",
                )
                raise RuntimeError("the caller's transaction fails after the send")
        except RuntimeError:
            pass

    _, events, extra = listen([key_of(world.a, "alice")], send_and_roll_back, expect=0, quiet=1.0)
    assert extra is None


def test_suppressed_customers_hear_nothing(api, world):
    api.put(
        "customer/preferences",
        json={"preferences": {"news": {"in_app": False}}},
        headers=world.customer_headers("a", "alice"),
    )

    def send(poll):
        return services.in_app_message_send(
            sender=WRITER, product_space_code=world.a.code, recipients=["alice"], title="t", body="b", category="news"
        )

    result, _, extra = listen([key_of(world.a, "alice")], send, expect=0, quiet=1.0)
    assert result.message.suppressed_count == 1 and extra is None


@requires_redis  # the daphne process announces; only with Redis does this process hear it
def test_inbox_changes_announce_what_changed_and_the_counts(api, world):
    first, second = (send_ok(api, world.a, ["alice"])["id"] for _ in range(2))
    headers = world.customer_headers("a", "alice")

    def act(method, path, body=None):
        def action(poll):
            response = api.request(method, path, headers=headers, json=body)
            assert response.status_code in (200, 204), response.text

        return action

    def events_after(path, method="POST", body=None) -> list:
        _, events, _ = listen([key_of(world.a, "alice")], act(method, path, body), expect=3, quiet=0)
        return events

    def counts(unseen, unread, total):
        return ("counts", {"unseen": unseen, "unread": unread, "total": total})

    assert events_after(f"customer/inbox/{first}/read") == [
        ("inboxUpdated", {"ids": [first], "change": "read"}),
        ("unreadCount", {"count": 1}),
        counts(2, 1, 2),
    ]
    assert events_after(f"customer/inbox/{first}/unread")[1:] == [("unreadCount", {"count": 2}), counts(2, 2, 2)]
    assert events_after(f"customer/inbox/{second}/seen")[::2] == [
        ("inboxUpdated", {"ids": [second], "change": "seen"}),
        counts(1, 2, 2),
    ]
    assert events_after(f"customer/inbox/{second}/archive")[1:] == [("unreadCount", {"count": 1}), counts(1, 1, 1)]
    assert events_after("customer/inbox/read-all")[::2] == [
        ("inboxUpdated", {"ids": None, "change": "read", "filter": {"category": None, "before": None}}),
        counts(1, 0, 1),
    ]
    assert events_after(f"customer/inbox/{first}", method="DELETE")[::2] == [
        ("inboxUpdated", {"ids": [first], "change": "delete"}),
        counts(0, 0, 0),
    ]


@requires_redis
def test_a_send_over_http_is_announced_across_processes(api, world):
    """daphne (another process) stores and announces; this process hears it through Redis."""

    def send(poll):
        return send_ok(api, world.a, ["alice"], product_space_code=world.a.product_spaces[1].code)

    sent, events, extra = listen([key_of(world.a, "alice", 1), key_of(world.a, "alice", 0)], send, expect=3)
    assert [name for name, _ in events] == ["inAppMessage", "unreadCount", "counts"]
    assert events[0][1]["id"] == sent["id"] and events[1][1] == {"count": 1}
    assert extra is None  # nothing for the same sub in the other product space


def test_an_event_that_cannot_be_encoded_is_dropped_alone(world, caplog):
    """Frames are encoded once by the sender (live/fanout.py); a payload that is not JSON must not
    take the other events, or the caller, down with it."""
    from live.fanout import CustomerNotification, notify_customers

    def notify(poll):
        notify_customers(
            [
                CustomerNotification(world.a.workspace.code, world.a.code, "alice", "inAppMessage", {"bad": object()}),
                CustomerNotification(world.a.workspace.code, world.a.code, "alice", "unreadCount", {"count": 2}),
            ]
        )

    _, events, extra = listen([key_of(world.a, "alice")], notify, expect=1)
    assert events == [("unreadCount", {"count": 2})] and extra is None
    assert "cannot be sent as JSON" in caplog.text


def hold_announcer() -> tuple[threading.Event, threading.Event]:
    """Keep this process's announcer busy with an earlier announcement until ``release`` is set."""
    running, release = threading.Event(), threading.Event()

    def earlier_announcement():
        running.set()
        release.wait(10)

    announcer.submit(earlier_announcement)
    assert running.wait(5)
    return running, release


def test_the_send_returns_before_its_announcement_runs(api, world):
    """The caller (the send view, before its 202) gets the result once the transaction has committed
    and the announcement is queued; the unread counts are read and the events encoded by the
    announcer, behind what it was already doing, and still in order."""

    def send_while_announcer_busy(poll):
        _, release = hold_announcer()
        started = time.monotonic()
        try:
            result = services.in_app_message_send(
                sender=WRITER,
                product_space_code=world.a.code,
                recipients=["alice", "bob"],
                title="Hello",
                body="World",
                category="news",
            )
            returned_after = time.monotonic() - started
            early = poll(0.5)  # committed and returned, but the announcer has not got to it yet
        finally:
            release.set()
        return result, returned_after, early

    (result, returned_after, early), events, extra = listen(
        [key_of(world.a, "alice")], send_while_announcer_busy, expect=3
    )
    assert returned_after < 5  # waiting for the announcer would have taken the held 10 s
    assert early is None
    item = api.get(f"customer/inbox/{result.message.id}", headers=world.customer_headers("a", "alice")).json()
    assert events[:2] == [("inAppMessage", item), ("unreadCount", {"count": 1})]
    assert extra is None


def test_a_failed_announcement_is_logged_and_counted_and_the_next_goes_out(world, caplog):
    def fail():
        raise RuntimeError("the announcement's query failed")

    def fail_then_send(poll):
        failed = announcer.stats.failed
        announcer.submit(fail)
        services.in_app_message_send(
            sender=WRITER, product_space_code=world.a.code, recipients=["alice"], title="t", body="b", category="news"
        )
        assert announcer.wait_idle(10)
        return announcer.stats.failed - failed

    with caplog.at_level(logging.ERROR, logger="notifications.announcer"):
        newly_failed, events, _ = listen([key_of(world.a, "alice")], fail_then_send, expect=3)
    assert newly_failed == 1 and "A live announcement failed" in caplog.text
    assert [name for name, _ in events] == ["inAppMessage", "unreadCount", "counts"]
