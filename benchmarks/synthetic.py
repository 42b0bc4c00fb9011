"""A seeded synthetic appliance: poll answers of any size, with moving rates and churn.

Stdlib only, so a benchmark's appliance process stays small.  Every value is a
string, as the appliance sends them; rates and counters move every poll and about
2% of the flows end and as many start (give or take a few, so the row count moves).
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

POLL_SECONDS: Final = 2.0
CHURN: Final = 0.02

_APPLICATIONS: Final = (
    "Office365",
    "Microsoft Teams",
    "Zoom",
    "Salesforce",
    "YouTube",
    "DNS",
    "SSL",
    "HTTP",
    "Webex",
    "SAP",
    "Citrix ICA",
    "Dropbox",
    "SSH",
    "NTP",
    "Unknown",
)
_SERVICES: Final = (
    ("Virtual Path", "DC-Branch042"),
    ("Virtual Path", "DC2-Branch042"),
    ("Internet", "Internet"),
    ("Intranet", "Intranet-DC"),
    ("Local", "Local"),
    ("Passthrough", "Passthrough"),
)
_PATHS: Final = (
    "DC-MPLS-> Branch-MPLS",
    "DC-Broadband-> Branch-LTE",
    "DC-Internet-> Branch-Broadband",
    "DC2-MPLS-> Branch-MPLS",
    "",
)
_DSCP: Final = ("default", "ef", "af11", "af21", "af31", "af41", "cs1", "cs6")
_CLASSES: Final = ("realtime", "interactive", "bulk")
_TRANSMISSION: Final = ("Persistent Path", "Load Balanced Paths", "Duplicate Paths")
_PORTS: Final = (443, 443, 443, 80, 53, 123, 22, 3478, 5060, 8443)


class SyntheticAppliance:
    """A seeded stand-in for an appliance: each call to :meth:`body` is one poll."""

    def __init__(self, size: int, seed: int) -> None:
        self._random = random.Random(seed)
        self._size = size
        self._next_port = 20000
        self._flows = [self._new_flow() for _ in range(size)]

    def _new_flow(self) -> dict[str, Any]:
        r = self._random
        self._next_port = 20000 + (self._next_port - 19999) % 40000
        if r.random() < 0.1:
            src = f"fd00:10:{r.randrange(16):x}::{r.randrange(1, 500):x}"
            dst = f"2001:db8:{r.randrange(64):x}::{r.randrange(1, 4000):x}"
        else:
            src = f"10.{r.randrange(1, 8)}.{r.randrange(256)}.{r.randrange(1, 255)}"
            first = r.choice((13, 20, 52, 104, 142, 151))
            dst = f"{first}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"
        service_type, service_name = r.choice(_SERVICES)
        pps = r.lognormvariate(2.0, 1.5)
        return {
            "src_ip": src,
            "src_port": self._next_port,
            "dest_ip": dst,
            "dest_port": r.choice(_PORTS),
            "ipp": r.choice((6, 6, 6, 17, 17, 1)),
            "direction": r.choice(("LAN to WAN", "WAN to LAN")),
            "application": r.choice(_APPLICATIONS),
            "service_type": service_type,
            "service_name": service_name,
            "path": r.choice(_PATHS),
            "class_type": r.choice(_CLASSES),
            "vpathclass": str(r.randrange(17)),
            "transmission_type": r.choice(_TRANSMISSION),
            "ip_dscp": r.choice(_DSCP),
            "rule_id": str(r.randrange(1, 60)),
            "app_rule_id": str(r.randrange(1, 30)),
            "lan_gw_ip": f"10.{r.randrange(1, 8)}.0.1",
            "age": r.randrange(0, 3_600_000),
            "bytes": r.randrange(0, 50_000_000),
            "packets": r.randrange(0, 60_000),
            "hitcount": r.randrange(0, 60_000),
            "hdr_compression_bytes": r.randrange(0, 100_000),
            "pps": pps,
            "size": r.choice((90, 200, 600, 1200, 1400)),
        }

    def _advance(self, flow: dict[str, Any]) -> None:
        r = self._random
        flow["pps"] = max(0.0, flow["pps"] * r.uniform(0.7, 1.4) + r.uniform(-0.5, 0.5))
        packets = int(flow["pps"] * POLL_SECONDS)
        flow["packets"] += packets
        flow["hitcount"] += packets
        flow["bytes"] += packets * flow["size"]
        flow["age"] += int(POLL_SECONDS * 1000) + r.randrange(-50, 50)

    def body(self) -> bytes:
        """The next poll's answer: ``{"flows": [...]}`` with string values."""
        r = self._random
        flows = self._flows
        for flow in flows:
            self._advance(flow)
        # About CHURN of the flows end and as many start, give or take a few, so
        # the row count moves a little every poll as on a real appliance.
        typical = round(self._size * CHURN)
        ended = max(0, typical + r.randint(-2, 2))
        started = max(0, typical + r.randint(-2, 2) + (self._size - len(flows)) // 4)
        for _ in range(min(ended, len(flows))):
            flows.pop(r.randrange(len(flows)))
        flows.extend(self._new_flow() for _ in range(started))
        return json.dumps({"flows": [_wire(flow) for flow in flows]}).encode()


def _wire(flow: dict[str, Any]) -> dict[str, str]:
    pps = flow["pps"]
    kbps = pps * flow["size"] * 8 / 1000
    out = {name: str(value) for name, value in flow.items() if name not in ("pps", "size")}
    out["pps"] = f"{pps:.3f}"
    out["customer_kbps"] = f"{kbps:.3f}"
    out["ipsec_overhead_kbps"] = f"{kbps * 0.04:.3f}"
    out["virtual_path_overhead_kbps"] = f"{kbps * 0.02:.3f}"
    return out
