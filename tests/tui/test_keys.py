"""Keys and habits: ctrl+c, ctrl+z, the group picker, moving in the detail pane, sorting."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from textual.binding import Binding, BindingsMap
from textual.driver import Driver
from textual.widgets import OptionList, Static

from flowtop.core.columns import RATE_TITLE
from flowtop.core.fields import ALL_FIELDS, EITHER_END_TERMS
from flowtop.core.filter import compile_filter
from flowtop.core.groups import GROUPINGS, resolve_grouping
from flowtop.core.model import Flow
from flowtop.tui.app import FlowTopApp
from flowtop.tui.screens.events import EventList, EventsScreen
from flowtop.tui.screens.export import ExportScreen
from flowtop.tui.screens.group import NO_GROUPING, GroupScreen
from flowtop.tui.screens.help import KEY_NAMES, HelpScreen, alias_table, help_table, key_groups
from flowtop.tui.screens.sort import SortScreen
from flowtop.tui.widgets.detail import DetailPane
from flowtop.tui.widgets.flow_table import FlowTable
from flowtop.tui.widgets.status import status_text
from flowtop.tui.widgets.text_lines import TextLines
from tests.core.factories import flow
from tests.tui.helpers import Clock, DemoSource, ScriptedSource, make_app, wait_until


async def test_ctrl_c_quits_and_logs_out() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running)
    assert source.closed
    assert ("DELETE", "/sdwan/nitro/v1/config/login") in list(source.appliance.requests)


async def test_ctrl_c_quits_from_the_filter_bar_too() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await pilot.press("slash", "a", "ctrl+c")
        await wait_until(pilot, lambda: not app.is_running)
    assert source.closed


async def test_suspend_stops_polling_until_resumed() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock, interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: source.fetches >= 2)
        # What ctrl+z publishes just before the process stops itself (SIGTSTP).
        app.app_suspend_signal.publish(app)
        assert app.suspended
        await pilot.pause(0.1)
        fetched = source.fetches
        await pilot.pause(1.3)
        assert source.fetches == fetched
        # What the driver posts once the process runs again in the foreground.
        app.post_message(Driver.SignalResume())
        await wait_until(pilot, lambda: source.fetches > fetched, timeout=2.0)
        assert not app.suspended
        await wait_until(pilot, lambda: source.fetches > fetched + 1, timeout=3.0)


def test_ctrl_z_is_bound_to_suspend() -> None:
    bindings = FlowTopApp._merge_bindings().key_to_bindings
    assert [binding.action for binding in bindings["ctrl+z"]] == ["suspend_process"]
    assert [binding.action for binding in bindings["ctrl+c"]] == ["quit"]


def _header(app: FlowTopApp) -> str:
    return app.table.render_line(0).text


async def test_sorting_by_a_hidden_column_brings_it_into_view() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert "bytes" not in app.table.shown_column_ids()
        assert "Bytes" not in _header(app)
        await pilot.press("B")
        assert app.sort.column == "bytes"
        assert "bytes" in app.table.shown_column_ids()
        assert "Bytes▼" in _header(app)
        await pilot.press("A")
        assert "age" in app.table.shown_column_ids()
        assert "Age▼" in _header(app)
        await pilot.press("s")
        assert isinstance(app.screen, SortScreen)
        await pilot.press("end", "enter")
        assert app.sort.column == "age"
        await pilot.press("s", "end", "up", "enter")
        assert app.sort.column == "bytes"
        assert "Bytes▼" in _header(app)


async def test_angle_brackets_step_through_the_columns_on_screen() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        shown = app.table.shown_column_ids()
        assert shown[-1] == "kbps" and app.sort.column == "kbps"
        await pilot.press("greater_than_sign")
        assert app.sort.column == shown[0]
        await pilot.press("less_than_sign")
        assert app.sort.column == "kbps"
        await pilot.press("less_than_sign")
        assert app.sort.column == "pps"
        for _ in range(len(shown)):
            await pilot.press("greater_than_sign")
            assert app.sort.column in app.table.shown_column_ids()


async def test_group_mode_offers_only_the_sort_keys_that_apply() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("A")
        assert app.sort.column == "age"
        app.set_grouping(resolve_grouping("application"))
        await pilot.pause()
        # Groups have no age: they sort by rate meanwhile, and say so in the status.
        assert app.sort.column == "kbps"
        assert f"{RATE_TITLE}▼" in status_text(app.status_info()).plain
        await pilot.press("A")
        await pilot.pause()
        assert app.sort.column == "kbps"
        assert any("no Age" in n.message for n in app._notifications)
        await pilot.press("B")
        assert app.sort.column == "bytes"
        await pilot.press("s")
        assert isinstance(app.screen, SortScreen)
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids == [column.id for column in app.columns]
        assert "age" not in ids and "flows" in ids
        await pilot.press("escape")
        await pilot.press("s", "home", "down", "enter")
        assert app.sort.column == "flows"
        app.set_grouping(None)
        await pilot.pause()
        # Back to flows: the flow sort from before group mode.
        assert app.sort.column == "age"


def _reordered_flows() -> list[Flow]:
    """Fifty flows: rate order is 0..49; by bytes, flow 2 is 11th and flow 5 is 46th."""
    by_bytes = list(range(50))
    by_bytes[2], by_bytes[10] = by_bytes[10], by_bytes[2]
    by_bytes[5], by_bytes[45] = by_bytes[45], by_bytes[5]
    place = {n: row for row, n in enumerate(by_bytes)}
    return [
        flow(n, customer_kbps=str(1000.0 - n), bytes=str((50 - place[n]) * 1000)) for n in range(50)
    ]


async def test_a_new_sort_keeps_the_rows_on_screen_and_shows_the_cursor_flow() -> None:
    clock = Clock()
    app = make_app(ScriptedSource(clock, [_reordered_flows()]), clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 50)
        page = app.table.size.height - 1
        assert page < 40
        await pilot.press("down", "down")
        assert app.table.cursor_row == 2 and app.table.top_row == 0
        assert "row 3/50" in status_text(app.status_info()).plain
        # Flow 2 is 11th by bytes, still on the first page: the top rows stay.
        await pilot.press("B")
        assert app.table.cursor_row == 10
        assert app.table.top_row == 0
        assert "row 11/50" in status_text(app.status_info()).plain
        await pilot.press("K")
        assert app.table.cursor_row == 2 and app.table.top_row == 0
        await pilot.press("down", "down", "down")
        # Flow 5 is 46th by bytes: the view moves just enough to show it, at the bottom.
        await pilot.press("B")
        assert app.table.cursor_row == 45
        assert app.table.top_row == 45 - page + 1
        assert "row 46/50" in status_text(app.status_info()).plain


async def test_g_opens_the_group_picker_and_escape_leaves_group_mode() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("g")
        assert isinstance(app.screen, GroupScreen)
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        # One appliance: no grouping by appliance (the fleet's all-flows view has it).
        assert ids == [
            NO_GROUPING,
            *(grouping for grouping in GROUPINGS if grouping != "appliance"),
        ]
        await pilot.press("escape")
        assert not isinstance(app.screen, GroupScreen) and app.grouping is None
        await pilot.press("g", "down", "down", "enter")
        assert app.grouping is not None and app.grouping.id == "service"
        assert app.table.columns[0].title == "Service"
        # The picker opens on the current grouping.
        await pilot.press("g")
        assert isinstance(app.screen, GroupScreen)
        options = app.screen.query_one(OptionList)
        assert options.highlighted == ids.index("service")
        await pilot.press("escape")
        assert app.grouping is not None
        # esc leaves group mode; the filter is cleared only by the next one.
        app.flow_filter = compile_filter("proto:udp")
        await pilot.press("escape")
        assert app.grouping is None and app.table.columns[0].id == "src"
        assert app.flow_filter.expression == "proto:udp"
        await pilot.press("escape")
        assert app.flow_filter.is_empty


async def test_full_screen_detail_steps_through_the_flows() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        keys = app.table.row_keys()
        await pilot.press("d")
        assert app.detail_visible and app.focused is app.detail
        assert app.selected == keys[0]
        await pilot.press("down")
        assert app.selected == keys[1] and app.table.cursor_row == 1
        await pilot.press("j", "j")
        assert app.selected == keys[3]
        await pilot.press("k", "up")
        assert app.selected == keys[1]
        assert "row 2/" in status_text(app.status_info()).plain
        # The pane shows the flow the cursor is on.
        record = app.store.get(keys[1])
        assert record is not None and record.flow.src_ip is not None
        title = app.detail.query_one("#detail-title", TextLines).text
        assert str(record.flow.src_ip) in str(title)
        await pilot.press("escape")
        assert not app.detail_visible and app.table.cursor_row == 1
        # Back in the table the first rows are still on screen.
        await pilot.pause()
        assert app.table.top_row == 0


async def test_help_lists_the_new_keys() -> None:
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(help_table())
    text = console.export_text()
    for key in ("ctrl+c", "ctrl+z", "next / previous flow", "in group mode"):
        assert key in text


def test_help_lists_every_bound_key() -> None:
    """The help is written from the bindings: every bound key has a help line."""
    listed: set[str] = set()
    for _, keys in key_groups():
        for key_text, _meaning in keys:
            for token in re.split(r"[\s,]+", key_text):
                listed.update(token.split("/") if len(token) > 1 else [token])
    maps = [
        ("app", FlowTopApp._merge_bindings()),
        # The widgets' and screens' own keys (not the scrolling they inherit).
        ("table", BindingsMap(FlowTable.BINDINGS)),
        ("detail", BindingsMap(DetailPane.BINDINGS)),
        ("events", BindingsMap(EventsScreen.BINDINGS)),
        ("events list", BindingsMap(EventList.BINDINGS)),
        ("export", BindingsMap(ExportScreen.BINDINGS)),
    ]
    for owner, bindings_map in maps:
        for key, bindings in bindings_map.key_to_bindings.items():
            if all(binding.system for binding in bindings):
                continue  # Textual's own, such as the command palette's
            assert KEY_NAMES.get(key, key) in listed, f"{owner}: {key}"


def test_a_new_binding_gets_a_help_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key bound without a place in the layout still shows, with its own description."""
    bindings = [*FlowTopApp.BINDINGS, Binding("Z", "zap", "Zap the flows")]
    monkeypatch.setattr(FlowTopApp, "BINDINGS", bindings)
    groups = dict(key_groups())
    assert ("Z", "zap the flows") in groups["Other keys"]


