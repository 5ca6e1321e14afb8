"""The live Channels layer (authplatform/layers.py) in one process: groups that live in the process,
one publication per send, each member served once, and a channel that ends leaving its groups."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from authplatform.layers import LiveChannelLayer
from live.socketio_sessions import live_layer

# The process's own layer exists first and holds the process's bus; the layers made here get their own.
assert live_layer().bus.handler is not None


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def failures(kind: str) -> float:
    """This process's ``authplatform_live_failures_total`` of ``kind`` (authplatform/metrics.py)."""
    return REGISTRY.get_sample_value("authplatform_live_failures_total", {"kind": kind}) or 0.0


async def drain(layer: LiveChannelLayer, channel: str) -> list[dict]:
    got = []
    while True:
        try:
            got.append(await asyncio.wait_for(layer.receive(channel), 0.2))
        except TimeoutError:
            return got


def test_a_send_to_many_groups_is_one_publication_and_each_member_gets_each_message_once():
    async def scenario():
        layer = LiveChannelLayer(redis_url="")
        published = []
        send = layer.bus._send

        async def counting_send(batch):
            published.extend(batch)
            await send(batch)

        layer.bus._send = counting_send
        a, b, c = [await layer.new_channel() for _ in range(3)]
        await layer.group_add("customer.x", a)
        await layer.group_add("customer.y", a)  # in both groups: gets each message once
        await layer.group_add("customer.y", b)
        await layer.group_add("customer.z", c)
        await layer.group_discard("customer.z", c)  # left: gets nothing
        first, second = {"type": "live.frames", "frames": ["1"]}, {"type": "live.frames", "frames": ["2"]}
        await layer.group_send_many([(first, ["customer.x", "customer.y", "customer.z"]), (second, ["customer.y"])])
        assert await drain(layer, a) == [first, second]
        assert await drain(layer, b) == [first, second]
        assert await drain(layer, c) == []
        assert len(published) == 1  # one publication for the whole send

    run(scenario())


def test_a_channel_whose_consumer_ended_leaves_its_groups():
    async def scenario():
        layer = LiveChannelLayer(redis_url="")
        channel = await layer.new_channel()
        await layer.group_add("kid.k1", channel)
        await layer.group_add("customer.c1", channel)
        reading = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0)
        reading.cancel()  # what Channels does to a consumer's receive when the consumer ends
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert layer.local_groups() == []
        await layer.group_send("kid.k1", {"type": "session.end", "reason": "r", "message": "m"})
        await asyncio.sleep(0.05)
        assert layer.stats.delivered == 0

    run(scenario())


def test_numbered_publications_of_a_stream_are_delivered_in_number_order():
    """Sends of one product space are numbered in commit order; publications may arrive out of it
    (two threads, two processes), and each process puts them back in order (authplatform/live_order.py)."""

    async def scenario():
        layer = LiveChannelLayer(redis_url="")
        channel = await layer.new_channel()
        await layer.group_add("customer.x", channel)

        def send(number: int, stream: str = "space") -> None:
            message = {"type": "live.frames", "frames": [str(number)], "seq": number}
            layer.group_send_many_nowait([(message, ["customer.x"])], order=(stream, number))

        send(1)
        send(3)  # early: waits for 2
        send(4)
        send(1, stream="other")  # another stream is not held up by this one's gap
        send(2)
        got = [m["frames"][0] for m in await drain(layer, channel)]
        assert got == ["1", "1", "2", "3", "4"]

    run(scenario())


def test_a_number_that_never_arrives_holds_the_later_ones_only_for_the_hold(settings):
    settings.AUTHPLATFORM = {**settings.AUTHPLATFORM, "LIVE_ORDER_HOLD_MS": 300}
    skipped = failures("order_skipped")

    async def scenario():
        layer = LiveChannelLayer(redis_url="")
        channel = await layer.new_channel()
        await layer.group_add("customer.x", channel)
        for number in (1, 3, 4):  # 2 was lost (its publication failed)
            message = {"type": "live.frames", "frames": [str(number)], "seq": number}
            layer.group_send_many_nowait([(message, ["customer.x"])], order=("space", number))
        await asyncio.sleep(0.1)
        queued = layer._inboxes[channel].messages  # (a drain that times out would end the channel)
        assert [m["frames"][0] for m in queued] == ["1"]  # 3 and 4 held
        await asyncio.sleep(0.3)
        assert [m["frames"][0] for m in queued] == ["1", "3", "4"]
        assert layer.order.skipped == 1
        assert failures("order_skipped") - skipped == 1
        queued.clear()
        # 2 arriving late goes out at once (its socket skips it if it already has a later number).
        message = {"type": "live.frames", "frames": ["2"], "seq": 2}
        layer.group_send_many_nowait([(message, ["customer.x"])], order=("space", 2))
        assert [m["frames"][0] for m in await drain(layer, channel)] == ["2"]

    run(scenario())


def test_a_message_for_a_channel_that_stopped_reading_is_dropped_and_counted():
    async def scenario():
        layer = LiveChannelLayer(redis_url="", capacity=2)
        channel = await layer.new_channel()
        await layer.group_add("customer.x", channel)
        dropped = failures("dropped_full")
        for number in range(3):
            await layer.group_send("customer.x", {"type": "live.frames", "frames": [str(number)]})
        await asyncio.sleep(0.05)
        assert [m["frames"][0] for m in layer._inboxes[channel].messages] == ["0", "1"]
        assert layer.stats.dropped_full == 1 and failures("dropped_full") - dropped == 1

    run(scenario())


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_direct_handler_takes_its_type_on_delivery_and_second_steps_run_once_every_member_has_it(settings):
    # Slices of 3 channels: the 8 direct members span three of them, yet no second step (a close, for
    # a revocation) runs before the last member is told.
    settings.AUTHPLATFORM = {**settings.AUTHPLATFORM, "LIVE_DELIVERY_BATCH": 3}

    async def scenario():
        layer = LiveChannelLayer(redis_url="")
        events: list[tuple[str, int]] = []

        def handler(i: int):
            def told(message: dict):
                assert message["reason"] == "signing_key_revoked"
                events.append(("told", i))
                if i == 2:
                    raise RuntimeError("a failing handler stops nobody else")
                if i == 3:
                    return None  # nothing more to do for this one
                return lambda: events.append(("closed", i)) if i != 4 else 1 / 0

            return told

        channels = [await layer.new_channel() for _ in range(8)]
        for i, channel in enumerate(channels):
            await layer.group_add("kid.k", channel)
            layer.handle_directly(channel, {"session.end": handler(i)})
        queued = await layer.new_channel()  # no direct handler: its consumer reads it, as before
        await layer.group_add("kid.k", queued)
        end = {"type": "session.end", "reason": "signing_key_revoked", "message": "revoked"}
        frames = {"type": "live.frames", "frames": ["x"]}
        await layer.group_send_many([(end, ["kid.k"]), (frames, ["kid.k"])])

        await until(lambda: len(events) == 8 + 5)
        assert sorted(events[:8]) == [("told", i) for i in range(8)]  # every member told first
        assert sorted(events[8:]) == [("closed", i) for i in (0, 1, 5, 6, 7)]  # then the second steps
        assert await drain(layer, queued) == [end, frames]
        for channel in channels:  # other types still reach the channel's consumer
            assert await drain(layer, channel) == [frames]
        with pytest.raises(ValueError):
            layer.handle_directly("live.unknown!channel", {"session.end": handler(9)})

    run(scenario())
