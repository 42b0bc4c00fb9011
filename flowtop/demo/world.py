"""The simulated flow table of the demo appliance, evolving in fixed one-second steps.

The appliance is a data-centre site ("DC") with three WAN links and virtual paths to
three remote sites.  Flows start and end, their rates burst and calm, their counters
and ages grow, and now and then a WAN link fails: most flows on paths using it move to
another path, and move back when the link recovers.  That is the default; the demo
fleet (:mod:`flowtop.demo.fleet`) homes worlds at other sites and reaches other ones.

Every random choice comes from one ``random.Random(seed)``, and time only enters through
the number of whole steps elapsed, so the same seed and the same sequence of clock
readings give identical answers.  Not thread-safe: the appliance serialises access.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from flowtop.demo.faults import hostile_row, is_hostile

STEP_SECONDS: Final = 1.0
DEFAULT_FLOWS: Final = 1200
# A step costs one to two milliseconds at the default size; a long-idle demo catches up at
# most this much simulated time and skips the rest instead of stalling the next answer.
MAX_CATCH_UP_STEPS: Final = 300

LAN_TO_WAN: Final = "LAN to WAN"
WAN_TO_LAN: Final = "WAN to LAN"

FailoverEntry = tuple[int, str, str, int]


@dataclass(frozen=True, slots=True)
class _App:
    name: str
    ipp: int
    ports: tuple[int, ...]
    class_type: str
    dscp: tuple[str, ...]
    packet_size: float
    kbps: tuple[float, float]  # range of a flow's typical rate, drawn log-uniformly
    end_chance: float  # per step
    share: float  # share of the standing flow table
    kind: str  # "saas": servers on the internet; "internal": corporate; "dns"
    servers_v4: tuple[str, ...] = ()  # /16 prefixes of the app's public servers
    servers_v6: tuple[str, ...] = ()  # /32 prefixes
    volatility: float = 0.3
    burst: float = 0.1  # chance that a new rate mode is a burst
    calm: float = 0.2  # chance that it is a quiet spell
    dc_hosted: bool = False  # internal servers live in the DC: clients come over the WAN


# Positional: name, IP protocol, server ports, class, DSCP choices, packet size, kbps range,
# end chance per step, share of the table, kind.
# fmt: off
_APPS: Final[tuple[_App, ...]] = (
    _App("Zoom", 17, (8801, 8802), "realtime", ("ef",), 900, (300, 2500), 0.004, 5, "saas",
         ("170.114", "3.7"), ("2407:30c0",), volatility=0.1, burst=0.0, calm=0.05),
    _App("Microsoft Teams", 17, (3478, 3479, 3480, 3481), "realtime", ("ef", "af41"), 800,
         (100, 2000), 0.004, 7, "saas",
         ("52.112", "52.114"), ("2603:1063",), volatility=0.1, burst=0.0, calm=0.05),
    _App("Webex", 17, (9000,), "realtime", ("ef", "af41"), 900, (150, 2000), 0.004, 3, "saas",
         ("170.72", "170.133"), ("2607:fcf0",), volatility=0.1, burst=0.0, calm=0.05),
    _App("SIP", 17, (5060,), "realtime", ("cs3",), 600, (0.5, 6), 0.01, 2, "internal",
         volatility=0.5, burst=0.05, calm=0.3, dc_hosted=True),
    _App("RTP Voice", 17, tuple(range(16384, 16484, 2)), "realtime", ("ef",), 214, (64, 90),
         0.006, 4, "internal", volatility=0.03, burst=0.0, calm=0.02),
    _App("Office365", 6, (443,), "interactive", ("af21", "default"), 1100, (5, 800), 0.02, 10,
         "saas", ("52.96", "40.97", "13.107"), ("2603:1006", "2620:1ec")),
    _App("Salesforce", 6, (443,), "interactive", ("af21", "af22"), 1000, (2, 300), 0.02, 5,
         "saas", ("13.110", "136.146"), ("2a03:2880",)),
    _App("Slack", 6, (443,), "interactive", ("af21", "default"), 700, (1, 60), 0.01, 3, "saas",
         ("34.237", "52.88")),
    _App("SSH", 6, (22,), "interactive", ("af21", "cs2"), 150, (0.5, 40), 0.003, 4, "internal",
         volatility=0.6, burst=0.15, calm=0.4),
    _App("Citrix ICA", 6, (2598, 1494), "interactive", ("af41", "af42"), 500, (30, 1500), 0.003,
         6, "internal", volatility=0.4, burst=0.15, calm=0.25, dc_hosted=True),
    _App("SAP", 6, (3200, 3300), "interactive", ("af31", "af32"), 900, (10, 600), 0.006, 5,
         "internal", dc_hosted=True),
    _App("Oracle DB", 6, (1521,), "interactive", ("af31", "af33"), 1000, (20, 2000), 0.008, 3,
         "internal", dc_hosted=True),
    _App("LDAP", 6, (389, 636), "interactive", ("cs2", "default"), 400, (1, 50), 0.03, 2,
         "internal", dc_hosted=True),
    _App("BGP", 6, (179,), "interactive", ("cs6",), 120, (0.2, 2), 0.0005, 1, "internal",
         volatility=0.2, burst=0.02, calm=0.0),
    _App("DNS", 17, (53,), "interactive", ("default", "cs2"), 120, (0.5, 4), 0.15, 6, "dns",
         volatility=0.5, burst=0.0, calm=0.0),
    _App("NTP", 17, (123,), "bulk", ("default",), 90, (0.1, 0.5), 0.1, 1, "dns",
         volatility=0.2, burst=0.0, calm=0.0),
    _App("HTTPS", 6, (443,), "bulk", ("default", "af11"), 1200, (5, 5000), 0.03, 12, "saas",
         ("104.16", "151.101", "23.45"), ("2606:4700", "2a04:4e42"),
         volatility=0.6, burst=0.15, calm=0.3),
    _App("HTTP", 6, (80, 8080), "bulk", ("default", "cs1"), 1200, (5, 3000), 0.04, 3, "saas",
         ("93.184", "23.45"), volatility=0.6, burst=0.15, calm=0.3),
    _App("YouTube", 17, (443,), "bulk", ("af11", "cs1"), 1250, (500, 8000), 0.01, 5, "saas",
         ("142.250", "172.217"), ("2a00:1450",), volatility=0.5, burst=0.2, calm=0.2),
    _App("Dropbox", 6, (443,), "bulk", ("af11", "af12"), 1400, (50, 20000), 0.01, 3, "saas",
         ("162.125",), ("2620:100",), volatility=0.6, burst=0.25, calm=0.3),
    _App("Windows Update", 6, (443, 80), "bulk", ("cs1",), 1450, (100, 30000), 0.01, 2, "saas",
         ("13.107", "20.190"), ("2620:1ec",), volatility=0.5, burst=0.2, calm=0.2),
    _App("Microsoft SMB", 6, (445,), "bulk", ("af11", "af12", "af13"), 1350, (20, 40000), 0.008,
         4, "internal", volatility=0.6, burst=0.25, calm=0.35, dc_hosted=True),
    _App("SNMP", 17, (161,), "bulk", ("cs2",), 200, (0.5, 10), 0.05, 1, "internal",
         dc_hosted=True),
    _App("Syslog", 17, (514,), "bulk", ("cs2", "cs1"), 300, (0.2, 20), 0.01, 1, "internal",
         burst=0.1, dc_hosted=True),
    _App("ICMP", 1, (0,), "interactive", ("default", "cs6"), 84, (0.5, 1.5), 0.05, 2, "internal",
         volatility=0.1, burst=0.0, calm=0.0),
)
# fmt: on

_CLASS_IDS: Final = {
    "realtime": ("0", "1", "2"),
    "interactive": ("4", "5", "6", "7"),
    "bulk": ("10", "11", "12"),
}
_TRANSMISSION: Final = {
    "realtime": (("Persistent Path", 0.6), ("Duplicate Paths", 0.4)),
    "interactive": (("Persistent Path", 0.7), ("Load Balanced Paths", 0.3)),
    "bulk": (("Load Balanced Paths", 0.6), ("Persistent Path", 0.4)),
}
_SERVICE_MIX: Final = {
    "saas": (("Internet", 0.75), ("Virtual Path", 0.15), ("Passthrough", 0.10)),
    "internal": (("Virtual Path", 0.70), ("Intranet", 0.15), ("Local", 0.15)),
    "dns": (("Local", 0.40), ("Virtual Path", 0.30), ("Internet", 0.30)),
}
_RULE_BASE: Final = {
    "Virtual Path": 100,
    "Internet": 200,
    "Intranet": 300,
    "Local": 400,
    "Passthrough": 500,
}

_DC: Final = "DC"
_DC_NET: Final = 1  # 10.1.0.0/16, fd00:1::/32
_USER_VLANS: Final = (10, 20, 30)
_SERVER_VLAN: Final = 40
_LINK_WEIGHT: Final = {"MPLS": 5.0, "INET": 4.0, "LTE": 1.0}
_DC_LINKS: Final = ("MPLS", "INET", "LTE")


@dataclass(frozen=True, slots=True)
class Site:
    """A site of the simulated network: the appliance's own (its home) or a remote one."""

    name: str
    share: float  # weight among the remote sites of virtual path flows
    net: int  # second octet of its 10.x.0.0/16 and second group of fd00:x::/32
    links: tuple[str, ...]


