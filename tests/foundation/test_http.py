"""Health probes and the one error format, over real HTTP against daphne."""

import httpx
import pytest

from tests.conftest import first_pass_only

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def assert_error_body(response: httpx.Response, code: int, reason: str | None = None) -> dict:
    assert response.status_code == code
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["reason"], str) and body["reason"]
    if reason:
        assert body["reason"] == reason
    return body


def test_healthz_and_readyz(daphne_server):
    assert httpx.get(f"{daphne_server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{daphne_server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


@first_pass_only  # its own database and layer URLs: the same in both CI passes
def test_readyz_is_503_when_database_and_layer_are_unreachable(daphne_server_factory):
    server = daphne_server_factory(
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    response = httpx.get(f"{server.url}/readyz", timeout=15)
    body = assert_error_body(response, 503, "not_ready")
    assert body["details"]["unreachable"] == ["database", "channel_layer"]


def test_unknown_path_is_json_404(daphne_server):
    response = httpx.get(f"{daphne_server.url}/api/v1/nothing-here")
    body = assert_error_body(response, 404, "not_found")
    assert "invalid_authentication" not in body


def test_unknown_path_is_json_404_with_debug_on(daphne_server_factory):
    server = daphne_server_factory(DEBUG="1")
    response = httpx.get(f"{server.url}/no/such/page")
    assert_error_body(response, 404, "not_found")
    assert "<html" not in response.text.lower()


def test_disallowed_host_is_json_400(daphne_server):
    response = httpx.get(f"{daphne_server.url}/healthz", headers={"Host": "evil.example"})
    assert_error_body(response, 400)


def test_admin_login_page_is_served(daphne_server):
    response = httpx.get(f"{daphne_server.url}/admin/login/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_admin_requires_staff(daphne_server):
    response = httpx.get(f"{daphne_server.url}/admin/", follow_redirects=False)
    assert response.status_code == 302
    assert "/admin/login/" in response.headers["location"]


def test_development_server_serves_admin_static_files(daphne_server_factory):
    server = daphne_server_factory(DEBUG="1")
    response = httpx.get(f"{server.url}/static/admin/css/base.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


def test_startup_warns_when_fan_out_is_single_process(daphne_server_factory):
    server = daphne_server_factory(REDIS_URL="")
    assert "REDIS_URL is not set" in server.log_tail()
