"""/metrics (authplatform/metrics.py): counters that move with the traffic, labels that hold no
customer id, key or secret, and access only from METRICS_ALLOWED or with METRICS_TOKEN. Live delivery's
metrics are read from real daphne processes after real sockets connected and real sends went out."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest

from tests.live import api_client, assert_error
from tests.live_delivery.test_socketio import WAIT, RawSocket, make_tenant, run, send_message
from tests.live_delivery.test_socketio_outage import PrivateRedis, private_redis  # noqa: F401  (fixture)
from tests.notifications.conftest import notifications_world, world  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.live]


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def scrape(server, **headers) -> dict[str, float]:
    answer = httpx.get(f"{server.url}/metrics", headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


OPEN_SOCKETS = "authplatform_live_open_sockets"
SENDS = "authplatform_sends_total"
ITEMS = "authplatform_inbox_items_stored_total"
EVENTS = "authplatform_live_events_total"
FANOUTS = "authplatform_live_fanout_seconds_count"


def connects(outcome: str) -> str:
    return f'authplatform_live_connects_total{{outcome="{outcome}"}}'


def failures(kind: str) -> str:
    return f'authplatform_live_failures_total{{kind="{kind}"}}'


def scrape_until(server, check, timeout: float = WAIT) -> dict[str, float]:
    """Scrape until ``check(samples)`` holds (what a process does after the client heard it, e.g. closing
    a socket, may take a moment); the last scrape, for the assertion's message, when it never does."""
    deadline = time.monotonic() + timeout
    while not check(totals := scrape(server)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return totals


async def connected_socket(server, token: str, **auth) -> tuple[RawSocket, dict]:
    """A socket whose CONNECT was accepted; the CONNECT answer's data (sid, pid)."""
    socket = await RawSocket.open(server)
    if auth:
        await socket.send("40" + json.dumps({"token": f"Bearer {token}", **auth}))
        answer = await socket.receive()
        socket.connected_count = await socket.receive()
    else:
        answer = await socket.connect_customer(token)
    assert answer is not None and answer.startswith("40{"), answer
    return socket, json.loads(answer[2:])


async def heard_send(socket: RawSocket) -> None:
    """The three events of a send: the message, the unread count, the counts."""
    assert (await socket.receive()).startswith('42["inAppMessage",')
    assert (await socket.receive()).startswith('42["unreadCount",')
    assert (await socket.receive()).startswith('42["counts",')


def test_requests_and_authentications_are_counted_by_route_and_kind(daphne_server, world):
    before = scrape(daphne_server)
    with api_client(daphne_server) as api:
        token = api.get("user/apikeys/token", headers={"Api-Key": world.a.api_key_write}).json()["token"]
        api.get("user", headers={"Authorization": f"Bearer {token}"})
        api.get(f"workspaces/{world.a.workspace.code}", headers=world.a.client_headers())
        api.get("customer/inbox/unread-count", headers=world.customer_headers("a", "alice"))
        api.get("user", headers={"Api-Key": "x" * 64})
        api.get("customer/inbox/unread-count", headers={"Authorization": "Bearer not.a.jwt"})
    after = scrape(daphne_server)

    def moved(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    def moved_matching(pattern: str) -> float:
        return sum(moved(name) for name in after if re.fullmatch(pattern, name))

    for kind in ("api_key", "api_token", "client", "customer_jwt"):
        assert moved(f'authplatform_authentications_total{{kind="{kind}",outcome="success",reason=""}}') >= 1, kind
    assert (
        moved_matching(r'authplatform_authentications_total\{kind="api_key",outcome="refused",reason="[a-z_]+"\}') == 1
    )
    assert (
        moved('authplatform_authentications_total{kind="customer_jwt",outcome="refused",reason="token_malformed"}') == 1
    )
    assert moved('authplatform_http_requests_total{method="GET",route="api/v1/user",status="200"}') == 1
    assert moved('authplatform_http_request_duration_seconds_count{route="api/v1/workspaces/<code:code>"}') == 1
    # Labels name routes, kinds and reasons, never what identifies a workspace, key or customer.
    text = httpx.get(f"{daphne_server.url}/metrics").text
    for value in (world.a.workspace.code, world.a.client_key, world.a.api_key_write, token, "alice"):
        assert value not in text


def test_only_allowed_addresses_or_the_token_may_read_them(daphne_server_factory):
    server = daphne_server_factory(METRICS_ALLOWED="127.0.0.1/32", METRICS_TOKEN="scraper-secret-1")
    with api_client(server, ip="127.0.0.2") as elsewhere:
        refused = elsewhere.get(f"{server.url}/metrics")
        assert_error(refused, 403, "permission_denied")
        assert elsewhere.get(f"{server.url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        allowed = elsewhere.get(f"{server.url}/metrics", headers={"Authorization": "Bearer scraper-secret-1"})
        assert allowed.status_code == 200 and "authplatform_http_requests_total" in allowed.text
    assert httpx.get(f"{server.url}/metrics").status_code == 200  # from 127.0.0.1


@pytest.mark.django_db(transaction=True)
def test_several_processes_are_summed_through_the_multiprocess_directory(daphne_server_factory, tmp_path):
    first = daphne_server_factory(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    second = daphne_server_factory(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    tenant = make_tenant()
    for server, count in ((first, 3), (second, 2)):
        for _ in range(count):
            httpx.get(f"{server.url}/readyz")
    for server in (first, second):
        totals = samples(httpx.get(f"{server.url}/metrics").text)
        ready = [v for k, v in totals.items() if re.match(r'authplatform_http_requests_total\{.*route="readyz"', k)]
        assert sum(ready) == 5, totals

    async def scenario():
        # A socket on each process, and a send through each to its socket's customer (with or without
        # Redis: a process without a recipient's socket makes no fan-out observation).
        on_first, _ = await connected_socket(first, tenant.token("C1"))
        on_second, _ = await connected_socket(second, tenant.token("C2"))
        for server, socket, customer in ((first, on_first, "C1"), (second, on_second, "C2")):
            await asyncio.to_thread(send_message, server, tenant, [customer], title=f"to {customer}")
            await heard_send(socket)
        for server in (first, second):
            totals = scrape(server)
            assert totals[OPEN_SOCKETS] == 2 and totals[SENDS] == 2 and totals[ITEMS] == 2, totals
            # Per socket: unreadCount + counts after the CONNECT, then the send's three.
            assert totals[EVENTS] == 10 and totals[FANOUTS] == 2 and totals[connects("fresh")] == 2, totals
        # A process killed without exiting cannot take its sockets out of the sum: the scrape does.
        first.process.kill()
        first.process.wait()
        await on_first.closed_with()
        totals = scrape(second)
        assert totals[OPEN_SOCKETS] == 1, totals
        assert totals[SENDS] == 2 and totals[EVENTS] == 10, totals  # what happened, happened
        await on_second.close()

    run(scenario())


@pytest.mark.django_db(transaction=True)
def test_open_sockets_sends_items_events_and_fanout_latency(daphne_server_factory):
    server = daphne_server_factory()
    tenant = make_tenant()

    async def scenario():
        socket, _ = await connected_socket(server, tenant.token("C1"))
        # Two recipients, one of them connected: one send, two inbox items.
        await asyncio.to_thread(send_message, server, tenant, ["C1", "C2"], title="counted")
        await heard_send(socket)
        totals = scrape(server)
        assert totals[OPEN_SOCKETS] == 1
        assert totals[SENDS] == 1 and totals[ITEMS] == 2
        assert totals[EVENTS] == 5  # unreadCount and counts after the CONNECT, then the send's three
        assert totals[FANOUTS] == 1  # one process with a recipient's socket: one observation
        assert 0 < totals["authplatform_live_fanout_seconds_sum"] < 60  # seconds since the commit, not a time
        assert totals[connects("fresh")] == 1
        await socket.close()
        closed = await asyncio.to_thread(scrape_until, server, lambda t: t[OPEN_SOCKETS] == 0)
        assert closed[OPEN_SOCKETS] == 0

    run(scenario())
    # Labels hold no workspace, product space, customer or key.
    text = httpx.get(f"{server.url}/metrics").text
    for value in (tenant.workspace.code, tenant.product_space.code, "C1", "C2", str(tenant.key.kid), tenant.client_key):
        assert value not in text


@pytest.mark.django_db(transaction=True)
def test_connects_are_counted_by_recovery_outcome(daphne_server):
    tenant = make_tenant()
    before = scrape(daphne_server)

    async def scenario():
        first, answer = await connected_socket(daphne_server, tenant.token("C1"))
        offset = json.loads(first.connected_count[2:])[-1]  # the unread count carries the socket's offset
        await first.close()
        await asyncio.to_thread(send_message, daphne_server, tenant, ["C1"], title="missed")
        back, again = await connected_socket(daphne_server, tenant.token("C1"), pid=answer["pid"], offset=offset)
        assert again["pid"] == answer["pid"]  # recovered: the missed message is replayed
        assert back.connected_count.startswith('42["inAppMessage",')
        await back.close()
        stranger, refused = await connected_socket(daphne_server, tenant.token("C1"), pid="forged", offset=offset)
        assert refused["pid"] != "forged"
        await stranger.close()

    run(scenario())
    after = scrape(daphne_server)
    for outcome, count in (("fresh", 1), ("recovered", 1), ("not_recovered", 1)):
        assert after.get(connects(outcome), 0) - before.get(connects(outcome), 0) == count, outcome


@pytest.mark.django_db(transaction=True)
def test_losing_redis_is_counted_as_a_subscription_loss_and_failed_publications(
    daphne_server_factory,
    private_redis,  # noqa: F811
):
    server = daphne_server_factory(REDIS_URL=private_redis.url, LIVE_REDIS_TIMEOUT_MS="500")
    tenant = make_tenant()

    async def scenario():
        socket, _ = await connected_socket(server, tenant.token("C1"))
        await asyncio.to_thread(private_redis.stop)
        assert await socket.closed_with() == 4011  # the process closes its sockets without a subscription
        await asyncio.to_thread(send_message, server, tenant, ["C1"], title="while Redis was down")

    run(scenario())
    totals = scrape_until(
        server, lambda t: t[failures("publish_failed")] + t[failures("pool_exhausted")] >= 1 and t[OPEN_SOCKETS] == 0
    )
    assert totals[failures("subscription_lost")] == 1
    assert totals[failures("publish_failed")] + totals[failures("pool_exhausted")] >= 1
    assert totals[OPEN_SOCKETS] == 0 and totals[SENDS] == 1


def test_the_server_froze_its_start_up_objects_before_serving(daphne_server):
    # authplatform/server.py freezes what start-up built (gc.freeze) so that full collections never
    # walk it again; the gauge says how much, and 0 when the freeze did not happen.
    assert scrape(daphne_server)["authplatform_gc_frozen_objects"] > 0
