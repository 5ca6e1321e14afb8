"""A database that does not answer is a 503 with Retry-After in the error body format, never a 500;
a request for a host we do not serve is a 400 logged in one line, not a traceback per request."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import first_pass_only
from tests.live import assert_error, free_port
from tests.security.test_unstorable_input import unsigned_jwt

pytestmark = [pytest.mark.live]

# Shaped like a customer JWT (a UUID kid), so the signing key must be looked up.
CUSTOMER_SHAPED_TOKEN = unsigned_jwt({"alg": "RS256", "kid": "5a3b1e00-0000-4000-8000-00000000a11e"})
UNREACHABLE_DATABASES = {
    # Nothing listens on a fresh free port: every connection attempt is refused.
    "postgresql": lambda tmp_path: f"postgres://postgres@127.0.0.1:{free_port()}/nowhere",
    # A file in a folder that does not exist cannot be opened.
    "sqlite": lambda tmp_path: f"sqlite:///{tmp_path}/missing-folder/db.sqlite3",
}


@first_pass_only  # its own unreachable database, whichever the pass runs on
@pytest.mark.parametrize("backend", sorted(UNREACHABLE_DATABASES))
def test_database_down_is_a_503_with_retry_after(daphne_server_factory, tmp_path, backend):
    server = daphne_server_factory(DATABASE_URL=UNREACHABLE_DATABASES[backend](tmp_path), DATABASE_POOL_TIMEOUT="1")
    with httpx.Client(base_url=server.api + "/", timeout=30) as api:
        cases = [
            api.get("user", headers={"Api-Key": "0" * 64}),
            api.get("customer/inbox", headers={"Authorization": f"Bearer {CUSTOMER_SHAPED_TOKEN}"}),
            api.post("in-app-messages", headers={"x-client-key": "ck_x", "x-client-secret": "cs_y"}, json={}),
        ]
        for response in cases:
            body = assert_error(response, 503, "unavailable")
            assert response.headers["retry-after"] == "5", response.headers
            assert "5 seconds" in body["message"]
        # With a session cookie, the admin reads the session from the database.
        response = api.get(f"{server.url}/admin/", cookies={"sessionid": "x" * 32})
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "Traceback" not in server.log_tail(400)


def test_disallowed_host_is_a_json_400_logged_without_traceback(daphne_server):
    before = daphne_server.log_path.read_text(errors="replace").count("Traceback")
    for _ in range(3):
        response = httpx.get(f"{daphne_server.api}/user", headers={"Host": "evil.example"}, timeout=10)
        assert_error(response, 400)
    time.sleep(0.3)  # the log line is written after the answer
    log = daphne_server.log_path.read_text(errors="replace")
    assert log.count("Traceback") == before, daphne_server.log_tail(40)
    assert "evil.example" in log  # still logged, once per request, for operators
