"""Server-to-server send API over real HTTP: POST in-app-messages, GET in-app-messages/{id}.

Both credential kinds (client key + secret; API key and API token with a workspace role), workspace
isolation (another workspace's codes and ids are 404), Idempotency-Key, limits and bad input.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import IdempotencyRecord, InAppMessage, InboxItem
from tests.live import assert_error
from tests.notifications.conftest import assert_invalid, message_payload, send, send_ok

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]


def inbox(api, world, tenant="a", customer="alice", product_space=0, **params):
    response = api.get("customer/inbox", params=params, headers=world.customer_headers(tenant, customer, product_space))
    assert response.status_code == 200, response.text
    return response.json()["results"]


# --- sending and status -------------------------------------------------------------------------
def test_send_stores_for_each_recipient_and_reports_status(api, world):
    response = send(
        api,
        world.a,
        ["alice", "bob"],
        action_url="https://example.com/invoices/1",
        data={"invoice": {"id": 1, "total": "12.50"}, "tags": ["a", "b"]},
    )
    assert response.status_code == 202, response.text
    assert response.headers["content-type"] == "application/json"
    sent = response.json()
    assert set(sent) == {"id", "product_space_code", "recipients", "stored", "suppressed", "created_at"}
    assert (sent["recipients"], sent["stored"], sent["suppressed"]) == (2, 2, 0)
    assert sent["product_space_code"] == world.a.code
    assert str(uuid.UUID(sent["id"])) == sent["id"]

    [item] = inbox(api, world)
    assert item == {
        "id": sent["id"],
        "title": "Your invoice is ready",
        "body": "Invoice 2024-001 is ready to download.",
        "category": "billing",
        "action_url": "https://example.com/invoices/1",
        "data": {"invoice": {"id": 1, "total": "12.50"}, "tags": ["a", "b"]},
        "created_at": sent["created_at"],
        "expires_at": None,
        "seen": False,
        "seen_at": None,
        "read": False,
        "read_at": None,
        "archived": False,
        "archived_at": None,
        "snoozed_until": None,
        "woken_at": None,
    }
    assert [i["id"] for i in inbox(api, world, customer="bob")] == [sent["id"]]

    api.post(f"customer/inbox/{sent['id']}/read", headers=world.customer_headers("a", "alice"))
    status = api.get(f"in-app-messages/{sent['id']}", headers=world.a.client_headers())
    assert status.status_code == 200
    assert status.json() == {
        "id": sent["id"],
        "product_space_code": world.a.code,
        "title": "Your invoice is ready",
        "body": "Invoice 2024-001 is ready to download.",
        "category": "billing",
        "action_url": "https://example.com/invoices/1",
        "data": {"invoice": {"id": 1, "total": "12.50"}, "tags": ["a", "b"]},
        "created_at": sent["created_at"],
        "expires_at": None,
        "recipients": 2,
        "stored": 2,
        "suppressed": 0,
        "delivered": 2,
        "read": 1,
        "unread": 1,
        "archived": 0,
    }


def test_optional_fields_may_be_null_or_absent(api, world):
    sent = send_ok(api, world.a, ["alice"], action_url=None, data=None)
    [item] = inbox(api, world)
    assert item["id"] == sent["id"] and item["action_url"] is None and item["data"] == {}
    send_ok(api, world.a, ["alice"])  # neither given
    assert len(inbox(api, world)) == 2


def test_duplicate_recipients_count_once(api, world):
    sent = send_ok(api, world.a, ["alice", "bob", "alice", "alice"])
    assert (sent["recipients"], sent["stored"]) == (2, 2)
    assert len(inbox(api, world)) == 1


def test_send_to_the_second_product_space_reaches_only_its_customers(api, world):
    sent = send_ok(api, world.a, ["alice"], product_space_code=world.a.product_spaces[1].code)
    assert inbox(api, world) == []
    assert [i["id"] for i in inbox(api, world, product_space=1)] == [sent["id"]]
    assert inbox(api, world, tenant="b") == []


def test_a_thousand_recipients_in_one_call(api, world):
    recipients = ["alice", "bob", *(f"customer-{n}" for n in range(998))]
    sent = send_ok(api, world.a, recipients)
    assert (sent["recipients"], sent["stored"]) == (1000, 1000)
    assert InboxItem.objects.filter(message_id=sent["id"]).count() == 1000
    assert len(inbox(api, world, customer="bob")) == 1


def test_more_than_a_thousand_recipients_is_refused_and_nothing_is_stored(api, world):
    response = send(api, world.a, [f"c{n}" for n in range(1001)])
    [message] = assert_invalid(response, "recipients")
    assert "1000" in message and "1001" in message
    assert not InAppMessage.objects.exists()


def test_customer_ids_are_taken_verbatim(api, world):
    """Ids are the JWT ``sub`` as the customer's backend wrote it: no trimming, case kept, any script."""
    ids = [" alice", "Alice", "zoë@example.com", "顧客-42", "x" * 255]
    sent = send_ok(api, world.a, ids)
    assert sent["stored"] == 5
    assert inbox(api, world) == []  # none of them is "alice"
    stored = set(InboxItem.objects.filter(message_id=sent["id"]).values_list("customer_id", flat=True))
    assert stored == set(ids)


