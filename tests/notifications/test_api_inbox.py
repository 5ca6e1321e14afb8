"""Customer inbox over real HTTP with customer JWTs minted by the seed's jsonwebtoken example.

Listing (newest first, cursor pagination that stays stable while messages arrive, filters), the
unread count, read / unread / read-all / archive / unarchive, and that no customer ever reaches
another customer's, product space's or workspace's messages through any of these endpoints.
"""

from __future__ import annotations

import uuid

import pytest

from tests.live import assert_error
from tests.notifications.conftest import assert_invalid, send_ok

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]


def get(api, world, path, customer=("a", "alice", 0), **params):
    tenant, customer_id, product_space = customer
    return api.get(path, params=params, headers=world.customer_headers(tenant, customer_id, product_space))


def post(api, world, path, customer=("a", "alice", 0), headers=None, **kwargs):
    tenant, customer_id, product_space = customer
    headers = {**world.customer_headers(tenant, customer_id, product_space), **(headers or {})}
    return api.post(path, headers=headers, **kwargs)


def ids(api, world, customer=("a", "alice", 0), **params) -> list[str]:
    response = get(api, world, "customer/inbox", customer, **params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["results"]]


def unread_count(api, world, customer=("a", "alice", 0)) -> int:
    response = get(api, world, "customer/inbox/unread-count", customer)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def send_many(api, world, n: int, recipients=("alice",), **overrides) -> list[str]:
    return [send_ok(api, world.a, list(recipients), title=f"Message {i}", **overrides)["id"] for i in range(n)]


# --- listing ------------------------------------------------------------------------------------
def test_inbox_lists_newest_first(api, world):
    sent = send_many(api, world, 3)
    response = get(api, world, "customer/inbox")
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"results", "next_cursor"}
    assert [i["id"] for i in body["results"]] == sent[::-1]
    assert body["next_cursor"] is None
    assert [i["title"] for i in body["results"]] == ["Message 2", "Message 1", "Message 0"]


def test_cursor_pages_through_everything_once(api, world):
    sent = send_many(api, world, 7)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = get(api, world, "customer/inbox", **params).json()
        assert len(body["results"]) <= 3
        seen += [i["id"] for i in body["results"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sent[::-1]


def test_pages_are_stable_while_new_messages_arrive(api, world):
    old = send_many(api, world, 7)
    first = get(api, world, "customer/inbox", limit=3).json()
    assert [i["id"] for i in first["results"]] == old[:3:-1]
    new = send_many(api, world, 4)  # arrive while the customer is on page 1
    # Page 2 continues right after page 1: nothing repeated, nothing skipped.
    second = get(api, world, "customer/inbox", limit=3, cursor=first["next_cursor"]).json()
    assert [i["id"] for i in second["results"]] == old[3:0:-1]
    third = get(api, world, "customer/inbox", limit=3, cursor=second["next_cursor"]).json()
    assert [i["id"] for i in third["results"]] == old[:1] and third["next_cursor"] is None
    # A fresh first page shows the new ones on top.
    assert ids(api, world, limit=5) == [*new[::-1], old[-1]]


def test_pages_are_stable_while_items_are_read(api, world):
    """Reading items while walking the unread filter does not shift the remaining pages."""
    sent = send_many(api, world, 6)
    first = get(api, world, "customer/inbox", limit=2, unread="true").json()
    for item in first["results"]:
        post(api, world, f"customer/inbox/{item['id']}/read")
    second = get(api, world, "customer/inbox", limit=2, unread="true", cursor=first["next_cursor"]).json()
    assert [i["id"] for i in second["results"]] == [sent[3], sent[2]]


def test_default_and_maximum_page_size(api, world):
    send_many(api, world, 101)
    body = get(api, world, "customer/inbox").json()
    assert len(body["results"]) == 20 and body["next_cursor"]
    most = get(api, world, "customer/inbox", limit=100).json()
    assert len(most["results"]) == 100
    rest = get(api, world, "customer/inbox", limit=100, cursor=most["next_cursor"]).json()
    assert len(rest["results"]) == 1 and rest["next_cursor"] is None


def test_filters(api, world):
    billing = send_ok(api, world.a, ["alice"], category="billing")["id"]
    news = send_ok(api, world.a, ["alice"], category="news")["id"]
    news_read = send_ok(api, world.a, ["alice"], category="news")["id"]
    archived = send_ok(api, world.a, ["alice"], category="billing")["id"]
    post(api, world, f"customer/inbox/{news_read}/read")
    post(api, world, f"customer/inbox/{archived}/archive")

    assert ids(api, world) == [news_read, news, billing]  # archived ones are not in the inbox
    assert ids(api, world, unread="true") == [news, billing]
    assert ids(api, world, unread="false") == [news_read]
    assert ids(api, world, category="news") == [news_read, news]
    assert ids(api, world, category="news", unread="true") == [news]
    assert ids(api, world, category="nothing") == []
    assert ids(api, world, archived="true") == [archived]
    assert ids(api, world, archived="true", category="news") == []
    assert ids(api, world, archived="false") == [news_read, news, billing]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"unread": "yes"}, "unread"),
        ({"unread": "1"}, "unread"),
        ({"unread": ""}, "unread"),
        ({"archived": "True"}, "archived"),
        ({"category": "Billing"}, "category"),
        ({"category": ""}, "category"),
        ({"category": "a\x00b"}, "category"),
        ({"category": "c" * 65}, "category"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "aTE6MA"}, "cursor"),
        ({"cursor": "x" * 100}, "cursor"),
        ({"sort": "oldest"}, "sort"),
        ({"page": "2"}, "page"),
    ],
)
def test_bad_query_parameters(api, world, params, field):
    assert_invalid(get(api, world, "customer/inbox", **params), field)


