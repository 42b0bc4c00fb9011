"""The flow table widget, driven through the real core path: raw flows, store, view."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.style import Style
from textual.app import App, ComposeResult
from textual.message import Message
from textual.strip import Strip

from flowtop.core.batch import dropped_columns, render_table
from flowtop.core.columns import DEFAULT_COLUMNS, SortSpec
from flowtop.core.model import Flow, FlowKey
from flowtop.core.store import FlowStore
from flowtop.core.view import FlowView, ViewResult
from flowtop.tui.widgets.flow_table import NEW_TICKS, FlowTable

BY_RATE = SortSpec("kbps", descending=True)


def raw(n: int, **overrides: str) -> dict[str, str]:
    """A flow as the appliance sends it (every value a string); rate grows with ``n``."""
    flow = {
        "src_ip": f"10.0.0.{n}",
        "src_port": str(40000 + n),
        "dest_ip": "192.0.2.10",
        "dest_port": "443",
        "ipp": "6",
        "direction": "LAN to WAN",
        "application": f"app{n}",
        "service_type": "Internet",
        "service_name": "Internet",
        "path": "DC-MPLS-> Branch-MPLS",
        "ip_dscp": "ef",
        "pps": str(n),
        "customer_kbps": str(n * 10),
        "bytes": str(n * 1000),
        "age": str(n * 1000),
    }
    flow.update(overrides)
    return flow


def key(n: int) -> FlowKey:
    return Flow.from_raw(raw(n)).key


class Feed:
    """Raw flows -> FlowStore -> FlowView, one poll at a time."""

    def __init__(self) -> None:
        self.store = FlowStore()
        self.view = FlowView()
        self.polls = 0

    def poll(self, flows: list[dict[str, str]], sort: SortSpec = BY_RATE) -> ViewResult:
        self.polls += 1
        self.store.apply([Flow.from_raw(flow) for flow in flows], float(self.polls))
        return self.view.compute(self.store.records.values(), None, sort)


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.feed = Feed()
        self.events: list[Message] = []

    def compose(self) -> ComposeResult:
        yield FlowTable(self.feed.view.columns)

    @property
    def table(self) -> FlowTable:
        return self.query_one(FlowTable)

    def show(
        self, flows: list[dict[str, str]], sort: SortSpec = BY_RATE, **options: Any
    ) -> ViewResult:
        result = self.feed.poll(flows, sort)
        self.table.apply(result, sort, **options)
        return result

    def on_flow_table_sort_requested(self, event: FlowTable.SortRequested) -> None:
        self.events.append(event)

    def on_flow_table_flow_highlighted(self, event: FlowTable.FlowHighlighted) -> None:
        self.events.append(event)

    def highlighted(self) -> list[FlowKey | None]:
        return [e.key for e in self.events if isinstance(e, FlowTable.FlowHighlighted)]


def lines(table: FlowTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def row_strip(table: FlowTable, flow: FlowKey) -> Strip:
    """The rendered line of a flow; it must be on screen."""
    index = table.row_keys().index(flow)
    return table.render_line(index - table.top_row + 1)


def styles(strip: Strip) -> set[Style]:
    return {segment.style for segment in strip if segment.style is not None}


async def test_rows_appear_in_view_order_under_a_header() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(1), raw(3), raw(2)])
        await pilot.pause()
        table = app.table
        assert table.row_count == 3
        assert table.row_keys() == [key(3), key(2), key(1)]
        header, first, second, third, *rest = lines(table)
        assert header.split()[:3] == ["Source", "Destination", "Proto"]
        assert first.startswith("10.0.0.3:40003")
        assert second.startswith("10.0.0.2:40002")
        assert third.startswith("10.0.0.1:40001")
        assert "TCP" in first and "app3" in first and "DC-MPLS-> Branch-MPLS" in first
        assert all(not line.strip() for line in rest)
        assert all(len(line) == 200 for line in lines(table))


async def test_cells_update_in_place() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(1), raw(2), raw(3)])
        await pilot.pause()
        table = app.table
        before = lines(table)
        result = app.show([raw(1), raw(2, application="updated-app"), raw(3)])
        await pilot.pause()
        assert app.table is table
        assert table.row_count == 3
        assert result.diff.added == [] and result.diff.removed == []
        assert table.cell_text(key(2), "app") == "updated-app"
        after = lines(table)
        assert "updated-app" in after[2] and "app2" in before[2]
        assert after[1] == before[1] and after[3] == before[3]


async def test_rows_are_added_and_removed() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(1), raw(2), raw(3)])
        await pilot.pause()
        app.show([raw(2), raw(3), raw(4), raw(5)])
        await pilot.pause()
        table = app.table
        assert table.row_keys() == [key(5), key(4), key(3), key(2)]
        text = "\n".join(lines(table))
        assert "10.0.0.5:40005" in text and "10.0.0.4:40004" in text
        assert "10.0.0.1:40001" not in text


async def test_cursor_follows_its_flow_across_a_resort() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(1), raw(2), raw(3)])
        await pilot.pause()
        table = app.table
        table.select_key(key(1))
        assert table.cursor_row == 2
        # Flow 1 becomes the fastest: it moves to the top and the cursor goes with it.
        app.show([raw(1, customer_kbps="999"), raw(2), raw(3)])
        await pilot.pause()
        assert table.row_keys()[0] == key(1)
        assert table.selected_key == key(1)
        assert table.cursor_row == 0
        cursor = table.get_component_rich_style("flow-table--cursor", partial=True)
        assert cursor.bgcolor is not None
        assert {style.bgcolor for style in styles(row_strip(table, key(1)))} == {cursor.bgcolor}
        assert cursor.bgcolor not in {s.bgcolor for s in styles(row_strip(table, key(2)))}


async def test_cursor_keeps_flow_and_screen_offset_when_rows_above_go() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 12)) as pilot:
        flows = [raw(n) for n in range(1, 41)]
        app.show(flows)
        await pilot.pause()
        table = app.table
        for _ in range(20):
            await pilot.press("down")
        selected = table.selected_key
        assert table.cursor_row == 20
        offset = table.cursor_row - table.top_row
        assert table.top_row > 0 and 0 <= offset < table.size.height - 1
        # The five fastest flows (all above the cursor) end.
        app.show(flows[:-5])
        await pilot.pause()
        assert table.selected_key == selected
        assert table.cursor_row == 15
        assert table.cursor_row - table.top_row == offset
        assert app.highlighted()[-1] == selected


async def test_cursor_stays_at_its_index_when_its_flow_ends() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(n) for n in range(1, 6)])
        await pilot.pause()
        table = app.table
        table.select_key(key(3))
        assert table.cursor_row == 2
        app.show([raw(n) for n in (1, 2, 4, 5)])
        await pilot.pause()
        assert table.cursor_row == 2
        assert table.selected_key == key(2)
        assert app.highlighted()[-1] == key(2)
        # The last flows end: the cursor is clamped to the last row, then to nothing.
        app.show([raw(5)])
        await pilot.pause()
        assert (table.cursor_row, table.selected_key) == (0, key(5))
        app.show([])
        await pilot.pause()
        assert table.selected_key is None
        assert app.highlighted()[-1] is None


async def test_flow_highlighted_only_when_the_key_changes() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        for age in range(5):
            app.show([raw(1, age=str(age)), raw(2, age=str(age))])
            await pilot.pause()
        assert app.highlighted() == [key(2)]
        await pilot.press("down")
        await pilot.press("down")  # already on the last row: no new message
        await pilot.pause()
        assert app.highlighted() == [key(2), key(1)]


async def test_keyboard_moves_the_cursor() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 12)) as pilot:
        app.show([raw(n) for n in range(1, 31)])
        await pilot.pause()
        table = app.table
        page = table.size.height - 1
        moves = [
            ("down", 1),
            ("j", 2),
            ("k", 1),
            ("up", 0),
            ("up", 0),
            ("pagedown", page),
            ("pageup", 0),
            ("end", 29),
            ("home", 0),
        ]
        for key_name, expected in moves:
            await pilot.press(key_name)
            assert table.cursor_row == expected, key_name
            assert table.top_row <= table.cursor_row < table.top_row + page
        await pilot.press("end")
        assert table.top_row == 30 - page
        assert lines(table)[-1].startswith("10.0.0.1:40001")


async def test_clicking_a_header_asks_for_that_sort() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(1), raw(2)])
        await pilot.pause()
        header = lines(app.table)[0]
        await pilot.click(FlowTable, offset=(header.index("pps"), 0))
        await pilot.click(FlowTable, offset=(header.index("Source") + 2, 0))
        await pilot.pause()
        requested = [e.column_id for e in app.events if isinstance(e, FlowTable.SortRequested)]
        assert requested == ["pps", "src"]
        # A click on a row moves the cursor there and asks for nothing.
        await pilot.click(FlowTable, offset=(3, 2))
        await pilot.pause()
        assert app.table.cursor_row == 1
        assert len([e for e in app.events if isinstance(e, FlowTable.SortRequested)]) == 2


async def test_header_shows_sort_column_and_direction() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(1), raw(2)])
        await pilot.pause()
        header = lines(app.table)[0]
        assert "bit/s▼" in header and "pps▼" not in header
        app.show([raw(1), raw(2)], SortSpec("pps", descending=False))
        await pilot.pause()
        header = lines(app.table)[0]
        assert "pps▲" in header and "bit/s▼" not in header
        assert app.table.row_keys() == [key(1), key(2)]


async def test_numbers_are_right_aligned_and_text_left_aligned() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(7, pps="5")])
        await pilot.pause()
        header, row, *_ = lines(app.table)
        # Right-aligned title and value share their right edge.
        edge = header.index("pps") + len("pps")
        assert row[edge - 1] == "5" and row[edge] == " "
        assert row[header.index("pps") : edge - 1].strip() == ""
        # Left-aligned title and value share their left edge.
        assert row.index("app7") == header.index("Application")


async def test_markup_in_appliance_text_is_shown_literally() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        marked_up = raw(1, application="[bold red]x[/]", path="[link=http://x]y[/link]")
        app.show([marked_up, raw(2)])  # the cursor (bold) rests on flow 2
        await pilot.pause()
        strip = row_strip(app.table, key(1))
        assert "[bold red]x[/]" in strip.text
        assert "[link=http://x]y[/link]" in strip.text
        assert all(not style.link and not style.bold for style in styles(strip))


async def test_narrow_terminal_drops_low_priority_columns() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 10)) as pilot:
        app.show([raw(1, application="Microsoft Teams", path="DC-Internet-> Branch-LTE")])
        await pilot.pause()
        table = app.table
        shown = table.shown_column_ids()
        assert {"src", "dst", "app", "path", "pps", "kbps"} <= set(shown)
        assert {"service", "dscp", "dir"}.isdisjoint(shown)
        header, row, *_ = lines(table)
        assert len(header) == len(row) == 80
        assert "10.0.0.1:40001" in row and "192.0.2.10:443" in row and "bit/s▼" in header
        # Text too long for its squeezed column is cut with an ellipsis, never wrapped.
        assert "…" in row and "DC-" in row
        assert lines(table)[2].strip() == ""
        await pilot.resize_terminal(200, 10)
        await pilot.pause()
        assert table.shown_column_ids() == list(DEFAULT_COLUMNS)
        header, row, *_ = lines(table)
        assert len(row) == 200 and "DC-Internet-> Branch-LTE" in row and "Service" in header


async def test_stale_dims_rows_but_keeps_them() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        flows = [raw(1), raw(2)]
        app.show(flows)
        await pilot.pause()
        table = app.table
        fresh = table.render_line(2)
        app.show(flows, stale=True)
        await pilot.pause()
        assert table.stale and table.row_count == 2
        stale = table.render_line(2)
        assert stale.text == fresh.text
        assert all(style.dim for style in styles(stale))
        assert not any(style.dim for style in styles(fresh))


async def test_repeated_flow_keys_are_both_shown() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        twin = raw(1, application="second")
        result = app.show([raw(1, application="first"), twin])
        await pilot.pause()
        table = app.table
        first, second = (row.key for row in result.rows)
        assert first != second and first._replace(occurrence=0) == second._replace(occurrence=0)
        assert table.row_count == 2
        text = "\n".join(lines(table))
        assert "first" in text and "second" in text
        table.select_key(second)
        assert table.selected_key == second
        app.show([raw(1, application="first"), twin])
        await pilot.pause()
        assert table.selected_key == second and table.row_count == 2


async def test_new_flows_are_marked_for_a_few_polls() -> None:
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.show([raw(1), raw(2)])
        await pilot.pause()
        table = app.table
        table.select_key(key(1))  # keep the cursor's own style off the rows checked
        new = table.get_component_rich_style("flow-table--new", partial=True)
        assert new.color is not None
        assert new.color not in {s.color for s in styles(row_strip(table, key(2)))}
        for poll in range(NEW_TICKS + 1):
            app.show([raw(1), raw(2), raw(3, age=str(poll))])
            await pilot.pause()
            colors = {style.color for style in styles(row_strip(table, key(3)))}
            assert (new.color in colors) == (poll < NEW_TICKS), poll
            assert new.color not in {s.color for s in styles(row_strip(table, key(2)))}
        # A view reset (as after a change of columns) adds every row again: no news.
        app.feed.view.reset()
        app.show([raw(1), raw(2), raw(3)])
        await pilot.pause()
        for n in (2, 3):
            assert new.color not in {s.color for s in styles(row_strip(table, key(n)))}
        # The caller may name the new flows itself.
        app.show([raw(1), raw(2), raw(3)], new=[key(2)])
        await pilot.pause()
        assert new.color in {s.color for s in styles(row_strip(table, key(2)))}
        assert new.color not in {s.color for s in styles(row_strip(table, key(3)))}


def test_tick_benchmark_smoke_run() -> None:
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "benchmarks.tick", "--quick", "--sizes", "100"]
    done = subprocess.run(
        [*command, "--no-dt-diff"], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "100 flowtable" in done.stdout and "100 rebuild" in done.stdout
    assert "faster" in done.stdout


async def test_table_and_one_shot_output_choose_the_same_columns_at_80() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 10)) as pilot:
        result = app.show([raw(1), raw(2), raw(3)])
        await pilot.pause()
        shown = app.table.shown_column_ids()
        columns = app.feed.view.columns
        dropped = dropped_columns(result.rows, columns, 80)
        once = [column.id for column in columns if column.id not in dropped]
        assert "path" in shown
        assert once == shown
        header = render_table(result.rows, columns, 80).splitlines()[0]
        assert header.startswith("Source") and len(header.split()) == len(once)


async def test_line_cache_stays_bounded_while_scrolling_through_many_rows() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 12)) as pilot:
        app.show([raw(n) for n in range(1, 600)])
        await pilot.pause()
        table = app.table
        for _ in range(80):
            table.action_page_down()
            lines(table)
        await pilot.pause()
        bound = 4 * table._page_height() + 64
        assert 0 < len(table._lines) <= max(256, bound)
        # The rows on screen are the most recently drawn: still cached.
        assert table.row_keys()[table.top_row] in table._lines


async def test_on_the_first_row_the_cursor_stays_at_the_top_as_flows_reorder() -> None:
    """As in htop: until the user picks a flow, the top talkers stay in view and the
    cursor on the first row, whichever flow is first now."""
    app = TableApp()
    async with app.run_test(size=(200, 10)) as pilot:
        flows = [raw(n) for n in range(1, 30)]
        app.show(flows)
        await pilot.pause()
        table = app.table
        assert (table.cursor_row, table.selected_key) == (0, key(29))
        # Flow 29 slows down to the bottom; flow 28 is the top talker now.
        app.show([*flows[:-1], raw(29, customer_kbps="0.001")])
        await pilot.pause()
        assert (table.cursor_row, table.top_row) == (0, 0)
        assert table.selected_key == key(28)
        # A flow picked with the keys is followed; home gives the top back.
        await pilot.press("down")
        assert table.selected_key == key(27)
        app.show([raw(n, customer_kbps="0.001") if n == 27 else raw(n) for n in range(1, 30)])
        await pilot.pause()
        assert table.selected_key == key(27) and table.cursor_row == 28
        await pilot.press("home")
        app.show([raw(n) for n in range(1, 27)])
        await pilot.pause()
        assert (table.cursor_row, table.selected_key) == (0, key(26))


async def test_a_cut_header_keeps_its_sort_mark() -> None:
    """On a narrow terminal a sorted title is cut: its sort mark must stay visible."""
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        app.show([raw(1, application="A" * 40), raw(2)], SortSpec("app", descending=False))
        await pilot.pause()
        header = lines(app.table)[0]
        title = next(word for word in header.split() if word.startswith("Ap"))
        assert title.endswith("▲") and "…" in title, header
