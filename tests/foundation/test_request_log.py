"""The request log (authplatform/request_log.py): one record per request naming the credential, never
its secret; LOG_FORMAT=json makes every line of the server's log one JSON object."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.live import api_client
from tests.notifications.conftest import notifications_world, world  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.live]


@pytest.fixture(scope="module")
def json_log_server(django_db_setup, django_db_blocker):
    from tests.live import LiveServer

    server = LiveServer(extra_env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}).start()
    yield server
    server.stop()


def log_records(server, *, after: int = 0) -> list[dict]:
    time.sleep(0.3)  # the server writes its log line as the response leaves
    lines = server.log_path.read_text().splitlines()[after:]
    return [json.loads(line) for line in lines if line.strip()]


def test_every_line_is_json_and_each_request_names_its_credential(json_log_server, world):
    start = len(json_log_server.log_path.read_text().splitlines())
    with api_client(json_log_server) as api:
        token = api.get("user/apikeys/token", headers={"Api-Key": world.a.api_key_write}).json()["token"]
        answers = {
            "client": api.get(f"workspaces/{world.a.workspace.code}", headers=world.a.client_headers()),
            "api_key": api.get("user", headers={"Api-Key": world.a.api_key_write}),
            "api_token": api.get("user", headers={"Authorization": f"Bearer {token}"}),
            "customer_jwt": api.get("customer/inbox/unread-count", headers=world.customer_headers("a", "alice")),
            None: api.get("user", headers={"Api-Key": "not-a-key", "X-Request-ID": "trace-42"}),
        }
    records = log_records(json_log_server, after=start)  # every line parses as JSON, or this raises
    requests = {record["request_id"]: record for record in records if record["logger"] == "authplatform.request"}
    for kind, answer in answers.items():
        record = requests[answer.headers["X-Request-ID"]]
        assert record["path"] == answer.request.url.path and record["status"] == answer.status_code
        assert record["method"] == "GET" and record["duration_ms"] >= 0 and record["client_ip"] == api.source_ip
        assert record["credential_kind"] == kind and record["level"] == "INFO"
    assert requests["trace-42"]["reason"] == "api_key_malformed" and requests["trace-42"]["credential_id"] is None
    assert requests[answers["client"].headers["X-Request-ID"]]["credential_id"] == world.a.client_key
    assert requests[answers["customer_jwt"].headers["X-Request-ID"]]["credential_id"] == str(world.a.signing_key.kid)
    api_key_ids = {requests[answers[k].headers["X-Request-ID"]]["credential_id"] for k in ("api_key", "api_token")}
    assert len(api_key_ids) == 1  # the token is named by the key it was minted from


def test_a_request_id_of_the_client_is_kept_only_when_it_is_a_plain_token(daphne_server):
    kept = httpx.get(f"{daphne_server.url}/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    replaced = httpx.get(f"{daphne_server.url}/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 80})
    assert replaced.headers["X-Request-ID"] != "a b\tc" + "x" * 80 and len(replaced.headers["X-Request-ID"]) == 32


def test_an_unknown_log_format_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    from tests.live import ROOT

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "authplatform.settings",
            "LOG_FORMAT": "xml",
            "VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode != 0 and "LOG_FORMAT must be 'text' or 'json'" in result.stderr
