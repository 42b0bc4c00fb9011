"""The demo fleet: a DC and its branches whose flows mirror each other, one appliance per
site, in process through the real client and over loopback as ``demo-server --fleet``."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from typing import IO, Any

import httpx
import pytest

from flowtop.cli import main
from flowtop.core.client import NitroClient
from flowtop.core.config.password import run_password_command
from flowtop.core.config.schema import Profile
from flowtop.core.errors import ApplianceError
from flowtop.core.model import API_FIELDS, parse_flows
from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    LOGIN_V1_PATH,
    DemoAppliance,
)
from flowtop.demo.faults import HOSTILE_EXTRA_FIELD
from flowtop.demo.fleet import (
    DC_PROFILE,
    MAX_BRANCHES,
    RATE_NOISE,
    DemoFleet,
    SiteView,
    branch_site,
    demo_fleet,
    demo_fleet_sources,
    fleet_config,
)
from flowtop.demo.names import demo_lookup
from flowtop.demo.pinned import PINNED_START, ManualClock, PinnedDemoSource
from flowtop.demo.server import DemoServer, run_demo_fleet_server
from flowtop.demo.transport import DemoTransport
from flowtop.demo.world import DemoWorld, Site

BRANCHES = ("austin", "boston", "chicago", "denver")
CREDENTIALS = {"login": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}}
Row = dict[str, Any]
Key = tuple[str, str, str, str, str]
LINK = r"(DC|Austin|Boston|Chicago|Denver)-(MPLS|INET|LTE)"
PATH = re.compile(rf"^({LINK}->{LINK}|{LINK}|)$")


def key(row: Row) -> Key:
    return (row["src_ip"], row["src_port"], row["dest_ip"], row["dest_port"], row["ipp"])


def small_fleet(seed: int = 7, steps: int = 5) -> tuple[DemoFleet, ManualClock]:
    clock = ManualClock()
    fleet = DemoFleet(seed=seed, clock=clock, flows=600, branch_flows=150)
    clock.advance(steps)
    fleet.advance_to(clock())
    return fleet, clock


def rows(fleet: DemoFleet, name: str) -> list[Row]:
    document = json.loads(fleet.encode(name))
    flows: list[Row] = document["flows"]
    return flows


def to_branch(fleet: DemoFleet, name: str) -> dict[Key, Row]:
    """The DC's flows whose far end is at branch ``name``, by 5-tuple."""
    virtual_path = f"DC-{fleet.site(name).name}"
    return {key(row): row for row in rows(fleet, DC_PROFILE) if row["service_name"] == virtual_path}


def at_site(address: str, net: int) -> bool:
    return address.startswith((f"10.{net}.", f"fd00:{net}:"))


# -- mirroring -------------------------------------------------------------------------


def test_fleet_sites_dc_first() -> None:
    fleet, _ = small_fleet()
    assert fleet.names == [DC_PROFILE, *BRANCHES]
    assert [name for name, _ in demo_fleet(clock=ManualClock())] == fleet.names


