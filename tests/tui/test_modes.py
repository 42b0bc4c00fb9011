"""Layout on resize, the max_stats cap, and the modes the status line names."""

from __future__ import annotations

from textual.widgets import Static

from flowtop.tui.app import FlowTopApp
from flowtop.tui.screens.events import EventsScreen
from flowtop.tui.widgets.status import StatusBar, status_text
from tests.core.factories import flow
from tests.tui.helpers import Clock, DemoSource, ScriptedSource, make_app, poll_now, wait_until


async def test_layout_follows_every_resize() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.detail.display
        assert app.detail.region.width == 62
        assert app.table.region.width == 200 - 62

        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        # Narrow: the table takes the whole width, the pane is hidden.
        assert not app.detail.display
        assert app.detail.region.width == 0
        assert app.table.region.width == 80
        assert app.table.region.height > 0

        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert app.detail.display
        assert app.detail.region.width == 62
        assert app.table.region.width == 200 - 62


async def test_pane_shown_by_a_resize_shows_the_selected_flow() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert not app.detail.display
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert app.detail.display
        title = app.detail.query_one("#detail-title", Static).render()
        assert "No flow selected" not in str(title)
        assert "→" in str(title)


def _status(app: FlowTopApp, width: int | None = None) -> str:
    return status_text(app.status_info(), width).plain


async def test_status_says_when_max_stats_capped_the_answer() -> None:
    clock = Clock()
    # The demo appliance holds far more flows than the 100 asked for.
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.store.capped == 100
        status = _status(app)
        assert "100+ flows, capped by max_stats" in status
        assert "100+ flows, capped" in _status(app, 80)
        assert "max_stats" not in _status(app, 80)
        # What the status bar shows follows its width.
        bar = app.query_one("#status", StatusBar)
        assert "capped by max_stats" in str(bar.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await wait_until(pilot, lambda: "capped by" not in str(bar.render()))
        assert "100+ flows, capped" in str(bar.render())
        await pilot.press("g")
        assert "groups of the top 100 flows" in _status(app)


async def test_an_answer_below_max_stats_is_not_capped() -> None:
    clock = Clock()
    source = ScriptedSource(clock, [[flow(n) for n in range(1, 4)]])
    app = make_app(source, clock, max_stats=50)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.store.capped is None
        status = _status(app)
        assert "3/3 flows" in status and "capped" not in status and "+" not in status


async def test_a_flow_out_of_a_capped_answer_is_shown_as_left_not_ended() -> None:
    clock = Clock()
    source = ScriptedSource(
        clock,
        [
            [flow(1), flow(2), flow(3)],
            [flow(2), flow(3), flow(4)],  # capped at 3: flow 1 only left the top 3
            [flow(2), flow(3)],  # not capped: flow 4 ended
        ],
    )
    app = make_app(source, clock, max_stats=3)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await poll_now(pilot, app, source)
        await poll_now(pilot, app, source)
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        await wait_until(pilot, lambda: len(screen.shown_events) == 3)
        lines = [screen.event_list.line_text(line).plain for line in screen.event_list.lines]
        left = next(line for line in lines if "10.1.0.2:40001" in line)
        ended = next(line for line in lines if "10.1.0.5:40004" in line)
        assert "LEFT TOP" in left and "left the top 3" in left and "ENDED" not in left
        assert "ENDED" in ended
