"""A fully deterministic demo source: fixed seed, a clock moved by hand, pinned latency.

Screenshots, snapshot tests and benchmarks use it, so that the same run draws the
same screen on any machine.
"""

from __future__ import annotations

from typing import Any

from flowtop.core.client import NitroClient
from flowtop.core.model import Flow
from flowtop.core.source import ClientSource, Snapshot
from flowtop.demo.appliance import DEMO_PASSWORD, DEMO_USERNAME, DemoAppliance
from flowtop.demo.faults import Faults
from flowtop.demo.transport import DemoTransport

# 2026-09-21 08:53:20 UTC: any fixed instant will do.
PINNED_START = 1_790_000_000.0


class ManualClock:
    """Wall-clock time that moves only when told to."""

    def __init__(self, now: float = PINNED_START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class PinnedDemoSource:
    """The real demo appliance through the real client, on a manual clock.

    Each fetch moves the clock by ``step`` seconds, so the simulated world moves on;
    latency is pinned so that status lines do not vary from run to run.
    """

    def __init__(
        self,
        clock: ManualClock,
        *,
        seed: int = 7,
        flows: int = 150,
        faults: Faults | None = None,
        step: float = 1.0,
        latency: float = 0.012,
        reverse_every: int = 0,
        appliance: DemoAppliance | None = None,
        name: str = "demo",
    ) -> None:
        """``appliance`` (one site of a demo fleet, say, on the same ``clock``) replaces
        the one built from ``seed``, ``flows`` and ``faults``; ``name`` is the host in the
        description (``admin@demo``)."""
        self.clock = clock
        self.step = step
        self.latency = latency
        self.appliance = (
            appliance
            if appliance is not None
            else DemoAppliance(seed=seed, flows=flows, clock=clock, faults=faults)
        )
        client = NitroClient(
            "http://demo.invalid" if name == "demo" else f"http://{name}.demo.invalid",
            DEMO_USERNAME,
            DEMO_PASSWORD,
            transport=DemoTransport(self.appliance),
        )
        self.inner = ClientSource(client, f"{DEMO_USERNAME}@{name}")
        self.fetches = 0
        self.closed = False
        # Every Nth flow also reported in its other direction (0: none), as appliances
        # report both directions of a conversation: pair mode (`c`) has pairs to show.
        self.reverse_every = reverse_every

    @property
    def description(self) -> str:
        return self.inner.description

    async def fetch(self, max_stats: int) -> Snapshot:
        self.fetches += 1
        self.clock.advance(self.step)
        snapshot = await self.inner.fetch(max_stats)
        flows = snapshot.flows
        if self.reverse_every > 0:
            flows = with_reverse_flows(flows, self.reverse_every)
        return Snapshot(
            flows=flows,
            received_at=self.clock(),
            latency=self.latency,
            raw=snapshot.raw,
            ignored_items=snapshot.ignored_items,
            max_stats=snapshot.max_stats,
        )

    async def close(self) -> None:
        self.closed = True
        await self.inner.close()


def with_reverse_flows(flows: list[Flow], every: int) -> list[Flow]:
    """``flows`` plus the other direction of about one in ``every`` (chosen by port, so
    the same flows from poll to poll): a quarter of its rate, and for every other such
    flow a different path and DSCP (asymmetric routing)."""
    added: list[Flow] = []
    for flow in flows:
        ports = (flow.src_port or 0) + (flow.dest_port or 0)
        if ports % every:
            continue
        lan_to_wan = (flow.direction or "").casefold().startswith("lan")
        update: dict[str, Any] = {
            "src_ip": flow.dest_ip,
            "src_port": flow.dest_port,
            "dest_ip": flow.src_ip,
            "dest_port": flow.src_port,
            "direction": "WAN to LAN" if lan_to_wan else "LAN to WAN",
            "customer_kbps": round((flow.customer_kbps or 0.0) / 4, 3),
            "pps": round((flow.pps or 0.0) / 4, 3),
            "bytes": (flow.bytes or 0) // 4,
        }
        if (ports // every) % 2:
            update["path"] = "DC-LTE" if flow.path != "DC-LTE" else "DC-INET"
            update["ip_dscp"] = "default" if flow.ip_dscp != "default" else "af21"
        added.append(flow.model_copy(update=update))
    return [*flows, *added]
