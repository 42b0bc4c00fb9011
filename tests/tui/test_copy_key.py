"""y: the selected row copied as a filter expression, through OSC 52, with a notice."""

from __future__ import annotations

import pytest

from flowtop.core.filter import compile_filter
from tests.core.factories import flow
from tests.tui.helpers import Clock, ScriptedSource, make_app, wait_until


async def test_y_copies_the_selected_flow_as_a_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TERM_PROGRAM", raising=False)
    clock = Clock()
    flows = [flow(1), flow(2)]
    app = make_app(ScriptedSource(clock, [flows]), clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        app.table.select_key(flows[0].key)
        await pilot.press("y")
        await pilot.pause()
        copied = app.clipboard
        assert copied == (
            'src:10.1.0.2 sport:40001 dst:192.0.2.10 dport:443 proto:tcp dir:"LAN to WAN"'
        )
        assert [f for f in flows if compile_filter(copied)(f)] == [flows[0]]
        notices = [n.message for n in app._notifications]
        assert copied in notices
        # Pasted into the filter bar, it shows exactly that flow.
        await pilot.press("slash", *copied, "enter")
        await pilot.pause()
        assert app.table.row_keys() == [flows[0].key]


async def test_y_on_a_terminal_without_osc52_shows_the_expression_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "linux")
    clock = Clock()
    app = make_app(ScriptedSource(clock, [[flow(1)]]), clock)
    written: list[str] = []
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 1)
        monkeypatch.setattr(app, "copy_to_clipboard", written.append)
        await pilot.press("y")
        await pilot.pause()
        assert written == []
        (notice,) = [n.message for n in app._notifications]
        assert notice.startswith("src:10.1.0.2 ") and "not copied" in notice
    off = make_app(ScriptedSource(clock, [[flow(1)]]), clock, clipboard=False)
    monkeypatch.setenv("TERM", "xterm")
    assert off.clipboard_refusal == "clipboard = false in the profile"


async def test_the_view_keys_do_nothing_over_the_events_view() -> None:
    clock = Clock()
    app = make_app(ScriptedSource(clock, [[flow(1)]]), clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 1)
        await pilot.press("e")
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("y", "c", "o", "n", "N")
        await pilot.pause()
        assert app.clipboard == ""
        assert not app.monitor.pairs and not app.monitor.naming.hosts
        assert not app.monitor.naming.ports
