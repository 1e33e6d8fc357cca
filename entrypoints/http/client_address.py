"""Who is really calling: the peer address, or the client named by a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str | None) -> IpAddress | None:
    """An address, with IPv4-mapped IPv6 (``::ffff:1.2.3.4``) folded to IPv4; ``None`` for junk."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """Accepts calls only from ``allowed`` networks. ``X-Forwarded-For`` is believed only when the
    direct peer is one of ``trusted_proxies``; then the rightmost address that is not itself a
    trusted proxy is the client (the leftmost entries are whatever the caller chose to send)."""

    allowed: Sequence[Network]
    trusted_proxies: Sequence[Network] = ()

    def client(self, peer: str | None, forwarded_for: str | None) -> IpAddress | None:
        address = parse_ip(peer)
        if address is None or not forwarded_for or not self._in(address, self.trusted_proxies):
            return address
        for hop in reversed(forwarded_for.split(",")):
            hop_address = parse_ip(hop)
            if hop_address is None:
                return None  # a forged or broken header: trust nothing
            if not self._in(hop_address, self.trusted_proxies):
                return hop_address
        return address

    def allows(self, peer: str | None, forwarded_for: str | None) -> bool:
        client = self.client(peer, forwarded_for)
        return client is not None and self._in(client, self.allowed)

    @staticmethod
    def _in(address: IpAddress, networks: Sequence[Network]) -> bool:
        return any(address.version == net.version and address in net for net in networks)
