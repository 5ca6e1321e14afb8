"""Parallel calls of one credential service on one object: the state check and the change are one step.

Each call runs in its own thread with its own database connection, the way two admins or two API
requests would. Every thread loads its object first, as a request does before it calls a service, then
all are released together. A service that checked the object it was handed, instead of the row as it is
inside its transaction, let every caller past the check: six rotations of one API key gave six new keys.
On PostgreSQL the calls overlap; on SQLite, whose IMMEDIATE transactions queue writers at BEGIN, the
stale object alone let each queued caller through.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from authplatform.conf import platform_settings
from credentials import hashing, selectors, services
from credentials.audit import Actor
from credentials.models import (
    ApiKey,
    AuditEvent,
    AuditOutcome,
    Client,
    ClientSecret,
    CustomerSigningKey,
    Membership,
    PlatformTokenKey,
    Role,
    User,
)

pytestmark = pytest.mark.timeout(120)

PARALLEL = 6


@pytest.fixture
def actor(transactional_db):
    admin = User.objects.create_user(username="root-admin", email="root@example.com", is_staff=True)
    return Actor(user=admin, ip="198.51.100.7", via="admin")


@pytest.fixture
def workspace(actor):
    return services.workspace_create(actor=actor, name="acme-prod", product_space_name="Web")


@pytest.fixture
def api_user(actor):
    return services.api_user_create(actor=actor, email="dev@example.com")


Call = tuple[Callable[[], Any], Callable[[Any], Any]]


def race(calls: list[Call]) -> list[tuple[str, Any]]:
    """Run each (load, act) in its own thread: load, wait for all, act. [(outcome, value)] in call order,
    outcome "ok" (value: the result), "refused" (a ValidationError) or "error" (anything else)."""
    barrier = threading.Barrier(len(calls), timeout=30)
    results: list[tuple[str, Any]] = [("error", "thread did not finish")] * len(calls)

    def run(index: int, load, act) -> None:
        try:
            loaded = load()
            barrier.wait()
            try:
                results[index] = ("ok", act(loaded))
            except ValidationError as error:
                results[index] = ("refused", error)
        except BaseException as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            results[index] = ("error", error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a call hung"
    errors = [value for outcome, value in results if outcome == "error"]
    assert not errors, errors
    return results


def outcomes(results) -> Counter:
    return Counter(outcome for outcome, _ in results)


def audited(action: str, target, outcome: str = AuditOutcome.SUCCESS) -> int:
    return AuditEvent.objects.filter(
        action=action, outcome=outcome, target_type=target._meta.label_lower, target_id=str(target.pk)
    ).count()


def assert_refused_with(results, message: str) -> None:
    for outcome, value in results:
        if outcome == "refused":
            assert any(message in text for text in value.messages), value.messages


def fresh(model, pk):
    return lambda: model.objects.get(pk=pk)


# --- API keys -----------------------------------------------------------------------------------
def test_parallel_rotations_of_one_api_key_issue_one_new_key(actor, api_user):
    old, _ = services.api_key_create(actor=actor, user=api_user, comment="ci")

    results = race(
        [(fresh(ApiKey, old.pk), lambda key: services.api_key_rotate(actor=actor, api_key=key, reason="leaked"))]
        * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "Only an active API key can be rotated.")
    [(new, plaintext)] = [value for outcome, value in results if outcome == "ok"]
    assert list(ApiKey.objects.filter(user=api_user).active()) == [new]
    assert selectors.api_key_match(key=plaintext) == new
    assert ApiKey.objects.filter(user=api_user).count() == 2  # the old key and one replacement, no more
    assert audited("api_key.rotate", old) == 1
    assert audited("api_key.rotate", old, AuditOutcome.FAILURE) == PARALLEL - 1
    assert AuditEvent.objects.filter(action="api_key.create", outcome=AuditOutcome.SUCCESS).count() == 2


def test_parallel_revocations_of_one_api_key_succeed_once(actor, api_user):
    key, _ = services.api_key_create(actor=actor, user=api_user)

    results = race(
        [(fresh(ApiKey, key.pk), lambda k: services.api_key_revoke(actor=actor, api_key=k, reason="gone"))] * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "already revoked")
    [revoked] = [value for outcome, value in results if outcome == "ok"]
    assert revoked.revoked_at is not None  # the caller gets the row as written
    assert audited("api_key.revoke", key) == 1
    assert audited("api_key.revoke", key, AuditOutcome.FAILURE) == PARALLEL - 1


def test_parallel_rotate_and_revoke_of_one_api_key_change_it_once(actor, api_user):
    key, _ = services.api_key_create(actor=actor, user=api_user)
    rotate = (fresh(ApiKey, key.pk), lambda k: services.api_key_rotate(actor=actor, api_key=k))
    revoke = (fresh(ApiKey, key.pk), lambda k: services.api_key_revoke(actor=actor, api_key=k))

    results = race([rotate, revoke] * (PARALLEL // 2))

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert audited("api_key.rotate", key) + audited("api_key.revoke", key) == 1
    assert ApiKey.objects.filter(user=api_user).active().count() == audited("api_key.rotate", key)


def test_parallel_creations_at_the_limit_add_one_key(actor, api_user):
    limit = platform_settings.API_KEY_MAX_ACTIVE
    for _ in range(limit - 1):
        services.api_key_create(actor=actor, user=api_user)

    results = race(
        [(fresh(User, api_user.pk), lambda user: services.api_key_create(actor=actor, user=user))] * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, f"at most {limit} active API keys")
    assert ApiKey.objects.filter(user=api_user).active().count() == limit


def test_parallel_imports_of_one_legacy_key_store_it_once(actor):
    users = [services.api_user_create(actor=actor, email=f"dev{n}@example.com") for n in range(PARALLEL)]
    legacy = "".join(secrets.choice(hashing.BASE62) for _ in range(32))

    results = race(
        [
            (fresh(User, user.pk), lambda u: services.api_key_import_legacy(actor=actor, user=u, key=legacy))
            for user in users
        ]
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "already stored")
    [imported] = [value for outcome, value in results if outcome == "ok"]
    assert selectors.api_key_match(key=legacy) == imported
    assert AuditEvent.objects.filter(action="api_key.import", outcome=AuditOutcome.SUCCESS).count() == 1
    assert AuditEvent.objects.filter(action="api_key.import", outcome=AuditOutcome.FAILURE).count() == PARALLEL - 1


# --- clients and client secrets -----------------------------------------------------------------
def test_parallel_deactivations_of_one_client_succeed_once(actor, workspace):
    client, _ = services.client_create(actor=actor, workspace=workspace)

    results = race(
        [(fresh(Client, client.pk), lambda c: services.client_deactivate(actor=actor, client=c, reason="offboarded"))]
        * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "already deactivated")
    [deactivated] = [value for outcome, value in results if outcome == "ok"]
    assert deactivated.is_active is False
    assert audited("client.deactivate", client) == 1
    assert audited("client.deactivate", client, AuditOutcome.FAILURE) == PARALLEL - 1


def test_no_secret_issued_by_a_rotation_outlives_a_parallel_deactivation(actor, workspace):
    client, first = services.client_create(actor=actor, workspace=workspace)
    rotate = (
        fresh(Client, client.pk),
        lambda c: services.client_secret_rotate(actor=actor, client=c, grace_seconds=300),
    )
    deactivate = (fresh(Client, client.pk), lambda c: services.client_deactivate(actor=actor, client=c))

    results = race([rotate, deactivate] * (PARALLEL // 2))

    rotations, deactivations = results[0::2], results[1::2]
    assert outcomes(deactivations) == {"ok": 1, "refused": PARALLEL // 2 - 1}
    assert_refused_with(rotations, "deactivated; its secrets cannot be rotated")
    # Deactivation revoked every secret it found, so one still active was issued after it.
    assert not ClientSecret.objects.filter(client=client).active().exists()
    issued = [first] + [value[1] for outcome, value in rotations if outcome == "ok"]
    assert all(selectors.client_secret_match(client_key=client.client_key, client_secret=s) is None for s in issued)
    assert ClientSecret.objects.filter(client=client).count() == 1 + outcomes(rotations)["ok"]
    assert audited("client_secret.rotate", client) == outcomes(rotations)["ok"]
    assert audited("client_secret.rotate", client, AuditOutcome.FAILURE) == outcomes(rotations)["refused"]
    assert audited("client.deactivate", client) == 1


def test_parallel_rotations_without_grace_leave_one_active_secret(actor, workspace):
    client, _ = services.client_create(actor=actor, workspace=workspace)

    results = race(
        [(fresh(Client, client.pk), lambda c: services.client_secret_rotate(actor=actor, client=c, grace_seconds=0))]
        * PARALLEL
    )

    # Every rotation is a real change; each one must see the secret the previous one issued.
    assert outcomes(results) == {"ok": PARALLEL}
    active = list(ClientSecret.objects.filter(client=client).active())
    assert len(active) == 1
    assert audited("client_secret.rotate", client) == PARALLEL


def test_parallel_revocations_of_one_client_secret_succeed_once(actor, workspace):
    client, _ = services.client_create(actor=actor, workspace=workspace)
    secret = ClientSecret.objects.get(client=client)

    results = race(
        [(fresh(ClientSecret, secret.pk), lambda s: services.client_secret_revoke(actor=actor, secret=s))] * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "already revoked")
    assert audited("client_secret.revoke", secret) == 1
    assert audited("client_secret.revoke", secret, AuditOutcome.FAILURE) == PARALLEL - 1


# --- signing keys and platform token keys --------------------------------------------------------
def test_parallel_revocations_of_one_signing_key_succeed_once(actor, workspace):
    key, _ = services.signing_key_generate(actor=actor, workspace=workspace)

    results = race(
        [(fresh(CustomerSigningKey, key.pk), lambda k: services.signing_key_revoke(actor=actor, key=k))] * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "already revoked")
    assert audited("signing_key.revoke", key) == 1
    assert audited("signing_key.revoke", key, AuditOutcome.FAILURE) == PARALLEL - 1


def test_parallel_revocations_of_one_platform_token_key_succeed_once(actor):
    key = services.platform_token_key_rotate(actor=actor)

    results = race(
        [(fresh(PlatformTokenKey, key.pk), lambda k: services.platform_token_key_revoke(actor=actor, key=k))] * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "already revoked")
    key.refresh_from_db()
    assert key.retired_at == key.revoked_at
    assert audited("platform_token_key.revoke", key) == 1
    assert audited("platform_token_key.revoke", key, AuditOutcome.FAILURE) == PARALLEL - 1


# --- memberships --------------------------------------------------------------------------------
def test_parallel_removals_of_one_membership_are_recorded_once(actor, workspace, api_user):
    membership = services.membership_set(actor=actor, user=api_user, workspace=workspace, role=Role.WRITE)

    results = race(
        [
            (
                lambda: Membership.objects.select_related("user", "workspace").get(pk=membership.pk),
                lambda m: services.membership_remove(actor=actor, membership=m),
            )
        ]
        * PARALLEL
    )

    assert outcomes(results) == {"ok": 1, "refused": PARALLEL - 1}
    assert_refused_with(results, "no longer exists")
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert audited("membership.remove", api_user) == 1
    assert audited("membership.remove", api_user, AuditOutcome.FAILURE) == PARALLEL - 1
