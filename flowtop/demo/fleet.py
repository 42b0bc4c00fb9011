"""The demo fleet: a data centre and its branches, one simulated appliance per site.

One :class:`DemoWorld` is the data centre ("dc"): its virtual paths reach the branches
(Austin, Boston, Chicago, Denver, then generated ``BranchNN``).  Every branch's view is
made from it: each DC flow whose far end is at that branch is the branch's flow of the
same conversation, with the same addresses, ports and protocol, the other direction
label (the DC's WAN to LAN flow from an Austin client is Austin's LAN to WAN flow), the
branch's LAN gateway and its own rates and counters within measurement noise.  Paths
are named in the direction the packets travel, as the DC's world names them, so one
flow carries the same path name at both ends (``Austin-MPLS->DC-MPLS`` for packets
from Austin to the DC); a link failover in the DC's world therefore moves the flow at
both ends at once.

Each branch also has flows of its own that the DC never sees (internet breakout, its
intranet and local traffic): a second :class:`DemoWorld` per branch, homed at the branch
with no virtual paths, whose link failures follow the DC world's (a failed
``Austin-INET`` fails at Austin too).

So that the questions a NOC asks first have answers to find, a few mirrored flows
differ between the two ends on purpose: their DSCP is re-marked on the way (the
branch reports another value than the DC), and some load-balanced flows are reported
on another member path at the branch (path asymmetry).  Which ones is a fixed function
of the seed and the flow.

All worlds step together, one whole step at a time, from one clock: the same seed and
the same clock readings give byte-identical answers at every site, whatever order the
sites are asked in.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from flowtop.core.client import NitroClient
from flowtop.core.source import ClientSource
from flowtop.demo.appliance import DEMO_PASSWORD, DEMO_USERNAME, DemoAppliance
from flowtop.demo.faults import hostile_row, is_hostile
from flowtop.demo.transport import DemoTransport
from flowtop.demo.world import (
    DC_SITE,
    DEFAULT_FLOWS,
    LAN_TO_WAN,
    MAX_CATCH_UP_STEPS,
    STEP_SECONDS,
    WAN_TO_LAN,
    DemoWorld,
    Site,
    site_pairs,
)

DC_PROFILE: Final = "dc"
DEFAULT_SEED: Final = 7
DEFAULT_BRANCHES: Final = 4
MAX_BRANCHES: Final = 99
DEFAULT_BRANCH_FLOWS: Final = 300
FLEET_NAME: Final = "demo"

# The four named branches: name, share of the DC's virtual path flows, WAN links.
_NAMED_BRANCHES: Final = (
    ("Austin", 0.35, ("MPLS", "INET")),
    ("Boston", 0.25, ("MPLS", "INET", "LTE")),
    ("Chicago", 0.25, ("MPLS", "INET", "LTE")),
    ("Denver", 0.15, ("INET", "LTE")),
)
# Branches after the named ones: 10.100.0.0/16 upwards.
_GENERATED_NET: Final = 100

# The branch's rate is the DC's times (1 +- RATE_NOISE), fresh each step.
RATE_NOISE: Final = 0.02
# About one mirrored flow in REMARK_EVERY has its DSCP re-marked between the ends.
REMARK_EVERY: Final = 15
# About one load-balanced mirrored flow in ASYMMETRY_EVERY is on another path at the branch.
ASYMMETRY_EVERY: Final = 6

# After the first failover (a DC link: a big move at once), every other one or so fails a
# branch's link, which moves that branch's paths at both ends.
REMOTE_LINK_FAILURES: Final = 0.5

_MASK: Final = (1 << 64) - 1


def _mix(value: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of ``value``."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _unit(*parts: int) -> float:
    """A number in [0, 1) fixed by ``parts``: the same parts, the same number, anywhere."""
    value = 0
    for part in parts:
        value = _mix(value ^ (part & _MASK))
    return value / float(1 << 64)


def branch_site(index: int) -> Site:
    """The ``index``-th branch (from 0): the four named ones, then ``Branch05`` onwards."""
    if not 0 <= index < MAX_BRANCHES:
        raise ValueError(f"a demo fleet has 1 to {MAX_BRANCHES} branches")
    if index < len(_NAMED_BRANCHES):
        name, share, links = _NAMED_BRANCHES[index]
        return Site(name, share, 40 + 10 * index, links)
    _, share, links = _NAMED_BRANCHES[index % len(_NAMED_BRANCHES)]
    net = _GENERATED_NET + index - len(_NAMED_BRANCHES)
    return Site(f"Branch{index + 1:02d}", share, net, links)


def profile_name(site: Site) -> str:
    """The site's name as a profile of the fleet's config: ``dc``, ``austin``."""
    return site.name.lower()


def _gateway(address: str) -> str:
    """The LAN gateway of a demo host: ``10.40.20.37`` -> ``10.40.20.1``."""
    if ":" in address:
        return address.split("::", 1)[0] + "::1"
    return address.rsplit(".", 1)[0] + ".1"


def _remark(dscp: str) -> str:
    return "af21" if dscp == "default" else "default"


class SiteView:
    """One site's flow table in a fleet: what that site's appliance answers from."""

    def __init__(self, fleet: DemoFleet, name: str) -> None:
        self.fleet = fleet
        self.name = name

    def advance_to(self, now: float) -> int:
        return self.fleet.advance_to(now)

    def encode(
        self,
        max_stats: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        hostile: bool = False,
    ) -> bytes:
        return self.fleet.encode(self.name, max_stats, where=where, hostile=hostile)

    def snapshot(
        self,
        max_stats: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        hostile: bool = False,
    ) -> list[dict[str, Any]]:
        return self.fleet.snapshot(self.name, max_stats, where=where, hostile=hostile)


class DemoFleet:
    """A data centre and ``branches`` branches whose flows mirror each other.

    Thread-safe: every site's appliance may be asked from its own server thread.
    """

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        branches: int = DEFAULT_BRANCHES,
        flows: int = DEFAULT_FLOWS,
        branch_flows: int = DEFAULT_BRANCH_FLOWS,
        clock: Callable[[], float] = time.monotonic,
        max_catch_up_steps: int = MAX_CATCH_UP_STEPS,
    ) -> None:
        if not 1 <= branches <= MAX_BRANCHES:
            raise ValueError(f"a demo fleet has 1 to {MAX_BRANCHES} branches")
        self.seed = seed
        self.clock = clock
        self.max_catch_up_steps = max_catch_up_steps
        self.sites: tuple[Site, ...] = tuple(branch_site(index) for index in range(branches))
        self.dc = DemoWorld(
            seed=seed,
            flows=flows,
            clock=clock,
            sites=self.sites,
            remote_link_failures=REMOTE_LINK_FAILURES,
        )
        self.branch_worlds: dict[str, DemoWorld] = {
            profile_name(site): DemoWorld(
                seed=seed * 1000 + index + 1,
                flows=branch_flows,
                clock=clock,
                home=site,
                sites=(),
                own_failovers=False,
            )
            for index, site in enumerate(self.sites)
        }
        self._site_index = {profile_name(site): index for index, site in enumerate(self.sites)}
        self._origin = clock()
        self._step = 0
        self._lock = threading.RLock()
        self._bodies: dict[tuple[str, int | None, bool], bytes] = {}
        self._mirrored: dict[str, list[tuple[int, dict[str, Any]]]] = {}

    # -- sites ---------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The sites' profile names, the DC first: ``["dc", "austin", ...]``."""
        return [DC_PROFILE, *self.branch_worlds]

    @property
    def step(self) -> int:
        return self._step

    def world(self, name: str) -> DemoWorld:
        """The world a site's own flows come from (the DC's world for ``dc``)."""
        if name == DC_PROFILE:
            return self.dc
        return self.branch_worlds[name]

    def site(self, name: str) -> Site:
        return DC_SITE if name == DC_PROFILE else self.sites[self._site_index[name]]

    def view(self, name: str) -> SiteView:
        self.world(name)  # a KeyError for an unknown site, now rather than later
        return SiteView(self, name)

    def appliances(
        self, *, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD
    ) -> list[tuple[str, DemoAppliance]]:
        """One appliance per site, the DC first, each with its own sessions and faults."""
        return [
            (
                name,
                DemoAppliance(
                    username=username,
                    password=password,
                    clock=self.clock,
                    world=self.world(name),
                    table=self.view(name),
                ),
            )
            for name in self.names
        ]

    # -- time ----------------------------------------------------------------------

    def advance_to(self, now: float) -> int:
        """Step every world together up to clock reading ``now``; return how many steps
        ran.  As :meth:`DemoWorld.advance_to`: whole steps, catch-up capped."""
        with self._lock:
            due = math.floor((now - self._origin) / STEP_SECONDS) - self._step
            if due <= 0:
                return 0
            if due > self.max_catch_up_steps:
                self._origin += (due - self.max_catch_up_steps) * STEP_SECONDS
                due = self.max_catch_up_steps
            for _ in range(due):
                self._step += 1
                before = self.dc.failed_link
                self.dc.run_steps(1)
                for world in self.branch_worlds.values():
                    world.run_steps(1)
                if self.dc.failed_link != before:
                    self._follow_failure()
            self._forget()
            return due

    def fail_link(self, link: str) -> None:
        """Fail a WAN link now, at the DC or a branch (``"Austin-MPLS"``); it stays down
        until :meth:`restore_links` (or the DC's next failover)."""
        with self._lock:
            self.dc.fail_link(link)
            self._follow_failure()
            self._forget()

    def restore_links(self) -> None:
        with self._lock:
            self.dc.restore_links()
            self._follow_failure()
            self._forget()

    def _follow_failure(self) -> None:
        """The branches' own worlds take the DC world's failed link when it is theirs."""
        failed = self.dc.failed_link
        for name, world in self.branch_worlds.items():
            site = self.sites[self._site_index[name]]
            mine = failed if failed is not None and failed.startswith(f"{site.name}-") else None
            if mine == world.failed_link:
                continue
            if mine is None:
                world.restore_links()
            else:
                world.fail_link(mine)

    def _forget(self) -> None:
        self._bodies.clear()
        self._mirrored.clear()

    # -- answers -------------------------------------------------------------------

    def encode(
        self,
        name: str,
        max_stats: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        hostile: bool = False,
    ) -> bytes:
        """Site ``name``'s flows answer, ``{"flows": [...]}``; cached per step when unfiltered."""
        with self._lock:
            if name == DC_PROFILE:
                return self.dc.encode(max_stats, where=where, hostile=hostile)
            key = (name, max_stats, hostile)
            if not where:
                cached = self._bodies.get(key)
                if cached is not None:
                    return cached
            rows = self.snapshot(name, max_stats, where=where, hostile=hostile)
            body = json.dumps({"flows": rows}, ensure_ascii=False, separators=(",", ":"))
            encoded = body.encode("utf-8")
            if not where:
                self._bodies[key] = encoded
            return encoded

    def snapshot(
        self,
        name: str,
        max_stats: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        hostile: bool = False,
    ) -> list[dict[str, Any]]:
        """Site ``name``'s flows as its appliance sends them, table order.

        A branch's table interleaves the DC's flows to it (mirrored) with its own.
        """
        with self._lock:
            if name == DC_PROFILE:
                return self.dc.snapshot(max_stats, where=where, hostile=hostile)
            own = self.branch_worlds[name].snapshot(hostile=hostile)
            mirrored = [
                hostile_row(row, uid) if hostile and is_hostile(uid) else row
                for uid, row in self._mirrored_rows(name)
            ]
            ordered = [
                row
                for _, _, row in sorted(
                    [((i + 0.5) / len(mirrored), 0, row) for i, row in enumerate(mirrored)]
                    + [((i + 0.5) / len(own), 1, row) for i, row in enumerate(own)],
                    key=lambda item: (item[0], item[1]),
                )
            ]
            rows: list[dict[str, Any]] = []
            for row in ordered:
                if max_stats is not None and len(rows) >= max_stats:
                    break
                if where and any(row.get(field) != value for field, value in where.items()):
                    continue
                rows.append(row)
            return rows

    def _mirrored_rows(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        cached = self._mirrored.get(name)
        if cached is not None:
            return cached
        index = self._site_index[name]
        site = self.sites[index]
        step = self._step
        rows = [
            (uid, self._mirror(index, site, uid, links, row, step))
            for uid, links, row in self.dc.site_flows(site.name)
        ]
        self._mirrored[name] = rows
        return rows

    def _mirror(
        self,
        index: int,
        site: Site,
        uid: int,
        links: tuple[str, ...],
        row: dict[str, str],
        step: int,
    ) -> dict[str, Any]:
        """The DC's flow ``row`` as branch ``site`` reports it."""
        seed = self.seed
        dc_sends = row["direction"] == LAN_TO_WAN
        # The receiving end counts a little less than the sender sent.
        loss = 0.002 + 0.01 * _unit(seed, 1, index, uid)
        factor = 1.0 - loss if dc_sends else 1.0 / (1.0 - loss)
        rate = factor * (1.0 + RATE_NOISE * (2.0 * _unit(seed, 2, index, uid, step) - 1.0))
        # The receiver saw the flow's first packet one WAN latency after the sender.
        latency_ms = 5 + int(35 * _unit(seed, 3, index, uid))
        age = int(row["age"]) + (-latency_ms if dc_sends else latency_ms)
        mirrored: dict[str, Any] = dict(row)
        mirrored["direction"] = WAN_TO_LAN if dc_sends else LAN_TO_WAN
        mirrored["age"] = str(max(0, age))
        for field in ("customer_kbps", "pps", "ipsec_overhead_kbps", "virtual_path_overhead_kbps"):
            mirrored[field] = f"{float(row[field]) * rate:.3f}"
        for field in ("bytes", "packets", "hitcount", "hdr_compression_bytes"):
            mirrored[field] = str(int(int(row[field]) * factor))
        local = row["src_ip"] if self._at(site, row["src_ip"]) else row["dest_ip"]
        mirrored["lan_gw_ip"] = _gateway(local)
        if _unit(seed, 4, index, uid) < 1.0 / REMARK_EVERY:
            mirrored["ip_dscp"] = _remark(row["ip_dscp"])
        if (
            row["transmission_type"] == "Load Balanced Paths"
            and _unit(seed, 5, index, uid) < 1.0 / ASYMMETRY_EVERY
        ):
            mirrored["path"] = self._other_path(site, links, dc_sends) or row["path"]
        return mirrored

    @staticmethod
    def _at(site: Site, address: str) -> bool:
        return address.startswith((f"10.{site.net}.", f"fd00:{site.net}:"))

    def _other_path(self, site: Site, links: tuple[str, ...], dc_sends: bool) -> str | None:
        """Another member path of the virtual path than ``links``, named as it is travelled."""
        current = tuple(link.split("-", 1)[1] for link in links)
        others = [
            (pair, weight)
            for pair, weight in site_pairs(DC_SITE, site, self.dc.failed_link)
            if pair != current
        ]
        if not others:
            return None
        (dc_link, remote), _ = max(others, key=lambda item: item[1])
        dc_end, site_end = f"{DC_SITE.name}-{dc_link}", f"{site.name}-{remote}"
        return f"{dc_end}->{site_end}" if dc_sends else f"{site_end}->{dc_end}"


def demo_fleet(
    seed: int = DEFAULT_SEED,
    clock: Callable[[], float] = time.monotonic,
    *,
    branches: int = DEFAULT_BRANCHES,
    flows: int = DEFAULT_FLOWS,
    branch_flows: int = DEFAULT_BRANCH_FLOWS,
) -> list[tuple[str, DemoAppliance]]:
    """The demo fleet's appliances by site name, the DC first: ``[("dc", ...), ("austin",
    ...), ...]``.  They share one :class:`DemoFleet` (``appliance.table.fleet``)."""
    fleet = DemoFleet(
        seed=seed, branches=branches, flows=flows, branch_flows=branch_flows, clock=clock
    )
    return fleet.appliances()


def appliance_source(name: str, appliance: DemoAppliance, *, timeout: float = 10.0) -> ClientSource:
    """A site's appliance behind the real Nitro client, in process."""
    client = NitroClient(
        f"http://{name}.demo.invalid",
        appliance.username,
        appliance.password,
        timeout=timeout,
        transport=DemoTransport(appliance),
    )
    return ClientSource(client, f"{appliance.username}@{name}")


def demo_fleet_sources(
    seed: int = DEFAULT_SEED,
    clock: Callable[[], float] = time.monotonic,
    *,
    branches: int = DEFAULT_BRANCHES,
    flows: int = DEFAULT_FLOWS,
    branch_flows: int = DEFAULT_BRANCH_FLOWS,
    timeout: float = 10.0,
) -> list[tuple[str, ClientSource]]:
    """The demo fleet as flow sources by site name, the DC first, each through the real
    Nitro client over the in-process transport (as ``--demo`` is)."""
    return [
        (name, appliance_source(name, appliance, timeout=timeout))
        for name, appliance in demo_fleet(
            seed, clock, branches=branches, flows=flows, branch_flows=branch_flows
        )
    ]


def fleet_config(urls: list[tuple[str, str]], *, seed: int | None = None) -> str:
    """A config file for the fleet served at ``urls`` (site name, base URL), DC first:
    one profile per site and ``[fleets.demo]`` naming them all.  All of it is valid TOML;
    the explanations are comments."""
    names = [name for name, _ in urls]
    seeded = "" if seed is None else f", seed {seed}"
    lines = [
        f"# flowtop demo fleet: {len(urls)} simulated appliances{seeded}; Ctrl-C stops them.",
        "# Save this text as a config file, e.g. fleet.toml",
        f"# (flowtop demo-server --fleet {len(urls)} > fleet.toml does), then watch:",
        f"#   the fleet:    flowtop --config fleet.toml --fleet {FLEET_NAME}",
        f"#   one site:     flowtop --config fleet.toml --profile {names[-1]}",
        "# The demo's password is no secret; a real profile's password_command asks a",
        "# password manager instead.",
        "",
    ]
    for name, url in urls:
        lines += [
            f"[profiles.{name}]",
            f"url = {json.dumps(url)}",
            f"user = {json.dumps(DEMO_USERNAME)}",
            f"password_command = {json.dumps('echo ' + DEMO_PASSWORD)}",
            "",
        ]
    lines += [
        f"[fleets.{FLEET_NAME}]",
        "profiles = [" + ", ".join(json.dumps(name) for name in names) + "]",
        "",
    ]
    return "\n".join(lines)
