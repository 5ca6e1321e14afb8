"""A send's live events go out after its 202 has been handed to the server (notifications/announcer.py,
``AnnounceAfterResponse``), not while the request is still answering.

The send goes through the project's own ASGI application (authplatform/asgi.py) in this process, so its
announcer and live bus deliver to a recording session here; the server's ``send`` callable holds the
202 for a while, as a busy event loop would, and nothing may reach the socket meanwhile.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.test import override_settings

from authplatform.asgi import application
from authplatform.bus import bus
from live.socketio_sessions import local_sessions
from notifications.announcer import announcer
from tests.notifications.test_api_events import RecordingSession, key_of

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def post_send(tenant, body: dict, *, on_final_body):
    """POST /api/v1/in-app-messages through the ASGI application; ``on_final_body()`` is awaited when
    the response's last body message arrives, before the server would write it."""
    payload = json.dumps(body).encode()
    headers = [
        (b"host", b"localhost"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.encode(), v.encode()) for k, v in tenant.client_headers().items()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/in-app-messages",
        "raw_path": b"/api/v1/in-app-messages",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    received = False
    response: dict = {"body": b""}

    async def receive():
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
        elif message["type"] == "http.response.body":
            response["body"] += message.get("body", b"")
            if not message.get("more_body", False):
                await on_final_body()

    return response, lambda: application(scope, receive, send)


def test_a_sends_events_wait_for_its_response(world):
    early: list = []

    async def scenario():
        assert await sync_to_async(announcer.wait_idle)(10)
        bus.start()
        assert await bus.wait_ready(10)
        session = RecordingSession()
        key = key_of(world.a, "alice")
        local_sessions.add(session, customer=key, kid="test-listener")

        async def hold_the_202():
            # The transaction committed before the view returned: without the wait, the announcer
            # delivers meanwhile.
            early.append(await session.next_event(0.7))

        try:
            response, call = post_send(
                world.a,
                {
                    "product_space_code": world.a.code,
                    "recipients": ["alice"],
                    "title": "Hello",
                    "body": "World",
                    "category": "news",
                },
                on_final_body=hold_the_202,
            )
            await call()
            events = [await session.next_event(10), await session.next_event(10)]
        finally:
            local_sessions.discard(session, customer=key, kid="test-listener")
        return response, events

    with override_settings(AUTHPLATFORM={**settings.AUTHPLATFORM, "SOCKETIO_KEY_RECHECK_MS": 0}):
        response, events = async_to_sync(scenario)()
    assert response["status"] == 202, response["body"]
    assert early == [None]
    message_id = json.loads(response["body"])["id"]
    assert [name for name, _ in events] == ["inAppMessage", "unreadCount"]
    assert events[0][1]["id"] == message_id and events[1][1]["count"] == 1