# --- credentials --------------------------------------------------------------------------------
def api_token(api, key: str) -> str:
    response = api.get("user/apikeys/token", headers={"Api-Key": key, "Api-Version": "1"})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_api_key_with_write_role_sends_and_reads_status(api, world):
    response = send(api, world.a, ["alice"], headers={"Api-Key": world.a.api_key_write, "Api-Version": "1"})
    assert response.status_code == 202, response.text
    sent = response.json()
    status = api.get(f"in-app-messages/{sent['id']}", headers={"Api-Key": world.a.api_key_write})
    assert status.status_code == 200 and status.json()["delivered"] == 1
    assert [i["id"] for i in inbox(api, world)] == [sent["id"]]
    assert InAppMessage.objects.get(pk=sent["id"]).sent_by.startswith("api key ")


def test_api_token_with_write_role_sends(api, world):
    token = api_token(api, world.a.api_key_write)
    response = send(api, world.a, ["alice"], headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    assert InAppMessage.objects.get(pk=response.json()["id"]).sent_by.endswith("(token)")


def test_read_role_may_read_status_but_not_send(api, world):
    sent = send_ok(api, world.a, ["alice"])
    for headers in (
        {"Api-Key": world.a.api_key_read},
        {"Authorization": f"Bearer {api_token(api, world.a.api_key_read)}"},
    ):
        assert_error(send(api, world.a, ["alice"], headers=headers), 403, "insufficient_role")
        assert api.get(f"in-app-messages/{sent['id']}", headers=headers).status_code == 200
    assert InAppMessage.objects.count() == 1


def test_missing_or_wrong_credentials(api, world):
    payload = message_payload(world.a, ["alice"])
    response = api.post("in-app-messages", json=payload)
    assert_error(response, 401, invalid_authentication=True)
    assert response.headers["www-authenticate"]
    wrong = {"x-client-key": world.a.client_key, "x-client-secret": "cs_" + "x" * 40}
    assert_error(
        api.post("in-app-messages", json=payload, headers=wrong),
        401,
        "invalid_client_credentials",
        invalid_authentication=True,
    )
    assert_error(
        api.post("in-app-messages", json=payload, headers={"Api-Key": "0" * 64}), 403, invalid_authentication=True
    )
    # A customer's JWT is no server credential.
    response = api.post("in-app-messages", json=payload, headers=world.customer_headers("a", "alice"))
    assert_error(response, 401, invalid_authentication=True)
    response = api.get(f"in-app-messages/{uuid.uuid4()}", headers=world.customer_headers("a", "alice"))
    assert_error(response, 401, invalid_authentication=True)
    assert not InAppMessage.objects.exists()


# --- isolation between workspaces ---------------------------------------------------------------
@pytest.mark.parametrize("credential", ["client", "api_key"])
def test_another_workspaces_product_space_is_404_like_an_unknown_one(api, world, credential):
    headers = world.a.client_headers() if credential == "client" else {"Api-Key": world.a.api_key_write}
    foreign = send(api, world.a, ["alice"], headers=headers, product_space_code=world.b.code)
    unknown = send(api, world.a, ["alice"], headers=headers, product_space_code="ZZZZZZZZ")
    assert assert_error(foreign, 404, "product_space_not_found") == assert_error(
        unknown, 404, "product_space_not_found"
    )
    assert not InAppMessage.objects.exists()


def test_status_of_another_workspaces_message_is_404(api, world):
    theirs = send_ok(api, world.b, ["alice"])
    for headers in (world.a.client_headers(), {"Api-Key": world.a.api_key_write}):
        foreign = api.get(f"in-app-messages/{theirs['id']}", headers=headers)
        unknown = api.get(f"in-app-messages/{uuid.uuid4()}", headers=headers)
        assert assert_error(foreign, 404, "message_not_found") == assert_error(unknown, 404, "message_not_found")
    assert api.get(f"in-app-messages/{theirs['id']}", headers=world.b.client_headers()).status_code == 200
    assert_error(api.get("in-app-messages/not-a-uuid", headers=world.a.client_headers()), 404)


# --- Idempotency-Key ----------------------------------------------------------------------------
def test_same_key_and_body_replays_the_first_answer(api, world):
    headers = {**world.a.client_headers(), "Idempotency-Key": "order-1001-shipped"}
    first = send(api, world.a, ["alice", "bob"], headers=headers)
    assert first.status_code == 202 and "idempotent-replayed" not in first.headers
    # The same body, keys in another order and other whitespace: still the same request.
    payload = message_payload(world.a, ["alice", "bob"])
    again = api.post(
        "in-app-messages",
        content=__import__("json").dumps(dict(reversed(payload.items())), indent=2),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert InAppMessage.objects.count() == 1 and len(inbox(api, world)) == 1
    # Through an API key of the same workspace, too: the key belongs to the workspace.
    replay = send(
        api,
        world.a,
        ["alice", "bob"],
        headers={"Api-Key": world.a.api_key_write, "Idempotency-Key": "order-1001-shipped"},
    )
    assert replay.json() == first.json()


def test_same_key_with_another_body_is_409_and_stores_nothing(api, world):
    headers = {**world.a.client_headers(), "Idempotency-Key": "k-1"}
    first = send_ok(api, world.a, ["alice"], headers=headers)
    for change in (
        {"title": "Other"},
        {"recipients": ["alice", "bob"]},
        {"data": {"x": 1}},
        {"product_space_code": world.a.product_spaces[1].code},
    ):
        body = assert_error(
            send(api, world.a, **{"recipients": ["alice"], **change}, headers=headers), 409, "idempotency_key_reused"
        )
        assert "invalid_authentication" not in body
    assert list(InAppMessage.objects.values_list("id", flat=True)) == [uuid.UUID(first["id"])]


def test_keys_are_per_workspace(api, world):
    key = {"Idempotency-Key": "shared-key"}
    a = send_ok(api, world.a, ["alice"], headers={**world.a.client_headers(), **key})
    b = send_ok(api, world.b, ["alice"], headers={**world.b.client_headers(), **key})
    assert a["id"] != b["id"]


def test_a_key_older_than_24_hours_starts_afresh(api, world):
    headers = {**world.a.client_headers(), "Idempotency-Key": "k-old"}
    first = send_ok(api, world.a, ["alice"], headers=headers)
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    second = send_ok(api, world.a, ["alice"], title="Other body now", headers=headers)
    assert second["id"] != first["id"]
    assert len(inbox(api, world)) == 2
    assert send_ok(api, world.a, ["alice"], title="Other body now", headers=headers) == second


def test_concurrent_requests_with_one_key_store_one_message(api, world, daphne_server):
    import httpx

    headers = {**world.a.client_headers(), "Idempotency-Key": "race"}
    payload = message_payload(world.a, [f"c{n}" for n in range(200)])
    answers: list = []

    def post():
        with httpx.Client(timeout=60) as client:
            answers.append(client.post(f"{daphne_server.api}/in-app-messages", json=payload, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [202] * 6, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert InAppMessage.objects.count() == 1 and InboxItem.objects.count() == 200


def test_failed_requests_are_not_remembered(api, world):
    headers = {**world.a.client_headers(), "Idempotency-Key": "k-fix"}
    assert_invalid(send(api, world.a, ["alice"], title="", headers=headers), "title")
    assert_error(send(api, world.a, ["alice"], product_space_code=world.b.code, headers=headers), 404)
    assert send(api, world.a, ["alice"], headers=headers).status_code == 202


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey", "ключ"])
def test_bad_idempotency_keys(api, world, key):
    headers = {**world.a.client_headers(), "Idempotency-Key": key}
    if key == "ключ":  # not ASCII: send the raw UTF-8 bytes
        headers["Idempotency-Key"] = key.encode()
    assert_invalid(send(api, world.a, ["alice"], headers=headers), "Idempotency-Key")
    assert not InAppMessage.objects.exists()


# --- bad input, field by field ------------------------------------------------------------------
NOT_GIVEN = ...

BAD_FIELDS = [
    ("product_space_code", NOT_GIVEN),
    ("product_space_code", None),
    ("product_space_code", 12345678),
    ("product_space_code", "brsfbn0o"),
    ("product_space_code", "SHORT"),
    ("product_space_code", "AB\x00DEFGH"),
    ("recipients", NOT_GIVEN),
    ("recipients", None),
    ("recipients", []),
    ("recipients", "alice"),
    ("recipients", {"alice": 1}),
    ("title", NOT_GIVEN),
    ("title", None),
    ("title", ""),
    ("title", "   "),
    ("title", 42),
    ("title", "t" * 201),
    ("title", "nul\x00"),
    ("title", ["x"]),
    ("body", NOT_GIVEN),
    ("body", None),
    ("body", ""),
    ("body", " \n "),
    ("body", True),
    ("body", "b" * 10_001),
    ("category", NOT_GIVEN),
    ("category", None),
    ("category", "Billing"),
    ("category", "two words"),
    ("category", "c" * 65),
    ("category", 7),
    ("category", "-leading"),
    ("category", "*"),
    ("action_url", "javascript:alert(1)"),
    ("action_url", "ftp://example.com/x"),
    ("action_url", "/relative"),
    ("action_url", "not a url"),
    ("action_url", "https://example.com/" + "a" * 2040),
    ("action_url", 5),
    ("data", []),
    ("data", "text"),
    ("data", 5),
    ("data", {"big": "x" * 8200}),
    ("data", {"k\x00": 1}),
    ("data", {"v": "nul\x00"}),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[f"{f}={str(v)[:20]!r}" for f, v in BAD_FIELDS])
def test_bad_field_is_400_with_details(api, world, field, value):
    payload = message_payload(world.a, ["alice"])
    payload.pop(field, None)
    if value is not NOT_GIVEN:
        payload[field] = value
    response = api.post("in-app-messages", json=payload, headers=world.a.client_headers())
    assert_invalid(response, field)
    assert not InAppMessage.objects.exists()


@pytest.mark.parametrize("recipient", [42, None, "", "x" * 256, "nul\x00", ["alice"], True])
def test_bad_recipient_is_reported_by_index(api, world, recipient):
    assert_invalid(send(api, world.a, ["alice", "bob", recipient]), "recipients", 2)
    assert not InAppMessage.objects.exists()


def test_data_size_and_depth_caps(api, world):
    def nested(depth):
        node: dict = {}
        root = node
        for _ in range(depth - 1):
            node["n"] = {}
            node = node["n"]
        return root

    assert send(api, world.a, ["alice"], data={"x": "y" * 8000}).status_code == 202
    assert send(api, world.a, ["alice"], data=nested(16)).status_code == 202
    assert_invalid(send(api, world.a, ["alice"], data=nested(17)), "data")
    # The cap counts UTF-8 bytes: 3000 × "€" is 9000 bytes.
    assert "9" in assert_invalid(send(api, world.a, ["alice"], data={"e": "€" * 3000}), "data")[0]


def test_unknown_fields_are_refused(api, world):
    response = send(api, world.a, ["alice"], priority="high", recipient="bob")
    assert assert_invalid(response, "priority") == ["Unknown field."]
    assert_invalid(response, "recipient")
    assert not InAppMessage.objects.exists()


def test_all_errors_are_reported_at_once(api, world):
    response = send(api, world.a, [1], title="", category="BAD", extra=True)
    details = assert_error(response, 400)["details"]
    assert set(details) == {"recipients", "title", "category", "extra"}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[1, 2]",
        b'"text"',
        b"null",
        b'{"title": NaN}',
        b"\xff\xfe",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"title": "\\ud800"}',
        b'{"data": {"x": 1e400}}',
    ],
    ids=[
        "empty",
        "truncated",
        "array",
        "string",
        "null",
        "nan",
        "not-utf8",
        "deeply-nested",
        "lone-surrogate",
        "infinite-number",
    ],
)
def test_malformed_bodies_are_400_never_500(api, world, raw):
    response = api.post(
        "in-app-messages", content=raw, headers={**world.a.client_headers(), "Content-Type": "application/json"}
    )
    assert_error(response, 400)
    assert not InAppMessage.objects.exists()


def test_body_without_content_type_is_read_as_json(api, world):
    import json

    response = api.post(
        "in-app-messages",
        content=json.dumps(message_payload(world.a, ["alice"])).encode(),
        headers=world.a.client_headers(),
    )
    assert response.status_code == 202, response.text


def test_methods_not_allowed_are_json(api, world):
    assert_error(api.get("in-app-messages", headers=world.a.client_headers()), 405)
    assert_error(api.delete(f"in-app-messages/{uuid.uuid4()}", headers=world.a.client_headers()), 405)
