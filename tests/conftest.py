import os

import pytest

from tests.live import LiveServer

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