# --- one item and its state ---------------------------------------------------------------------
def test_read_unread_and_the_unread_count(api, world):
    first, second = send_many(api, world, 2)
    assert unread_count(api, world) == 2
    response = post(api, world, f"customer/inbox/{first}/read")
    assert response.status_code == 200
    item = response.json()
    assert item["id"] == first and item["read"] is True and item["read_at"]
    assert unread_count(api, world) == 1
    # Reading again changes nothing, not even the time it was read.
    assert post(api, world, f"customer/inbox/{first}/read").json()["read_at"] == item["read_at"]
    assert unread_count(api, world) == 1
    unread = post(api, world, f"customer/inbox/{first}/unread").json()
    assert unread["read"] is False and unread["read_at"] is None
    assert unread_count(api, world) == 2
    assert get(api, world, f"customer/inbox/{second}").json()["read"] is False


def test_read_all(api, world):
    send_many(api, world, 3)
    archived = send_ok(api, world.a, ["alice"])["id"]
    post(api, world, f"customer/inbox/{archived}/archive")
    response = post(api, world, "customer/inbox/read-all")
    assert response.status_code == 200
    assert response.json() == {"updated": 4, "count": 0}
    assert unread_count(api, world) == 0
    assert ids(api, world, unread="true") == [] and ids(api, world, archived="true", unread="false") == [archived]
    assert post(api, world, "customer/inbox/read-all").json() == {"updated": 0, "count": 0}


def test_archive_and_unarchive(api, world):
    message = send_ok(api, world.a, ["alice"])["id"]
    archived = post(api, world, f"customer/inbox/{message}/archive").json()
    assert archived["archived"] is True and archived["archived_at"] and archived["read"] is False
    assert ids(api, world) == [] and unread_count(api, world) == 0  # archived ones do not count
    assert ids(api, world, archived="true") == [message]
    restored = post(api, world, f"customer/inbox/{message}/unarchive").json()
    assert restored["archived"] is False and restored["archived_at"] is None
    assert ids(api, world) == [message] and unread_count(api, world) == 1


