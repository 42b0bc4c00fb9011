"""Flows as the appliance sends them (string values), for tests."""

from __future__ import annotations

from typing import Any

from flowtop.core.model import Flow


def raw_flow(n: int = 1, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "src_ip": f"10.1.{n // 250}.{n % 250 + 1}",
        "src_port": str(40000 + n),
        "dest_ip": "192.0.2.10",
        "dest_port": "443",
        "ipp": "6",
        "direction": "LAN to WAN",
        "application": "Office365",
        "service_type": "Virtual Path",
        "service_name": "DC-Branch",
        "path": "DC-MPLS->Branch-MPLS",
        "class_type": "interactive",
        "vpathclass": "4",
        "transmission_type": "Persistent Path",
        "ip_dscp": "af21",
        "rule_id": "10",
        "app_rule_id": "3",
        "lan_gw_ip": "10.1.0.1",
        "age": str(1000 * n),
        "bytes": str(1000 * n),
        "packets": str(10 * n),
        "hitcount": "1",
        "hdr_compression_bytes": "0",
        "pps": str(float(n)),
        "customer_kbps": str(float(n) * 8),
        "ipsec_overhead_kbps": "0.5",
        "virtual_path_overhead_kbps": "1.0",
    }
    raw.update(overrides)
    return raw


def flow(n: int = 1, **overrides: Any) -> Flow:
    return Flow.from_raw(raw_flow(n, **overrides))
