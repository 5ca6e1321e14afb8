"""IP rules of API tokens (tokens/ip_rules.py): parsing, limits, matching, and "no widening"."""

import ipaddress

import pytest

from tokens.ip_rules import InvalidInput, check_ip_allowed, check_ips_within, ip_option_items, ip_rules_parse

ME = ipaddress.ip_address("203.0.113.7")


def parse(value, request_ip=ME, max_values=10, max_addresses=10_000):
    return ip_rules_parse(
        ip_option_items(value), request_ip=request_ip, max_values=max_values, max_addresses=max_addresses
    )


def test_items_ignore_empty_values_and_accept_lists():
    assert ip_option_items("request_ip, ,10.0.0.1,") == ["request_ip", "10.0.0.1"]
    assert ip_option_items(["1.2.3.4", "5.6.7.8, 9.9.9.9", ""]) == ["1.2.3.4", "5.6.7.8", "9.9.9.9"]
    assert ip_option_items(None) == [] and ip_option_items(" , ") == []


def test_parse_normalises_addresses_networks_and_request_ip():
    assert parse("request_ip,212.40.50.1/24,2001:DB8::1,2001:db8::/120,10.0.0.1/32,[2001:db8::2]") == [
        "203.0.113.7",
        "212.40.50.0/24",
        "2001:db8::1",
        "2001:db8::/120",
        "10.0.0.1",
        "2001:db8::2",
    ]
    assert parse("::ffff:10.1.2.3") == ["10.1.2.3"]
    assert parse("request_ip,203.0.113.7") == ["203.0.113.7"]  # duplicates collapse
    assert parse("request_ip", request_ip=ipaddress.ip_address("::1")) == ["::1"]


@pytest.mark.parametrize(
    "value, reason",
    [
        ("300.1.1.1", "invalid_ips"),
        ("10.0.0.0/33", "invalid_ips"),
        ("example.com", "invalid_ips"),
        (",".join(f"192.0.2.{i}" for i in range(11)), "too_many_ip_values"),
        ("10.0.0.0/8", "too_many_ip_addresses"),
        ("10.0.0.0/19,10.0.32.0/19", "too_many_ip_addresses"),
        ("2001:db8::/64", "too_many_ip_addresses"),
    ],
)
def test_parse_refuses(value, reason):
    with pytest.raises(InvalidInput) as error:
        parse(value)
    assert error.value.reason == reason


def test_limits_are_inclusive_and_overlaps_count_once():
    assert len(parse(",".join(f"192.0.2.{i}" for i in range(10)))) == 10
    assert parse("10.0.0.0/19,10.0.0.0/20,10.0.0.5") == ["10.0.0.0/19", "10.0.0.0/20", "10.0.0.5"]
    with pytest.raises(InvalidInput, match="10,000"):
        parse("10.0.0.0/18")  # 16,384
    assert parse("10.0.0.0/8", max_addresses=2**24) == ["10.0.0.0/8"]


def test_request_ip_needs_a_known_address():
    with pytest.raises(InvalidInput) as error:
        parse("request_ip", request_ip=None)
    assert error.value.reason == "request_ip_unknown"


def test_check_ip_allowed():
    rules = ["10.0.0.0/8", "2001:db8::/120", "203.0.113.7"]
    assert check_ip_allowed(ipaddress.ip_address("10.200.3.4"), rules)
    assert check_ip_allowed(ipaddress.ip_address("2001:db8::ff"), rules)
    assert check_ip_allowed(ME, rules)
    assert not check_ip_allowed(ipaddress.ip_address("127.0.0.1"), rules)
    assert not check_ip_allowed(ipaddress.ip_address("2001:db8::1:0"), rules)
    assert not check_ip_allowed(None, rules)
    assert check_ip_allowed(None, [])  # not IP-protected
    assert not check_ip_allowed(ME, ["garbage"])  # never raises


def test_check_ips_within():
    assert check_ips_within(["10.1.0.0/16", "10.2.3.4"], ["10.0.0.0/8"])
    assert check_ips_within(["10.0.0.0/8"], ["10.0.0.0/8"])
    assert not check_ips_within(["10.0.0.0/8"], ["10.1.0.0/16"])
    assert not check_ips_within(["10.0.0.1", "192.0.2.1"], ["10.0.0.0/8"])
    assert not check_ips_within(["::a00:1"], ["10.0.0.0/8"])  # versions never mix
    assert check_ips_within([], []) and check_ips_within(["1.2.3.4"], [])
    assert not check_ips_within([], ["10.0.0.0/8"])  # dropping protection widens
    # the union counts, not each network alone
    assert check_ips_within(["10.0.0.0/24"], ["10.0.0.0/25", "10.0.0.128/25"])
    assert check_ips_within(["10.0.0.0/23", "::1"], ["10.0.1.0/24", "::1", "10.0.0.0/24"])
    assert not check_ips_within(["10.0.0.0/23"], ["10.0.0.0/25", "10.0.0.128/25"])  # 10.0.1.x is new
    assert not check_ips_within(["10.0.0.0/24", "::2"], ["10.0.0.0/24", "::1"])