DC_SITE: Final = Site(_DC, 1.0, _DC_NET, _DC_LINKS)
_SITES: Final = (
    Site("Branch", 0.5, 20, ("MPLS", "INET", "LTE")),
    Site("London", 0.3, 30, ("MPLS", "INET")),
    Site("Austin", 0.2, 40, ("INET", "LTE")),
)
# Services that leave the DC on a single WAN link, and the links each may use.
_SINGLE_LINK_CHOICES: Final = {
    "Internet": (("INET", 0.9), ("LTE", 0.1)),
    "Intranet": (("MPLS", 0.85), ("INET", 0.15)),
}
_DNS_RESOLVERS_V4: Final = ("8.8.8.8", "1.1.1.1", "9.9.9.9")
_DNS_RESOLVERS_V6: Final = ("2001:4860:4860::8888", "2606:4700:4700::1111")
_INTRANET_NETS: Final = ("172.16", "172.20", "192.168")


def site_pairs(home: Site, site: Site, down: str | None) -> list[tuple[tuple[str, str], float]]:
    """The (home link, site link) pairs of a site's virtual path with weights, avoiding
    ``down``.

    MPLS only reaches MPLS; internet and LTE links reach each other.
    """
    pairs = []
    for dc_link in home.links:
        for remote in site.links:
            if (dc_link == "MPLS") != (remote == "MPLS"):
                continue
            if down in (f"{home.name}-{dc_link}", f"{site.name}-{remote}"):
                continue
            pairs.append(((dc_link, remote), _LINK_WEIGHT[dc_link] * _LINK_WEIGHT[remote]))
    return pairs


