"""Two daphne processes sharing Redis: live delivery and revocation cross processes.

Both processes run with the signing-key recheck off, so only the live bus can carry the
revocation from A to B.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import requires_redis
from tests.live_delivery.test_socketio import (
    NodeSocket,
    PyClient,
    admin_signed_in,
    make_tenant,
    revoke_in_admin,
    run,
    send_message,
)

pytestmark = [pytest.mark.live, pytest.mark.redis, requires_redis, pytest.mark.django_db(transaction=True)]

SIGNAL_ONLY = {"SOCKETIO_KEY_RECHECK_MS": "0"}


@pytest.fixture
def two_servers(daphne_server_factory):
    return daphne_server_factory(**SIGNAL_ONLY), daphne_server_factory(**SIGNAL_ONLY)


def test_message_sent_through_a_reaches_sockets_on_b(two_servers):
    a, b = two_servers
    tenant = make_tenant()
    node_on_b = NodeSocket(b, tenant.seed_env("CUSTOMER3"))
    try:

        async def scenario():
            on_a, on_b = PyClient(), PyClient()
            assert await on_a.connect(a, tenant.token("CUSTOMER3"))
            assert await on_b.connect(b, tenant.token("CUSTOMER3"))
            await asyncio.to_thread(node_on_b.wait_for, "connect")
            await asyncio.to_thread(send_message, a, tenant, ["CUSTOMER3"], title="via A")
            for client in (on_a, on_b):
                [message] = await client.wait_for("inAppMessage")
                assert message["title"] == "via A"
                await client.close()

        run(scenario())
        assert node_on_b.wait_for("inAppMessage")["message"]["title"] == "via A"
    finally:
        node_on_b.close()


def test_revocation_through_a_disconnects_a_socket_on_b_within_a_second(two_servers):
    a, b = two_servers
    tenant = make_tenant()
    admin_on_a = admin_signed_in(a)

    async def scenario():
        on_b = PyClient()
        assert await on_b.connect(b, tenant.token("C1"))
        started = time.monotonic()
        await asyncio.to_thread(revoke_in_admin, admin_on_a, tenant.key)
        await on_b.wait_for("disconnect", timeout=3)
        assert time.monotonic() - started < 1.0
        assert on_b.data("sessionEnded")[0]["reason"] == "signing_key_revoked"
        admin_on_a.close()
        await on_b.close()

    run(scenario())
