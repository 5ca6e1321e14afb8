"""Customer communication settings over real HTTP: defaults, PUT (whole) and PATCH (part), validation
of every field with per-field details (IANA time zones, quiet hours, contact details), isolation."""

from __future__ import annotations

import pytest

from notifications.models import CommunicationSettings
from tests.live import assert_error
from tests.notifications.conftest import assert_invalid

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]

PATH = "customer/communication-settings"
ALICE = ("a", "alice", 0)
DEFAULTS = {
    "locale": None,
    "time_zone": "UTC",
    "quiet_hours": {"enabled": False, "start": None, "end": None},
    "channels": {
        "in_app": {"enabled": True},
        "email": {"enabled": True, "address": None},
        "sms": {"enabled": True, "phone_number": None},
        "push": {"enabled": True, "device_tokens": []},
    },
}
FULL = {
    "locale": "de-CH",
    "time_zone": "Europe/Zurich",
    "quiet_hours": {"enabled": True, "start": "22:00", "end": "07:30"},
    "channels": {
        "in_app": {"enabled": True},
        "email": {"enabled": True, "address": "alice@example.com"},
        "sms": {"enabled": False, "phone_number": "+41791234567"},
        "push": {"enabled": True, "device_tokens": ["fcm:abc123", "apns:def456"]},
    },
}


def settings(api, world, method="GET", body=None, customer=ALICE):
    tenant, customer_id, product_space = customer
    return api.request(method, PATH, json=body, headers=world.customer_headers(tenant, customer_id, product_space))