def test_help_keys_follow_the_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rebinding a key changes the help: it is not written by hand."""
    bindings = [
        Binding("w", "refresh", "Refresh") if getattr(item, "action", "") == "refresh" else item
        for item in FlowTopApp.BINDINGS
    ]
    monkeypatch.setattr(FlowTopApp, "BINDINGS", bindings)
    polling = dict(dict(key_groups())["Polling"])
    assert polling["w"].startswith("refresh now")
    assert "r" not in polling


def _alias_lines() -> list[tuple[str, str]]:
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(alias_table())
    rows = []
    for line in console.export_text().splitlines():
        names, _, field = line.strip().partition("  ")
        rows.append((names.strip(), field.strip()))
    return rows


def test_help_lists_exactly_the_registrys_aliases() -> None:
    shown: dict[str, str] = {}
    for names, field in _alias_lines():
        for name in names.split():
            assert name not in shown, f"{name} listed twice"
            shown[name] = field
    expected = {alias: field.name for field in ALL_FIELDS for alias in field.aliases}
    expected.update(
        {term.name: " or ".join(term.fields) + " (filter only)" for term in EITHER_END_TERMS}
    )
    assert shown == expected


async def test_the_help_screen_shows_the_aliases() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.query_one("#help-aliases", Static).display


def test_the_readme_keys_table_is_the_help_screens() -> None:
    """The README's keys table between the markers is made from the bindings, as help is."""
    from pathlib import Path

    from flowtop.tui.screens.help import keys_markdown

    readme = Path(__file__).resolve().parents[2] / "README.md"
    match = re.search(r"<!-- keys -->\n(.*?)<!-- /keys -->", readme.read_text("utf-8"), re.S)
    assert match is not None, "the README lost its <!-- keys --> markers"
    assert match[1].strip() == keys_markdown()
    # Every bound key of the app shows in it.
    for binding in FlowTopApp.BINDINGS:
        if isinstance(binding, Binding) and binding.show:
            first = binding.key.split(",")[0].strip()
            shown = KEY_NAMES.get(first, first)
            assert shown in match[1], shown
