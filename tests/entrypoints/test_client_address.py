import ipaddress

import pytest

from entrypoints.config import YOOKASSA_NETWORKS
from entrypoints.http.client_address import SourcePolicy, parse_ip

YOOKASSA = tuple(ipaddress.ip_network(n) for n in YOOKASSA_NETWORKS)
PROXY = (ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("10.0.1.0/24"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("185.71.76.5", "185.71.76.5"),
        ("::ffff:185.71.76.5", "185.71.76.5"),
        ("2a02:5180::1", "2a02:5180::1"),
        (" 77.75.156.11 ", "77.75.156.11"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-ip", None),
        ("", None),
        (None, None),
        ("185.71.76.5, 1.1.1.1", None),
    ],
)
def test_parse_ip_normalises_and_refuses_junk(text: str | None, expected: str | None) -> None:
    parsed = parse_ip(text)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("185.71.76.5", True),
        ("185.71.76.31", True),
        ("185.71.76.32", False),
        ("77.75.156.11", True),
        ("77.75.156.12", False),
        ("::ffff:185.71.77.1", True),
        ("2a02:5180:0:2669::1", True),
        ("2a02:5181::1", False),
        ("127.0.0.1", False),
        ("garbage", False),
        (None, False),
    ],
)
def test_direct_peer_is_checked_against_yookassa_networks(peer: str | None, allowed: bool) -> None:
    assert SourcePolicy(YOOKASSA).allows(peer, None) is allowed


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    policy = SourcePolicy(YOOKASSA, PROXY)
    assert not policy.allows("203.0.113.7", "185.71.76.5")  # an attacker claiming to be YooKassa
    assert policy.allows("10.0.0.5", "185.71.76.5")
    assert not policy.allows("10.0.0.5", "203.0.113.7")


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    policy = SourcePolicy(YOOKASSA, PROXY)
    # the attacker prepends a YooKassa address; the proxy appends the real one
    assert not policy.allows("10.0.0.5", "185.71.76.5, 203.0.113.7")
    assert policy.allows("10.0.0.5", "203.0.113.7, 185.71.76.5, 10.0.1.9")
    assert policy.client("10.0.0.5", "10.0.1.1, 10.0.1.2") == ipaddress.ip_address("10.0.0.5")


def test_a_broken_forwarded_for_from_a_proxy_is_refused() -> None:
    policy = SourcePolicy(YOOKASSA, PROXY)
    assert not policy.allows("10.0.0.5", "185.71.76.5, not-an-ip")
    assert policy.allows("10.0.0.5", "::ffff:185.71.76.5")
