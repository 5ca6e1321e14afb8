"""Connection state recovery (live/recovery.py) with the real socket.io-client 4.8.

The client (tests/js/socketio_recovery_client.mjs) connects through a TCP switch run by the test, so a
test decides when the client is "away" (the switch refuses connections), and which server process it
comes back to. It reconnects by itself, with socket.io-client's own backoff; the test only watches.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time

import pytest

from tests.conftest import requires_redis
from tests.live import LiveServer, free_port
from tests.live_delivery.test_socketio import (
    WAIT,
    NodeSocket,
    RawSocket,
    make_tenant,
    run,
    send_message,
)

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]

SCRIPT = "socketio_recovery_client.mjs"


class Switch:
    """A TCP forwarder in front of a server process: ``away()`` refuses new connections (the client
    cannot reach any server), ``back(server)`` forwards them to ``server``."""

    def __init__(self, server: LiveServer) -> None:
        self.port = free_port()
        self.target: int | None = server.port
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), daemon=True).start()
        assert started.wait(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def away(self) -> None:
        self.target = None

    def back(self, server: LiveServer) -> None:
        self.target = server.port

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", self.port))
        started.set()
        self.loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.target is None:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


class RecoveringClient(NodeSocket):
    """The recovery client script; ``drop()`` closes its transport as a network change would."""

    def __init__(self, switch: Switch, env: dict[str, str]) -> None:
        # The token-refresh test runs over a minute: the script's own deadline must outlast it.
        super().__init__(LiveServer(port=switch.port), {"MAX_SECONDS": "150", **env}, script=SCRIPT)

    def command(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def drop(self) -> None:
        self.command("drop")

    def connects(self, count: int, timeout: float = WAIT) -> list[dict]:
        return self.wait_for_count("connect", count, timeout)

    def titles(self) -> list[str]:
        return [r["message"]["title"] for r in self.heard("inAppMessage")]


@pytest.fixture
def switch(daphne_server):
    switch = Switch(daphne_server)
    yield switch
    switch.close()


def send_titles(server: LiveServer, tenant, titles: list[str], customer: str = "C1") -> None:
    for title in titles:
        send_message(server, tenant, [customer], title=title)


def away_and_back(client: RecoveringClient, switch: Switch, send, back_to: LiveServer) -> dict:
    """Drop the client's transport while no server can be reached, run ``send``, let it come back;
    the connect record of its return."""
    count = len(client.heard("connect"))
    switch.away()
    client.drop()
    client.wait_for_count("disconnect", count)
    send()
    switch.back(back_to)
    return client.connects(count + 1)[-1]


def test_a_dropped_client_recovers_exactly_what_was_sent_while_away(daphne_server, switch):
    tenant = make_tenant()
    client = RecoveringClient(switch, tenant.seed_env("C1"))
    try:
        assert client.connects(1)[0]["recovered"] is False  # a first connect has nothing to recover
        send_titles(daphne_server, tenant, ["before"])
        client.wait_for_count("inAppMessage", 1)
        returned = away_and_back(
            client, switch, lambda: send_titles(daphne_server, tenant, ["away 1", "away 2", "away 3"]), daphne_server
        )
        assert returned["recovered"] is True, "\n".join(client.lines)
        client.wait_for_count("inAppMessage", 4)
        send_titles(daphne_server, tenant, ["after"])
        client.wait_for_count("inAppMessage", 5)
        time.sleep(0.3)  # anything sent twice would have arrived by now
        assert client.titles() == ["before", "away 1", "away 2", "away 3", "after"]
        # Offsets are the events' last argument, rising with every message.
        offsets = [int(r["offset"]) for r in client.heard("inAppMessage")]
        assert offsets == sorted(offsets) and len(set(offsets)) == 5
        # After the replay, the unread count (all five are unread) with the latest offset.
        counts = client.heard("unreadCount")
        assert counts[-1]["data"] == {"count": 5} and counts[-1]["offset"] == str(offsets[-1])
    finally:
        client.close()


def test_a_client_that_heard_nothing_before_the_drop_recovers(daphne_server, switch):
    tenant = make_tenant()
    client = RecoveringClient(switch, tenant.seed_env("C1"))
    try:
        client.connects(1)
        # The unread count right after connecting is what gives the client an offset (and so a pid to send).
        first = client.wait_for("unreadCount")
        assert first["data"] == {"count": 0} and first["offset"].isdigit()
        returned = away_and_back(
            client, switch, lambda: send_titles(daphne_server, tenant, ["away 1", "away 2"]), daphne_server
        )
        assert returned["recovered"] is True, "\n".join(client.lines)
        client.wait_for_count("inAppMessage", 2)
        time.sleep(0.3)
        assert client.titles() == ["away 1", "away 2"]
    finally:
        client.close()


def test_three_drops_in_a_row_recover_each_time_without_duplicates(daphne_server, switch):
    tenant = make_tenant()
    client = RecoveringClient(switch, tenant.seed_env("C1"))
    try:
        client.connects(1)
        client.wait_for("unreadCount")
        expected: list[str] = []
        for drop in range(3):
            titles = [f"drop {drop} message {i}" for i in range(2)]
            expected += titles
            returned = away_and_back(
                client, switch, lambda titles=titles: send_titles(daphne_server, tenant, titles), daphne_server
            )
            assert returned["recovered"] is True, "\n".join(client.lines)
            client.wait_for_count("inAppMessage", len(expected))
        time.sleep(0.3)
        assert client.titles() == expected
    finally:
        client.close()


def test_every_process_restarted_while_the_client_is_away(daphne_server_factory):
    first = daphne_server_factory()
    tenant = make_tenant()
    switch = Switch(first)
    client = RecoveringClient(switch, tenant.seed_env("C1"))
    try:
        client.connects(1)
        send_titles(first, tenant, ["before"])
        client.wait_for_count("inAppMessage", 1)
        restarted: list[LiveServer] = []

        def restart_and_send() -> None:
            first.stop()  # nothing of the session survives in any process
            restarted.append(daphne_server_factory())
            send_titles(restarted[0], tenant, ["while restarting 1", "while restarting 2"])

        count = len(client.heard("connect"))
        switch.away()
        client.drop()
        client.wait_for_count("disconnect", count)
        restart_and_send()
        switch.back(restarted[0])
        assert client.connects(count + 1)[-1]["recovered"] is True, "\n".join(client.lines)
        client.wait_for_count("inAppMessage", 3)
        time.sleep(0.3)
        assert client.titles() == ["before", "while restarting 1", "while restarting 2"]
    finally:
        client.close()
        switch.close()


@pytest.mark.redis
@requires_redis
def test_reconnecting_to_another_process_recovers(daphne_server_factory):
    a, b = daphne_server_factory(), daphne_server_factory()
    tenant = make_tenant()
    switch = Switch(a)
    client = RecoveringClient(switch, tenant.seed_env("C1"))
    try:
        client.connects(1)
        send_titles(b, tenant, ["sent through b while on a"])
        client.wait_for_count("inAppMessage", 1)
        returned = away_and_back(client, switch, lambda: send_titles(a, tenant, ["away 1", "away 2"]), b)
        assert returned["recovered"] is True, "\n".join(client.lines)
        client.wait_for_count("inAppMessage", 3)
        send_titles(a, tenant, ["sent through a while on b"])
        client.wait_for_count("inAppMessage", 4)
        time.sleep(0.3)
        assert client.titles() == ["sent through b while on a", "away 1", "away 2", "sent through a while on b"]
    finally:
        client.close()
        switch.close()


def test_past_the_cap_or_the_window_the_client_starts_afresh(daphne_server_factory):
    server = daphne_server_factory(LIVE_RECOVERY_MAX_MESSAGES="3", LIVE_RECOVERY_WINDOW_SECONDS="2")
    tenant = make_tenant()
    switch = Switch(server)
    client = RecoveringClient(switch, tenant.seed_env("C1"))
    try:
        client.connects(1)
        client.wait_for("unreadCount")
        # Three missed: within the cap.
        returned = away_and_back(client, switch, lambda: send_titles(server, tenant, ["1", "2", "3"]), server)
        assert returned["recovered"] is True, "\n".join(client.lines)
        client.wait_for_count("inAppMessage", 3)
        # Four missed: past the cap. Nothing is replayed; the app reads its inbox (docs/live-delivery.md).
        returned = away_and_back(client, switch, lambda: send_titles(server, tenant, ["4", "5", "6", "7"]), server)
        assert returned["recovered"] is False, "\n".join(client.lines)
        # The fresh session has an offset of its own: a drop right after it recovers again.
        returned = away_and_back(client, switch, lambda: send_titles(server, tenant, ["8"]), server)
        assert returned["recovered"] is True, "\n".join(client.lines)
        # One missed, but sent longer ago than the window: afresh.
        returned = away_and_back(client, switch, lambda: (send_titles(server, tenant, ["9"]), time.sleep(2.5)), server)
        assert returned["recovered"] is False, "\n".join(client.lines)
        time.sleep(0.3)
        assert client.titles() == ["1", "2", "3", "8"]
    finally:
        client.close()
        switch.close()


def test_another_customers_pid_and_offset_recover_nothing(daphne_server):
    tenant = make_tenant()

    async def scenario():
        a = await RawSocket.open(daphne_server)
        answer = await a.connect_customer(tenant.token("A"))
        pid_of_a = json.loads(answer[2:])["pid"]
        offset_of_a = json.loads(a.connected_count[2:])[2]
        await a.close()
        await asyncio.to_thread(send_titles, daphne_server, tenant, ["for A only"], "A")

        b = await RawSocket.open(daphne_server)
        await b.send(
            "40" + json.dumps({"token": f"Bearer {tenant.token('B')}", "pid": pid_of_a, "offset": offset_of_a})
        )
        answer = json.loads((await b.receive())[2:])
        assert answer["pid"] != pid_of_a  # not recovered: a new session
        assert json.loads((await b.receive())[2:])[:2] == ["unreadCount", {"count": 0}]  # nothing of A's
        await b.close()

        # A forged pid, an offset that is not a number, one from the future: a fresh session each.
        for pid, offset in ((pid_of_a[:-2] + "xx", offset_of_a), (pid_of_a, "12a"), (pid_of_a, "99999999")):
            again = await RawSocket.open(daphne_server)
            await again.send("40" + json.dumps({"token": f"Bearer {tenant.token('A')}", "pid": pid, "offset": offset}))
            answer = json.loads((await again.receive())[2:])
            assert answer["pid"] != pid_of_a, (pid, offset)
            assert (await again.receive()).startswith('42["unreadCount",{"count":1}')  # no replay
            await again.close()

        # A's own pid and offset: recovered, with A's message.
        own = await RawSocket.open(daphne_server)
        await own.send(
            "40" + json.dumps({"token": f"Bearer {tenant.token('A')}", "pid": pid_of_a, "offset": offset_of_a})
        )
        assert json.loads((await own.receive())[2:])["pid"] == pid_of_a
        replayed = json.loads((await own.receive())[2:])
        assert replayed[0] == "inAppMessage" and replayed[1]["title"] == "for A only"
        await own.close()

    run(scenario())


@pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")),
    reason="a minute long and the same with PostgreSQL + Redis: run in the first CI pass",
)
def test_token_refresh_through_the_auth_function_loses_nothing(daphne_server, switch):
    """A 20-second token, 100 messages at an even rate over 60 s: three expiries, each a reconnect with
    a fresh token from the `auth` function, and every message exactly once."""
    tenant = make_tenant()
    client = RecoveringClient(switch, {**tenant.seed_env("C1"), "CUSTOMER_JWT_EXPIRES_IN": "20s"})
    try:
        client.connects(1)
        titles = [f"message {i}" for i in range(100)]
        started = time.monotonic()
        for i, title in enumerate(titles):
            time.sleep(max(0.0, started + i * 0.6 - time.monotonic()))
            send_message(daphne_server, tenant, ["C1"], title=title)
        client.wait_for_count("inAppMessage", 100, timeout=30)
        time.sleep(0.5)
        assert client.titles() == titles
        expired = [r for r in client.heard("sessionEnded") if r["data"]["reason"] == "token_expired"]
        assert len(expired) >= 2, "\n".join(client.lines)
        connects = client.connects(len(expired) + 1)  # (the last expiry's reconnect may still be on its way)
        assert all(c["recovered"] for c in connects[1:])
        assert len(client.heard("token")) == len(connects)  # a fresh token for every connect
    finally:
        client.close()


def test_a_fixed_expired_token_gets_connect_error_and_stops(daphne_server, switch):
    tenant = make_tenant()
    client = RecoveringClient(switch, {**tenant.seed_env("C1"), "CUSTOMER_JWT_EXPIRES_IN": "2s", "AUTH": "fixed"})
    try:
        client.connects(1)
        assert client.wait_for("sessionEnded", timeout=8)["data"]["reason"] == "token_expired"
        error = client.wait_for("connect_error", timeout=8)
        assert error["data"] == {"reason": "token_expired"}
        attempts = len(client.heard("reconnect_attempt"))
        time.sleep(3)  # no reconnect loop: the refused socket stays down
        assert len(client.heard("reconnect_attempt")) == attempts
        assert len(client.heard("connect_error")) == 1
    finally:
        client.close()


def test_a_revoked_signing_key_ends_the_session_for_good(daphne_server, switch):
    """Unlike an expired token, a revocation disconnects the namespace: socket.io-client stays down,
    however its auth function would sign (with the revoked key)."""
    from credentials import services as credential_services
    from credentials.audit import CLI

    tenant = make_tenant()
    client = RecoveringClient(switch, tenant.seed_env("C1"))
    try:
        client.connects(1)
        credential_services.signing_key_revoke(actor=CLI, key=tenant.key, reason="test")
        assert client.wait_for("sessionEnded")["data"]["reason"] == "signing_key_revoked"
        assert client.wait_for("disconnect")["reason"] == "io server disconnect"
        time.sleep(2)  # socket.io-client's first reconnect would have come within its 1 s delay max
        assert client.heard("reconnect_attempt") == [] and len(client.heard("connect")) == 1
    finally:
        client.close()
