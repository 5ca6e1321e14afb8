"""The live bus: how a publication (a send's events, a revocation) reaches every server process.

It is the transport under the Channels layer of live delivery (authplatform/layers.py), which
consumers and senders use; nothing else publishes on it. One publication per call, whatever the
number of recipients: a send's every (customer, frames) pair, or a revocation, is one message, and
each process delivers it to its own sockets from its own groups (the layer's, kept in the process).
Which socket belongs to which customer or signing key never leaves the process: nothing in Redis to
add, discard, renew or leave stale behind a crashed process.

- ``RedisBus`` (``REDIS_URL`` set): one ``PUBLISH`` per publication on one pub/sub channel, which
  every process ``SUBSCRIBE``s to, through redis-py's asyncio client. Pub/sub delivers to the
  processes subscribed at that moment and keeps nothing: a process that is not subscribed (Redis
  down, restarting) misses publications, and its clients catch up from the inbox when they
  reconnect (docs/live-delivery.md). So while the subscription is down the process closes its
  sockets (4011) and refuses new ones; socket.io-client reconnects with backoff until it is back.
- ``InProcessBus`` (no Redis, one process): the same publication handed to the same delivery code
  on the event loop, without encoding it.

``publish`` is safe from any thread and never waits for delivery: in a server process it queues the
publication for the event loop (one publisher task, so this process's publications keep their
order) and returns. Where no event loop is serving (``manage.py``, a test's own thread), it
publishes to Redis synchronously, or with the in-process bus drops it (no sockets can be open
there). A publication that cannot be published is logged and counted (``stats``, and the
``authplatform_live_failures_total`` metric, authplatform/metrics.py); the inbox holds what it announced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings

from authplatform.conf import platform_settings
from authplatform.metrics import live_failure_count

logger = logging.getLogger(__name__)

CHANNEL = "authplatform:live"
PUBLISH_BATCH = 100  # publications sent in one pipeline when several are queued (still one PUBLISH each)
RESUBSCRIBE_BACKOFF = (0.1, 0.25, 0.5, 1.0)  # seconds between attempts; then the last, repeated

Handler = Callable[[dict], Awaitable[None]]


@dataclass
class BusStats:
    """Counters of this process's bus (read by tests; /metrics counts the failures itself, authplatform/metrics.py)."""

    published: int = 0
    publish_failures: int = 0  # publications that never reached Redis (logged each time)
    pool_exhausted: int = 0  # of those, because every pooled connection was busy for the whole timeout
    received: int = 0
    subscription_losses: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class LiveBus:
    """Publication plumbing shared by both transports: the loop binding, the outbox, the handlers."""

    def __init__(self) -> None:
        self.stats = BusStats()
        self.handler: Handler | None = None  # delivers one publication to this process's sockets
        self.on_lost: Callable[[], Awaitable[None]] | None = None  # the subscription dropped
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []

    # --- binding to the event loop that serves sockets ------------------------------------------
    def start(self) -> None:
        """Serve from the running event loop (idempotent; called for every ASGI connection)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        with self._lock:
            if self._loop is loop:
                return
            # A previous loop (tests run one per scenario) is gone, and its tasks and connections with it.
            self._loop, self._outbox = loop, asyncio.Queue()
            self._tasks = [loop.create_task(self._publish_forever(self._outbox))]
            self._on_start(loop)

    def _on_start(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    @property
    def ready(self) -> bool:
        """Whether publications reach this process (the subscription is up)."""
        return True

    async def wait_ready(self, timeout: float) -> bool:
        return True

    # --- publishing -------------------------------------------------------------------------------
    def publish(self, publication: dict) -> None:
        """Queue ``publication`` for every process. Never raises, never waits for delivery."""
        loop, outbox = self._loop, self._outbox
        if loop is not None and outbox is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            try:
                if running is loop:
                    outbox.put_nowait(publication)
                else:
                    loop.call_soon_threadsafe(outbox.put_nowait, publication)
                return
            except RuntimeError:  # the loop closed meanwhile
                pass
        self._publish_without_loop(publication)

    def _publish_without_loop(self, publication: dict) -> None:
        logger.debug("No event loop serves sockets in this process; nothing to deliver %r to.", publication.get("t"))

    async def _publish_forever(self, outbox: asyncio.Queue) -> None:
        while True:
            batch = [await outbox.get()]
            while len(batch) < PUBLISH_BATCH and not outbox.empty():
                batch.append(outbox.get_nowait())
            try:
                await self._send(batch)
            except Exception:  # _send counts and logs its own failures; this keeps the task alive
                logger.exception("Live bus publisher failed.")

    async def _send(self, batch: list[dict]) -> None:
        raise NotImplementedError

    async def _deliver(self, publication: dict) -> None:
        self.stats.received += 1
        if self.handler is not None:
            try:
                await self.handler(publication)
            except Exception:
                logger.exception("Delivering a live publication failed.")

    def _failed(self, count: int, exc: BaseException) -> None:
        self.stats.publish_failures += count
        exhausted = is_pool_exhausted(exc)
        if exhausted:
            self.stats.pool_exhausted += count
        live_failure_count("pool_exhausted" if exhausted else "publish_failed", count)
        logger.error(
            "Live bus: %d publication(s) not published (%s: %s); the inbox holds what they "
            "announced and clients resync from it.",
            count,
            type(exc).__name__,
            exc,
        )

    async def ping(self) -> None:
        """Raise when the bus's backend does not answer (readiness probe)."""


