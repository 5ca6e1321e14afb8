"""/metrics (authplatform/metrics.py): counters that move with the traffic, labels that hold no
customer id, key or secret, and access only from METRICS_ALLOWED or with METRICS_TOKEN."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.live import api_client, assert_error
from tests.notifications.conftest import notifications_world, world  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.live]


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def scrape(server, **headers) -> dict[str, float]:
    answer = httpx.get(f"{server.url}/metrics", headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


def test_requests_and_authentications_are_counted_by_route_and_kind(daphne_server, world):
    before = scrape(daphne_server)
    with api_client(daphne_server) as api:
        token = api.get("user/apikeys/token", headers={"Api-Key": world.a.api_key_write}).json()["token"]
        api.get("user", headers={"Authorization": f"Bearer {token}"})
        api.get(f"workspaces/{world.a.workspace.code}", headers=world.a.client_headers())
        api.get("customer/inbox/unread-count", headers=world.customer_headers("a", "alice"))
        api.get("user", headers={"Api-Key": "x" * 64})
        api.get("customer/inbox/unread-count", headers={"Authorization": "Bearer not.a.jwt"})
    after = scrape(daphne_server)

    def moved(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    def moved_matching(pattern: str) -> float:
        return sum(moved(name) for name in after if re.fullmatch(pattern, name))

    for kind in ("api_key", "api_token", "client", "customer_jwt"):
        assert moved(f'authplatform_authentications_total{{kind="{kind}",outcome="success",reason=""}}') >= 1, kind
    assert (
        moved_matching(r'authplatform_authentications_total\{kind="api_key",outcome="refused",reason="[a-z_]+"\}') == 1
    )
    assert (
        moved('authplatform_authentications_total{kind="customer_jwt",outcome="refused",reason="token_malformed"}') == 1
    )
    assert moved('authplatform_http_requests_total{method="GET",route="api/v1/user",status="200"}') == 1
    assert moved('authplatform_http_request_duration_seconds_count{route="api/v1/workspaces/<code:code>"}') == 1
    # Labels name routes, kinds and reasons, never what identifies a workspace, key or customer.
    text = httpx.get(f"{daphne_server.url}/metrics").text
    for value in (world.a.workspace.code, world.a.client_key, world.a.api_key_write, token, "alice"):
        assert value not in text


def test_only_allowed_addresses_or_the_token_may_read_them(daphne_server_factory):
    server = daphne_server_factory(METRICS_ALLOWED="127.0.0.1/32", METRICS_TOKEN="scraper-secret-1")
    with api_client(server, ip="127.0.0.2") as elsewhere:
        refused = elsewhere.get(f"{server.url}/metrics")
        assert_error(refused, 403, "permission_denied")
        assert elsewhere.get(f"{server.url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        allowed = elsewhere.get(f"{server.url}/metrics", headers={"Authorization": "Bearer scraper-secret-1"})
        assert allowed.status_code == 200 and "authplatform_http_requests_total" in allowed.text
    assert httpx.get(f"{server.url}/metrics").status_code == 200  # from 127.0.0.1


def test_several_processes_are_summed_through_the_multiprocess_directory(daphne_server_factory, tmp_path):
    first = daphne_server_factory(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    second = daphne_server_factory(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    for server, count in ((first, 3), (second, 2)):
        for _ in range(count):
            httpx.get(f"{server.url}/readyz")
    for server in (first, second):
        totals = samples(httpx.get(f"{server.url}/metrics").text)
        ready = [v for k, v in totals.items() if re.match(r'authplatform_http_requests_total\{.*route="readyz"', k)]
        assert sum(ready) == 5, totals
