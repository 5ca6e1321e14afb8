"""The failed-authentication throttle: per client IP, failures only, 429 with Retry-After."""

import time

import httpx
import pytest

from authplatform.client_ip import parse_ip
from authplatform.conf import platform_settings
from tests.conftest import requires_redis
from tests.live import assert_error, random_loopback
from tokens.throttle import auth_failure_register


def wait_for_fresh_window(margin: float = 5.0) -> None:
    # Windows are aligned to AUTH_FAILURE_WINDOW; don't start a burst just before one ends.
    window = platform_settings.AUTH_FAILURE_WINDOW
    if window - time.time() % window < margin:
        time.sleep(window - time.time() % window + 0.05)


def test_register_counts_failures_per_ip_and_window():
    ip, other = parse_ip(random_loopback()), parse_ip(random_loopback())
    burst, window = platform_settings.AUTH_FAILURE_BURST, platform_settings.AUTH_FAILURE_WINDOW
    start = (int(time.time() // window) + 1000) * window  # a window of its own, far from any real one
    assert [auth_failure_register(ip, now=start + 1) for _ in range(burst)] == [None] * burst
    assert auth_failure_register(ip, now=start + 10) == window - 10
    assert auth_failure_register(ip, now=start + window - 0.5) == 1
    # Other addresses and the next window start from zero.
    assert auth_failure_register(other, now=start + 10) is None
    assert auth_failure_register(ip, now=start + window) is None


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_failures_gets_429_and_good_credentials_still_pass(daphne_server_factory, api_key):
    # Its own server: the shared one has a burst no test reaches (tests/live.py).
    burst = 8
    server = daphne_server_factory(AUTH_FAILURE_BURST=str(burst), AUTH_FAILURE_WINDOW="60")

    def client_from() -> httpx.Client:
        return httpx.Client(
            base_url=f"{server.api}/", timeout=20, transport=httpx.HTTPTransport(local_address=random_loopback())
        )

    attacker = client_from()
    bystander = client_from()
    wait_for_fresh_window()
    for _ in range(burst):
        assert attacker.get("user", headers={"Api-Key": "A" * 32}).status_code == 403
    for bad in ({"Api-Key": "A" * 32}, {"Authorization": "Bearer a.b.c"}, {"x-client-key": "ck_x"}):
        response = (
            attacker.get("user", headers=bad)
            if "x-client-key" not in bad
            else attacker.get("workspaces/ABCDEFGH", headers=bad)
        )
        body = assert_error(response, 429, "too_many_authentication_failures", invalid_authentication=True)
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert f"{retry_after} seconds" in body["message"]
    # Successful callers are never slowed, not even from the same address.
    assert attacker.get("user", headers={"Api-Key": api_key}).status_code == 200
    # Other addresses are not affected.
    assert bystander.get("user", headers={"Api-Key": "A" * 32}).status_code == 403


@requires_redis
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_failures_are_counted_across_server_processes(daphne_server_factory):
    """With REDIS_URL the counters live in Redis: N processes behind a balancer give no N× budget."""
    burst = 6
    env = {"AUTH_FAILURE_BURST": str(burst), "AUTH_FAILURE_WINDOW": "60"}
    servers = [daphne_server_factory(**env), daphne_server_factory(**env)]
    source = random_loopback()
    wait_for_fresh_window()
    statuses = []
    for n in range(burst + 2):
        with httpx.Client(
            base_url=f"{servers[n % 2].api}/", timeout=20, transport=httpx.HTTPTransport(local_address=source)
        ) as attacker:
            statuses.append(attacker.get("user", headers={"Api-Key": "A" * 32}).status_code)
    assert statuses == [403] * burst + [429, 429]