class _Flow:
    """One simulated flow.  Counters are floats here and whole numbers on the wire."""

    __slots__ = (
        "base",
        "bytes",
        "created",
        "direction",
        "duplicate",
        "end_chance",
        "hdr",
        "hdr_per_packet",
        "hit_factor",
        "hits",
        "home",
        "ipsec_per_packet",
        "kbps",
        "links",
        "mode_left",
        "mode_mult",
        "offset_ms",
        "packet_size",
        "packets",
        "path",
        "path_json",
        "pps",
        "profile",
        "site",
        "static_json",
        "text",
        "uid",
        "vp_per_packet",
    )

    def __init__(self, uid: int, profile: _App, text: dict[str, str]) -> None:
        self.uid = uid
        self.profile = profile
        self.text = text
        self.static_json = json.dumps(text, separators=(",", ":"))[1:-1]
        self.direction = text["direction"]
        self.site: Site | None = None
        self.links: tuple[str, ...] = ()
        self.home: tuple[str, ...] | None = None  # links before a failover moved it
        self.path = ""
        self.path_json = '""'
        self.created = 0
        self.offset_ms = 0
        self.base = 1.0
        self.kbps = 1.0
        self.pps = 0.0
        self.packet_size = profile.packet_size
        self.mode_left = 0
        self.mode_mult = 1.0
        self.end_chance = profile.end_chance
        self.bytes = 0.0
        self.packets = 0.0
        self.hits = 0.0
        self.hit_factor = 1.0
        self.hdr = 0.0
        self.hdr_per_packet = 0.0
        self.ipsec_per_packet = 0.0
        self.vp_per_packet = 0.0
        self.duplicate = False

    def set_links(self, links: tuple[str, ...]) -> None:
        self.links = links
        if len(links) == 2:
            dc_side, site_side = links
            self.path = (
                f"{dc_side}->{site_side}"
                if self.direction == LAN_TO_WAN
                else f"{site_side}->{dc_side}"
            )
        elif links:
            self.path = links[0]
        else:
            self.path = ""
        self.path_json = json.dumps(self.path)

    def row(self, step: int) -> dict[str, str]:
        text = self.text
        kbps = self.kbps
        pps = self.pps
        return {
            "age": str((step - self.created) * 1000 + self.offset_ms),
            "app_rule_id": text["app_rule_id"],
            "application": text["application"],
            "bytes": str(int(self.bytes)),
            "class_type": text["class_type"],
            "customer_kbps": f"{kbps:.3f}",
            "dest_ip": text["dest_ip"],
            "dest_port": text["dest_port"],
            "direction": text["direction"],
            "hdr_compression_bytes": str(int(self.hdr)),
            "hitcount": str(int(self.hits)),
            "ip_dscp": text["ip_dscp"],
            "ipp": text["ipp"],
            "ipsec_overhead_kbps": f"{pps * self.ipsec_per_packet * 0.008:.3f}",
            "lan_gw_ip": text["lan_gw_ip"],
            "packets": str(int(self.packets)),
            "path": self.path,
            "pps": f"{pps:.3f}",
            "rule_id": text["rule_id"],
            "service_name": text["service_name"],
            "service_type": text["service_type"],
            "src_ip": text["src_ip"],
            "src_port": text["src_port"],
            "transmission_type": text["transmission_type"],
            "virtual_path_overhead_kbps": f"{self._vp_overhead():.3f}",
            "vpathclass": text["vpathclass"],
        }

    def _vp_overhead(self) -> float:
        overhead = self.pps * self.vp_per_packet * 0.008
        return overhead + self.kbps if self.duplicate else overhead

    def to_json(self, step: int) -> str:
        """The flow as a JSON object; the same as :meth:`row`, without building a dict."""
        pps = self.pps
        return (
            f'{{"age":"{(step - self.created) * 1000 + self.offset_ms}",'
            f'"bytes":"{int(self.bytes)}",'
            f'"customer_kbps":"{self.kbps:.3f}",'
            f'"hdr_compression_bytes":"{int(self.hdr)}",'
            f'"hitcount":"{int(self.hits)}",'
            f'"ipsec_overhead_kbps":"{pps * self.ipsec_per_packet * 0.008:.3f}",'
            f'"packets":"{int(self.packets)}",'
            f'"path":{self.path_json},'
            f'"pps":"{pps:.3f}",'
            f'"virtual_path_overhead_kbps":"{self._vp_overhead():.3f}",'
            f"{self.static_json}}}"
        )


