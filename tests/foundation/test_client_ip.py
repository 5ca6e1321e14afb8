"""Which address a request comes from: the socket peer, X-Forwarded-For only through trusted proxies."""

import httpx
import pytest
from django.test import override_settings

from authplatform.client_ip import resolve_client_ip
from credentials import services
from credentials.audit import CLI
from tests.live import api_client, random_loopback


def platform(**values):
    from django.conf import settings

    return override_settings(AUTHPLATFORM={**settings.AUTHPLATFORM, **values})


@pytest.mark.parametrize(
    "peer, forwarded, expected",
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # untrusted peer: its header is not believed
        ("::ffff:203.0.113.7", None, "203.0.113.7"),  # IPv4 seen through an IPv6 socket
        ("2001:db8::1", None, "2001:db8::1"),
        ("garbage", None, None),
    ],
)
def test_without_trusted_proxies_the_peer_is_the_client(peer, forwarded, expected):
    ip = resolve_client_ip(peer, forwarded)
    assert (str(ip) if ip else None) == expected


@pytest.mark.parametrize(
    "peer, forwarded, expected",
    [
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),  # one trusted proxy
        ("10.0.0.5", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a client-forged left entry is ignored
        ("10.0.0.5", "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # two trusted hops
        ("10.0.0.5", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # only proxies: the left-most one
        ("10.0.0.5", "not-an-ip, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.5", "198.51.100.1, not-an-ip", "10.0.0.5"),  # garbage next to us: trust nothing past it
        ("10.0.0.5", "", "10.0.0.5"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # peer not a proxy
        ("2001:db8::5", "2001:db8:ffff::1", "2001:db8:ffff::1"),  # IPv6 proxy range
    ],
)
def test_trusted_proxies_are_skipped_from_the_right(peer, forwarded, expected):
    with platform(TRUSTED_PROXIES=["10.0.0.0/8", "2001:db8::/64"]):
        assert str(resolve_client_ip(peer, forwarded)) == expected


def minted_request_ip(server, headers: dict[str, str], *, source: str) -> list[str]:
    """The address a server saw, as ``request_ip`` in a freshly minted token."""
    user = services.api_user_create(actor=CLI, email=f"ip-{random_loopback()}@example.com")
    _, key = services.api_key_create(actor=CLI, user=user)
    with api_client(server, source) as client:
        response = client.get("user/apikeys/token", headers={"Api-Key": key, **headers})
    assert response.status_code == 200, response.text
    return response.json()["payload"]["ips"]


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_forwarded_for_is_ignored_unless_the_peer_is_trusted(daphne_server, daphne_server_factory):
    source = random_loopback()
    forged = {"X-Forwarded-For": "198.51.100.1"}
    assert minted_request_ip(daphne_server, forged, source=source) == [source]

    behind_proxy = daphne_server_factory(TRUSTED_PROXIES="127.0.0.0/8")
    assert minted_request_ip(behind_proxy, forged, source=source) == ["198.51.100.1"]
    assert minted_request_ip(behind_proxy, {}, source=source) == [source]
