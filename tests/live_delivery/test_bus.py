"""The live bus (authplatform/bus.py): one Redis command per send, and failures logged and counted.

A private redis-server (tests/live_delivery/test_socketio_outage.py) makes Redis's own command
counters exact: nothing else talks to it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time

import pytest
import redis

from authplatform.bus import RedisBus
from tests.live import free_port
from tests.live_delivery.test_socketio import make_tenant, send_message
from tests.live_delivery.test_socketio_outage import private_redis  # noqa: F401  (a fixture)

needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


@needs_redis_server
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_send_to_200_customers_is_one_redis_command(daphne_server_factory, private_redis):  # noqa: F811
    server = daphne_server_factory(REDIS_URL=private_redis.url)
    tenant = make_tenant()
    client = redis.Redis.from_url(private_redis.url)
    looks = 0

    def commands_since(before: dict[str, int]) -> dict[str, int]:
        nonlocal looks
        after = command_calls(client)
        looks += 1
        delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
        delta["info"] = delta.get("info", 0) - looks  # our own INFO calls (each counted by the next)
        return {name: n for name, n in delta.items() if n}

    def settled(before: dict[str, int]) -> dict[str, int]:
        # The 202 goes out before the announcement is published (notifications/announcer.py): wait for
        # a command, then a moment longer, so that a second one would be seen too.
        deadline = time.monotonic() + 10
        while not commands_since(before) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        return commands_since(before)

    start = command_calls(client)
    send_message(server, tenant, ["warm-up"], title="warm-up")  # the server's first request subscribes
    settled(start)
    before, looks = command_calls(client), 0
    send_message(server, tenant, [f"c{i}" for i in range(200)], title="to 200")
    assert settled(before) == {"publish": 1}


def test_a_publish_that_fails_is_logged_and_counted(caplog):
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    caplog.set_level(logging.ERROR, logger="authplatform.bus")

    bus.publish({"t": "emit", "frames": [], "to": []})  # no event loop here: published synchronously
    assert bus.stats.publish_failures == 1 and bus.stats.published == 0

    async def from_the_loop():
        bus.start()
        bus.publish({"t": "emit", "frames": [], "to": []})  # handed to the loop: returns at once
        assert bus.stats.publish_failures == 1
        for _ in range(200):
            if bus.stats.publish_failures == 2:
                return
            await asyncio.sleep(0.01)

    asyncio.run(from_the_loop())
    assert bus.stats.publish_failures == 2
    assert caplog.text.count("publication(s) not published") == 2


@needs_redis_server
def test_running_out_of_pooled_connections_is_counted_not_waited_on_for_ever(private_redis, settings):  # noqa: F811
    settings.AUTHPLATFORM = {**settings.AUTHPLATFORM, "LIVE_REDIS_MAX_CONNECTIONS": 2, "LIVE_REDIS_TIMEOUT_MS": 300}
    bus = RedisBus(private_redis.url)

    async def scenario():
        bus.start()
        assert await bus.wait_ready(5)  # the subscription holds one of the two connections
        held = await bus._client.connection_pool.get_connection()  # a caller holds the other
        bus.publish({"t": "emit", "frames": [], "to": []})
        for _ in range(200):
            if bus.stats.publish_failures:
                break
            await asyncio.sleep(0.01)
        await bus._client.connection_pool.release(held)
        bus.publish({"t": "emit", "frames": [], "to": []})
        for _ in range(200):
            if bus.stats.published:
                break
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert bus.stats.pool_exhausted == 1 and bus.stats.publish_failures == 1
    assert bus.stats.published == 1
