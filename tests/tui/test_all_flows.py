"""The fleet's all-flows view in the live app: opened with a or 0, filtered and grouped by
appliance, left with esc."""

from __future__ import annotations

from typing import Any

from textual.widgets import OptionList

from flowtop.core.all_flows import AllFlowsMonitor
from flowtop.core.model import FlowKey
from flowtop.tui.app import FlowTopApp
from flowtop.tui.scenes import fleet_app, settle
from flowtop.tui.screens.fleet import FleetScreen
from flowtop.tui.screens.group import GroupScreen


async def _fleet_loaded(pilot: Any, app: FlowTopApp) -> None:
    assert app.fleet is not None
    fleet = app.fleet
    await settle(pilot, lambda: all(member.polls >= 1 for member in fleet.members))
    await pilot.pause()


async def _all_flows(pilot: Any, app: FlowTopApp, key: str = "a") -> None:
    """The fleet loaded, then its all-flows view opened with ``key`` (a or 0)."""
    await _fleet_loaded(pilot, app)
    await pilot.press(key)
    await settle(pilot, lambda: app.table.row_count > 0)


def _appliances(app: FlowTopApp) -> list[str]:
    rows = app.last_result.rows if app.last_result is not None else []
    return [row.key.appliance for row in rows if isinstance(row.key, FlowKey)]


async def test_a_on_the_fleet_screen_shows_every_appliances_flows_named() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _all_flows(pilot, app, "a")
        assert not isinstance(app.screen, FleetScreen)
        assert isinstance(app.monitor, AllFlowsMonitor)
        assert app.columns[0].id == "appliance"
        assert set(_appliances(app)) == {"dc", "austin"}  # boston refuses the log-in
        assert app.table.row_count == 200  # two appliances at the background max_stats
        status = app.status_info()
        assert status.source == "all 3 appliances" and "boston STOPPED" in status.notice
        # Every appliance stays at the background rate: none is open.
        assert app.fleet is not None and app.fleet.open_name is None
        # The detail pane names the appliance of the selected flow.
        assert "Appliance" in app.detail.text
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)
        await pilot.press("q")


async def test_appliance_filters_and_the_group_picker_offers_the_appliance_first() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _all_flows(pilot, app, "0")
        await pilot.press("slash", *"appliance:austin", "enter")
        await settle(pilot, lambda: set(_appliances(app)) == {"austin"})
        assert app.table.row_count == 100
        await pilot.press("escape")
        await settle(pilot, lambda: set(_appliances(app)) == {"dc", "austin"})
        await pilot.press("g")
        await settle(pilot, lambda: isinstance(app.screen, GroupScreen))
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids[:3] == ["none", "appliance", "application"]
        # Highlighted first: g then enter groups by appliance.
        await pilot.press("enter")
        await settle(pilot, lambda: app.grouping is not None)
        assert app.grouping is not None and app.grouping.id == "appliance"
        groups = {row.group.value: row.group.count for row in app.last_result.rows if row.group}  # type: ignore[union-attr]
        assert groups == {"dc": 100, "austin": 100}
        # enter on a group drills into its flows: the filter names the appliance.
        await pilot.press("enter")
        await settle(pilot, lambda: app.grouping is None)
        assert app.flow_filter.expression in ("appliance:dc", "appliance:austin")
        assert len(set(_appliances(app))) == 1
        await pilot.press("q")


async def test_the_interval_keys_say_the_rate_is_each_appliances() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _all_flows(pilot, app, "0")
        before = app.poll_state.interval
        await pilot.press("plus")
        await pilot.pause()
        assert app.poll_state.interval == before
        assert any("each appliance's" in str(note.message) for note in app._notifications)
        # 2 from the all-flows view opens austin's own view; 0 comes back.
        await pilot.press("2")
        await settle(pilot, lambda: app.fleet is not None and app.fleet.open_name == "austin")
        assert not isinstance(app.monitor, AllFlowsMonitor)
        await pilot.press("0")
        assert isinstance(app.monitor, AllFlowsMonitor)
        assert app.fleet is not None and app.fleet.open_name is None
        await pilot.press("q")


async def test_grouped_under_a_filter_the_status_says_how_many_flows_it_lets_through() -> None:
    """At 80 columns: the groups, the flows the filter lets through of all, the filter."""
    from flowtop.tui.widgets.status import status_text

    app = fleet_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _all_flows(pilot, app, "a")
        await pilot.press("slash", *"proto:udp", "enter")
        await settle(pilot, lambda: app.flow_filter.expression == "proto:udp")
        await pilot.press("g")
        await settle(pilot, lambda: isinstance(app.screen, GroupScreen))
        await pilot.press("enter")
        await settle(pilot, lambda: app.grouping is not None)
        info = app.status_info()
        assert info.grouped is not None and 0 < info.grouped < info.total == 200
        line = status_text(info, 80).plain.splitlines()[0]
        assert f"groups of {info.grouped}/200+ flows" in line
        assert "filter prot" in line
        await pilot.press("q")


async def test_space_pauses_the_whole_fleet_from_its_screen_and_from_all_flows() -> None:
    app = fleet_app(refused="")
    async with app.run_test(size=(160, 30)) as pilot:
        await _fleet_loaded(pilot, app)
        assert app.fleet is not None
        fleet = app.fleet
        await pilot.press("space")
        await settle(pilot, lambda: all(m.monitor.poll_state.paused for m in fleet.members))
        assert {summary.state for summary in fleet.summaries()} == {"PAUSED"}
        await pilot.press("space")
        await settle(pilot, lambda: not any(m.monitor.poll_state.paused for m in fleet.members))
        await pilot.press("a")
        await settle(pilot, lambda: app.table.row_count > 0)
        await pilot.press("space")
        await settle(pilot, lambda: all(m.monitor.poll_state.paused for m in fleet.members))
        assert app.all_flows is not None and app.all_flows.poll_state.paused
        await pilot.press("space")
        await settle(pilot, lambda: not any(m.monitor.poll_state.paused for m in fleet.members))
        assert not app.all_flows.poll_state.paused
        await pilot.press("q")
