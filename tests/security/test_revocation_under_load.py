"""Revocation under load: while clients hammer the API with an API key and with a customer JWT, the test
process revokes both (credentials.services, as the CLI would), and no request sent after a revoke
returned succeeds, on one daphne process and on two processes sharing PostgreSQL and Redis.

Every request is recorded with its send time, receive time and status (one monotonic clock, this process).
Rules, per credential, against the revoke call's start and return:
- answered before the revoke was called: 200 (the load itself breaks nothing);
- sent after the revoke returned (its transaction committed): refused, 403/401 with the revoked reason;
- in flight across it (sent before it returned, answered after it was called): either answer.
The figures (requests/s under load, requests in flight, time from the revoke's return to the last
success) are printed as one summary line per credential (run with ``-s``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from django.db import connection

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey
from tests.conftest import requires_redis
from tests.live import api_client
from tests.tokens.test_auth_hot_path import customer_token

LOOPS_PER_CREDENTIAL = 4
WARM_SECONDS = 2.0  # hammering before the first revoke: the requests/s figure
BETWEEN_REVOKES = 1.0  # the customer JWT keeps working while only the API key is revoked
AFTER_SECONDS = 2.0  # hammering after the last revoke: requests that must all be refused

# What each credential is refused with once revoked (docs/api.md, "Credentials on the API").
REFUSED = {"api_key": (403, "invalid_api_key"), "customer_jwt": (401, "signing_key_unknown")}


@dataclass(frozen=True)
class Sample:
    kind: str
    server: int
    sent: float
    received: float
    status: int  # 0: no HTTP answer (transport error)
    reason: str | None


@dataclass(frozen=True)
class Revocation:
    called: float
    returned: float


def _request(kind: str, client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return client.get("user" if kind == "api_key" else "customer/inbox", headers=headers)


def _hammer(
    kind: str, clients: list[httpx.Client], headers: dict[str, str], stop: threading.Event, out: list[Sample]
) -> None:
    """One client loop: back-to-back requests, alternating between the servers' clients."""
    n = 0
    while not stop.is_set():
        server = n % len(clients)
        n += 1
        sent = time.monotonic()
        try:
            response = _request(kind, clients[server], headers)
        except httpx.HTTPError:
            out.append(Sample(kind, server, sent, time.monotonic(), 0, None))
            continue
        received = time.monotonic()
        reason = None
        if response.status_code != 200:
            try:
                reason = response.json().get("reason")
            except ValueError:  # not the JSON error body: the status alone fails the checks
                reason = "(not JSON)"
        out.append(Sample(kind, server, sent, received, response.status_code, reason))


def _revoke(revoke) -> Revocation:
    called = time.monotonic()
    revoke()  # its own transaction: committed when it returns
    return Revocation(called, time.monotonic())


def _windows(samples: list[Sample], revocation: Revocation) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """(answered before the revoke was called, in flight across it, sent after it returned)."""
    before = [s for s in samples if s.received < revocation.called]
    after = [s for s in samples if s.sent > revocation.returned]
    in_flight = [s for s in samples if s.sent <= revocation.returned and s.received >= revocation.called]
    assert len(before) + len(in_flight) + len(after) == len(samples)
    return before, in_flight, after


def _summary(label: str, kind: str, samples: list[Sample], revocation: Revocation, load_until: float) -> str:
    """The figures; requests/s counts what was answered from the first send to the first revoke call."""
    _, in_flight, after = _windows(samples, revocation)
    rate = sum(1 for s in samples if s.received < load_until) / (load_until - min(s.sent for s in samples))
    last = max((s.received for s in samples if s.status == 200), default=revocation.called)
    last_success = (last - revocation.returned) * 1000
    flight_ok = sum(1 for s in in_flight if s.status == 200)
    after_ok = sum(1 for s in after if s.status == 200)
    return (
        f"[revocation under load: {label}] {kind}: {rate:.0f} req/s with {LOOPS_PER_CREDENTIAL} loops "
        f"({len(samples)} requests); revoke took {(revocation.returned - revocation.called) * 1000:.1f} ms; "
        f"in flight across it {len(in_flight)} ({flight_ok} answered 200, {len(in_flight) - flight_ok} "
        f"refused); sent after it {len(after)}, {after_ok} succeeded; last success {last_success:+.1f} ms "
        f"from the revoke's return"
    )


