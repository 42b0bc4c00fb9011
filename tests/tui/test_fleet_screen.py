"""The fleet in the live view: the fleet screen, opening an appliance and coming back."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from flowtop.core import glyphs
from flowtop.core.fleet import DEFAULT_BACKGROUND_INTERVAL, DEFAULT_BACKGROUND_MAX_STATS
from flowtop.tui.app import FlowTopApp
from flowtop.tui.scenes import fleet_app, settle
from flowtop.tui.screens.fleet import FleetScreen, sparkline
from flowtop.tui.widgets.status import status_text


async def _loaded(pilot: Any, app: FlowTopApp) -> FleetScreen:
    assert app.fleet is not None
    fleet = app.fleet
    await settle(pilot, lambda: all(member.polls >= 1 for member in fleet.members))
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    return screen


def _cells(screen: FleetScreen) -> dict[str, str]:
    """Each appliance's row as plain text, by name."""
    table = screen.table
    rows = {}
    for index, name in enumerate(screen.shown_names):
        cells = table.get_row_at(index)
        rows[name] = " ".join(c.plain if isinstance(c, Text) else str(c) for c in cells)
    return rows


async def test_the_fleet_screen_shows_every_appliance_by_name_and_state() -> None:
    app = fleet_app()
    async with app.run_test(size=(200, 20)) as pilot:
        screen = await _loaded(pilot, app)
        await settle(pilot, lambda: len(screen.shown_names) == 3)
        assert screen.shown_names == ["dc", "austin", "boston"]
        rows = _cells(screen)
        assert "LIVE" in rows["dc"] and "LIVE" in rows["austin"]
        # The refused log-in: STOPPED, with why, after one attempt (no lockout by retries).
        assert "STOPPED" in rows["boston"] and "Invalid username or password" in rows["boston"]
        assert app.fleet is not None and app.fleet["boston"].monitor.poll_state.failures == 1
        # Flows with the capped mark, and the background rate each row polls at.
        assert "100+" in rows["dc"]
        assert f"{DEFAULT_BACKGROUND_INTERVAL:g}s/{DEFAULT_BACKGROUND_MAX_STATS}" in rows["dc"]
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


async def test_enter_opens_an_appliance_esc_comes_back_and_numbers_jump() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _loaded(pilot, app)
        assert app.fleet is not None
        await pilot.press("down", "enter")
        await settle(pilot, lambda: not isinstance(app.screen, FleetScreen))
        await settle(pilot, lambda: app.table.row_count > 0)
        assert app.monitor is app.fleet["austin"].monitor
        assert app.fleet.open_name == "austin" and app.fleet["austin"].foreground
        # The status line names the appliance shown.
        assert status_text(app.status_info()).plain.split()[1] == "austin"
        keys = set(app.table.row_keys())
        assert keys == set(app.fleet["austin"].monitor.store.records)
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, FleetScreen))
        assert app.fleet.open_name is None and not app.fleet["austin"].foreground
        await pilot.press("1")
        await settle(pilot, lambda: app.monitor is app.fleet["dc"].monitor)  # type: ignore[index]
        assert not isinstance(app.screen, FleetScreen)
        assert status_text(app.status_info()).plain.split()[1] == "dc"
        # Straight from one flow view to another.
        await pilot.press("2")
        await settle(pilot, lambda: app.monitor is app.fleet["austin"].monitor)  # type: ignore[index]
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


async def test_flow_keys_do_nothing_on_the_fleet_screen() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _loaded(pilot, app)
        for key in ("s", "g", "e", "x", "d"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, FleetScreen), key
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


async def test_the_fleet_screen_sorts_and_filters() -> None:
    app = fleet_app()
    async with app.run_test(size=(200, 20)) as pilot:
        screen = await _loaded(pilot, app)
        await settle(pilot, lambda: len(screen.shown_names) == 3)
        await pilot.press("greater_than_sign")  # by name
        assert screen.shown_names == ["austin", "boston", "dc"]
        await pilot.press("i")
        assert screen.shown_names == ["dc", "boston", "austin"]
        # Any text of a row: boston is the one stopped.
        await pilot.press("slash", "s", "t", "o", "p")
        assert screen.shown_names == ["boston"]
        await pilot.press("enter")
        assert screen.table.has_focus
        await pilot.press("escape")
        assert len(screen.shown_names) == 3
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


async def test_a_failover_anywhere_is_announced_with_the_appliances_name() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _loaded(pilot, app)
        assert app.fleet is not None
        member = app.fleet["austin"]
        world = member.source.appliance.world  # type: ignore[attr-defined]
        before = len(member.monitor.failovers())
        # Time passes at austin until its WAN fails and flows move.
        for _ in range(120):
            member.source.clock.advance(1.0)  # type: ignore[attr-defined]
            member.wake.set()
            polls = member.polls
            await settle(pilot, lambda: member.polls > polls)  # noqa: B023
            if len(member.monitor.failovers()) > before:
                break
        assert len(member.monitor.failovers()) > before, world
        await pilot.pause()
        notices = [n.message for n in app._notifications]
        assert any(message.startswith("austin: failover, ") for message in notices), notices
        # On a line of its own under the fleet's, whole, for a minute.
        await pilot.resize_terminal(80, 24)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        app._refresh_fleet()
        head, note = screen.status_line.plain.splitlines()
        assert note.startswith(" NOTE  austin: failover, ") and len(head) <= 80
        app._fleet_notice_until = 0.0  # a minute later
        app._refresh_fleet()
        assert "NOTE" not in screen.status_line.plain
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


