"""Redis briefly gone: nothing is lost, and the client resyncs when it reconnects (docs/live-delivery.md).

The server runs on a private redis-server that the test stops and starts again. While it is down the
send API still stores the message (202); sockets are closed and socket.io-client keeps reconnecting
with backoff; once Redis is back it connects again, and that ``connect`` is where a client fetches its
inbox, which holds the message.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import pytest

from tests.live import free_port
from tests.live_delivery.test_socketio import WAIT, NodeSocket, make_tenant, send_message

pytestmark = [
    pytest.mark.live,
    pytest.mark.node,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
]


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                subprocess.run(["redis-cli", "-p", str(self.port), "ping"], check=True, capture_output=True, timeout=2)
                return self
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=WAIT)


@pytest.fixture
def private_redis():
    redis = PrivateRedis().start()
    yield redis
    redis.stop()


def test_message_sent_while_redis_is_down_is_recovered_when_the_socket_reconnects(daphne_server_factory, private_redis):
    server = daphne_server_factory(REDIS_URL=private_redis.url)
    tenant = make_tenant()
    node = NodeSocket(server, tenant.seed_env("CUSTOMER3"))
    try:
        node.wait_for("connect")
        private_redis.stop()
        # The process loses its subscription: it closes its sockets (4011), the client starts reconnecting.
        assert node.wait_for("disconnect", timeout=15)["reason"] == "transport close"

        sent = send_message(server, tenant, ["CUSTOMER3"], title="while Redis was down")
        assert sent["stored"] == 1
        time.sleep(2.5)  # the client keeps retrying; no connection is accepted without the layer
        assert len(node.heard("connect")) == 1, "\n".join(node.lines)

        private_redis.start()
        deadline = time.monotonic() + 30
        while len(node.heard("connect")) < 2:
            assert time.monotonic() < deadline, "\n".join(node.lines)
            time.sleep(0.1)
        # The seed client held an offset (the unread count after connecting): it recovered what was sent
        # while it was away, live, before anything newer.
        assert node.wait_for("inAppMessage")["message"]["title"] == "while Redis was down"
        # What a client does on a `connect` that did not recover: fetch the inbox.
        inbox = httpx.get(
            f"{server.api}/customer/inbox",
            timeout=WAIT,
            headers={"Authorization": f"Bearer {tenant.token('CUSTOMER3')}"},
        )
        assert inbox.status_code == 200, inbox.text
        assert [m["title"] for m in inbox.json()["results"]] == ["while Redis was down"]
        # Live delivery works again on the new connection.
        send_message(server, tenant, ["CUSTOMER3"], title="after Redis returned")
        assert node.wait_for_count("inAppMessage", 2)[1]["message"]["title"] == "after Redis returned"
    finally:
        node.close()
    assert "Exception inside application" not in server.log_tail(400)
