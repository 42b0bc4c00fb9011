"""The simulated flow table: determinism, evolution, failovers and the shape of its values."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter

import pytest

from flowtop.core.model import (
    ADDRESS_FIELDS,
    API_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    parse_flows,
)
from flowtop.demo.faults import HOSTILE_EXTRA_FIELD
from flowtop.demo.world import DemoWorld

SERVICE_TYPES = {"Local", "Virtual Path", "Internet", "Intranet", "Passthrough"}
CLASS_TYPES = {"realtime", "interactive", "bulk"}
TRANSMISSION_TYPES = {"Persistent Path", "Load Balanced Paths", "Duplicate Paths"}
DSCP = (
    {"default", "ef"}
    | {f"af{x}{y}" for x in range(1, 5) for y in range(1, 4)}
    | {f"cs{n}" for n in range(1, 8)}
)
LINK = r"(DC|Branch|London|Austin)-(MPLS|INET|LTE)"
PATH = re.compile(rf"^({LINK}->{LINK}|{LINK}|)$")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_world(seed: int = 1, flows: int = 300) -> tuple[DemoWorld, FakeClock]:
    clock = FakeClock()
    return DemoWorld(seed=seed, flows=flows, clock=clock), clock


def run(world: DemoWorld, clock: FakeClock, steps: int) -> None:
    clock.now += steps
    world.advance_to(clock.now)


Key = tuple[str, str, str, str, str, str]


def by_key(rows: list[dict[str, str]]) -> dict[Key, dict[str, str]]:
    """Rows by flow identity, leaving out identities that occur more than once."""
    keys = [
        (r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"], r["ipp"], r["direction"])
        for r in rows
    ]
    counts = Counter(keys)
    return {key: row for key, row in zip(keys, rows, strict=True) if counts[key] == 1}


def test_same_seed_and_times_give_identical_answers() -> None:
    first, clock_a = make_world(seed=7)
    second, clock_b = make_world(seed=7)
    for offset in (0.0, 0.4, 1.0, 3.7, 3.9, 12.0, 45.5, 46.0):
        first.advance_to(clock_a.now + offset)
        second.advance_to(clock_b.now + offset)
        assert first.encode() == second.encode()
        assert first.snapshot(50) == second.snapshot(50)
    assert first.failover_log == second.failover_log


def test_other_seed_gives_other_flows() -> None:
    first, _ = make_world(seed=1)
    second, _ = make_world(seed=2)
    assert first.encode() != second.encode()


def test_only_whole_elapsed_steps_run() -> None:
    world, clock = make_world()
    start = clock.now
    assert world.advance_to(start + 0.99) == 0
    assert world.advance_to(start + 1.0) == 1
    assert world.advance_to(start + 3.5) == 2
    assert world.step == 3
    # A clock that went backwards changes nothing.
    before = world.encode()
    assert world.advance_to(start) == 0
    assert world.encode() == before


def test_advance_reads_the_worlds_own_clock() -> None:
    world, clock = make_world()
    clock.now += 4.2
    assert world.advance() == 4
    assert world.step == 4


def test_catch_up_is_capped_and_time_goes_on_from_there() -> None:
    clock = FakeClock()
    world = DemoWorld(seed=1, flows=50, clock=clock, max_catch_up_steps=20)
    clock.now += 10_000
    assert world.advance_to(clock.now) == 20
    assert world.step == 20
    assert world.advance_to(clock.now + 1) == 1
    assert world.step == 21


def test_counters_never_decrease_and_ages_grow_by_the_step() -> None:
    world, clock = make_world(flows=300)
    previous = by_key(world.snapshot())
    grew = 0
    for _ in range(40):
        run(world, clock, 1)
        current = by_key(world.snapshot())
        survivors = previous.keys() & current.keys()
        assert len(survivors) > 250
        for key in survivors:
            old, new = previous[key], current[key]
            for name in ("bytes", "packets", "hitcount", "hdr_compression_bytes"):
                assert int(new[name]) >= int(old[name]), (name, old, new)
            assert int(new["age"]) == int(old["age"]) + 1000
            grew += int(new["bytes"]) > int(old["bytes"])
        previous = current
    assert grew > 40 * 250 * 0.9


def test_counters_grow_by_rate_times_step() -> None:
    world, clock = make_world(flows=300)
    before = by_key(world.snapshot())
    run(world, clock, 1)
    after = by_key(world.snapshot())
    checked = 0
    for key in before.keys() & after.keys():
        old, new = before[key], after[key]
        byte_growth = int(new["bytes"]) - int(old["bytes"])
        packet_growth = int(new["packets"]) - int(old["packets"])
        # Whole numbers on the wire: growth is the rate for one second, to within one unit.
        assert abs(byte_growth - float(new["customer_kbps"]) * 125) <= 1.1
        assert abs(packet_growth - float(new["pps"])) <= 1.1
        checked += 1
    assert checked > 250


def test_totals_are_plausible_for_the_age() -> None:
    world, _ = make_world(flows=300)
    for row in world.snapshot():
        age_seconds = int(row["age"]) / 1000
        # Flows start near their typical rate; bursts raise that at most tenfold.
        assert int(row["bytes"]) <= (float(row["customer_kbps"]) * 125 * 40 + 2000) * (
            age_seconds + 1
        )
        assert int(row["packets"]) <= int(row["hitcount"]) + 1


def test_rates_burst_and_calm() -> None:
    world, clock = make_world(flows=300)
    history: dict[Key, list[float]] = {}
    for _ in range(60):
        run(world, clock, 1)
        for key, row in by_key(world.snapshot()).items():
            history.setdefault(key, []).append(float(row["customer_kbps"]))
    swings = [max(rates) / min(rates) for rates in history.values() if len(rates) == 60]
    assert sum(swing > 3 for swing in swings) > 10
    assert sum(swing < 1.5 for swing in swings) > 10  # steady voice calls, for one


def test_churn_keeps_the_count_near_the_target() -> None:
    world, clock = make_world(flows=600)
    ended: list[float] = []
    for _ in range(60):
        before = by_key(world.snapshot()).keys()
        run(world, clock, 1)
        assert abs(len(world) - 600) <= 12
        after = by_key(world.snapshot()).keys()
        ended.append(len(before - after) / len(before))
    average = sum(ended) / len(ended)
    assert 0.01 <= average <= 0.035
    # New flows start young.
    assert any(int(row["age"]) < 1000 for row in world.snapshot())


def test_an_empty_world_is_fine() -> None:
    world, clock = make_world(flows=0)
    run(world, clock, 40)
    assert len(world) == 0
    assert json.loads(world.encode()) == {"flows": []}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_early_failover_moves_many_flows_and_later_back(seed: int) -> None:
    world, clock = make_world(seed=seed, flows=1200)
    run(world, clock, 40)
    assert world.failover_log
    first_step = world.failover_log[0][0]
    assert 20 <= first_step <= 31
    first = [entry for entry in world.failover_log if entry[0] == first_step]
    assert sum(count for _, _, _, count in first) >= 100
    failed = world.failed_link
    assert failed is not None
    for _, old_path, new_path, _ in first:
        assert failed in old_path
        assert failed not in new_path
    assert world.snapshot() and all(PATH.match(row["path"]) for row in world.snapshot())

    run(world, clock, 60)
    moves = {(old, new) for _, old, new, _ in world.failover_log}
    back = [(new, old) for _, old, new, _ in first if (new, old) in moves]
    assert back, "the flows moved back after the link recovered"


def test_failovers_keep_happening() -> None:
    world, clock = make_world(flows=200)
    run(world, clock, 600)
    steps = sorted({step for step, _, _, _ in world.failover_log})
    # Each failure and each recovery logs at one step; one failure every 60-120 steps.
    assert 8 <= len(steps) <= 22
    assert all(count > 0 for _, _, _, count in world.failover_log)


def test_every_flow_has_the_26_fields_as_strings() -> None:
    world, clock = make_world(flows=1200)
    run(world, clock, 3)
    rows = world.snapshot()
    assert len(rows) == len(world) > 1150
    for row in rows:
        assert list(row) == list(API_FIELDS)
        assert all(isinstance(value, str) for value in row.values())
        for name in INT_FIELDS:
            assert int(row[name]) >= 0
        for name in FLOAT_FIELDS:
            assert re.fullmatch(r"\d+\.\d{3}", row[name]), (name, row[name])
        for name in ADDRESS_FIELDS:
            ipaddress.ip_address(row[name])
        assert row["direction"] in ("LAN to WAN", "WAN to LAN")
        assert row["service_type"] in SERVICE_TYPES
        assert row["class_type"] in CLASS_TYPES
        assert row["transmission_type"] in TRANSMISSION_TYPES
        assert row["ip_dscp"] in DSCP
        assert PATH.match(row["path"]), row["path"]
        assert row["service_name"]
        assert row["rule_id"].isdigit()
        assert row["app_rule_id"].isdigit()
        assert row["vpathclass"].isdigit()
        if row["service_type"] == "Virtual Path":
            # Paths read in the direction of the flow: from this appliance's DC links out.
            source_link, dest_link = row["path"].split("->")
            local_link = source_link if row["direction"] == "LAN to WAN" else dest_link
            assert local_link.startswith("DC-")


def test_values_are_realistic() -> None:
    world, _ = make_world(flows=1200)
    rows = world.snapshot()
    applications = Counter(row["application"] for row in rows)
    for name in ("Zoom", "Microsoft Teams", "Office365", "Salesforce", "SSH", "DNS", "HTTPS"):
        assert applications[name] > 5, name
    for name in ("SIP", "Webex", "YouTube", "Dropbox", "SAP", "Citrix ICA"):
        assert applications[name] > 0, name
    assert len(applications) >= 20
    for row in rows:
        ports = {row["src_port"], row["dest_port"]}
        if row["application"] == "DNS":
            assert (row["ipp"], "53" in ports) == ("17", True)
        if row["application"] == "SSH":
            assert (row["ipp"], "22" in ports) == ("6", True)
        if row["application"] == "Office365":
            assert (row["ipp"], "443" in ports) == ("6", True)
        if row["application"] == "SIP":
            assert (row["ipp"], "5060" in ports) == ("17", True)
    assert Counter(row["direction"] for row in rows).keys() == {"LAN to WAN", "WAN to LAN"}
    assert set(Counter(row["service_type"] for row in rows)) == SERVICE_TYPES
    assert {"DC-MPLS->Branch-MPLS", "Branch-MPLS->DC-MPLS", "DC-INET"} <= {
        row["path"] for row in rows
    }
    ipv6 = sum(":" in row["src_ip"] for row in rows)
    assert 0.05 * len(rows) <= ipv6 <= 0.2 * len(rows)
    for row in rows:
        assert (":" in row["src_ip"]) == (":" in row["dest_ip"]) == (":" in row["lan_gw_ip"])


def test_encoding_matches_the_snapshot_and_is_cached_per_step() -> None:
    world, clock = make_world(flows=300)
    for max_stats in (None, 50, 100, 1000):
        body = world.encode(max_stats)
        assert json.loads(body) == {"flows": world.snapshot(max_stats)}
        assert world.encode(max_stats) is body
    before = world.encode(50)
    run(world, clock, 1)
    assert world.encode(50) != before
    assert len(json.loads(world.encode(50))["flows"]) == 50
    assert len(json.loads(world.encode(1000))["flows"]) == len(world)


def test_where_keeps_matching_flows_before_the_cap() -> None:
    world, _ = make_world(flows=600)
    wanted = world.snapshot()[-1]["application"]
    rows = world.snapshot(where={"application": wanted})
    assert rows and all(row["application"] == wanted for row in rows)
    assert json.loads(world.encode(50, where={"application": wanted}))["flows"] == rows[:50]
    both = {"application": wanted, "direction": "WAN to LAN"}
    assert all(row["direction"] == "WAN to LAN" for row in world.snapshot(where=both))
    assert world.snapshot(where={"src_ip": "192.0.2.1"}) == []


def test_flows_parse_into_all_26_fields() -> None:
    world, _ = make_world(flows=1200)
    rows = world.snapshot()
    parsed = parse_flows(world.encode(None))
    assert parsed.ignored_items == 0
    assert len(parsed.flows) == len(rows)
    for flow, row in zip(parsed.flows, rows, strict=True):
        for name in API_FIELDS:
            assert flow.value(name) is not None, name
        assert flow.unparsed == {}
        assert flow.extras == {}
        assert flow.bytes == int(row["bytes"])
        assert flow.pps == float(row["pps"])
        assert str(flow.src_ip) == row["src_ip"]


def test_hostile_text_parses_leniently_into_all_26_fields() -> None:
    world, _ = make_world(flows=1200)
    body = world.encode(None, hostile=True)
    raw = json.loads(body)["flows"]
    parsed = parse_flows(body)
    assert parsed.ignored_items == 0
    assert len(parsed.flows) == len(raw) == 1200
    for item in raw:
        assert set(API_FIELDS) <= set(item)
    for flow in parsed.flows:
        assert set(API_FIELDS) <= set(type(flow).model_fields)
        for name in ("application", "path", "service_name"):
            text = flow.value(name) or ""
            assert "\x1b" not in text and "\r" not in text and "\n" not in text
    hostile = [flow for flow in parsed.flows if flow.extras]
    assert 0.05 * len(raw) <= len(hostile) <= 0.15 * len(raw)
    assert all(HOSTILE_EXTRA_FIELD in flow.extras for flow in hostile)
    texts = {flow.application for flow in hostile} | {flow.service_name for flow in hostile}
    assert "[bold red]pwn[/]" in texts
    assert "[link=http://x]click[/link]" in texts
    assert "@click=app.quit" in texts
    assert any(len(text or "") > 300 for text in texts)
    assert any("\U0001f3a5" in (text or "") for text in texts)
    assert "\x1b" in body.decode() or "\\u001b" in body.decode()
    # Odd values are kept aside, not fatal.
    assert any(flow.unparsed for flow in hostile)
    assert any(flow.bytes is None for flow in hostile)
    assert any(isinstance(item.get("packets"), int) for item in raw)
    # The other flows are exactly what a well-behaved appliance sends.
    clean = json.loads(world.encode(None))["flows"]
    same = [a == b for a, b in zip(raw, clean, strict=True)]
    assert sum(same) == len(raw) - len(hostile)
