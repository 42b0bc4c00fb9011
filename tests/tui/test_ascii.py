"""Plain ASCII on terminals that are not UTF-8 (LANG=C) or with --ascii."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from flowtop.core import glyphs
from flowtop.demo.faults import Faults
from flowtop.demo.pinned import ManualClock, PinnedDemoSource
from flowtop.tui.app import FlowTopApp
from flowtop.tui.scenes import poll, settle
from flowtop.tui.screens.events import EventsScreen
from flowtop.tui.screens.help import HelpScreen


def _app(ascii_only: bool) -> FlowTopApp:
    clock = ManualClock()
    # Hostile text: emoji, CJK, Arabic, zero-width characters from the appliance.
    source = PinnedDemoSource(clock, faults=Faults(hostile_text=True))
    return FlowTopApp(
        source, clock=clock, handle_signals=False, interval=60.0, ascii_only=ascii_only
    )


def screen_text(app: FlowTopApp) -> str:
    """Every character on the screen, as the terminal would get it."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def _detail(pilot: Pilot[Any], app: FlowTopApp) -> None:
    await settle(pilot, lambda: app.table.row_count > 0)
    await poll(pilot, app, 40)  # the demo's first failover: path changes in the timeline
    moved = [
        row.key
        for row in (app.last_result.rows if app.last_result else [])
        if (record := app.store.get(row.key)) is not None and record.path_changes
    ]
    assert moved
    app.table.select_key(moved[0])
    await pilot.pause()


async def test_ascii_mode_draws_nothing_but_ascii() -> None:
    app = _app(ascii_only=True)
    async with app.run_test(size=(200, 50)) as pilot:
        await _detail(pilot, app)
        assert app.detail_visible
        text = screen_text(app)
        non_ascii = sorted({c for c in text if not c.isascii()})
        assert not non_ascii, non_ascii
        assert "bit/sv" in text  # the sort mark
        assert " -> " in text  # the path timeline
        # The sparklines are drawn from the ASCII levels.
        assert set(glyphs.ASCII.spark[1:]) & set(text)
        # The filter bar (an Input with a border), the help, the events view.
        await pilot.press("slash", *"app:z")
        await pilot.pause()
        assert app.screen.query_one(Input).has_focus
        assert screen_text(app).isascii()
        await pilot.press("escape")
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        assert screen_text(app).isascii()
        await pilot.press("escape")
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, EventsScreen))
        await pilot.pause()
        events = screen_text(app)
        assert events.isascii() and " -> " in events


async def test_unicode_mode_keeps_its_glyphs() -> None:
    # The other side of the test above: without ASCII mode the same screen is Unicode.
    app = _app(ascii_only=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await _detail(pilot, app)
        text = screen_text(app)
        assert "bit/s\u25bc" in text and " \u2192 " in text
        assert glyphs.current() is glyphs.UNICODE
