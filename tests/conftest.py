import os

import pytest

from tests.live import LiveServer, api_client

requires_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (second CI pass)")


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker):
    """A real daphne server on a free port, on the test database, for the whole session.

    Tests using it must also use ``transactional_db`` so the server sees their data.
    """
    server = LiveServer().start()
    yield server
    server.stop()


@pytest.fixture
def daphne_server_factory(django_db_setup, django_db_blocker):
    """Start extra daphne processes (e.g. two processes sharing Redis); stopped after the test."""
    servers: list[LiveServer] = []

    def start(**extra_env: str) -> LiveServer:
        server = LiveServer(extra_env=extra_env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def client_from(daphne_server, transactional_db):
    """``client_from(ip=None)``: an httpx client for the shared server's /api/v1/, from its own address."""
    clients = []

    def make(ip: str | None = None):
        clients.append(api_client(daphne_server, ip))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(client_from):
    return client_from()