@pytest.mark.parametrize("branch", BRANCHES)
def test_branch_mirrors_every_dc_flow_to_it(branch: str) -> None:
    fleet, _ = small_fleet()
    site = fleet.site(branch)
    dc_side = to_branch(fleet, branch)
    branch_side = {key(row): row for row in rows(fleet, branch)}
    assert len(dc_side) >= 20
    flipped = {"LAN to WAN": "WAN to LAN", "WAN to LAN": "LAN to WAN"}
    same_path = 0
    for five_tuple, dc_row in dc_side.items():
        mirror = branch_side.get(five_tuple)
        assert mirror is not None, f"{branch} lacks the DC's flow {five_tuple}"
        # The same conversation, seen from the other end.
        assert mirror["direction"] == flipped[dc_row["direction"]]
        for same in ("application", "service_name", "service_type", "transmission_type", "ipp"):
            assert mirror[same] == dc_row[same]
        # One end is the branch's host, and the branch's gateway is that host's.
        local = [ip for ip in (mirror["src_ip"], mirror["dest_ip"]) if at_site(ip, site.net)]
        assert len(local) == 1
        assert mirror["lan_gw_ip"] == local[0].rsplit(".", 1)[0] + ".1" or (
            ":" in local[0] and mirror["lan_gw_ip"] == local[0].split("::")[0] + "::1"
        )
        assert dc_row["lan_gw_ip"].startswith(("10.1.", "fd00:1:"))
        # Paths are named as travelled: the packets' sender's link first.
        sender, receiver = mirror["path"].split("->")
        sender_site = site.name if mirror["direction"] == "LAN to WAN" else "DC"
        receiver_site = "DC" if sender_site == site.name else site.name
        assert sender.startswith(f"{sender_site}-") and receiver.startswith(f"{receiver_site}-")
        same_path += mirror["path"] == dc_row["path"]
        # Its own rates, within measurement noise (and a little loss).
        dc_rate = float(dc_row["customer_kbps"])
        bound = dc_rate * (RATE_NOISE + 0.015) + 0.002
        assert abs(float(mirror["customer_kbps"]) - dc_rate) <= bound
        assert abs(int(mirror["bytes"]) - int(dc_row["bytes"])) <= int(dc_row["bytes"]) * 0.015 + 1
    # Most flows travel the same path as the DC reports (a few load-balanced ones do not).
    assert same_path >= 0.85 * len(dc_side)


def test_branch_rates_differ_from_the_dcs() -> None:
    """Each end measures for itself: the rates are close, not copies."""
    fleet, _ = small_fleet()
    dc_side = to_branch(fleet, "austin")
    branch_side = {key(row): row for row in rows(fleet, "austin")}
    differing = sum(
        branch_side[five]["customer_kbps"] != row["customer_kbps"] for five, row in dc_side.items()
    )
    assert differing >= 0.9 * len(dc_side)


@pytest.mark.parametrize("branch", BRANCHES)
def test_local_flows_only_at_the_branch(branch: str) -> None:
    fleet, _ = small_fleet()
    site = fleet.site(branch)
    dc_keys = {key(row) for row in rows(fleet, DC_PROFILE)}
    mirrored = to_branch(fleet, branch)
    local = [row for row in rows(fleet, branch) if key(row) not in mirrored]
    assert len(local) >= 100
    for row in local:
        assert key(row) not in dc_keys
        assert row["service_type"] != "Virtual Path"
        assert row["lan_gw_ip"].startswith((f"10.{site.net}.", f"fd00:{site.net}:"))
        assert PATH.match(row["path"])
        assert row["path"] == "" or row["path"].startswith(f"{site.name}-")
    services = {row["service_name"] for row in local}
    assert f"{site.name}-Internet" in services  # the branch's own internet breakout


def test_other_branches_flows_are_not_mirrored() -> None:
    fleet, _ = small_fleet()
    austin = {key(row) for row in rows(fleet, "austin")}
    assert not austin & set(to_branch(fleet, "boston"))


def test_every_site_answers_well_formed_flows() -> None:
    fleet, _ = small_fleet()
    for name in fleet.names:
        body = fleet.encode(name)
        parsed = parse_flows(body, "application/json")
        assert parsed.ignored_items == 0
        assert len(parsed.flows) == len(json.loads(body)["flows"])
        for row in json.loads(body)["flows"]:
            assert set(row) == set(API_FIELDS)
            assert all(isinstance(value, str) for value in row.values())
            assert PATH.match(row["path"]), row["path"]
            assert int(row["age"]) >= 0