class InProcessBus(LiveBus):
    """One process, no Redis: the publisher task delivers each publication itself, in order."""

    url = ""

    async def _send(self, batch: list[dict]) -> None:
        for publication in batch:
            self.stats.published += 1
            await self._deliver(publication)


def is_pool_exhausted(exc: BaseException) -> bool:
    # redis-py's BlockingConnectionPool: "No connection available." after its timeout.
    return type(exc).__module__.startswith("redis") and "No connection available" in str(exc)


class RedisBus(LiveBus):
    """Redis pub/sub through redis-py's asyncio client; see the module docstring."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._client: Any = None  # redis.asyncio.Redis once started
        self._sync_client: Any = None  # redis.Redis, for publications made where no event loop serves
        self._subscribed = asyncio.Event()
        self._subscribed_loop: asyncio.AbstractEventLoop | None = None

    def _pool_options(self) -> dict[str, Any]:
        timeout = platform_settings.LIVE_REDIS_TIMEOUT_MS / 1000
        return {
            "max_connections": max(2, platform_settings.LIVE_REDIS_MAX_CONNECTIONS),
            "timeout": timeout,
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "socket_keepalive": True,
        }

    def _on_start(self, loop: asyncio.AbstractEventLoop) -> None:
        from redis.asyncio import BlockingConnectionPool, Redis

        # One pool per process: the subscription holds one connection, publishes and probes share the
        # rest. A caller waits up to LIVE_REDIS_TIMEOUT_MS for a free connection, then fails (counted).
        self._client = Redis(connection_pool=BlockingConnectionPool.from_url(self.url, **self._pool_options()))
        self._subscribed = asyncio.Event()
        self._tasks.append(loop.create_task(self._subscribe_forever(self._client, self._subscribed)))

    @property
    def ready(self) -> bool:
        return self._subscribed.is_set()

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _send(self, batch: list[dict]) -> None:
        try:
            # Waiting for a pooled connection, and each socket operation, have their own timeout of
            # LIVE_REDIS_TIMEOUT_MS; this bounds the whole in case both are spent.
            async with asyncio.timeout(2 * platform_settings.LIVE_REDIS_TIMEOUT_MS / 1000):
                async with self._client.pipeline(transaction=False) as pipe:
                    for publication in batch:
                        pipe.publish(CHANNEL, encode(publication))
                    await pipe.execute()
        except Exception as exc:
            self._failed(len(batch), exc)
        else:
            self.stats.published += len(batch)

    def _publish_without_loop(self, publication: dict) -> None:
        try:
            if self._sync_client is None:
                import redis

                options = self._pool_options()
                self._sync_client = redis.Redis(
                    connection_pool=redis.BlockingConnectionPool.from_url(self.url, **options)
                )
            self._sync_client.publish(CHANNEL, encode(publication))
        except Exception as exc:
            self._failed(1, exc)
        else:
            self.stats.published += 1

    async def _subscribe_forever(self, client, subscribed: asyncio.Event) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        attempt = 0
        while True:
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                # Errors must surface here instead of being retried inside redis-py: a silent
                # reconnect would skip what was published meanwhile with nobody knowing.
                pubsub.connection.retry = Retry(NoBackoff(), 0)
                subscribed.set()
                if attempt:
                    logger.warning("Live bus: subscribed to Redis again.")
                attempt = 0
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        publication = json.loads(message["data"])
                    except ValueError:
                        logger.error("Live bus: ignored a publication that is not JSON.")
                        continue
                    await self._deliver(publication)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                was_up = subscribed.is_set()
                subscribed.clear()
                if was_up:
                    self.stats.subscription_losses += 1
                    live_failure_count("subscription_lost")
                    logger.warning(
                        "Live bus: lost the Redis subscription (%s); closing this process's sockets until it is back.",
                        exc,
                    )
                    if self.on_lost is not None:
                        try:
                            await self.on_lost()
                        except Exception:
                            logger.exception("Closing sockets after losing the subscription failed.")
                elif attempt == 0:
                    logger.warning("Live bus: cannot subscribe to Redis (%s); retrying.", exc)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
            await asyncio.sleep(RESUBSCRIBE_BACKOFF[min(attempt, len(RESUBSCRIBE_BACKOFF) - 1)])
            attempt += 1

    async def ping(self) -> None:
        self.start()
        await self._client.ping()


def encode(publication: dict) -> str:
    return json.dumps(publication, separators=(",", ":"), ensure_ascii=False)


def make_bus(url: str) -> LiveBus:
    return RedisBus(url) if url else InProcessBus()


bus: LiveBus = make_bus(getattr(settings, "REDIS_URL", ""))
"""This process's bus (the default channel layer's transport)."""