def test_a_sparkline_scales_to_its_maximum() -> None:
    assert sparkline([0, 5, 10], 8) == "▁▄█"
    assert sparkline([0, 0], 8) == "▁▁"
    # The last four of twenty: 16 to 19 of a top of 19.
    assert sparkline(range(20), 4) == "▆▇▇█"


class _Static:
    """A source that answers the same flows every time."""

    def __init__(self, name: str, flows: list[Any]) -> None:
        self.name = name
        self.flows = flows

    @property
    def description(self) -> str:
        return f"viewer@{self.name}"

    async def fetch(self, max_stats: int) -> Any:
        import time

        from flowtop.core.source import Snapshot

        return Snapshot(flows=list(self.flows), received_at=time.time(), latency=0.01)

    async def close(self) -> None:
        return None


async def test_the_detail_pane_shows_the_other_end_of_a_conversation() -> None:
    from flowtop.core.fleet import Fleet, Member
    from flowtop.core.monitor import Monitor
    from tests.core.factories import flow

    branch = flow(
        1, src_ip="10.40.0.5", src_port="50000", dest_ip="10.1.0.9", dest_port="443",
        ip_dscp="af21", path="Austin-MPLS->DC-MPLS",
    )  # fmt: skip
    dc = flow(
        2, src_ip="10.1.0.9", src_port="443", dest_ip="10.40.0.5", dest_port="50000",
        ip_dscp="default", path="DC-INET->Austin-INET", direction="WAN to LAN",
    )  # fmt: skip
    members = [
        Member("dc", _Static("dc", [dc]), Monitor()),
        Member("austin", _Static("austin", [branch]), Monitor()),
    ]
    app = FlowTopApp(members[0].source, fleet=Fleet(members), handle_signals=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, lambda: all(member.polls >= 1 for member in members))
        await pilot.press("2")
        await settle(pilot, lambda: app.table.row_count == 1)
        await pilot.pause()
        # Words as they read, whatever the folding of long values.
        text = " ".join(app.detail.text.split())
        assert "Also seen at dc" in text
        assert "DC-INET->Austin-INET (asymmetric: other links than here)" in text
        assert "default (re-marked: af21 here)" in text
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


async def test_the_fleet_screen_keeps_its_sort_and_filter_while_an_appliance_is_open() -> None:
    app = fleet_app()
    async with app.run_test(size=(200, 20)) as pilot:
        screen = await _loaded(pilot, app)
        await settle(pilot, lambda: len(screen.shown_names) == 3)
        await pilot.press("greater_than_sign", "i", "slash", "a", "enter")
        assert screen.shown_names == ["dc", "boston", "austin"]
        await pilot.press("enter")
        await settle(pilot, lambda: not isinstance(app.screen, FleetScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, FleetScreen))
        assert app.screen is screen
        assert screen.shown_names == ["dc", "boston", "austin"]
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


async def test_an_appliance_that_never_answered_shows_unknown_figures_not_zeros() -> None:
    app = fleet_app()
    async with app.run_test(size=(200, 20)) as pilot:
        screen = await _loaded(pilot, app)
        await settle(pilot, lambda: len(screen.shown_names) == 3)
        cells = screen.table.get_row_at(screen.shown_names.index("boston"))
        texts = [cell.plain for cell in cells]
        assert "0" not in texts and "0 b/s" not in texts
        assert texts.count(glyphs.current().missing) >= 5
        assert texts[-1] == "Invalid username or password"
        await pilot.press("q")
        # Leave as a user does: q ends every poll loop first.
        await pilot.press("q")


async def test_a_number_past_the_fleet_says_so() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("9")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        assert any("no appliance 9: the fleet has 3" in n.message for n in app._notifications)
        await pilot.press("q")


async def test_at_80_columns_the_state_and_why_stay_and_wider_shows_more() -> None:
    """A NOC at 80x24 on a jump host: the columns that do not fit go, state and why stay."""
    app = fleet_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _loaded(pilot, app)
        await settle(pilot, lambda: "STOPPED" in _cells(screen).get("boston", ""))
        keys = [column.key for column in screen.columns]
        assert keys == ["order", "name", "state", "flows", "rate", "why"]
        assert "Invalid username or password" in _cells(screen)["boston"]
        # The sort steps through the columns shown only.
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
        assert screen._sort == "flows"
        await pilot.resize_terminal(200, 24)
        await settle(pilot, lambda: "host" in [column.key for column in screen.columns])
        assert "admin@austin" in _cells(screen)["austin"]
        await pilot.press("q")


async def test_a_key_of_the_flow_view_says_where_it_works() -> None:
    app = fleet_app()
    async with app.run_test(size=(160, 30)) as pilot:
        screen = await _loaded(pilot, app)
        await pilot.press("s")
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Sort (s) works in a flow view: enter opens") for m in messages)
        count = len(app._notifications)
        # The screen's own keys and the filter's typing say nothing of the kind.
        await pilot.press("i", "slash", "g")
        await pilot.pause()
        assert len(app._notifications) == count and screen._filter == "g"
        await pilot.press("escape", "q")
