"""Host names for the demo's invented addresses (no DNS: they exist nowhere else).

The demo's live view and the scenes look names up here instead of in the system
resolver, so ``n`` shows names in the demo and never sends a query for an address
that only the simulation knows.  As in a real network, the private addresses have
names and most public ones do not; a few well-known resolvers do.
"""

from __future__ import annotations

import ipaddress
from typing import Final

# The single demo's sites, then the demo fleet's branches (flowtop.demo.fleet).
_SITES: Final = {
    1: "dc",
    20: "branch",
    30: "london",
    40: "austin",
    50: "boston",
    60: "chicago",
    70: "denver",
}
# The fleet's generated branches: Branch05 is 10.100.0.0/16, Branch06 10.101.0.0/16, ...
_GENERATED_FIRST_NET: Final = 100
_GENERATED_FIRST_NUMBER: Final = 5
_GENERATED_COUNT: Final = 95


def _site(net: int) -> str | None:
    named = _SITES.get(net)
    if named is not None:
        return named
    number = net - _GENERATED_FIRST_NET + _GENERATED_FIRST_NUMBER
    if _GENERATED_FIRST_NUMBER <= number < _GENERATED_FIRST_NUMBER + _GENERATED_COUNT:
        return f"branch{number:02d}"
    return None


_KNOWN: Final = {
    "8.8.8.8": "dns.google",
    "1.1.1.1": "one.one.one.one",
    "9.9.9.9": "dns9.quad9.net",
    "2001:4860:4860::8888": "dns.google",
    "2606:4700:4700::1111": "one.one.one.one",
}


def demo_lookup(address: str) -> str | None:
    """The demo's name for ``address``, or None (the address is shown)."""
    known = _KNOWN.get(address)
    if known is not None:
        return known
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if parsed.version == 4:
        first, second, third, fourth = (int(part) for part in address.split("."))
        site = _site(second) if first == 10 else None
        if site is not None:
            role = "gw" if fourth == 1 else ("srv" if third == 40 else "pc")
            return f"{role}{third}-{fourth}.{site}.corp.example"
        if first == 172 or (first == 192 and second == 168):
            return f"intranet-{third}-{fourth}.corp.example"
        return None
    # The demo writes its sites' and VLANs' numbers in decimal: fd00:20:10::5.
    groups = parsed.exploded.split(":")
    if groups[0] != "fd00" or not (groups[1] + groups[2]).isdigit():
        return None
    site = _site(int(groups[1]))
    if site is None:
        return None
    return f"v6-{int(groups[2])}-{groups[7].lstrip('0') or '0'}.{site}.corp.example"