def settings_ok(api, world, method="GET", body=None, customer=ALICE) -> dict:
    response = settings(api, world, method, body, customer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_defaults_without_storing_anything(api, world):
    assert settings_ok(api, world) == DEFAULTS
    assert not CommunicationSettings.objects.exists()


def test_put_whole_then_get(api, world):
    assert settings_ok(api, world, "PUT", FULL) == FULL
    assert settings_ok(api, world) == FULL
    # GET's body can be PUT back unchanged.
    assert settings_ok(api, world, "PUT", settings_ok(api, world)) == FULL


def test_put_resets_what_it_leaves_out(api, world):
    settings_ok(api, world, "PUT", FULL)
    assert settings_ok(api, world, "PUT", {"time_zone": "Asia/Tokyo"}) == {**DEFAULTS, "time_zone": "Asia/Tokyo"}
    assert settings_ok(api, world, "PUT", {}) == DEFAULTS


def test_patch_changes_only_what_it_names(api, world):
    settings_ok(api, world, "PUT", FULL)
    body = settings_ok(
        api, world, "PATCH", {"channels": {"email": {"address": "new@example.com"}}, "quiet_hours": {"enabled": False}}
    )
    expected = {
        **FULL,
        "quiet_hours": {**FULL["quiet_hours"], "enabled": False},
        "channels": {**FULL["channels"], "email": {"enabled": True, "address": "new@example.com"}},
    }
    assert body == expected
    assert settings_ok(api, world, "PATCH", {}) == expected
    # Enabling again reuses the stored times.
    assert settings_ok(api, world, "PATCH", {"quiet_hours": {"enabled": True}})["quiet_hours"] == FULL["quiet_hours"]


def test_null_clears_contact_details_and_locale(api, world):
    settings_ok(api, world, "PUT", FULL)
    body = settings_ok(
        api, world, "PATCH", {"locale": None, "channels": {"email": {"address": None}, "sms": {"phone_number": None}}}
    )
    assert body["locale"] is None
    assert body["channels"]["email"]["address"] is None and body["channels"]["sms"]["phone_number"] is None


@pytest.mark.parametrize(
    "time_zone",
    ["America/Argentina/Buenos_Aires", "Asia/Kolkata", "UTC", "Etc/GMT+5", "Pacific/Chatham", "America/Indiana/Knox"],
)
def test_iana_time_zones_are_accepted(api, world, time_zone):
    assert settings_ok(api, world, "PATCH", {"time_zone": time_zone})["time_zone"] == time_zone


@pytest.mark.parametrize("locale", ["en", "de-CH", "zh-Hant-TW", "es-419", "sr-Latn"])
def test_locales_are_accepted(api, world, locale):
    assert settings_ok(api, world, "PATCH", {"locale": locale})["locale"] == locale


@pytest.mark.parametrize(
    "other",
    [("a", "bob", 0), ("a", "alice", 1), ("b", "alice", 0)],
    ids=["another customer", "another product space", "another workspace"],
)
def test_settings_are_per_customer(api, world, other):
    settings_ok(api, world, "PUT", FULL)
    assert settings_ok(api, world, customer=other) == DEFAULTS
    settings_ok(api, world, "PUT", {"time_zone": "Asia/Tokyo"}, customer=other)
    assert settings_ok(api, world) == FULL


BAD = [
    ({"time_zone": "Mars/Olympus_Mons"}, ("time_zone",)),
    ({"time_zone": "europe/zurich"}, ("time_zone",)),
    ({"time_zone": "../../etc/passwd"}, ("time_zone",)),
    ({"time_zone": "CEST"}, ("time_zone",)),
    ({"time_zone": "+02:00"}, ("time_zone",)),
    ({"time_zone": ""}, ("time_zone",)),
    ({"time_zone": None}, ("time_zone",)),
    ({"time_zone": 2}, ("time_zone",)),
    ({"time_zone": "Europe/Zurich\x00"}, ("time_zone",)),
    ({"locale": "english"}, ("locale",)),
    ({"locale": "en_US"}, ("locale",)),
    ({"locale": ""}, ("locale",)),
    ({"locale": 1}, ("locale",)),
    ({"quiet_hours": None}, ("quiet_hours",)),
    ({"quiet_hours": "22-07"}, ("quiet_hours",)),
    ({"quiet_hours": {"enabled": "yes"}}, ("quiet_hours", "enabled")),
    ({"quiet_hours": {"start": "25:00"}}, ("quiet_hours", "start")),
    ({"quiet_hours": {"start": "7:00"}}, ("quiet_hours", "start")),
    ({"quiet_hours": {"end": "07:00:00"}}, ("quiet_hours", "end")),
    ({"quiet_hours": {"end": 700}}, ("quiet_hours", "end")),
    ({"quiet_hours": {"enabled": True}}, ("quiet_hours", "start")),
    ({"quiet_hours": {"enabled": True, "start": "22:00"}}, ("quiet_hours", "end")),
    ({"quiet_hours": {"enabled": True, "start": "22:00", "end": "22:00"}}, ("quiet_hours", "end")),
    ({"quiet_hours": {"enabled": False, "from": "22:00"}}, ("quiet_hours", "from")),
    ({"channels": None}, ("channels",)),
    ({"channels": {"fax": {"enabled": True}}}, ("channels", "fax")),
    ({"channels": {"email": {"enabled": "true"}}}, ("channels", "email", "enabled")),
    ({"channels": {"email": {"address": "not-an-email"}}}, ("channels", "email", "address")),
    ({"channels": {"email": {"address": "a@" + "b" * 250 + ".com"}}}, ("channels", "email", "address")),
    ({"channels": {"email": {"address": ""}}}, ("channels", "email", "address")),
    ({"channels": {"email": {"addresses": ["a@example.com"]}}}, ("channels", "email", "addresses")),
    ({"channels": {"sms": {"phone_number": "0791234567"}}}, ("channels", "sms", "phone_number")),
    ({"channels": {"sms": {"phone_number": "+0791234567"}}}, ("channels", "sms", "phone_number")),
    ({"channels": {"sms": {"phone_number": "+41 79 123 45 67"}}}, ("channels", "sms", "phone_number")),
    ({"channels": {"sms": {"phone_number": 41791234567}}}, ("channels", "sms", "phone_number")),
    ({"channels": {"push": {"device_tokens": "abc"}}}, ("channels", "push", "device_tokens")),
    ({"channels": {"push": {"device_tokens": [1]}}}, ("channels", "push", "device_tokens")),
    ({"channels": {"push": {"device_tokens": [""]}}}, ("channels", "push", "device_tokens")),
    ({"channels": {"push": {"device_tokens": ["x" * 513]}}}, ("channels", "push", "device_tokens")),
    ({"channels": {"push": {"device_tokens": ["has space"]}}}, ("channels", "push", "device_tokens")),
    ({"channels": {"push": {"device_tokens": [f"t{n}" for n in range(11)]}}}, ("channels", "push", "device_tokens")),
    ({"channels": {"in_app": {"enabled": None}}}, ("channels", "in_app", "enabled")),
    ({"channels": {"in_app": {"address": "x"}}}, ("channels", "in_app", "address")),
    ({"language": "de"}, ("language",)),
    ({"updated_at": "2024-01-01T00:00:00Z"}, ("updated_at",)),
]


@pytest.mark.parametrize(("body", "path"), BAD, ids=[".".join(p) + "=" + repr(b)[:40] for b, p in BAD])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bad_settings_are_400_per_field_and_change_nothing(api, world, body, path, method):
    # Stored quiet hours without times, so that enabling them without both times is an error for PATCH too.
    settings_ok(api, world, "PUT", {**FULL, "quiet_hours": {"enabled": False, "start": None, "end": None}})
    before = settings_ok(api, world)
    assert_invalid(settings(api, world, method, body), *path)
    assert settings_ok(api, world) == before


def test_errors_of_several_fields_at_once(api, world):
    body = assert_error(
        settings(
            api,
            world,
            "PATCH",
            {"time_zone": "Nowhere/City", "locale": "??", "channels": {"sms": {"phone_number": "12"}}, "x": 1},
        ),
        400,
    )
    assert set(body["details"]) == {"time_zone", "locale", "channels", "x"}
    assert set(body["details"]["channels"]) == {"sms"}


def test_not_an_object(api, world):
    assert_error(settings(api, world, "PUT", ["time_zone", "UTC"]), 400)
    assert_error(api.post(PATH, json={}, headers=world.customer_headers("a", "alice")), 405)