def test_max_stats_and_where_at_a_branch() -> None:
    fleet, _ = small_fleet()
    everything = rows(fleet, "boston")
    assert json.loads(fleet.encode("boston", 50))["flows"] == everything[:50]
    udp = json.loads(fleet.encode("boston", 50, where={"ipp": "17"}))["flows"]
    assert udp == [row for row in everything if row["ipp"] == "17"][:50]
    # The branch's table interleaves mirrored and own flows, so a cap keeps both.
    mirrored = to_branch(fleet, "boston")
    first = everything[:50]
    assert any(key(row) in mirrored for row in first)
    assert any(key(row) not in mirrored for row in first)


# -- failovers -------------------------------------------------------------------------


def paths_of(rows_: list[Row], keys: set[Key]) -> dict[Key, str]:
    return {key(row): row["path"] for row in rows_ if key(row) in keys}


def test_a_branch_link_failover_shows_at_both_ends() -> None:
    fleet, _ = small_fleet()
    before_dc = to_branch(fleet, "boston")
    before_boston = {key(row): row for row in rows(fleet, "boston")}
    # (Flows the two ends already report on different paths are left out.)
    on_link = {
        five
        for five, row in before_dc.items()
        if "Boston-INET" in row["path"] and before_boston[five]["path"] == row["path"]
    }
    assert len(on_link) >= 5
    own_before = [r for r in rows(fleet, "boston") if r["path"] == "Boston-INET"]
    assert own_before

    fleet.fail_link("Boston-INET")

    dc_after = paths_of(rows(fleet, DC_PROFILE), on_link)
    boston_rows = rows(fleet, "boston")
    boston_after = paths_of(boston_rows, on_link)
    moved_dc = {five for five, path in dc_after.items() if "Boston-INET" not in path}
    moved_boston = {five for five, path in boston_after.items() if "Boston-INET" not in path}
    assert len(moved_dc) >= 0.7 * len(on_link)
    # The same flows moved at both ends, to the same paths.
    assert moved_boston == moved_dc
    assert all(boston_after[five] == dc_after[five] for five in moved_dc)
    # Boston's own internet breakout moved off the failed link too.
    own_keys = {key(row) for row in own_before}
    own_after = paths_of(boston_rows, own_keys)
    assert sum(path == "Boston-LTE" for path in own_after.values()) >= 0.7 * len(own_after)
    assert fleet.world("boston").failed_link == "Boston-INET"
    # The DC's failover log names the moves.
    assert any("Boston-INET" in old for _, old, _, _ in fleet.dc.failover_log)

    fleet.restore_links()
    assert fleet.world("boston").failed_link is None
    back = paths_of(rows(fleet, "boston"), on_link)
    assert sum("Boston-INET" in path for path in back.values()) >= 0.7 * len(back)


def test_the_dcs_own_failovers_reach_the_branches() -> None:
    """Left alone, the DC world fails links, DC and branch ones, and each branch's
    flows move with the DC's; a branch's own world follows a failure of its link."""
    clock = ManualClock()
    fleet = DemoFleet(seed=7, clock=clock, flows=600, branch_flows=100)
    branch_failures: set[str] = set()
    seen_moves = 0
    previous: dict[str, dict[Key, str]] = {}
    for _ in range(300):
        clock.advance(1)
        fleet.advance_to(clock())
        failed = fleet.dc.failed_link
        for name in BRANCHES:
            site = fleet.site(name)
            expected = failed if failed and failed.startswith(f"{site.name}-") else None
            assert fleet.world(name).failed_link == expected
            if expected:
                branch_failures.add(expected)
        if fleet.step % 10:
            continue
        # Compare both ends' paths of every mirrored flow on every tenth step.
        for name in ("austin", "chicago"):
            dc_paths = {five: row["path"] for five, row in to_branch(fleet, name).items()}
            branch_paths = paths_of(rows(fleet, name), set(dc_paths))
            assert set(branch_paths) == set(dc_paths)
            same = sum(branch_paths[five] == path for five, path in dc_paths.items())
            assert same >= 0.85 * len(dc_paths)
            old = previous.get(name, {})
            seen_moves += sum(
                1 for five, path in branch_paths.items() if five in old and old[five] != path
            )
            previous[name] = branch_paths
    assert len(fleet.dc.failover_log) >= 4
    assert branch_failures, "no branch link failed in 300 steps"
    assert seen_moves > 0


