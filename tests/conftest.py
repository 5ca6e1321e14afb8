import os

import pytest

from tests import secret_scan
from tests.asyncapi_conformance import asyncapi
from tests.live import LiveServer, api_client
from tests.openapi_conformance import conformance

requires_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (second CI pass)")
# CI runs the suite twice (.ci/run): on the embedded defaults, then with PostgreSQL + Redis. A test whose
# subject is the same in both (it sets its own environment, or tests no database or layer) runs in one
# of them, to keep CI within its 20 minutes.
first_pass_only = pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")), reason="the same on every database and layer: run in the first CI pass"
)
second_pass_only = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="run in the second CI pass, on PostgreSQL + Redis (a deployment's)"
)


@pytest.fixture(scope="session", autouse=True)
def secret_scan_session(pytestconfig):
    """Secrets never logged (tests/secret_scan.py): for the whole session, every logger at DEBUG into a
    collector, and the functions that make secrets noted; at the end, everything collected is checked
    once more against every secret noted."""
    instrumentation, debug_logging = secret_scan.start(pytestconfig)
    yield secret_scan.scanner
    # Session fixtures requested by tests (the shared daphne server) are stopped and scanned by now.
    debug_logging.stop()
    instrumentation.stop()
    leaks = secret_scan.scanner.check_all()
    assert not leaks, secret_scan.report(leaks)


@pytest.fixture(autouse=True)
def secrets_never_logged(secret_scan_session, request):
    """After each test: nothing collected during it (log records, server logs of servers it stopped,
    error bodies, URLs) holds a secret known so far."""
    secret_scan_session.current_test = request.node.nodeid
    secret_scan.lower_levels()
    yield
    leaks = secret_scan_session.check_recent()
    secret_scan_session.current_test = f"after {request.node.nodeid}"  # module and session teardowns
    if leaks:
        pytest.fail(secret_scan.report(leaks), pytrace=False)


@pytest.fixture(autouse=True)
def answers_match_the_documents():
    """After each test: every API answer it got is one the OpenAPI schema describes
    (tests/openapi_conformance.py), every socket event one docs/asyncapi.yaml describes
    (tests/asyncapi_conformance.py)."""
    yield  # (what a module fixture's requests broke is reported by the first test after it)
    violations = conformance.take_violations()
    if violations:
        pytest.fail("API answers that break the OpenAPI schema:\n" + "\n".join(violations[:30]), pytrace=False)
    violations = asyncapi.take_violations()
    if violations:
        pytest.fail("Socket.IO events that break docs/asyncapi.yaml:\n" + "\n".join(violations[:30]), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    if secret_scan.scanner.counts:
        terminalreporter.write_line(f"secret scan: {secret_scan.scanner.summary()}")
    if conformance.counts:
        terminalreporter.write_line(f"OpenAPI conformance: {conformance.summary()}")
    if asyncapi.counts:
        terminalreporter.write_line(
            f"AsyncAPI conformance: socket events checked: {asyncapi.counts['socket events checked']}"
        )


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
