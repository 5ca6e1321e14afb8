"""Customer preferences over real HTTP: read, PUT (whole) and PATCH (part), workspace-level defaults,
and their effect at send time (suppressed recipients get nothing stored and are counted)."""

from __future__ import annotations

import pytest

from notifications.models import CustomerPreference, InboxItem, PreferenceDefault
from tests.live import assert_error
from tests.notifications.conftest import assert_invalid, send_ok

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]

ALL_ON = {"in_app": True, "email": True, "sms": True, "push": True}
ALICE = ("a", "alice", 0)


def prefs(api, world, method="GET", body=None, customer=ALICE):
    tenant, customer_id, product_space = customer
    return api.request(
        method, "customer/preferences", json=body, headers=world.customer_headers(tenant, customer_id, product_space)
    )


def prefs_ok(api, world, method="GET", body=None, customer=ALICE) -> dict:
    response = prefs(api, world, method, body, customer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_without_choices_everything_is_on(api, world):
    assert prefs_ok(api, world) == {"preferences": {}, "effective": {"*": ALL_ON}, "defaults": {}, "critical": []}


def test_put_replaces_and_patch_merges(api, world):
    put = prefs_ok(api, world, "PUT", {"preferences": {"billing": {"email": False}, "news": {"in_app": False}}})
    assert put["preferences"] == {"billing": {"email": False}, "news": {"in_app": False}}
    assert put["effective"] == {"*": ALL_ON, "billing": {**ALL_ON, "email": False}, "news": {**ALL_ON, "in_app": False}}
    assert prefs_ok(api, world) == put

    patched = prefs_ok(api, world, "PATCH", {"preferences": {"billing": {"sms": False}, "*": {"push": False}}})
    assert patched["preferences"] == {
        "billing": {"email": False, "sms": False},
        "news": {"in_app": False},
        "*": {"push": False},
    }
    # "*" is the customer's choice for every category without its own choice for that channel.
    assert patched["effective"]["*"] == {**ALL_ON, "push": False}
    assert patched["effective"]["billing"] == {"in_app": True, "email": False, "sms": False, "push": False}

    # null removes a choice (one channel, or a whole category).
    patched = prefs_ok(api, world, "PATCH", {"preferences": {"billing": {"email": None}, "news": None}})
    assert patched["preferences"] == {"billing": {"sms": False}, "*": {"push": False}}

    # PUT is the whole set: what it leaves out is gone.
    put = prefs_ok(api, world, "PUT", {"preferences": {"alerts": {"sms": True}}})
    assert put["preferences"] == {"alerts": {"sms": True}}
    assert prefs_ok(api, world, "PUT", {"preferences": {}})["preferences"] == {}
    assert not CustomerPreference.objects.exists()


def test_patch_without_fields_changes_nothing(api, world):
    prefs_ok(api, world, "PUT", {"preferences": {"billing": {"email": False}}})
    assert prefs_ok(api, world, "PATCH", {})["preferences"] == {"billing": {"email": False}}


def test_workspace_defaults_apply_until_the_customer_chooses(api, world):
    workspace = world.a.workspace
    PreferenceDefault.objects.create(workspace=workspace, category="*", channel="sms", enabled=False)
    PreferenceDefault.objects.create(workspace=workspace, category="marketing", channel="email", enabled=False)
    PreferenceDefault.objects.create(workspace=world.b.workspace, category="*", channel="push", enabled=False)
    body = prefs_ok(api, world)
    assert body["defaults"] == {"*": {"sms": False}, "marketing": {"email": False}}
    assert body["effective"] == {"*": {**ALL_ON, "sms": False}, "marketing": {**ALL_ON, "sms": False, "email": False}}
    body = prefs_ok(api, world, "PATCH", {"preferences": {"marketing": {"email": True}, "*": {"sms": True}}})
    assert body["effective"]["marketing"] == ALL_ON and body["effective"]["*"] == ALL_ON
    # Another workspace's defaults are not this one's.
    assert prefs_ok(api, world, customer=("b", "alice", 0))["defaults"] == {"*": {"push": False}}


@pytest.mark.parametrize(
    "other",
    [("a", "bob", 0), ("a", "alice", 1), ("b", "alice", 0)],
    ids=["another customer", "another product space", "another workspace"],
)
def test_preferences_are_per_customer(api, world, other):
    prefs_ok(api, world, "PUT", {"preferences": {"billing": {"in_app": False}}})
    assert prefs_ok(api, world, customer=other)["preferences"] == {}
    prefs_ok(api, world, "PUT", {"preferences": {}}, customer=other)
    assert prefs_ok(api, world)["preferences"] == {"billing": {"in_app": False}}


# --- applied at send time -----------------------------------------------------------------------
def stored_for(message_id) -> set[str]:
    return set(InboxItem.objects.filter(message_id=message_id).values_list("customer_id", flat=True))


def test_opted_out_customers_are_suppressed_and_counted(api, world):
    prefs_ok(api, world, "PUT", {"preferences": {"billing": {"in_app": False}}})
    sent = send_ok(api, world.a, ["alice", "bob", "carol"], category="billing")
    assert (sent["recipients"], sent["stored"], sent["suppressed"]) == (3, 2, 1)
    assert stored_for(sent["id"]) == {"bob", "carol"}
    status = api.get(f"in-app-messages/{sent['id']}", headers=world.a.client_headers()).json()
    assert (status["recipients"], status["stored"], status["suppressed"], status["delivered"]) == (3, 2, 1, 2)
    # Other categories and other channels' choices do not suppress in-app messages.
    prefs_ok(api, world, "PATCH", {"preferences": {"news": {"email": False, "sms": False, "push": False}}})
    assert send_ok(api, world.a, ["alice"], category="news")["stored"] == 1


def test_opting_out_of_everything_in_app(api, world):
    prefs_ok(api, world, "PUT", {"preferences": {"*": {"in_app": False}, "security": {"in_app": True}}})
    assert send_ok(api, world.a, ["alice"], category="news")["suppressed"] == 1
    assert send_ok(api, world.a, ["alice"], category="security")["stored"] == 1


def test_workspace_default_off_and_customer_opt_in(api, world):
    PreferenceDefault.objects.create(workspace=world.a.workspace, category="marketing", channel="in_app", enabled=False)
    prefs_ok(api, world, "PUT", {"preferences": {"marketing": {"in_app": True}}})
    sent = send_ok(api, world.a, ["alice", "bob"], category="marketing")
    assert (sent["stored"], sent["suppressed"]) == (1, 1)
    assert stored_for(sent["id"]) == {"alice"}
    # The default is the workspace's: workspace B's customers are not affected.
    assert send_ok(api, world.b, ["bob"], category="marketing")["stored"] == 1


def test_preferences_are_per_product_space_at_send_time(api, world):
    prefs_ok(api, world, "PUT", {"preferences": {"billing": {"in_app": False}}}, customer=("a", "alice", 1))
    assert send_ok(api, world.a, ["alice"])["stored"] == 1
    assert send_ok(api, world.a, ["alice"], product_space_code=world.a.product_spaces[1].code)["suppressed"] == 1


def test_in_app_switched_off_in_communication_settings_suppresses(api, world):
    response = api.patch(
        "customer/communication-settings",
        json={"channels": {"in_app": {"enabled": False}}},
        headers=world.customer_headers("a", "alice"),
    )
    assert response.status_code == 200, response.text
    sent = send_ok(api, world.a, ["alice", "bob"])
    assert (sent["stored"], sent["suppressed"]) == (1, 1)


def test_everyone_suppressed_still_records_the_message(api, world):
    prefs_ok(api, world, "PUT", {"preferences": {"billing": {"in_app": False}}})
    sent = send_ok(api, world.a, ["alice"])
    assert (sent["recipients"], sent["stored"], sent["suppressed"]) == (1, 0, 1)
    status = api.get(f"in-app-messages/{sent['id']}", headers=world.a.client_headers())
    assert status.json()["delivered"] == 0


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"preferences": []}, ("preferences",)),
        ({"preferences": None}, ("preferences",)),
        ({"preferences": "off"}, ("preferences",)),
        ({"preferences": {"Billing": {"email": False}}}, ("preferences", "Billing")),
        ({"preferences": {"two words": {"email": False}}}, ("preferences", "two words")),
        ({"preferences": {"c" * 65: {"email": False}}}, ("preferences", "c" * 65)),
        ({"preferences": {"billing": {"fax": False}}}, ("preferences", "billing", "fax")),
        ({"preferences": {"billing": {"email": "no"}}}, ("preferences", "billing", "email")),
        ({"preferences": {"billing": {"email": 0}}}, ("preferences", "billing", "email")),
        ({"preferences": {"billing": False}}, ("preferences", "billing")),
        ({"preferences": {"billing": ["email"]}}, ("preferences", "billing")),
        ({"preferences": {}, "mode": "replace"}, ("mode",)),
        ({"preferences": {}, "effective": {}}, ("effective",)),
        ({"preferences": {}, "defaults": {}}, ("defaults",)),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bad_preferences(api, world, body, path, method):
    prefs_ok(api, world, "PUT", {"preferences": {"news": {"sms": False}}})
    assert_invalid(prefs(api, world, method, body), *path)
    assert prefs_ok(api, world)["preferences"] == {"news": {"sms": False}}  # unchanged


