"""A fleet's all-flows view: every appliance's flows in one table, told apart by name."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from flowtop.core.all_flows import AllFlowsMonitor
from flowtop.core.derived import derived
from flowtop.core.errors import ConnectError
from flowtop.core.filter import compile_filter
from flowtop.core.fleet import Fleet, fleet_of
from flowtop.core.groups import resolve_grouping
from flowtop.core.model import Flow
from flowtop.core.monitor import Monitor
from tests.core.factories import flow
from tests.core.test_fleet import Scripted


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def _same_conversation(kbps: str) -> Flow:
    """The same 5-tuple and direction, as two branches with the same private
    addresses report it."""
    return flow(1, src_ip="10.0.0.5", dest_ip="10.1.0.9", customer_kbps=kbps, pps="10")


def _fleet(*named: tuple[str, Sequence[Flow]]) -> tuple[Fleet, dict[str, Scripted]]:
    sources = {name: Scripted(name, flows) for name, flows in named}
    fleet = fleet_of((name, source, Monitor(interval=1.0)) for name, source in sources.items())
    return fleet, sources


async def _poll(fleet: Fleet, count: int = 1) -> None:
    await fleet.run(live=False, count=count, sleep=_no_wait)


async def test_the_same_flow_at_two_appliances_is_two_rows_named_by_appliance() -> None:
    fleet, _ = _fleet(
        ("austin", [_same_conversation("100"), flow(2)]),
        ("boston", [_same_conversation("300")]),
    )
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    assert view.refresh()
    frame = view.frame()
    assert frame.columns[0].id == "appliance"
    cells = sorted(row.cells[0] for row in frame.rows)
    assert cells == ["austin", "austin", "boston"]
    assert len({row.key for row in frame.rows}) == 3
    assert {row.key.appliance for row in frame.rows} == {"austin", "boston"}  # type: ignore[union-attr]
    assert frame.status.source == "all 2 appliances" and not frame.stale


async def test_appliance_filters_and_groups_and_a_group_drills_into_its_flows() -> None:
    fleet, _ = _fleet(
        ("austin", [_same_conversation("100"), flow(2), flow(3)]),
        ("boston", [_same_conversation("300")]),
    )
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    view.refresh()
    view.set_filter(compile_filter("appliance:austin"))
    assert [row.key.appliance for row in view.frame().rows] == ["austin"] * 3  # type: ignore[union-attr]
    # A word finds the appliance's name too.
    view.set_filter(compile_filter("bost"))
    assert len(view.frame().rows) == 1
    view.clear_filter()
    view.cycle_grouping()
    assert view.grouping == resolve_grouping("appliance")
    groups = {row.group.value: row.group for row in view.frame().rows if row.group}
    assert {name: group.count for name, group in groups.items()} == {"austin": 3, "boston": 1}
    assert groups["boston"].kbps == 300
    (boston,) = [row for row in view.frame().rows if row.cells[0] == "boston"]
    assert view.drill(boston)
    assert view.flow_filter.expression == "appliance:boston"
    assert [row.cells[0] for row in view.frame().rows] == ["boston"]


async def test_one_appliance_alone_never_cycles_through_the_appliance_grouping() -> None:
    monitor = Monitor()
    seen = []
    for _ in range(12):
        monitor.cycle_grouping()
        seen.append(monitor.grouping.id if monitor.grouping else None)
    assert "appliance" not in seen and None in seen


async def test_it_takes_in_flows_only_when_an_appliance_answered_since() -> None:
    fleet, sources = _fleet(("austin", [flow(1)]), ("boston", [flow(2)]))
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    assert view.refresh()
    assert view.frame().new == ()  # the first fill marks nothing as new
    assert not view.refresh()
    sources["boston"].flows.append(flow(7))
    await _poll(fleet)
    assert view.refresh()
    (new,) = view.frame().new
    assert new.appliance == "boston"
    view.pause()
    await _poll(fleet)
    assert not view.refresh(), "paused, the view keeps what it shows"


async def test_its_records_are_the_appliances_with_their_history_and_numbers() -> None:
    fleet, sources = _fleet(("austin", [flow(1, customer_kbps="100")]), ("boston", []))
    await _poll(fleet)
    sources["austin"].flows = [flow(1, customer_kbps="500")]
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    view.refresh()
    (row,) = view.frame().rows
    record = fleet["austin"].monitor.store.records[row.key]  # type: ignore[index]
    assert view.store.records[row.key] is record  # type: ignore[index]
    assert derived(record.flow, "rate_peak").value == 500
    assert view.sample_times(record) == fleet["austin"].monitor.store.sample_times(record)
    assert len(view.sample_times(record)) == 2


async def test_totals_add_up_every_appliance() -> None:
    fleet, _ = _fleet(
        ("austin", [flow(1, customer_kbps="100", pps="10")]),
        ("boston", [flow(2, customer_kbps="300", pps="30", direction="WAN to LAN")]),
    )
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    view.refresh()
    totals = view.frame().totals
    assert totals is not None
    assert totals.everything.total.kbps == 400 and totals.everything.total.pps == 40
    assert totals.everything.lan_to_wan.kbps == 100
    assert totals.everything.wan_to_lan.kbps == 300
    assert totals.peak_kbps == 400
    view.set_filter(compile_filter("appliance:boston"))
    shown = view.frame().totals
    assert shown is not None and shown.filtered and shown.shown.total.kbps == 300


async def test_a_stale_appliance_is_named_and_keeps_its_flows_while_another_answers() -> None:
    fleet, sources = _fleet(("austin", [flow(1)]), ("boston", [flow(2)]))
    await _poll(fleet)
    sources["boston"].error = ConnectError("cannot connect to boston: connection refused")
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    view.refresh()
    frame = view.frame()
    assert len(frame.rows) == 2 and not frame.stale
    assert frame.status.notice == "not live: boston STALE"
    sources["austin"].error = ConnectError("cannot connect to austin: connection refused")
    await _poll(fleet)
    view.refresh()
    frame = view.frame()
    assert frame.stale and len(frame.rows) == 2
    assert frame.status.error == "no appliance of the fleet answers"


async def test_pairs_pair_the_two_directions_at_one_appliance_never_across_two() -> None:
    forward = {"src_ip": "10.0.0.5", "src_port": "5000", "dest_ip": "10.1.0.9", "dest_port": "443"}
    reverse = {"src_ip": "10.1.0.9", "src_port": "443", "dest_ip": "10.0.0.5", "dest_port": "5000"}
    other = {"src_port": "6000", "dest_port": "22"}
    back = {"src_port": "22", "dest_port": "6000"}
    fleet, _ = _fleet(
        (
            "austin",
            [
                flow(1, **forward),
                flow(4, **{**forward, **other}),
                flow(5, **{**reverse, **back}, direction="WAN to LAN"),
            ],
        ),
        ("boston", [flow(3, **reverse, direction="WAN to LAN")]),
    )
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    view.refresh()
    view.set_pairs(True)
    frame = view.frame()
    # austin's ssh conversation pairs; its https flow and boston's reverse one do not.
    assert frame.result.paired == 1 and len(frame.rows) == 3


async def test_events_come_from_every_appliance_in_time_order_with_its_name() -> None:
    fleet, sources = _fleet(("austin", [flow(1)]), ("boston", [flow(2)]))
    await _poll(fleet)
    sources["austin"].flows.append(flow(5))
    sources["boston"].flows = []
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    labels = [event.key.label() for event in view.events()]
    assert any(label.startswith("austin ") for label in labels)
    assert any(label.startswith("boston ") for label in labels)
    times = [event.at for event in view.events()]
    assert times == sorted(times)


@pytest.mark.parametrize("columns", [("src", "dst"), ("appliance", "src")])
def test_the_appliance_column_comes_first_once(columns: tuple[str, ...]) -> None:
    fleet, _ = _fleet(("austin", []))
    view = AllFlowsMonitor(fleet, columns=columns)
    assert [column.id for column in view.columns] == [
        "appliance",
        *[c for c in columns if c != "appliance"],
    ]


async def test_an_export_of_the_all_flows_view_names_each_rows_appliance_first() -> None:
    import csv
    import io
    import json

    from flowtop.core.export import render_rows
    from flowtop.core.model import API_FIELDS

    fleet, _ = _fleet(("austin", [_same_conversation("100")]), ("boston", [flow(2)]))
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    view.refresh()
    rows = list(view.frame().rows)
    document = json.loads(render_rows(rows, "json"))
    assert sorted(item["appliance"] for item in document) == ["austin", "boston"]
    assert all(list(item) == ["appliance", *API_FIELDS] for item in document)
    table = list(csv.reader(io.StringIO(render_rows(rows, "csv"))))
    assert table[0][0] == "appliance" and sorted(row[0] for row in table[1:]) == [
        "austin",
        "boston",
    ]
    # One appliance alone: the 26 fields, as ever.
    assert list(json.loads(render_rows([flow(3)], "json"))[0]) == list(API_FIELDS)


async def test_released_it_holds_no_record_and_takes_them_in_again() -> None:
    fleet, _ = _fleet(("austin", [flow(1)]), ("boston", [flow(2)]))
    await _poll(fleet)
    view = AllFlowsMonitor(fleet)
    view.refresh()
    assert len(view.store.records) == 2
    view.release()
    assert view.store.records == {}
    assert view.refresh(), "nothing polled since, yet the view takes the flows in again"
    assert len(view.frame().rows) == 2 and view.frame().new == ()
