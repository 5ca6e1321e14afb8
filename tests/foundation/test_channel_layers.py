"""The channel layers the settings choose: nothing dropped on a large fan-out, expiry still works."""

import asyncio
import time
from unittest import mock

import pytest
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels.layers import get_channel_layer

from authplatform.fastpaths.layers import InMemoryChannelLayer
from tests.conftest import requires_redis


def test_in_memory_layer_sweeps_at_most_once_per_interval_and_still_expires():
    layer = InMemoryChannelLayer(expiry=1)
    stock_sweep = ChannelsInMemoryChannelLayer._clean_expired

    async def fan_out() -> str:
        name = await layer.new_channel()
        await layer.group_add("g", name)
        for _ in range(50):
            await layer.group_send("g", {"type": "x"})
        return name

    with mock.patch.object(ChannelsInMemoryChannelLayer, "_clean_expired", autospec=True,
                           side_effect=stock_sweep) as sweeps:
        name = asyncio.run(fan_out())
        assert sweeps.call_count == 1  # the stock layer sweeps on each of the 50 sends
        time.sleep(1.1)  # past expiry=1s and the sweep interval: the next sweep drops the messages
        layer._clean_expired()
        assert sweeps.call_count == 2
    assert name not in layer.channels


def test_in_memory_group_send_copies_per_member_and_skips_only_a_full_channel():
    layer = InMemoryChannelLayer(capacity=1)

    async def scenario():
        full, first, second = [await layer.new_channel() for _ in range(3)]
        for name in (full, first, second):
            await layer.group_add("g", name)
        await layer.send(full, {"type": "earlier"})  # capacity 1: this channel is now full
        await layer.group_send("g", {"type": "x", "data": {"n": 1}})
        got = [await asyncio.wait_for(layer.receive(name), 1) for name in (full, first, second)]
        assert [m["type"] for m in got] == ["earlier", "x", "x"]
        got[1]["data"]["n"] = 2  # one receiver's copy is not another's
        assert got[2]["data"] == {"n": 1}
        with pytest.raises(asyncio.TimeoutError):  # the full channel missed the group message
            await asyncio.wait_for(layer.receive(full), 0.1)

    asyncio.run(scenario())


@requires_redis
def test_redis_layer_delivers_a_fan_out_larger_than_the_library_default_capacity():
    """channels_redis keeps a process's channels under one key; its default capacity (100) drops the rest."""
    layer = get_channel_layer()
    count = 150

    async def scenario():
        channels = [await layer.new_channel() for _ in range(count)]
        for i, name in enumerate(channels):
            await layer.group_add(f"fanout-test-{i}", name)
        for i in range(count):
            await layer.group_send(f"fanout-test-{i}", {"type": "x", "n": i})
        received = [await asyncio.wait_for(layer.receive(name), 5) for name in channels]
        for i, name in enumerate(channels):
            await layer.group_discard(f"fanout-test-{i}", name)
        return received

    received = asyncio.run(scenario())
    assert sorted(m["n"] for m in received) == list(range(count))