# -- what a NOC asks first -------------------------------------------------------------


def test_a_few_flows_are_re_marked_and_a_few_asymmetric() -> None:
    fleet, _ = small_fleet(steps=3)
    total_asymmetric = 0
    for name in BRANCHES:
        dc_side = to_branch(fleet, name)
        branch_side = {key(row): row for row in rows(fleet, name)}
        remarked = [f for f, r in dc_side.items() if branch_side[f]["ip_dscp"] != r["ip_dscp"]]
        asymmetric = [f for f, r in dc_side.items() if branch_side[f]["path"] != r["path"]]
        assert 1 <= len(remarked) <= 0.2 * len(dc_side), name
        assert len(asymmetric) <= 0.15 * len(dc_side), name
        for five in asymmetric:
            assert dc_side[five]["transmission_type"] == "Load Balanced Paths"
            assert PATH.match(branch_side[five]["path"])
        total_asymmetric += len(asymmetric)
    assert total_asymmetric >= 2


def test_the_same_flows_stay_re_marked() -> None:
    """Which flows differ is fixed by the flow, not drawn again at each poll."""
    fleet, clock = small_fleet()

    def remarked() -> set[Key]:
        dc_side = to_branch(fleet, "chicago")
        mine = {key(row): row for row in rows(fleet, "chicago")}
        return {five for five, row in dc_side.items() if mine[five]["ip_dscp"] != row["ip_dscp"]}

    first = remarked()
    clock.advance(3)
    fleet.advance_to(clock())
    later = remarked()
    still_there = set(to_branch(fleet, "chicago"))
    assert first & still_there == later & first


# -- determinism ---------------------------------------------------------------------------


def answers(seed: int, order: list[str], readings: list[float]) -> list[tuple[str, bytes]]:
    clock = ManualClock()
    fleet = DemoFleet(seed=seed, clock=clock, flows=400, branch_flows=100)
    out = []
    for reading in readings:
        clock.now = clock.now + reading
        for name in order:
            fleet.advance_to(clock())
            out.append((name, fleet.encode(name)))
    return out


def test_same_seed_and_clock_give_identical_answers_in_any_order() -> None:
    readings = [0.5, 1.0, 2.7, 0.1, 30.0, 1.0]
    names = [DC_PROFILE, *BRANCHES]
    first = answers(3, names, readings)
    again = answers(3, names, readings)
    assert first == again
    backwards = answers(3, list(reversed(names)), readings)
    assert sorted(first) == sorted(backwards)
    other_seed = answers(4, names, readings)
    assert dict(first) != dict(other_seed)


async def test_same_seed_and_clock_identical_through_the_client() -> None:
    async def bodies() -> list[bytes]:
        clock = ManualClock()
        sources = demo_fleet_sources(seed=11, clock=clock, flows=300, branch_flows=80)
        out = []
        try:
            for _ in range(3):
                clock.advance(1.5)
                for _, source in sources:
                    out.append((await source.fetch(1000)).raw)
        finally:
            for _, source in sources:
                await source.close()
        return out

    assert await bodies() == await bodies()


# -- the appliances --------------------------------------------------------------------


async def test_each_site_answers_through_the_real_client() -> None:
    clock = ManualClock()
    appliances = demo_fleet(seed=7, clock=clock, flows=400, branch_flows=100)
    sources = demo_fleet_sources(seed=7, clock=clock, flows=400, branch_flows=100)
    assert [name for name, _ in sources] == [DC_PROFILE, *BRANCHES]
    clock.advance(2)
    for (name, source), (_, appliance) in zip(sources, appliances, strict=True):
        assert source.description == f"{DEMO_USERNAME}@{name}"
        snapshot = await source.fetch(100)
        assert len(snapshot.flows) == 100
        assert snapshot.capped() == 100
        # The in-process appliances of the same seed and clock say the same.
        assert isinstance(appliance.table, SiteView)
        appliance.table.advance_to(clock())
        expected = parse_flows(appliance.table.encode(100), "application/json").flows
        assert snapshot.flows == expected
        client = source.client
        assert isinstance(client, NitroClient)
        await source.close()
    assert all(appliance.session_count == 0 for _, appliance in appliances)


