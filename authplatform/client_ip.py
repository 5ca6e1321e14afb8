"""Which IP address a request comes from.

The socket peer is the client, unless the peer is one of the configured trusted proxies
(``TRUSTED_PROXIES``, addresses or CIDRs): then ``X-Forwarded-For`` is read from the right, skipping
trusted proxies, and the first address that is not one is the client. A forged left-most entry sent by
the client itself is therefore never believed. Used by IP-bound API tokens, the failure throttle and the
audit log, for HTTP and WebSocket alike.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from authplatform.conf import platform_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def parse_ip(value: str | None) -> IPAddress | None:
    if not value:
        return None
    try:
        ip = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is the IPv4 address.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_trusted_proxy(ip: IPAddress) -> bool:
    return any(ip in net for net in _networks(tuple(platform_settings.TRUSTED_PROXIES)))


def resolve_client_ip(peer: str | None, forwarded_for: str | None) -> IPAddress | None:
    """The client address from the socket peer and an ``X-Forwarded-For`` header value."""
    client = parse_ip(peer)
    if client is None or not forwarded_for or not is_trusted_proxy(client):
        return client
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        hop_ip = parse_ip(hop)
        if hop_ip is None:
            return client  # garbage in the chain: trust nothing beyond the last good hop
        client = hop_ip
        if not is_trusted_proxy(hop_ip):
            return hop_ip
    return client


def client_ip(request) -> IPAddress | None:
    """The client address of a Django/DRF request."""
    meta = request.META
    return resolve_client_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"))


def scope_client_ip(scope: dict) -> IPAddress | None:
    """The client address of an ASGI (Channels) scope."""
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = None
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
    return resolve_client_ip(peer, forwarded)