def test_put_needs_the_preferences_field(api, world):
    assert_invalid(prefs(api, world, "PUT", {}), "preferences")


def test_number_of_categories_is_capped(api, world):
    many = {f"category-{n}": {"email": False} for n in range(100)}
    assert len(prefs_ok(api, world, "PUT", {"preferences": many})["preferences"]) == 100
    assert_invalid(prefs(api, world, "PATCH", {"preferences": {"one-more": {"sms": False}}}), "preferences")
    assert_invalid(prefs(api, world, "PUT", {"preferences": {**many, "x": {"sms": True}}}), "preferences")
    assert len(prefs_ok(api, world)["preferences"]) == 100  # the refused writes left nothing behind


def test_malformed_body(api, world):
    response = api.put(
        "customer/preferences",
        content=b"{nope",
        headers={**world.customer_headers("a", "alice"), "Content-Type": "application/json"},
    )
    assert_error(response, 400)
    assert_error(api.post("customer/preferences", json={}, headers=world.customer_headers("a", "alice")), 405)


def test_too_many_categories_are_refused_before_any_write(world, django_assert_max_num_queries):
    """One query per category inside one transaction let a single body hold the write lock for minutes."""
    from django.core.exceptions import ValidationError

    from notifications.services import customer_preferences_update

    huge = {f"category-{n}": {"email": False, "sms": False} for n in range(5000)}
    with django_assert_max_num_queries(0), pytest.raises(ValidationError):
        customer_preferences_update(
            product_space=world.a.product_spaces[0], customer_id=ALICE, changes=huge, replace=True
        )
    assert not CustomerPreference.objects.exists()


def test_a_huge_preferences_body_is_a_400(api, world):
    huge = {f"category-{n}": {"email": False} for n in range(20_000)}
    assert_invalid(prefs(api, world, "PUT", {"preferences": huge}), "preferences")
    assert not CustomerPreference.objects.exists()