async def test_sites_have_their_own_sessions_and_faults() -> None:
    clock = ManualClock()
    fleet = DemoFleet(seed=7, clock=clock, flows=200, branch_flows=50)
    appliances = dict(fleet.appliances())
    sources = {
        name: NitroClient(
            f"http://{name}.demo.invalid",
            DEMO_USERNAME,
            DEMO_PASSWORD,
            transport=DemoTransport(appliance),
        )
        for name, appliance in appliances.items()
    }
    appliances["boston"].faults.status = 503
    try:
        await sources["dc"].get_flows(50)
        await sources["austin"].get_flows(50)
        assert appliances["dc"].session_count == 1
        assert appliances["austin"].session_count == 1
        assert appliances["boston"].session_count == 0
        with pytest.raises(ApplianceError, match="503"):
            await sources["boston"].get_flows(50)
        # The one world behind them all.
        assert appliances["dc"].world is fleet.dc
        assert appliances["austin"].world is fleet.world("austin")
    finally:
        for client in sources.values():
            await client.close()
    assert all(appliance.session_count == 0 for appliance in appliances.values())


def test_an_appliance_answers_from_a_given_table() -> None:
    """DemoAppliance(world=..., table=...) answers from the table; without them it builds
    its own world, as before."""
    clock = ManualClock()
    world = DemoWorld(seed=2, flows=30, clock=clock)
    plain = DemoAppliance(seed=2, flows=30, clock=clock)
    assert plain.table is plain.world
    shared = DemoAppliance(clock=clock, world=world)
    assert shared.world is world and shared.table is world


async def test_pinned_sources_over_fleet_appliances() -> None:
    """The scenes' pinned source takes a fleet site's appliance: each fetch moves the one
    clock, latency is pinned, the description names the site."""
    clock = ManualClock()
    sources = [
        PinnedDemoSource(clock, appliance=appliance, name=name, step=0.5)
        for name, appliance in demo_fleet(seed=7, clock=clock, flows=200, branch_flows=50)
    ]
    try:
        snapshots = [await source.fetch(50) for source in sources]
    finally:
        for source in sources:
            await source.close()
    assert [source.description for source in sources] == [
        f"{DEMO_USERNAME}@{name}" for name in (DC_PROFILE, *BRANCHES)
    ]
    assert all(snapshot.latency == 0.012 and len(snapshot.flows) == 50 for snapshot in snapshots)
    assert clock() == PINNED_START + 2.5


