"""The client's address: the socket's peer, or what a trusted reverse proxy says it is.

`X-Forwarded-For` and `Forwarded` are plain request headers: anyone can send them. They are
read only when the direct peer is one of the configured proxies (`CASEFILE_TRUSTED_PROXIES`),
and then only the hops those proxies appended: the chain is walked from the right (the hop
the nearest proxy saw) past every trusted address, and the first untrusted one is the client.
Whatever a client wrote further left is its own claim and is ignored. A hop that is not an
address (`unknown`, an obfuscated `_name`, garbage) ends the walk at the proxy that sent it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ProxyHeader = Literal["x-forwarded-for", "forwarded"]


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """`CASEFILE_TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks; ValueError if any
    is neither (a typo must stop the server, not silently trust nobody or everybody)."""
    networks = []
    for item in value.split(","):
        item = item.strip()
        if item:
            networks.append(ipaddress.ip_network(item, strict=False))
    return tuple(networks)


def parse_address(value: str) -> IPAddress | None:
    """An address as proxies write it (bare, `[v6]`, with a `:port`), or None."""
    value = value.strip().strip('"')
    if value.startswith("["):  # "[2001:db8::1]:4711" or "[2001:db8::1]"
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # "192.0.2.1:4711"
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(values: Iterable[str]) -> list[str]:
    """The `for=` of each element of RFC 7239 `Forwarded` values, in order ("" if none)."""
    hops = []
    for value in values:
        for element in value.split(","):
            found = ""
            for pair in element.split(";"):
                name, _, token = pair.partition("=")
                if name.strip().lower() == "for":
                    found = token.strip()
            hops.append(found)
    return hops


def _x_forwarded_for(values: Iterable[str]) -> list[str]:
    return [hop.strip() for value in values for hop in value.split(",")]


def client_address(
    peer: str | None,
    headers: Sequence[tuple[bytes, bytes]],
    trusted: Sequence[IPNetwork],
    header: ProxyHeader = "x-forwarded-for",
) -> str | None:
    """The address to record for this request (audit events, throttle, logs)."""
    address = parse_address(peer) if peer is not None else None
    if address is None or not _is_trusted(address, trusted):
        return peer
    name = header.encode()
    values = [value.decode("latin-1") for key, value in headers if key == name]
    hops = _forwarded_for(values) if header == "forwarded" else _x_forwarded_for(values)
    for hop in reversed(hops):
        hop_address = parse_address(hop)
        if hop_address is None:
            break
        address = hop_address
        if not _is_trusted(address, trusted):
            break
    return str(address)


def _is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
