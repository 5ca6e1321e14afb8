"""Preferences in layers -- workspace default, product-space default, the customer's choice -- and
critical categories that customers cannot mute (notifications.selectors.preference_enabled)."""

from __future__ import annotations

import pytest

from notifications.models import CriticalCategory, CustomerPreference, InboxItem, PreferenceDefault
from tests.live import assert_error
from tests.notifications.conftest import send_ok
from tests.notifications.test_api_preferences import ALL_ON, prefs_ok

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def stored_for(message_id) -> set[str]:
    return set(InboxItem.objects.filter(message_id=message_id).values_list("customer_id", flat=True))


def test_a_product_space_default_comes_before_the_workspace_default(api, world):
    main, second = world.a.product_spaces
    PreferenceDefault.objects.create(workspace=world.a.workspace, category="news", channel="in_app", enabled=False)
    PreferenceDefault.objects.create(
        workspace=world.a.workspace, product_space=second, category="news", channel="in_app", enabled=True
    )
    PreferenceDefault.objects.create(
        workspace=world.a.workspace, product_space=second, category="*", channel="sms", enabled=False
    )
    # The main space follows the workspace: news is off there; the second space turns it back on.
    assert send_ok(api, world.a, ["alice"], category="news")["stored"] == 0
    assert send_ok(api, world.a, ["alice"], category="news", product_space_code=second.code)["stored"] == 1
    in_second = prefs_ok(api, world, customer=("a", "alice", 1))
    assert in_second["defaults"] == {"news": {"in_app": True}, "*": {"sms": False}}
    assert in_second["effective"]["news"] == {**ALL_ON, "sms": False}
    assert prefs_ok(api, world)["effective"]["news"]["in_app"] is False
    # The customer's own choice comes before both.
    prefs_ok(api, world, "PATCH", {"preferences": {"news": {"in_app": True}}})
    assert send_ok(api, world.a, ["alice"], category="news")["stored"] == 1
    assert main


def test_a_critical_category_cannot_be_muted(api, world):
    main, second = world.a.product_spaces
    CriticalCategory.objects.create(workspace=world.a.workspace, product_space=main, category="security")
    # A mute stored before the category became critical is ignored at send time.
    CustomerPreference.objects.create(
        product_space=main, customer_id="bob", category="security", channel="in_app", enabled=False
    )
    for body in (
        {"preferences": {"security": {"in_app": False}}},
        {"preferences": {"billing": {"email": False}, "security": {"email": True, "sms": False}}},
    ):
        answer = api.patch("customer/preferences", headers=world.customer_headers("a", "alice"), json=body)
        details = assert_error(answer, 400, "critical_category")["details"]
        assert list(details["preferences"]) == ["security"] and "critical" in details["preferences"]["security"][0]
    assert not CustomerPreference.objects.filter(customer_id="alice").exists()  # nothing of either body stored
    # Turning it on, or a mute of all categories ("*"), is allowed; neither mutes it.
    prefs_ok(api, world, "PATCH", {"preferences": {"security": {"email": True}, "*": {"in_app": False}}})
    body = prefs_ok(api, world)
    assert body["critical"] == ["security"] and body["effective"]["security"]["in_app"] is True
    sent = send_ok(api, world.a, ["alice", "bob"], category="security")
    assert stored_for(sent["id"]) == {"alice", "bob"}
    # Only that product space: in the second one it is an ordinary category.
    assert prefs_ok(api, world, customer=("a", "alice", 1))["critical"] == []
    assert (
        api.patch(
            "customer/preferences",
            headers=world.customer_headers("a", "alice", 1),
            json={"preferences": {"security": {"in_app": False}}},
        ).status_code
        == 200
    )
    assert second


def test_a_workspace_critical_category_holds_in_every_product_space_and_nowhere_else(api, world):
    CriticalCategory.objects.create(workspace=world.a.workspace, category="legal")
    for space in (0, 1):
        answer = api.put(
            "customer/preferences",
            headers=world.customer_headers("a", "alice", space),
            json={"preferences": {"legal": {"in_app": False}}},
        )
        assert "legal" in assert_error(answer, 400)["details"]["preferences"]
    assert prefs_ok(api, world, customer=("b", "alice", 0))["critical"] == []


def test_admin_edits_both_layers_with_help(admin_client, world):
    main = world.a.product_spaces[0]
    page = admin_client.get("/admin/realtime/preferencedefault/add/")
    assert page.status_code == 200
    assert b"default comes before the workspace" in page.content
    added = admin_client.post(
        "/admin/realtime/preferencedefault/add/",
        {"workspace": world.a.workspace.pk, "product_space": main.pk, "category": "news", "channel": "email"},
    )
    assert added.status_code == 302 and PreferenceDefault.objects.filter(product_space=main).count() == 1
    critical = admin_client.get("/admin/realtime/criticalcategory/add/")
    assert critical.status_code == 200 and b"whatever they choose" in critical.content
    # A product space of another workspace is refused with a message, nothing stored.
    refused = admin_client.post(
        "/admin/realtime/criticalcategory/add/",
        {"workspace": world.a.workspace.pk, "product_space": world.b.product_spaces[0].pk, "category": "security"},
    )
    assert refused.status_code == 200 and b"Choose a product space of this workspace." in refused.content
    assert not CriticalCategory.objects.exists()
