"""Who may open a FastAGI session: an allow-list of IP addresses and CIDR ranges."""
from __future__ import annotations

import ipaddress
from typing import Iterable, NamedTuple


class Peer(NamedTuple):
    host: str
    port: int

    @classmethod
    def of(cls, address) -> Peer:
        """From a Twisted address (IPv4Address/IPv6Address); other kinds get port 0."""
        return cls(str(getattr(address, "host", address)), int(getattr(address, "port", 0) or 0))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class AllowList:
    """`AllowList(["127.0.0.1", "10.1.0.0/16", "::1"]).allows("10.1.2.3")` -> True."""

    def __init__(self, entries: Iterable[str]):
        if isinstance(entries, str):
            raise TypeError("allowed_hosts is a list of addresses, not one string")
        self._networks = [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries]

    def allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
        except ValueError:
            return False  # not an IP peer (e.g. a UNIX socket): never allowed
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
        return any(address in network for network in self._networks)

    def __repr__(self) -> str:
        return f"AllowList({[str(n) for n in self._networks]})"