def test_actions_take_no_fields(api, world):
    message = send_ok(api, world.a, ["alice"])["id"]
    assert post(api, world, f"customer/inbox/{message}/read", json={}).status_code == 200
    assert_invalid(post(api, world, f"customer/inbox/{message}/archive", json={"archived": True}), "archived")
    assert_invalid(post(api, world, "customer/inbox/read-all", json={"category": "billing"}), "category")
    assert_error(
        post(
            api, world, f"customer/inbox/{message}/read", content=b"[1]", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    assert ids(api, world, archived="true") == []


def test_unknown_and_malformed_ids_are_404(api, world):
    for path in (f"customer/inbox/{uuid.uuid4()}", "customer/inbox/123", "customer/inbox/not-a-uuid/read"):
        response = get(api, world, path) if path.count("/") == 2 else post(api, world, path)
        assert_error(response, 404)
    assert_error(post(api, world, f"customer/inbox/{uuid.uuid4()}/read"), 404, "message_not_found")


def test_methods_not_allowed_are_json(api, world):
    assert_error(get(api, world, "customer/inbox/read-all"), 405)
    assert_error(post(api, world, "customer/inbox", json={}), 405)
    assert_error(post(api, world, "customer/inbox/unread-count"), 405)


# --- who may see what ---------------------------------------------------------------------------
ALICE = ("a", "alice", 0)
OTHERS = {
    "another customer": ("a", "bob", 0),
    "same sub, another product space": ("a", "alice", 1),
    "same sub, another workspace": ("b", "alice", 0),
}


@pytest.mark.parametrize("other", list(OTHERS), ids=list(OTHERS))
def test_no_endpoint_reaches_another_customers_messages(api, world, other):
    other = OTHERS[other]
    mine = send_ok(api, world.a, ["alice"])["id"]
    assert ids(api, world, other) == []
    assert ids(api, world, other, archived="true") == []
    assert unread_count(api, world, other) == 0
    for path in (f"customer/inbox/{mine}",):
        assert_error(get(api, world, path, other), 404, "message_not_found")
    for action in ("read", "unread", "archive", "unarchive"):
        assert_error(post(api, world, f"customer/inbox/{mine}/{action}", other), 404, "message_not_found")
    assert post(api, world, "customer/inbox/read-all", other).json() == {"updated": 0, "count": 0}
    # Alice's message is untouched by all of that.
    item = get(api, world, f"customer/inbox/{mine}", ALICE).json()
    assert item["read"] is False and item["archived"] is False
    assert unread_count(api, world, ALICE) == 1


def test_each_customer_sees_only_their_own(api, world):
    to_both = send_ok(api, world.a, ["alice", "bob"])["id"]
    to_bob = send_ok(api, world.a, ["bob"])["id"]
    other_space = send_ok(api, world.a, ["alice"], product_space_code=world.a.product_spaces[1].code)["id"]
    other_workspace = send_ok(api, world.b, ["alice"])["id"]
    assert ids(api, world, ALICE) == [to_both]
    assert ids(api, world, ("a", "bob", 0)) == [to_bob, to_both]
    assert ids(api, world, ("a", "alice", 1)) == [other_space]
    assert ids(api, world, ("b", "alice", 0)) == [other_workspace]
    # Bob reading the shared message leaves Alice's copy unread.
    post(api, world, f"customer/inbox/{to_both}/read", ("a", "bob", 0))
    assert unread_count(api, world, ALICE) == 1 and unread_count(api, world, ("a", "bob", 0)) == 1


# --- credentials --------------------------------------------------------------------------------
CUSTOMER_ENDPOINTS = [
    ("GET", "customer/inbox"),
    ("GET", "customer/inbox/unread-count"),
    ("POST", "customer/inbox/read-all"),
    ("GET", "customer/inbox/{id}"),
    ("POST", "customer/inbox/{id}/read"),
    ("POST", "customer/inbox/{id}/unread"),
    ("POST", "customer/inbox/{id}/archive"),
    ("GET", "customer/preferences"),
    ("PATCH", "customer/preferences"),
    ("GET", "customer/communication-settings"),
    ("PUT", "customer/communication-settings"),
]


def test_customer_endpoints_need_a_customer_jwt(api, client_from, world):
    message = send_ok(api, world.a, ["alice"])["id"]
    for method, path in CUSTOMER_ENDPOINTS:
        path = path.format(id=message)
        caller = client_from()  # a fresh address: these failures stay under the per-IP throttle
        for headers in (
            {},
            world.a.client_headers(),
            {"Api-Key": world.a.api_key_write},
            {"Authorization": "Bearer not.a.jwt"},
            {"Authorization": "Bearer"},
        ):
            response = caller.request(method, path, headers=headers, json={} if method != "GET" else None)
            assert_error(response, 401, invalid_authentication=True)
            assert response.headers["www-authenticate"].startswith("Bearer"), (method, path, headers)
    assert unread_count(api, world) == 1


def test_a_token_of_a_revoked_signing_key_is_refused(api, world):
    from credentials import services
    from credentials.audit import CLI

    assert get(api, world, "customer/inbox").status_code == 200
    services.signing_key_revoke(actor=CLI, key=world.a.signing_key, reason="test")
    assert_error(get(api, world, "customer/inbox"), 401, "signing_key_unknown", invalid_authentication=True)
