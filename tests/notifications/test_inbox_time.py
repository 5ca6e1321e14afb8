"""What happens at a time rather than at a request: snoozes that wake, messages that expire, and the
purge of what is past retention (notifications/clock.py, run by every server process)."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authplatform.fastpaths.bulk_insert import rows_insert
from notifications import services
from notifications.models import IdempotencyRecord, InAppMessage, InboxItem
from tests.conftest import requires_redis
from tests.live import assert_error
from tests.live_delivery.test_socketio import NodeSocket, make_tenant, send_message
from tests.notifications.conftest import send_ok

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def listed(api, world, query="") -> list[dict]:
    response = api.get(f"customer/inbox{query}", headers=world.customer_headers("a", "alice"))
    assert response.status_code == 200, response.text
    return response.json()["results"]


def counts(api, world) -> dict:
    return api.get("customer/inbox/counts", headers=world.customer_headers("a", "alice")).json()


def wait_until(condition, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(step)
    return result


def test_a_snoozed_item_hides_then_wakes_unread_and_unseen_within_a_second(api, world):
    sent = send_ok(api, world.a, ["alice"])["id"]
    headers = world.customer_headers("a", "alice")
    api.post(f"customer/inbox/{sent}/read", headers=headers)
    api.post("customer/inbox/seen-all", headers=headers)
    until = timezone.now() + timedelta(seconds=1.5)
    snoozed = api.post(f"customer/inbox/{sent}/snooze", headers=headers, json={"until": rfc3339(until)})
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["snoozed_until"]
    assert listed(api, world) == [] and counts(api, world) == {"unseen": 0, "unread": 0, "total": 0}
    assert [i["id"] for i in listed(api, world, "?snoozed=true")] == [sent]

    woken = wait_until(lambda: listed(api, world), timeout=5)
    late = (timezone.now() - until).total_seconds()
    assert late < 1.0, f"woke {late:.2f} s after its time"
    [item] = woken
    assert (item["read"], item["seen"], item["snoozed_until"]) == (False, False, None) and item["woken_at"]
    assert counts(api, world) == {"unseen": 1, "unread": 1, "total": 1}


def test_unsnooze_wakes_now_and_bad_snoozes_are_refused(api, world):
    sent = send_ok(api, world.a, ["alice"])["id"]
    headers = world.customer_headers("a", "alice")
    far = timezone.now() + timedelta(days=30)
    assert api.post(f"customer/inbox/{sent}/snooze", headers=headers, json={"until": rfc3339(far)}).status_code == 200
    item = api.post(f"customer/inbox/{sent}/unsnooze", headers=headers).json()
    assert item["snoozed_until"] is None and item["woken_at"]
    for until in (timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(days=91)):
        answer = api.post(f"customer/inbox/{sent}/snooze", headers=headers, json={"until": rfc3339(until)})
        assert_error(answer, 400, "invalid_snooze")
    assert "until" in assert_error(api.post(f"customer/inbox/{sent}/snooze", headers=headers, json={}), 400)["details"]
    # Another customer's message, an unknown one: 404.
    for other in (send_ok(api, world.a, ["bob"])["id"], str(uuid.uuid4())):
        answer = api.post(f"customer/inbox/{other}/snooze", headers=headers, json={"until": rfc3339(far)})
        assert_error(answer, 404, "message_not_found")


def test_a_message_leaves_every_inbox_when_it_expires(api, world):
    expires = timezone.now() + timedelta(seconds=1.5)
    sent = send_ok(api, world.a, ["alice", "bob"], expires_at=rfc3339(expires))
    [item] = listed(api, world)
    assert item["expires_at"] and abs(datetime.fromisoformat(item["expires_at"]) - expires) < timedelta(seconds=0.01)
    assert counts(api, world)["total"] == 1
    wait_until(lambda: listed(api, world) == [], timeout=5)
    assert counts(api, world) == {"unseen": 0, "unread": 0, "total": 0}
    # The inbox clock marks it deleted: the sender's statistics keep it.
    wait_until(lambda: InboxItem.objects.filter(message_id=sent["id"], deleted_at__isnull=False).count() == 2, 5)
    status = api.get(f"in-app-messages/{sent['id']}", headers=world.a.client_headers()).json()
    assert status["stored"] == 2
    # An expiry in the past is refused.
    past = rfc3339(timezone.now() - timedelta(seconds=1))
    answer = api.post(
        "in-app-messages",
        headers=world.a.client_headers(),
        json={
            "product_space_code": world.a.code,
            "recipients": ["alice"],
            "title": "t",
            "body": "b",
            "category": "c",
            "expires_at": past,
        },
    )
    assert "expires_at" in assert_error(answer, 400)["details"]


def test_sockets_hear_a_wake_and_an_expiry(daphne_server):
    tenant = make_tenant()
    node = NodeSocket(daphne_server, tenant.seed_env("C1"), script="socketio_recovery_client.mjs")
    try:
        node.wait_for("connect")
        first = send_message(daphne_server, tenant, ["C1"], title="snoozed")["id"]
        node.wait_for_count("inAppMessage", 1)
        headers = {"Authorization": f"Bearer {tenant.token('C1')}"}
        import httpx

        with httpx.Client(base_url=daphne_server.api + "/", timeout=10) as api:
            until = rfc3339(timezone.now() + timedelta(seconds=1))
            assert api.post(f"customer/inbox/{first}/snooze", headers=headers, json={"until": until}).status_code == 200
        assert node.wait_for("inboxUpdated")["data"] == {"ids": [first], "change": "snooze"}
        woke = node.wait_for_count("inAppMessage", 2)[-1]["message"]
        assert woke["id"] == first and woke["woken_at"] and woke["read"] is False
        assert node.wait_for_count("counts", 4)[-1]["data"] == {"unseen": 1, "unread": 1, "total": 1}
        # A message that expires: its sockets hear it leave.
        expires = rfc3339(timezone.now() + timedelta(seconds=1))
        with httpx.Client(base_url=daphne_server.api + "/", timeout=10) as api:
            answer = api.post(
                "in-app-messages",
                headers={"x-client-key": tenant.client_key, "x-client-secret": tenant.client_secret},
                json={
                    "product_space_code": tenant.product_space.code,
                    "recipients": ["C1"],
                    "title": "t",
                    "body": "b",
                    "category": "c",
                    "expires_at": expires,
                },
            )
            assert answer.status_code == 202, answer.text
        updates = node.wait_for_count("inboxUpdated", 2, timeout=5)
        assert updates[-1]["data"] == {"ids": [answer.json()["id"]], "change": "expire"}
    finally:
        node.close()


@pytest.mark.redis
@requires_redis
def test_with_several_processes_each_snooze_wakes_and_is_announced_exactly_once(daphne_server_factory, daphne_server):
    """Three server processes' clocks race for the same due items (two here, and the session's own)."""
    a, b = daphne_server_factory(), daphne_server_factory()
    tenant = make_tenant()
    sockets = [NodeSocket(s, tenant.seed_env("C1"), script="socketio_recovery_client.mjs") for s in (a, b)]
    try:
        for socket in sockets:
            socket.wait_for("connect")
        ids = [send_message(a, tenant, ["C1"], title=f"m{i}")["id"] for i in range(10)]
        for socket in sockets:
            socket.wait_for_count("inAppMessage", 10)
        until = timezone.now() + timedelta(seconds=1.5)
        InboxItem.objects.filter(message_id__in=ids).update(snoozed_until=until)
        for socket in sockets:
            woken = socket.wait_for_count("inAppMessage", 20, timeout=10)[10:]
            assert sorted(m["message"]["id"] for m in woken) == sorted(ids)
        time.sleep(1.0)  # a second wake of any of them would have arrived by now
        for socket in sockets:
            assert len(socket.heard("inAppMessage")) == 20
        assert InboxItem.objects.filter(message_id__in=ids, woken_at__isnull=False).count() == 10
    finally:
        for socket in sockets:
            socket.close()


def test_the_purge_deletes_200000_rows_in_bounded_batches(world):
    product_space = world.a.product_spaces[0]
    old = timezone.now() - timedelta(days=400)
    with transaction.atomic():
        fill(product_space, old)
    recent = send_recent(product_space)
    IdempotencyRecord.objects.create(
        workspace_id=product_space.workspace_id,
        key="expired",
        request_digest="x",
        message=recent,
        created_at=old,
        expires_at=old + timedelta(days=1),
    )
    assert InboxItem.objects.filter(product_space=product_space).count() == 200_001

    with CaptureQueriesContext(connection) as captured:
        out = io.StringIO()
        call_command("purgeinbox", "--batch-size", "5000", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"items": 200_000, "messages": 200, "idempotency_records": 1}
    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert len(deletes) >= 40
    assert max(sql.count(",") + 1 for sql in deletes) <= 5000  # no statement names more than a batch
    assert list(InboxItem.objects.filter(product_space=product_space).values_list("message_id", flat=True)) == [
        recent.pk
    ]


def fill(product_space, old) -> None:
    """200 messages sent 400 days ago to 1,000 customers each."""
    for n in range(200):
        message = InAppMessage.objects.create(
            workspace_id=product_space.workspace_id,
            product_space=product_space,
            title="old",
            body="b",
            category="c",
            sent_by="test",
            recipient_count=1000,
            stored_count=1000,
            suppressed_count=0,
        )
        InAppMessage.objects.filter(pk=message.pk).update(created_at=old)
        rows_insert(
            model=InboxItem,
            shared={"message": message.pk, "product_space": product_space.pk, "category": "c", "created_at": old},
            varying="customer_id",
            values=[f"c{n}-{i}" for i in range(1000)],
        )


def send_recent(product_space) -> InAppMessage:
    return services.in_app_message_send(
        sender=services.selectors.Sender(label="test", role_in=lambda workspace: "write"),
        product_space_code=product_space.code,
        recipients=["alice"],
        title="recent",
        body="b",
        category="c",
    ).message
