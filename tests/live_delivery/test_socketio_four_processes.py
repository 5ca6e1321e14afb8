"""Four daphne processes over Redis: every customer gets every event exactly once, in order, and a
process that dies takes nothing from the others' sockets (docs/deployment.md, "Running more than one process").

200 customers, one socket each, spread over the four processes; the sends go to the send API of one
process, the one after the kill to another. Nothing about sockets is stored in Redis, so a killed
process leaves nothing behind for the others to trip on.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.conftest import requires_redis
from tests.live_delivery.test_socketio import WAIT, RawSocket, make_tenant, run

pytestmark = [pytest.mark.live, pytest.mark.redis, requires_redis, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 200
PROCESSES = 4


class Listener:
    """A raw socket of one customer: the Socket.IO events it hears, in order."""

    def __init__(self, customer: str, raw: RawSocket) -> None:
        self.customer = customer
        self.raw = raw
        self.events: list[tuple[str, object]] = []
        self.closed = False
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            frame = await self.raw.frames.get()
            if frame is None:
                self.closed = True
                return
            if frame.startswith("42"):
                name, data, *_ = json.loads(frame[2:])
                self.events.append((name, data))

    def titles(self) -> list[str]:
        return [data["title"] for name, data in self.events if name == "inAppMessage"]

    def counts(self) -> list[int]:
        return [data["count"] for name, data in self.events if name == "unreadCount"]

    async def close(self) -> None:
        self._reader.cancel()
        if not self.closed:
            await self.raw.close()
        else:
            await self.raw.session.close()


def send(server, tenant, recipients: list[str], title: str) -> None:
    response = httpx.post(
        f"{server.api}/in-app-messages",
        timeout=WAIT,
        headers={"x-client-key": tenant.client_key, "x-client-secret": tenant.client_secret},
        json={
            "product_space_code": tenant.product_space.code,
            "recipients": recipients,
            "title": title,
            "body": "b",
            "category": "news",
        },
    )
    assert response.status_code == 202, response.text


async def until(condition, timeout: float, describe) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, describe()
        await asyncio.sleep(0.05)


def test_four_processes_deliver_every_event_once_in_order_and_survive_a_killed_one(daphne_server_factory):
    servers = [daphne_server_factory() for _ in range(PROCESSES)]
    tenant = make_tenant()
    customers = [f"c{i:03d}" for i in range(CUSTOMERS)]
    tokens = {c: tenant.token(c) for c in customers}
    home = {c: servers[i % PROCESSES] for i, c in enumerate(customers)}
    killed = servers[-1]
    before = [f"before {n}" for n in range(4)]
    after = [f"after {n}" for n in range(3)]

    async def scenario():
        async def open_one(customer: str) -> Listener:
            raw = await RawSocket.open(home[customer])
            connected = await raw.connect_customer(tokens[customer])
            assert connected and connected.startswith("40{"), connected
            return Listener(customer, raw)

        listeners = []
        for start in range(0, CUSTOMERS, 50):
            listeners += await asyncio.gather(*(open_one(c) for c in customers[start : start + 50]))
        try:
            for title in before:  # one after the other, as a backend would, without waiting for delivery
                await asyncio.to_thread(send, servers[0], tenant, customers, title)
            await until(
                lambda: all(len(x.titles()) >= len(before) and len(x.counts()) >= len(before) for x in listeners),
                20,
                lambda: [(x.customer, x.events) for x in listeners if len(x.titles()) < len(before)][:3],
            )

            killed.process.kill()
            killed.process.wait()
            survivors = [x for x in listeners if home[x.customer] is not killed]
            await until(
                lambda: all(x.closed for x in listeners if home[x.customer] is killed),
                WAIT,
                lambda: "sockets of the killed process still open",
            )
            for title in after:
                await asyncio.to_thread(send, servers[1], tenant, customers, title)
            expected = len(before) + len(after)
            await until(
                lambda: all(len(x.titles()) >= expected and len(x.counts()) >= expected for x in survivors),
                20,
                lambda: [(x.customer, x.events) for x in survivors if len(x.titles()) < expected][:3],
            )
            await asyncio.sleep(0.5)  # anything duplicated would have arrived by now

            for x in survivors:
                assert x.titles() == before + after, (x.customer, x.events)
                assert x.counts() == list(range(1, expected + 1)), (x.customer, x.events)
                # each message is followed by its count, never interleaved with the next message
                assert [name for name, _ in x.events] == ["inAppMessage", "unreadCount", "counts"] * expected
                assert not x.closed
            for x in listeners:
                if home[x.customer] is killed:
                    assert x.titles() == before, (x.customer, x.events)
            assert len(survivors) == CUSTOMERS * (PROCESSES - 1) // PROCESSES
        finally:
            await asyncio.gather(*(x.close() for x in listeners), return_exceptions=True)

    run(scenario())
    for server in servers[:-1]:
        assert "Traceback" not in server.log_tail(400), server.log_tail(400)
