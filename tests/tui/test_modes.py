"""Layout on resize, the max_stats cap, and the modes the status line names."""

from __future__ import annotations

from textual.widgets import Static

from tests.tui.helpers import Clock, DemoSource, make_app, wait_until


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
