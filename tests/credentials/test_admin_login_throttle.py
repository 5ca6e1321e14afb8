"""Admin sign-in: a budget of failed attempts per client address and per username, and the audit trail.

Through Django's test client against the real login page and the real cache (Redis in the second CI
pass). Counters outlive a test there, so every test signs in from addresses and as usernames of its
own, and windows are long enough not to end mid-test unless a test waits for one to end.
"""

import ipaddress
import re
import secrets
import time
import uuid

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from credentials.models import AuditEvent, User

pytestmark = [
    pytest.mark.django_db,
    # Hashing with the production hasher costs most of a second per attempt; the rule under test
    # does not depend on the hasher.
    pytest.mark.usefixtures("fast_password_hashing"),
]

PASSWORD = "correct horse battery staple 42"
LOGIN = reverse("admin:login")
LONG_WINDOW = 10**7  # one window for the whole test: a fixed window does not end mid-test
REFUSED = "Too many failed sign-in attempts"


@pytest.fixture
def fast_password_hashing():
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def budget(burst: int | None = None, window: int = LONG_WINDOW):
    values = {"ADMIN_LOGIN_FAILURE_WINDOW": window}
    if burst is not None:
        values["ADMIN_LOGIN_FAILURE_BURST"] = burst
    return override_settings(AUTHPLATFORM={**settings.AUTHPLATFORM, **values})


def new_address() -> str:
    """A random documentation-range IPv6 address, written as the audit log stores it."""
    return str(ipaddress.IPv6Address("2001:db8::") + secrets.randbits(96))


def new_username() -> str:
    return f"admin-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def staff(db):
    return User.objects.create_user(username=new_username(), password=PASSWORD, is_staff=True, is_superuser=True)


def sign_in(client, username: str, password: str, address: str):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": reverse("admin:index")}, REMOTE_ADDR=address
    )


def assert_signed_in(client, response, user) -> None:
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.session.get("_auth_user_id") == str(user.pk)


def assert_refused_for_now(client, response) -> None:
    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302  # still sent to the login page


def test_forty_wrong_passwords_then_the_right_one_is_refused(client, staff):
    address = new_address()
    with budget():  # the shipped burst
        for n in range(40):
            response = sign_in(client, staff.username, f"guess {n}", address)
            assert response.status_code == 200 and "_auth_user_id" not in client.session
        response = sign_in(client, staff.username, PASSWORD, address)

    assert_refused_for_now(client, response)
    burst = 10
    failed = AuditEvent.objects.filter(action="admin.login_failed")
    assert failed.count() == burst  # refused attempts are not even checked
    for event in failed:
        assert (event.outcome, event.via, event.ip, event.actor) == ("failure", "admin", address, None)
        assert event.actor_label == "anonymous (admin)"
        assert event.target_id == str(staff.pk)
    throttled = AuditEvent.objects.filter(action="admin.login_throttled")
    # Once per budget spent (address and username), not once per refused attempt.
    assert sorted(e.details["by"] for e in throttled) == ["address", "username"]
    assert {e.ip for e in throttled} == {address}
    assert throttled.get(details__by="username").target_id == str(staff.pk)
    for event in AuditEvent.objects.all():
        row = str([getattr(event, f.name) for f in AuditEvent._meta.fields])
        assert "guess" not in row and PASSWORD not in row


def test_an_exhausted_address_does_not_lock_out_other_addresses(client, staff):
    attacker, colleague = new_address(), new_address()
    with budget(burst=3):
        for _ in range(4):  # a different (unknown) username each time: only the address adds up
            assert sign_in(client, new_username(), "guess", attacker).status_code == 200
        assert_refused_for_now(client, sign_in(client, staff.username, PASSWORD, attacker))

        # Only refusals use a budget up: signing in more often than the burst is fine.
        for _ in range(4):
            assert_signed_in(client, sign_in(client, staff.username, PASSWORD, colleague), staff)
            client.logout()

    unknown = AuditEvent.objects.filter(action="admin.login_failed").first()
    assert unknown.target_id == "" and unknown.details == {"account": "no such user"}


def test_a_username_guessed_from_many_addresses_is_refused(client, staff):
    other = User.objects.create_user(username=new_username(), password=PASSWORD, is_staff=True)
    with budget(burst=3):
        for _ in range(4):  # each address stays within its own budget
            assert sign_in(client, staff.username, "guess", new_address()).status_code == 200
        fresh = new_address()
        assert_refused_for_now(client, sign_in(client, staff.username, PASSWORD, fresh))
        # Spelling the username differently does not get a new budget.
        assert_refused_for_now(client, sign_in(client, staff.username.upper(), PASSWORD, fresh))

        assert_signed_in(client, sign_in(client, other.username, PASSWORD, fresh), other)


def test_sign_in_works_again_when_the_window_ends(client, staff):
    window = 2
    address = new_address()
    with budget(burst=2, window=window):
        if window - time.time() % window < 1.5:  # start at the beginning of a window
            time.sleep(window - time.time() % window + 0.05)
        for _ in range(3):
            sign_in(client, staff.username, "guess", address)
        response = sign_in(client, staff.username, PASSWORD, address)
        assert_refused_for_now(client, response)
        assert re.search(r"try again in [12] seconds?\.", response.content.decode())

        time.sleep(window - time.time() % window + 0.05)
        assert_signed_in(client, sign_in(client, staff.username, PASSWORD, address), staff)
