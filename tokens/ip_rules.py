"""IP rules of API tokens: which client addresses a token may be used from (the seed's ``ips``).

A rule list is what a token's ``ips`` claim holds: strings, each an IPv4/IPv6 address or network in
CIDR notation, normalised (``212.40.50.1/24`` is stored as ``212.40.50.0/24``, a single address
without a prefix). An empty list means the token is not IP-protected.

Built on the standard library's ``ipaddress``; nothing here touches the database.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from authplatform.client_ip import IPAddress
from authplatform.errors import InvalidInput

REQUEST_IP = "request_ip"  # placeholder replaced by the caller's own address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value: str) -> Network:
    network = ipaddress.ip_network(value.strip().strip("[]"), strict=False)
    # An IPv4 address written as IPv4-mapped IPv6 is matched as IPv4, like client_ip() resolves it.
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128 and network.network_address.ipv4_mapped:
        return ipaddress.ip_network(network.network_address.ipv4_mapped)
    return network


def _format(network: Network) -> str:
    if network.num_addresses == 1:
        return str(network.network_address)
    return network.with_prefixlen


def ip_option_items(value: str | Iterable[str] | None) -> list[str]:
    """The values of an ``ips`` option: a comma list (or a list of strings), empty items dropped."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    return [p.strip() for p in parts if p.strip()]


def ip_rules_parse(
    items: Sequence[str], *, request_ip: IPAddress | None, max_values: int, max_addresses: int
) -> list[str]:
    """The normalised rule list for ``items`` (see ip_option_items), or InvalidInput saying what to fix.

    At most ``max_values`` values, and the union of all networks covers at most ``max_addresses``.
    """
    if len(items) > max_values:
        raise InvalidInput(
            "too_many_ip_values", f"'ips' may hold at most {max_values} values; {len(items)} were given."
        )
    networks: list[Network] = []
    for item in items:
        if item == REQUEST_IP:
            if request_ip is None:
                raise InvalidInput("request_ip_unknown", "Your address is unknown, so 'request_ip' cannot be used.")
            network = ipaddress.ip_network(request_ip)
        else:
            try:
                network = _network(item)
            except ValueError:
                raise InvalidInput(
                    "invalid_ips", f"'{item[:64]}' in 'ips' is not an IP address or a network in CIDR notation."
                ) from None
        if network not in networks:
            networks.append(network)
    covered = _covered(networks, 4) + _covered(networks, 6)
    if covered > max_addresses:
        raise InvalidInput(
            "too_many_ip_addresses",
            f"'ips' may cover at most {max_addresses:,} addresses in total; these cover {covered:,}.",
        )
    return [_format(n) for n in networks]


@lru_cache(maxsize=1024)
def _rule_networks(rules: tuple[str, ...]) -> tuple[Network, ...] | None:
    try:
        return tuple(_network(r) for r in rules)
    except (ValueError, TypeError, AttributeError):
        return None


def check_ip_allowed(ip: IPAddress | None, rules: Sequence[str]) -> bool:
    """Whether a client at ``ip`` may use a token with these rules. Never raises."""
    if not rules:
        return True
    networks = _rule_networks(tuple(rules))
    if ip is None or networks is None:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def check_ips_within(narrower: Sequence[str], wider: Sequence[str]) -> bool:
    """Whether every address ``narrower`` allows is allowed by ``wider`` (renewal may not widen).

    An empty list allows every address. Never raises.
    """
    if not wider:
        return True
    if not narrower:
        return False
    inner, outer = _rule_networks(tuple(narrower)), _rule_networks(tuple(wider))
    if inner is None or outer is None:
        return False
    # Covered by the union, not by one network: 10.0.0.0/24 lies within 10.0.0.0/25 + 10.0.0.128/25.
    # Adding ``inner`` to ``outer`` leaves the union's size unchanged exactly when it adds no address.
    return all(_covered(inner + outer, version) == _covered(outer, version) for version in (4, 6))


def _covered(networks: Iterable[Network], version: int) -> int:
    """How many addresses of IP ``version`` the union of ``networks`` covers (overlaps counted once)."""
    same_version: list[Any] = [n for n in networks if n.version == version]
    return sum(net.num_addresses for net in ipaddress.collapse_addresses(same_version))
