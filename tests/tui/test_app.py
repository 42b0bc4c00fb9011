"""The real app driven by the pilot: keys, states, recovery, literal text."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.widgets import Input, Static

from flowtop.core.errors import AuthenticationError, ConnectError
from flowtop.core.poller import PollPhase
from flowtop.demo.faults import Faults
from flowtop.tui.screens.help import HelpScreen
from flowtop.tui.screens.sort import SortScreen
from flowtop.tui.widgets.status import status_text
from tests.core.factories import flow
from tests.tui.helpers import Clock, DemoSource, ScriptedSource, make_app, poll_now, wait_until


def _status(app: Any) -> str:
    return status_text(app.status_info()).plain


def _plain(renderable: Any) -> str:
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def _detail_text(app: Any) -> str:
    return str(app.detail.text)


async def test_flows_appear_and_status_is_live() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.poll_state.phase is PollPhase.LIVE
        assert app.table.row_count == len(app.store) == 100
        status = _status(app)
        assert "LIVE" in status and "admin@demo" in status and "100+ flows" in status


async def test_numeric_sort_keys_and_cursor_follows_its_flow() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("P")
        assert app.sort.column == "pps" and app.sort.descending
        values = [row.flow.pps for row in app.last_result.rows]  # type: ignore[union-attr]
        present = [v for v in values if v is not None]
        assert present == sorted(present, reverse=True)
        await pilot.press("i")
        assert not app.sort.descending
        values = [row.flow.pps for row in app.last_result.rows]  # type: ignore[union-attr]
        present = [v for v in values if v is not None]
        assert present == sorted(present)

        for _ in range(7):
            await pilot.press("down")
        chosen = app.table.selected_key
        assert chosen is not None
        await pilot.press("B")
        assert app.table.selected_key == chosen
        await pilot.press("A")
        assert app.table.selected_key == chosen
        await poll_now(pilot, app, source)
        if chosen in app.store:
            assert app.table.selected_key == chosen


async def test_sort_column_moves_with_angle_brackets_and_chooser() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.sort.column == "kbps"
        await pilot.press("less_than_sign")
        assert app.sort.column == "pps"
        await pilot.press("greater_than_sign", "greater_than_sign")
        # Beside the detail pane Bytes is not on screen: from Rate, > wraps to the first.
        assert "bytes" not in app.table.shown_column_ids()
        assert app.sort.column == "src"
        await pilot.press("s")
        assert isinstance(app.screen, SortScreen)
        await pilot.press("home", "enter")
        assert app.sort.column == "src" and not app.sort.descending


async def test_filter_applies_live_and_invalid_keeps_last_valid() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("slash")
        await pilot.press(*"proto:udp")
        assert app.flow_filter.expression == "proto:udp"
        rows = app.last_result.rows  # type: ignore[union-attr]
        assert rows and all(row.flow.ipp == 17 for row in rows)
        assert len(rows) < len(app.store)
        assert "proto:udp" in _status(app)

        # Typed live: "proto:udp pps" is valid (a word), "proto:udp pps>" is not.
        await pilot.press(*" pps>")
        assert app.flow_filter.expression == "proto:udp pps"
        error = str(app.query_one("#filter-error", Static).render())
        assert "position" in error and "last valid filter stays" in error

        await pilot.press("escape")
        assert app.flow_filter.is_empty
        assert app.table.row_count == len(app.store)


async def test_enter_keeps_the_filter_and_escape_clears_it_later() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("slash", *"dir:lan", "enter")
        assert not app.filter_bar.is_open
        assert app.flow_filter.expression == "dir:lan"
        assert app.focused is app.table
        await pilot.press("escape")
        assert app.flow_filter.is_empty


async def test_pause_stops_polling_and_interval_keys() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock, interval=2.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await pilot.press("space")
        assert app.poll_state.phase is PollPhase.PAUSED
        assert "PAUSED" in _status(app)
        fetched = source.fetches
        await pilot.pause(0.3)
        assert source.fetches == fetched
        await pilot.press("p")
        assert app.poll_state.phase is PollPhase.LIVE
        await pilot.press("plus")
        assert app.poll_state.interval == 3.0
        await pilot.press("minus", "minus", "minus", "minus")
        assert app.poll_state.interval == 0.5
        for _ in range(12):
            await pilot.press("plus")
        assert app.poll_state.interval == 60.0


async def test_max_stats_cycles_and_refetches() -> None:
    clock = Clock()
    source = DemoSource(clock, flows=300)
    app = make_app(source, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 100)
        await pilot.press("m")
        assert app.max_stats == 1000
        await wait_until(pilot, lambda: app.table.row_count > 100)
        await pilot.press("m")
        assert app.max_stats == 50
        await wait_until(pilot, lambda: app.table.row_count == 50)


async def test_error_then_stale_then_recovery_keeps_the_data() -> None:
    clock = Clock()
    good = [flow(n) for n in range(5)]
    source = ScriptedSource(
        clock,
        [good, ConnectError("cannot connect to 10.0.0.1:443: connection refused"), good],
    )
    app = make_app(source, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 5)
        await poll_now(pilot, app, source)
        assert app.poll_state.phase is PollPhase.ERROR
        status = _status(app)
        assert "STALE" in status and "connection refused" in status and "retry in" in status
        assert app.table.row_count == 5
        assert app.table.stale
        await poll_now(pilot, app, source)
        assert app.poll_state.phase is PollPhase.LIVE
        assert not app.table.stale
        assert "ERROR" not in _status(app)


async def test_recovery_happens_without_a_key_press() -> None:
    clock = Clock()
    good = [flow(1)]
    source = ScriptedSource(clock, [good, ConnectError("no answer from 10.0.0.1:443"), good])
    app = make_app(source, clock, interval=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.poll_state.failures == 1, timeout=10)
        await wait_until(pilot, lambda: app.poll_state.phase is PollPhase.LIVE, timeout=10)
        assert source.fetches == 3


async def test_authentication_failure_stops_polling() -> None:
    clock = Clock()
    source = ScriptedSource(clock, [AuthenticationError("authentication failed for user ops")])
    app = make_app(source, clock, interval=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.poll_state.phase is PollPhase.STOPPED)
        await pilot.pause(1.2)
        assert source.fetches == 1
        assert "polling stopped" in _status(app)
        await poll_now(pilot, app, source)
        assert source.fetches == 2


async def test_markup_from_the_appliance_is_shown_literally() -> None:
    clock = Clock()
    hostile = flow(
        1,
        application="[bold red]pwn[/]",
        path="[link=http://evil]click[/link]",
        service_name="[@click=app.quit]x[/]",
    )
    source = ScriptedSource(clock, [[hostile, hostile]])
    app = make_app(source, clock)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        key = app.table.row_keys()[0]
        assert app.table.cell_text(key, "app") == "[bold red]pwn[/]"
        detail = _detail_text(app)
        assert "[bold red]pwn[/]" in detail
        assert "[link=http://evil]click[/link]" in detail
        assert "repeated 1 flow key" in _status(app)
        assert app.is_running


async def test_detail_pane_toggles_and_shows_every_group() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert not app.detail_visible
        await pilot.press("d")
        assert app.detail_visible and app.detail.display
        text = _detail_text(app)
        for heading in ("Endpoints", "Path and service", "QoS and rules", "Counters", "Rates"):
            assert heading in text
        assert "pps" in text and "min" in text and "max" in text and "avg" in text
        await pilot.press("escape")
        assert not app.detail_visible


async def test_help_screen_lists_keys() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_quit_logs_out() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await pilot.press("q")
    assert source.closed
    assert not app.is_running
    assert ("DELETE", "/sdwan/nitro/v1/config/login") in list(source.appliance.requests)


async def test_hostile_demo_flows_never_crash_the_app() -> None:
    clock = Clock()
    source = DemoSource(clock, faults=Faults(hostile_text=True))
    app = make_app(source, clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("d")
        for _ in range(30):
            await pilot.press("down")
        await poll_now(pilot, app, source)
        assert app.is_running
        assert app.poll_state.phase is PollPhase.LIVE


async def test_filter_input_receives_keys_that_are_also_bindings() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"q p m", "space")
        assert app.is_running
        assert app.query_one("#filter-input", Input).value == "q p m "