def test_sites_answer_concurrently_over_loopback() -> None:
    """Every site on its own server, all asked at once: the shared fleet keeps each
    answer whole and every session its own."""
    fleet = DemoFleet(seed=7, flows=300, branch_flows=80)
    servers = [DemoServer(appliance) for _, appliance in fleet.appliances()]
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def poll(name: str, url: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=10) as client:
                login = client.post(LOGIN_V1_PATH, json=CREDENTIALS)
                assert login.status_code == 200
                counts = []
                for _ in range(8):
                    answer = client.get(FLOWS_PATH, params={"filter": "max_stats:1000"})
                    assert answer.status_code == 200
                    parsed = parse_flows(answer.content, "application/json")
                    assert parsed.ignored_items == 0
                    counts.append(len(parsed.flows))
                client.delete(LOGIN_V1_PATH)
            results[name] = counts
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    for server in servers:
        server.start()
    try:
        threads = [
            threading.Thread(target=poll, args=(name, server.url))
            for name, server in zip(fleet.names, servers, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for server in servers:
            server.stop()
    assert not errors, errors
    assert sorted(results) == sorted(fleet.names)
    assert all(all(count > 0 for count in counts) for counts in results.values())


def test_hostile_text_at_a_branch() -> None:
    clock = ManualClock()
    appliances = dict(demo_fleet(seed=7, clock=clock, flows=300, branch_flows=80))
    austin = appliances["austin"]
    austin.faults.hostile_text = True
    clock.advance(1)
    austin.table.advance_to(clock())
    body = austin.table.encode(1000, hostile=True)
    parsed = parse_flows(body, "application/json")
    assert len(parsed.flows) + parsed.ignored_items == len(json.loads(body)["flows"])
    assert HOSTILE_EXTRA_FIELD in body.decode()
    # The DC is not affected by Austin's faults.
    assert HOSTILE_EXTRA_FIELD not in appliances["dc"].table.encode(1000).decode()


# -- more branches, names --------------------------------------------------------------


def test_generated_branches_and_their_names() -> None:
    clock = ManualClock()
    fleet = DemoFleet(seed=1, clock=clock, branches=6, flows=300, branch_flows=40)
    assert fleet.names[-2:] == ["branch05", "branch06"]
    clock.advance(1)
    branch = rows(fleet, "branch06")
    site = fleet.site("branch06")
    hosts = {
        ip for row in branch for ip in (row["src_ip"], row["dest_ip"]) if at_site(ip, site.net)
    }
    assert hosts
    assert all((demo_lookup(ip) or "").endswith(".branch06.corp.example") for ip in hosts)
    for name in BRANCHES:
        address = f"10.{fleet.site(name).net}.10.7"
        assert demo_lookup(address) == f"pc10-7.{name}.corp.example"
    last = branch_site(MAX_BRANCHES - 1)
    assert last.name == f"Branch{MAX_BRANCHES}"
    assert demo_lookup(f"10.{last.net}.10.7") == f"pc10-7.branch{MAX_BRANCHES}.corp.example"
    with pytest.raises(ValueError):
        DemoFleet(branches=0, clock=clock)
    with pytest.raises(ValueError):
        branch_site(MAX_BRANCHES)


def test_a_world_without_remote_sites_has_no_virtual_paths() -> None:
    home = Site("Boston", 1.0, 50, ("MPLS", "INET"))
    world = DemoWorld(seed=3, flows=300, home=home, sites=(), clock=ManualClock())
    snapshot = world.snapshot()
    assert {row["service_type"] for row in snapshot} <= {
        "Local",
        "Internet",
        "Intranet",
        "Passthrough",
    }
    assert all(row["path"] in ("", "Boston-MPLS", "Boston-INET") for row in snapshot)
    assert Counter(row["lan_gw_ip"].split(".")[1] for row in snapshot if "." in row["lan_gw_ip"])[
        "50"
    ] == sum("." in row["lan_gw_ip"] for row in snapshot)


def test_a_world_without_own_failovers_keeps_its_links() -> None:
    clock = ManualClock()
    world = DemoWorld(seed=3, flows=200, clock=clock, own_failovers=False)
    world.run_steps(200)
    assert world.failover_log == []
    world.fail_link("DC-INET")
    assert world.failed_link == "DC-INET"
    assert world.failover_log
    world.restore_links()
    assert world.failed_link is None


def test_remote_link_failures_choose_remote_links() -> None:
    """By default the DC's own, busier links fail most; with remote_link_failures = 1
    every failover after the first fails a remote site's link."""

    def failed_links(remote: float) -> list[str]:
        clock = ManualClock()
        world = DemoWorld(seed=5, flows=300, clock=clock, remote_link_failures=remote)
        links = []
        for _ in range(700):
            world.run_steps(1)
            if world.failed_link and (not links or links[-1] != world.failed_link):
                links.append(world.failed_link)
        return links

    remote_only = failed_links(1.0)
    assert len(remote_only) >= 4
    assert remote_only[0].startswith("DC-")
    assert not any(link.startswith("DC-") for link in remote_only[1:])
    assert any(link.startswith("DC-") for link in failed_links(0.0)[1:])


# -- the config and the servers -------------------------------------------------------


def test_fleet_config_is_valid_toml_with_valid_profiles() -> None:
    urls = [("dc", "http://127.0.0.1:9000"), ("austin", "http://127.0.0.1:9001")]
    document = tomllib.loads(fleet_config(urls, seed=7))
    assert document["fleets"]["demo"] == {"profiles": ["dc", "austin"]}
    for name, url in urls:
        profile = Profile.model_validate(document["profiles"][name])
        assert profile.url == url
        assert profile.user == DEMO_USERNAME
    command = document["profiles"]["dc"]["password_command"]
    assert run_password_command(command).get_secret_value() == DEMO_PASSWORD


def test_demo_server_fleet_size_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-server", "--fleet", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "2 to 100 sites" in captured.err
    assert main(["demo-server", "--fleet", "3", "--port", "65534"]) == 2


def test_demo_server_fleet_reports_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = io.StringIO()
        # The DC gets port - 1 (if free), the first branch the taken one.
        status = run_demo_fleet_server(sites=2, port=port - 1, flows=20, out=out)
    lines = out.getvalue().splitlines()
    assert status == 3
    assert len(lines) == 1
    assert "127.0.0.1:" in lines[0]


class _Lines:
    """A process's output lines, read by a thread so that waiting for one can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self._lines.put(line)
        self._lines.put("")

    def until(self, prefix: str, timeout: float) -> str:
        """Everything up to and including the first line starting with ``prefix``."""
        text = ""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if not line:
                break
            text += line
            if line.startswith(prefix):
                return text
        raise AssertionError(f"no {prefix!r} line within {timeout} s: {text!r}")

    def close(self) -> None:
        """Once the process has ended: the rest is read, the stream closed."""
        self._thread.join(5)
        self._stream.close()


async def test_demo_server_fleet_over_loopback() -> None:
    """`flowtop demo-server --fleet 3 --port 0`: three ports of its choosing, a config that
    points at them, and each site answers its own flows there."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowtop",
            "demo-server",
            "--fleet",
            "3",
            "--port",
            "0",
            "--flows",
            "400",
            "--seed",
            "7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines = _Lines(process.stdout)
    try:
        text = lines.until("profiles = [", 30)
        document = tomllib.loads(text)
        names = document["fleets"]["demo"]["profiles"]
        assert names == ["dc", "austin", "boston"]
        answers: dict[str, list[Row]] = {}
        for name in names:
            profile = Profile.model_validate(document["profiles"][name])
            assert profile.url is not None and profile.url.startswith("http://127.0.0.1:")
            assert profile.password_command is not None
            password = run_password_command(profile.password_command).get_secret_value()
            client = NitroClient(profile.url, profile.user or "", password)
            try:
                raw, parsed = await client.get_flows(1000)
            finally:
                await client.close()
            assert parsed.flows and parsed.ignored_items == 0
            answers[name] = json.loads(raw.body)["flows"]
        ports = {document["profiles"][name]["url"].rsplit(":", 1)[1] for name in names}
        assert len(ports) == 3
        # The branches see the DC's flows to them, and the DC sees no flows of Denver.
        for name, site in (("austin", "Austin"), ("boston", "Boston")):
            dc_keys = {key(r) for r in answers["dc"] if r["service_name"] == f"DC-{site}"}
            branch_keys = {key(r) for r in answers[name]}
            assert dc_keys and len(dc_keys & branch_keys) >= 0.9 * len(dc_keys)
        assert not any("Denver" in row["service_name"] for row in answers["dc"])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(10)
        finally:
            if process.poll() is None:
                process.kill()
            lines.close()
            stderr = process.stderr.read() if process.stderr else ""
            if process.stderr:
                process.stderr.close()
    assert status == 0, stderr
    assert stderr == ""