class DemoWorld:
    """A flow table that evolves with a clock.  Call :meth:`advance_to`, then read it."""

    def __init__(
        self,
        *,
        seed: int = 1,
        flows: int = DEFAULT_FLOWS,
        clock: Callable[[], float] = time.monotonic,
        max_catch_up_steps: int = MAX_CATCH_UP_STEPS,
        home: Site = DC_SITE,
        sites: Sequence[Site] = _SITES,
        own_failovers: bool = True,
        remote_link_failures: float = 0.0,
    ) -> None:
        """``home`` is the appliance's own site and ``sites`` the remote ones its virtual
        paths reach (none: no virtual path flows).  Without ``own_failovers`` no link fails
        by itself; :meth:`fail_link` and :meth:`restore_links` drive failovers instead.
        ``remote_link_failures`` is the share of failovers after the first that fail a
        remote site's link rather than one of the home's (which carry more flows, so are
        chosen more often otherwise).
        """
        if flows < 0:
            raise ValueError("flows must not be negative")
        self.home = home
        self.sites = tuple(sites)
        self.own_failovers = own_failovers
        self.remote_link_failures = remote_link_failures
        self._site_weights = [site.share for site in self.sites]
        self._service_mix = {
            kind: tuple(
                (service, weight)
                for service, weight in mix
                if self.sites or service != "Virtual Path"
            )
            for kind, mix in _SERVICE_MIX.items()
        }
        self._single_link_choices = {
            service: tuple((link, weight) for link, weight in choices if link in home.links)
            for service, choices in _SINGLE_LINK_CHOICES.items()
        }
        self._edge_gw = f"10.{home.net}.0.1"
        self._edge_gw_v6 = f"fd00:{home.net}::1"
        self.target = flows
        self.clock = clock
        self.max_catch_up_steps = max_catch_up_steps
        self.failover_log: list[FailoverEntry] = []
        self.failed_link: str | None = None
        self._rng = random.Random(seed)
        self._origin = clock()
        self._step = 0
        self._next_uid = 0
        self._cache: dict[tuple[int | None, bool], bytes] = {}
        rng = self._rng
        self._app_weights = [app.share for app in _APPS]
        # New flows replace ended ones in proportion to share x end chance, which keeps
        # the mix of the table steady although short flows end far more often.
        self._arrival_weights = [app.share * app.end_chance for app in _APPS]
        self._server_pools = {
            app.name: (
                [self._public_v4(prefix) for prefix in app.servers_v4 for _ in range(4)],
                [self._public_v6(prefix) for prefix in app.servers_v6 for _ in range(3)],
            )
            for app in _APPS
        }
        self._dc_servers = rng.sample(range(10, 80), 24)
        self._next_failure = rng.randint(20, 30)
        self._restore_at: int | None = None
        self._flows: list[_Flow] = [self._new_flow(initial=True) for _ in range(flows)]

    # -- reading -------------------------------------------------------------------

    @property
    def step(self) -> int:
        """Whole simulated seconds run so far."""
        return self._step

    def __len__(self) -> int:
        return len(self._flows)

    def snapshot(
        self,
        max_stats: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        hostile: bool = False,
    ) -> list[dict[str, Any]]:
        """The flows as the appliance sends them: 26 string fields each, table order.

        ``where`` keeps the flows whose fields equal the given strings, before the cap.
        ``hostile`` applies :func:`~flowtop.demo.faults.hostile_row`.
        """
        step = self._step
        rows: list[dict[str, Any]] = []
        for flow in self._flows:
            if max_stats is not None and len(rows) >= max_stats:
                break
            row = flow.row(step)
            if where and any(row.get(name) != value for name, value in where.items()):
                continue
            rows.append(hostile_row(row, flow.uid) if hostile else row)
        return rows

    def site_flows(self, site: str) -> list[tuple[int, tuple[str, ...], dict[str, str]]]:
        """The virtual path flows to the remote site named ``site``, table order: each
        one's identity, its (home link, site link) and its row as :meth:`snapshot` has it."""
        step = self._step
        return [
            (flow.uid, flow.links, flow.row(step))
            for flow in self._flows
            if flow.site is not None and flow.site.name == site
        ]

    def encode(
        self,
        max_stats: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        hostile: bool = False,
    ) -> bytes:
        """The body of a flows answer, ``{"flows": [...]}``; cached per step when unfiltered."""
        if where:
            rows = self.snapshot(max_stats, where=where, hostile=hostile)
            document = {"flows": rows}
            return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        key = (max_stats, hostile)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        flows = self._flows if max_stats is None else self._flows[:max_stats]
        step = self._step
        if hostile and any(is_hostile(flow.uid) for flow in flows):
            parts = [
                json.dumps(
                    hostile_row(flow.row(step), flow.uid),
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                if is_hostile(flow.uid)
                else flow.to_json(step)
                for flow in flows
            ]
        else:
            parts = [flow.to_json(step) for flow in flows]
        body = ('{"flows":[' + ",".join(parts) + "]}").encode("utf-8")
        self._cache[key] = body
        return body

    # -- time ----------------------------------------------------------------------

    def advance_to(self, now: float) -> int:
        """Run every whole step elapsed up to clock reading ``now``; return how many ran.

        A clock that went backwards runs nothing.  Beyond ``max_catch_up_steps`` the
        remaining time is skipped, not simulated.
        """
        due = math.floor((now - self._origin) / STEP_SECONDS) - self._step
        if due <= 0:
            return 0
        if due > self.max_catch_up_steps:
            self._origin += (due - self.max_catch_up_steps) * STEP_SECONDS
            due = self.max_catch_up_steps
        self.run_steps(due)
        return due

    def run_steps(self, count: int = 1) -> None:
        """Run ``count`` steps now, whatever the clock says (a fleet steps its worlds
        together this way)."""
        for _ in range(count):
            self._run_step()
        self._cache.clear()

    def advance(self) -> int:
        """:meth:`advance_to` the world's own clock."""
        return self.advance_to(self.clock())

    def _run_step(self) -> None:
        self._step += 1
        step = self._step
        rng = self._rng
        random_ = rng.random
        survivors: list[_Flow] = []
        keep = survivors.append
        for flow in self._flows:
            if random_() < flow.end_chance:
                continue
            keep(flow)
            flow.mode_left -= 1
            if flow.mode_left <= 0:
                self._new_mode(flow)
            profile = flow.profile
            target = flow.base * flow.mode_mult
            kbps = (flow.kbps + target) * 0.5 * (1.0 + profile.volatility * (random_() - 0.5))
            if kbps < 0.05:
                kbps = 0.05
            flow.kbps = kbps
            pps = kbps * 125.0 / flow.packet_size
            flow.pps = pps
            flow.bytes += kbps * 125.0 * STEP_SECONDS
            flow.packets += pps * STEP_SECONDS
            flow.hits += pps * STEP_SECONDS * flow.hit_factor
            flow.hdr += pps * STEP_SECONDS * flow.hdr_per_packet
        spread = max(1, self.target // 100) if self.target else 0
        starts = self.target - len(survivors) + rng.randint(-spread, spread)
        for _ in range(max(0, starts)):
            survivors.insert(rng.randrange(len(survivors) + 1), self._new_flow(initial=False))
        self._flows = survivors
        if not self.own_failovers:
            return
        if step == self._restore_at:
            self._restore()
        elif step >= self._next_failure and self.failed_link is None:
            self._fail()

    def _new_mode(self, flow: _Flow) -> None:
        rng = self._rng
        profile = flow.profile
        roll = rng.random()
        if roll < profile.burst:
            flow.mode_mult = rng.uniform(3.0, 10.0)
            flow.mode_left = rng.randint(2, 12)
        elif roll < profile.burst + profile.calm:
            flow.mode_mult = rng.uniform(0.01, 0.2)
            flow.mode_left = rng.randint(5, 60)
        else:
            flow.mode_mult = rng.uniform(0.7, 1.3)
            flow.mode_left = rng.randint(5, 40)

    # -- failovers -----------------------------------------------------------------

    def _fail(self) -> None:
        rng = self._rng
        if not self.failover_log:
            # The first one fails a busy DC link so that even a short demo shows a big move.
            home = self.home
            busy = tuple(f"{home.name}-{name}" for name in ("MPLS", "INET") if name in home.links)
            link = rng.choice(busy or (f"{home.name}-{home.links[0]}",))
        else:
            usage: dict[str, int] = {}
            for flow in self._flows:
                for name in flow.links:
                    usage[name] = usage.get(name, 0) + 1
            names = sorted(usage)
            if not names:
                self._schedule_next()
                return
            if self.remote_link_failures and rng.random() < self.remote_link_failures:
                prefix = f"{self.home.name}-"
                names = [name for name in names if not name.startswith(prefix)] or names
            # Square roots keep the busiest link from failing nearly every time.
            link = rng.choices(names, weights=[math.sqrt(usage[name]) for name in names])[0]
        self._move_off(link)
        self._restore_at = self._step + rng.randint(20, 50)
        self._schedule_next()

    def fail_link(self, link: str) -> None:
        """Fail WAN link ``link`` now (as ``"Austin-MPLS"``): most flows using it move to
        another path.  A link already down is restored first."""
        if self.failed_link is not None:
            self.restore_links()
        self._move_off(link)
        self._cache.clear()

    def restore_links(self) -> None:
        """Bring the failed link back now; most moved flows return to their path."""
        if self.failed_link is not None:
            self._restore()
        self._cache.clear()

    def _move_off(self, link: str) -> None:
        rng = self._rng
        self.failed_link = link
        moves: dict[tuple[str, str], int] = {}
        for flow in self._flows:
            if link not in flow.links or rng.random() >= 0.9:
                continue
            new_links = self._reroute(flow, link)
            if new_links is None:
                continue
            old_path = flow.path
            flow.home = flow.links
            flow.set_links(new_links)
            moves[(old_path, flow.path)] = moves.get((old_path, flow.path), 0) + 1
        self._log(moves)

    def _schedule_next(self) -> None:
        earliest = (self._restore_at or self._step) + 10
        self._next_failure = max(earliest, self._step + self._rng.randint(60, 120))

    def _restore(self) -> None:
        self._restore_at = None
        self.failed_link = None
        moves: dict[tuple[str, str], int] = {}
        for flow in self._flows:
            home = flow.home
            if home is None:
                continue
            flow.home = None
            # A few flows stick to the path they were moved to.
            if self._rng.random() >= 0.95:
                continue
            old_path = flow.path
            flow.set_links(home)
            moves[(old_path, flow.path)] = moves.get((old_path, flow.path), 0) + 1
        self._log(moves)

    def _log(self, moves: Mapping[tuple[str, str], int]) -> None:
        for (old_path, new_path), count in sorted(moves.items()):
            self.failover_log.append((self._step, old_path, new_path, count))

    def _reroute(self, flow: _Flow, down: str) -> tuple[str, ...] | None:
        if flow.site is not None:
            pairs = site_pairs(self.home, flow.site, down)
            if not pairs:
                return None
            (dc_link, remote), _ = max(pairs, key=lambda pair: pair[1])
            return (f"{self.home.name}-{dc_link}", f"{flow.site.name}-{remote}")
        service = flow.text["service_type"]
        for link, _ in self._single_link_choices.get(service, ()):
            if f"{self.home.name}-{link}" != down:
                return (f"{self.home.name}-{link}",)
        return None

    # -- making flows --------------------------------------------------------------

    def _pick(self, options: Sequence[tuple[str, float]]) -> str:
        roll = self._rng.random() * sum(weight for _, weight in options)
        for value, weight in options:
            roll -= weight
            if roll < 0:
                return value
        return options[-1][0]

    def _public_v4(self, prefix: str) -> str:
        return f"{prefix}.{self._rng.randint(0, 255)}.{self._rng.randint(1, 254)}"

    def _public_v6(self, prefix: str) -> str:
        return f"{prefix}:{self._rng.randint(1, 0xFFFF):x}::{self._rng.randint(1, 0xFFFF):x}"

    def _local_host(self, v6: bool, vlan: int) -> tuple[str, str]:
        """A host on a DC LAN segment and its gateway."""
        host = self._rng.randint(2, 250)
        if v6:
            net = self.home.net
            return f"fd00:{net}:{vlan}::{host:x}", f"fd00:{net}:{vlan}::1"
        return f"10.{self.home.net}.{vlan}.{host}", f"10.{self.home.net}.{vlan}.1"

    def _remote_host(self, site: Site, v6: bool) -> str:
        vlan = self._rng.choice(_USER_VLANS)
        host = self._rng.randint(2, 250)
        return f"fd00:{site.net}:{vlan}::{host:x}" if v6 else f"10.{site.net}.{vlan}.{host}"

    def _new_flow(self, *, initial: bool) -> _Flow:
        rng = self._rng
        weights = self._app_weights if initial else self._arrival_weights
        app_index = rng.choices(range(len(_APPS)), weights=weights)[0]
        app = _APPS[app_index]
        service = self._pick(self._service_mix[app.kind])
        has_v6 = app.kind != "saas" or bool(self._server_pools[app.name][1])
        v6 = has_v6 and rng.random() < 0.12
        site: Site | None = None
        if service == "Virtual Path":
            sites = self.sites
            site = sites[rng.choices(range(len(sites)), weights=self._site_weights)[0]]

        client_ip, server_ip, server_local, local_gw = self._endpoints(app, service, site, v6)
        port = rng.choice(app.ports)
        client_port = 0 if app.ipp == 1 else rng.randint(49152, 65535)
        if app.name == "BGP" or (app.name == "SIP" and rng.random() < 0.5):
            client_port = port  # peers talk from the well-known port too
        ipp = 58 if (app.ipp == 1 and v6) else app.ipp

        # This flow is one direction of the conversation.
        lan_to_wan = rng.random() < 0.55
        client_sends = lan_to_wan != server_local
        if client_sends:
            src, sport, dst, dport = client_ip, client_port, server_ip, port
        else:
            src, sport, dst, dport = server_ip, port, client_ip, client_port

        class_type = app.class_type
        transmission = (
            self._pick(_TRANSMISSION[class_type])
            if service == "Virtual Path"
            else "Persistent Path"
        )
        text = {
            "app_rule_id": str(app_index + 1),
            "application": app.name,
            "class_type": class_type,
            "dest_ip": dst,
            "dest_port": str(dport),
            "direction": LAN_TO_WAN if lan_to_wan else WAN_TO_LAN,
            "ip_dscp": rng.choice(app.dscp),
            "ipp": str(ipp),
            "lan_gw_ip": local_gw,
            "rule_id": str(_RULE_BASE[service] + app_index % 7),
            "service_name": self._service_name(service, site),
            "service_type": service,
            "src_ip": src,
            "src_port": str(sport),
            "transmission_type": transmission,
            "vpathclass": rng.choice(_CLASS_IDS[class_type]),
        }
        flow = _Flow(self._next_uid, app, text)
        self._next_uid += 1
        flow.site = site
        flow.set_links(self._links_for(service, site))

        low, high = app.kbps
        base = math.exp(rng.uniform(math.log(low), math.log(high)))
        if class_type != "realtime" and client_sends:
            # Requests and acknowledgements: the server sends the bulk of a conversation.
            base *= 0.08
            flow.packet_size = min(app.packet_size, rng.uniform(90.0, 290.0))
        flow.base = base
        flow.kbps = base * rng.uniform(0.7, 1.3)
        flow.pps = flow.kbps * 125.0 / flow.packet_size
        flow.hit_factor = rng.uniform(1.0, 1.05)
        if service == "Virtual Path":
            flow.ipsec_per_packet = rng.uniform(50.0, 73.0)
            flow.vp_per_packet = rng.uniform(28.0, 40.0)
            flow.duplicate = transmission == "Duplicate Paths"
            flow.hdr_per_packet = (
                rng.uniform(20.0, 36.0) if class_type == "realtime" else rng.uniform(0.0, 6.0)
            )
        self._new_mode(flow)

        if initial:
            # Flows already running when the appliance is first looked at.
            age = min(int(rng.expovariate(app.end_chance)), 6 * 3600)
            flow.created = self._step - age
            flow.offset_ms = rng.randint(0, 999)
            elapsed = age + flow.offset_ms / 1000.0
        else:
            flow.created = self._step
            flow.offset_ms = rng.randint(0, 999)
            elapsed = flow.offset_ms / 1000.0
        # Totals as if the flow had run near its typical rate so far.
        average_kbps = base * rng.uniform(0.5, 1.1)
        flow.bytes = average_kbps * 125.0 * elapsed
        flow.packets = flow.bytes / flow.packet_size
        flow.hits = flow.packets * flow.hit_factor
        flow.hdr = flow.packets * flow.hdr_per_packet
        return flow

    def _endpoints(
        self, app: _App, service: str, site: Site | None, v6: bool
    ) -> tuple[str, str, bool, str]:
        """(client, server, whether the server is the end on this appliance's LAN, LAN gateway).

        The LAN gateway is that of whichever end sits on the DC's LAN.
        """
        rng = self._rng
        v4_pool, v6_pool = self._server_pools[app.name]
        if app.kind == "saas":
            server = rng.choice(v6_pool if v6 and v6_pool else v4_pool)
            if site is not None:
                # A branch's internet traffic backhauled to the DC's internet breakout.
                gateway = self._edge_gw_v6 if v6 else self._edge_gw
                return self._remote_host(site, v6), server, True, gateway
            client, gateway = self._local_host(v6, rng.choice(_USER_VLANS))
            return client, server, False, gateway
        if app.kind == "dns":
            if service == "Internet":
                client, gateway = self._local_host(v6, rng.choice(_USER_VLANS))
                resolver = rng.choice(_DNS_RESOLVERS_V6 if v6 else _DNS_RESOLVERS_V4)
                return client, resolver, False, gateway
            server, gateway = self._dc_server(v6)
            if site is not None:
                return self._remote_host(site, v6), server, True, gateway
            return self._local_host(v6, rng.choice(_USER_VLANS))[0], server, True, gateway
        if service == "Local":
            client = self._local_host(v6, rng.choice(_USER_VLANS))[0]
            server, gateway = self._dc_server(v6)
            return client, server, True, gateway
        far = self._remote_host(site, v6) if site is not None else self._intranet_host(v6)
        if rng.random() < (0.8 if app.dc_hosted else 0.5):
            server, gateway = self._dc_server(v6)
            return far, server, True, gateway
        client, gateway = self._local_host(v6, rng.choice(_USER_VLANS))
        return client, far, False, gateway

    def _dc_server(self, v6: bool) -> tuple[str, str]:
        host = self._rng.choice(self._dc_servers)
        if v6:
            return (
                f"fd00:{self.home.net}:{_SERVER_VLAN}::{host:x}",
                f"fd00:{self.home.net}:{_SERVER_VLAN}::1",
            )
        return f"10.{self.home.net}.{_SERVER_VLAN}.{host}", f"10.{self.home.net}.{_SERVER_VLAN}.1"

    def _intranet_host(self, v6: bool) -> str:
        if v6:
            return f"fd10:{self._rng.randint(1, 0xFF):x}::{self._rng.randint(1, 0xFFFF):x}"
        return self._public_v4(self._rng.choice(_INTRANET_NETS))

    def _service_name(self, service: str, site: Site | None) -> str:
        if site is not None:
            return f"{self.home.name}-{site.name}"
        return {
            "Internet": f"{self.home.name}-Internet",
            "Intranet": "Corp-Intranet",
            "Local": "Local",
            "Passthrough": "Passthrough",
        }[service]

    def _links_for(self, service: str, site: Site | None) -> tuple[str, ...]:
        down = self.failed_link
        home = self.home.name
        if site is not None:
            pairs = site_pairs(self.home, site, down) or site_pairs(self.home, site, None)
            choice = self._pick([(f"{a}|{b}", weight) for (a, b), weight in pairs])
            dc_link, remote = choice.split("|")
            return (f"{home}-{dc_link}", f"{site.name}-{remote}")
        options = self._single_link_choices.get(service)
        if not options:
            return ()
        healthy = [(link, weight) for link, weight in options if f"{home}-{link}" != down]
        return (f"{home}-{self._pick(healthy or options)}",)
