"""The filter bar: what is typed is shown, invalid input is never applied on enter,
esc cancels an edit, and esc typed just before a key stays an escape."""

from __future__ import annotations

import time
from typing import Any

import pytest
from textual import constants, events
from textual._xterm_parser import XTermParser

from flowtop.tui.screens.group import GroupScreen
from flowtop.tui.widgets.filter_bar import SHORT_ESCAPE_DELAY
from tests.tui.helpers import Clock, DemoSource, make_app, wait_until


def _bar_line(app: Any) -> str:
    """The text the input draws on its one line."""
    field = app.filter_bar.input
    return "".join(segment.text for segment in field.render_line(0))


async def test_the_bar_is_one_line_that_shows_the_typed_text() -> None:
    """Issue 8: the focused input's border took the bar's only line, hiding the text."""
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("slash", *"app:zoom")
        await pilot.pause()
        field = app.filter_bar.input
        assert field.has_focus
        assert field.region.height == 1
        assert field.content_region.height == 1
        assert "app:zoom" in _bar_line(app)
        # The bar sits just above the footer, inside the screen.
        assert app.filter_bar.region.bottom <= app.size.height - 1


async def test_enter_on_an_invalid_expression_keeps_the_bar_open_with_the_error() -> None:
    """Issue 8: app~( + enter closed the bar on the prefix "app" with no visible error."""
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("slash", *"app~(", "enter")
        await pilot.pause()
        bar = app.filter_bar
        assert bar.is_open
        assert bar.input.value == "app~("
        assert bar.input.has_focus
        assert 'bad regular expression "("' in bar.error_text
        assert "esc cancels" in bar.error_text
        assert bar.input.has_class("-invalid")
        # Not even the prefix "app", valid while typing, stays applied.
        assert app.flow_filter.is_empty
        assert app.table.row_count == len(app.store)

        # Fixed, enter applies it and closes the bar.
        await pilot.press("backspace", *"^zoom$", "enter")
        await pilot.pause()
        assert not bar.is_open
        assert app.flow_filter.expression == "app~^zoom$"
        rows = app.last_result.rows  # type: ignore[union-attr]
        assert rows and {row.flow.application for row in rows} == {"Zoom"}


async def test_escape_cancels_an_edit_and_a_second_escape_clears() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("slash", *"dir:lan*", "enter")
        assert app.flow_filter.expression == "dir:lan*"

        await pilot.press("slash", *" proto:udp")
        assert app.flow_filter.expression == "dir:lan* proto:udp"  # applied live
        await pilot.press("escape")
        assert not app.filter_bar.is_open
        assert app.flow_filter.expression == "dir:lan*"
        assert app.focused is app.table

        await pilot.press("escape")
        assert app.flow_filter.is_empty
        assert app.table.row_count == len(app.store)


async def test_alt_key_in_the_bar_is_escape_then_the_key() -> None:
    """ESC and a key within Textual's escape delay arrive as alt+key (issue 8)."""
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("slash", *"app:zoom")
        # What the terminal parser makes of "\x1bg" typed quickly.
        app.post_message(events.Key("alt+g", "g"))
        await pilot.pause()
        await pilot.pause()
        assert not app.filter_bar.is_open
        assert app.filter_bar.input.value == "app:zoom"  # no "g" typed into it
        assert app.flow_filter.is_empty  # the edit was cancelled
        assert isinstance(app.screen, GroupScreen)  # g acted: the group picker is open


async def test_the_app_shortens_the_escape_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESCDELAY", raising=False)
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.1)
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert constants.ESCAPE_DELAY == SHORT_ESCAPE_DELAY

    # So ESC then "/" 60 ms later is an escape and a slash, not a lone slash.
    parser = XTermParser()
    keys = [event for event in parser.feed("\x1b") if isinstance(event, events.Key)]
    time.sleep(0.06)
    keys += [event for event in parser.tick() if isinstance(event, events.Key)]
    keys += [event for event in parser.feed("/") if isinstance(event, events.Key)]
    assert [key.key for key in keys] == ["escape", "slash"]


async def test_a_user_escdelay_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCDELAY", "300")
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.3)
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert constants.ESCAPE_DELAY == 0.3