def _check(kind: str, samples: list[Sample], revocation: Revocation, servers: int) -> None:
    before, in_flight, after = _windows(samples, revocation)
    bad_before = [s for s in before if s.status != 200]
    assert not bad_before, f"{kind}: refused or failed before the revoke: {bad_before[:5]}"
    assert len(before) >= 20, f"{kind}: too little load before the revoke to mean anything ({len(before)})"
    succeeded_after = [s for s in after if s.status == 200]
    assert not succeeded_after, (
        f"{kind}: {len(succeeded_after)} requests sent after the revoke returned succeeded, the first "
        f"{succeeded_after[0].sent - revocation.returned:.4f}s after it"
    )
    wrong_after = [s for s in after if (s.status, s.reason) != REFUSED[kind]]
    assert not wrong_after, f"{kind}: not refused as {REFUSED[kind]} after the revoke: {wrong_after[:5]}"
    assert len(after) >= 20, f"{kind}: too few requests after the revoke to mean anything ({len(after)})"
    for server in range(servers):  # every process refused on its own
        assert any(s.server == server for s in after), f"{kind}: no request reached server {server} after"
    assert all(s.status == 200 or (s.status, s.reason) == REFUSED[kind] for s in in_flight), in_flight


def _run(label: str, servers, api_key: str, workspace) -> None:
    signing_key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace)
    product_space = workspace.product_spaces.get()
    headers = {
        "api_key": {"Api-Key": api_key},
        "customer_jwt": {"Authorization": f"Bearer {customer_token(signing_key, private_pem, product_space.code)}"},
    }
    stored_api_key = ApiKey.objects.get(pk=uuid.UUID(hex=api_key[:32]))

    clients: list[httpx.Client] = []
    loops: list[tuple[str, list[httpx.Client]]] = []
    for kind in headers:
        for _ in range(LOOPS_PER_CREDENTIAL):
            own = [api_client(server) for server in servers]  # one connection per loop and server
            clients.extend(own)
            for client in own:  # warm: both credentials work everywhere before the load starts
                assert _request(kind, client, headers[kind]).status_code == 200
            loops.append((kind, own))

    samples: list[Sample] = []  # list.append is atomic: the loops share it
    stop = threading.Event()
    threads = [
        threading.Thread(target=_hammer, args=(kind, own, headers[kind], stop, samples), daemon=True)
        for kind, own in loops
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(WARM_SECONDS)
        revoked = {"api_key": _revoke(lambda: services.api_key_revoke(actor=CLI, api_key=stored_api_key))}
        time.sleep(BETWEEN_REVOKES)
        revoked["customer_jwt"] = _revoke(lambda: services.signing_key_revoke(actor=CLI, key=signing_key))
        time.sleep(AFTER_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for client in clients:
            client.close()

    by_kind = {kind: [s for s in samples if s.kind == kind] for kind in revoked}
    for kind, revocation in revoked.items():  # the figures first, so a failing run shows them too
        print("\n" + _summary(label, kind, by_kind[kind], revocation, load_until=revoked["api_key"].called))
    for kind, revocation in revoked.items():
        _check(kind, by_kind[kind], revocation, len(servers))


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_nothing_sent_after_a_revoke_succeeds_on_one_process(daphne_server, workspace, api_key, caplog):
    caplog.set_level(logging.WARNING, logger="httpx")  # not a log line per request
    _run(f"1 process, {connection.vendor}", [daphne_server], api_key, workspace)


@pytest.mark.live
@pytest.mark.redis
@requires_redis
@pytest.mark.django_db(transaction=True)
def test_nothing_sent_after_a_revoke_succeeds_on_two_processes(
    daphne_server, daphne_server_factory, workspace, api_key, caplog
):
    """Requests alternate between two processes over PostgreSQL and Redis; each refuses on its own."""
    caplog.set_level(logging.WARNING, logger="httpx")
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL (second CI pass)")
    _run("2 processes, postgresql + redis", [daphne_server, daphne_server_factory()], api_key, workspace)
