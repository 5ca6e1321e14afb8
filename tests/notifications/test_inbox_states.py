"""Seen, delete, counts, bulk actions and the inbox filters, over real HTTP (docs: docs/api.md "In-app
messages, inbox, preferences")."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from notifications import selectors
from tests.live import assert_error
from tests.notifications.conftest import send_ok

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def items(api, world, customer="alice", query="", tenant="a", space=0) -> list[dict]:
    response = api.get(f"customer/inbox{query}", headers=world.customer_headers(tenant, customer, space))
    assert response.status_code == 200, response.text
    return response.json()["results"]


def counts(api, world, customer="alice", tenant="a", space=0) -> dict:
    response = api.get("customer/inbox/counts", headers=world.customer_headers(tenant, customer, space))
    assert response.status_code == 200, response.text
    return response.json()


def test_seen_is_the_badge_and_read_is_the_message(api, world):
    first, second = (send_ok(api, world.a, ["alice"])["id"] for _ in range(2))
    headers = world.customer_headers("a", "alice")
    assert counts(api, world) == {"unseen": 2, "unread": 2, "total": 2}

    seen = api.post(f"customer/inbox/{first}/seen", headers=headers).json()
    assert seen["seen"] is True and seen["seen_at"] and seen["read"] is False
    assert counts(api, world) == {"unseen": 1, "unread": 2, "total": 2}

    opened = api.post("customer/inbox/seen-all", headers=headers)
    assert opened.status_code == 200, opened.text
    assert opened.json() == {"updated": 1, "counts": {"unseen": 0, "unread": 2, "total": 2}}
    assert api.post("customer/inbox/seen-all", headers=headers).json()["updated"] == 0  # already so
    # The old endpoint keeps working beside the new one.
    assert api.get("customer/inbox/unread-count", headers=headers).json() == {"count": 2}
    assert [i["id"] for i in items(api, world, query="?seen=true")] == [second, first]
    assert items(api, world, query="?seen=false") == []
    # Another customer's badge is untouched.
    send_ok(api, world.a, ["bob"])
    assert counts(api, world, "bob") == {"unseen": 1, "unread": 1, "total": 1}


def test_a_deleted_item_is_gone_for_the_customer_and_stays_for_the_sender(api, world):
    sent = send_ok(api, world.a, ["alice", "bob"])["id"]
    headers = world.customer_headers("a", "alice")
    assert api.delete(f"customer/inbox/{sent}", headers=headers).status_code == 204
    assert_error(api.get(f"customer/inbox/{sent}", headers=headers), 404, "message_not_found")
    assert_error(api.delete(f"customer/inbox/{sent}", headers=headers), 404, "message_not_found")
    assert_error(api.post(f"customer/inbox/{sent}/read", headers=headers), 404, "message_not_found")
    assert items(api, world) == [] and items(api, world, query="?archived=true") == []
    assert counts(api, world) == {"unseen": 0, "unread": 0, "total": 0}
    assert [i["id"] for i in items(api, world, "bob")] == [sent]  # bob's copy is his
    status = api.get(f"in-app-messages/{sent}", headers=world.a.client_headers()).json()
    assert status["recipients"] == 2 and status["stored"] == 2  # the sender's statistics keep it
    # Another customer (or workspace) cannot delete it for alice.
    assert_error(api.delete(f"customer/inbox/{sent}", headers=world.customer_headers("b", "alice")), 404)


def test_bulk_actions_by_id_in_one_transaction(api, world):
    ids = [send_ok(api, world.a, ["alice"], title=f"m{i}")["id"] for i in range(4)]
    headers = world.customer_headers("a", "alice")

    def bulk(body):
        return api.post("customer/inbox/bulk", headers=headers, json=body)

    answer = bulk({"action": "read", "ids": ids[:3]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"updated": 3, "counts": {"unseen": 4, "unread": 1, "total": 4}}
    assert bulk({"action": "read", "ids": ids[:3]}).json()["updated"] == 0
    assert bulk({"action": "unread", "ids": [ids[0]]}).json()["counts"]["unread"] == 2
    assert bulk({"action": "seen", "ids": ids}).json()["counts"]["unseen"] == 0
    assert bulk({"action": "archive", "ids": ids[:2]}).json()["counts"]["total"] == 2
    assert {i["id"] for i in items(api, world, query="?archived=true")} == set(ids[:2])
    assert bulk({"action": "unarchive", "ids": [ids[0]]}).json()["counts"]["total"] == 3
    assert bulk({"action": "delete", "ids": ids[:2]}).json() == {
        "updated": 2,
        "counts": {"unseen": 0, "unread": 1, "total": 2},
    }
    # One id that is not alice's (bob's message, an unknown one, a deleted one): 404 naming it, nothing changes.
    bobs = send_ok(api, world.a, ["bob"])["id"]
    unknown = str(uuid.uuid4())
    body = assert_error(bulk({"action": "archive", "ids": [ids[2], bobs, unknown, ids[0]]}), 404, "message_not_found")
    assert sorted(body["details"]["ids"]) == sorted([bobs, unknown, ids[0]])
    assert counts(api, world)["total"] == 2


def test_bulk_actions_by_filter(api, world):
    billing = [send_ok(api, world.a, ["alice"], category="billing")["id"] for _ in range(3)]
    news = send_ok(api, world.a, ["alice"], category="news")["id"]
    later = send_ok(api, world.a, ["alice"], category="billing")["id"]
    send_ok(api, world.a, ["bob"], category="billing")
    send_ok(api, world.b, ["alice"], category="billing")
    headers = world.customer_headers("a", "alice")

    def bulk(body):
        answer = api.post("customer/inbox/bulk", headers=headers, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    # Billing items older than `later`: the first three.
    assert bulk({"action": "read", "filter": {"category": "billing", "before": later}})["updated"] == 3
    assert {i["id"] for i in items(api, world, query="?unread=true")} == {news, later}
    # Everything: the rest.
    assert bulk({"action": "read", "filter": {}})["updated"] == 2
    assert bulk({"action": "archive", "filter": {"category": "news"}})["counts"]["total"] == 4
    # Other customers, workspaces: untouched.
    assert counts(api, world, "bob") == {"unseen": 1, "unread": 1, "total": 1}
    assert counts(api, world, tenant="b") == {"unseen": 1, "unread": 1, "total": 1}
    assert billing


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "read"}, "ids"),
        ({"action": "read", "ids": [], "filter": {}}, "ids"),
        ({"action": "read", "ids": ["not-a-uuid"]}, "ids"),
        ({"action": "read", "ids": [str(uuid.uuid4()) for _ in range(101)]}, "ids"),
        ({"action": "explode", "ids": [str(uuid.uuid4())]}, "action"),
        ({"action": "read", "filter": {"category": "Not A Category"}}, "filter"),
        ({"action": "read", "filter": {"before": "yesterday"}}, "filter"),
        ({"action": "read", "filter": {"unknown": 1}}, "filter"),
        ({"action": "read", "ids": [str(uuid.uuid4())], "extra": True}, "extra"),
    ],
)
def test_a_bad_bulk_body_is_400_naming_the_field(api, world, body, field):
    sent = send_ok(api, world.a, ["alice"])["id"]
    answer = api.post("customer/inbox/bulk", headers=world.customer_headers("a", "alice"), json=body)
    assert field in assert_error(answer, 400)["details"]
    assert [i["read"] for i in items(api, world) if i["id"] == sent] == [False]  # nothing changed


def test_more_than_100_ids_says_so(api, world):
    answer = api.post(
        "customer/inbox/bulk",
        headers=world.customer_headers("a", "alice"),
        json={"action": "read", "ids": [str(uuid.uuid4()) for _ in range(101)]},
    )
    assert "At most 100 ids" in assert_error(answer, 400)["details"]["ids"][0]


def test_inbox_filters_several_categories_and_times(api, world):
    billing = send_ok(api, world.a, ["alice"], category="billing")["id"]
    security = send_ok(api, world.a, ["alice"], category="security")["id"]
    send_ok(api, world.a, ["alice"], category="news")
    assert {i["id"] for i in items(api, world, query="?category=billing,security")} == {billing, security}
    now = datetime.now(UTC)
    past, future = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    assert len(items(api, world, query=f"?after={past.replace('+', '%2B')}")) == 3
    assert items(api, world, query=f"?before={past.replace('+', '%2B')}") == []
    assert len(items(api, world, query=f"?before={future.replace('+', '%2B')}&category=news")) == 1
    headers = world.customer_headers("a", "alice")
    for query, field in (
        ("?category=billing,Bad", "category"),
        ("?category=" + ",".join(f"c{i}" for i in range(21)), "category"),
        ("?after=yesterday", "after"),
        ("?seen=yes", "seen"),
    ):
        assert field in assert_error(api.get(f"customer/inbox{query}", headers=headers), 400)["details"], query


def test_counts_stay_exact_under_50_concurrent_mixed_actions(api, world, client_from):
    ids = [send_ok(api, world.a, ["alice"], title=f"m{i}")["id"] for i in range(10)]
    headers = world.customer_headers("a", "alice")
    rng = random.Random(7)
    actions = []
    for _ in range(50):
        kind = rng.choice(["one", "bulk", "all"])
        if kind == "one":
            change = rng.choice(["seen", "read", "unread", "archive", "unarchive"])
            actions.append(("POST", f"customer/inbox/{rng.choice(ids)}/{change}", None))
        elif kind == "bulk":
            action = rng.choice(["seen", "read", "unread", "archive", "unarchive"])
            actions.append(("POST", "customer/inbox/bulk", {"action": action, "ids": rng.sample(ids, 4)}))
        else:
            actions.append(("POST", rng.choice(["customer/inbox/read-all", "customer/inbox/seen-all"]), None))
    statuses: list[int] = []

    def run(batch):
        client = client_from()
        for method, path, body in batch:
            statuses.append(client.request(method, path, headers=headers, json=body).status_code)

    threads = [threading.Thread(target=run, args=(actions[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(set(statuses)) == [200] and len(statuses) == 50
    product_space = world.a.product_spaces[0]
    recount = {
        "unseen": sum(1 for i in items(api, world, query="?limit=100") if not i["seen"]),
        "unread": sum(1 for i in items(api, world, query="?limit=100") if not i["read"]),
        "total": len(items(api, world, query="?limit=100")),
    }
    assert counts(api, world) == recount
    assert selectors.inbox_counts(product_space=product_space, customer_id="alice") == recount
