"""A poll redraws the status line and the detail pane without laying the screen out
again (issue 11): the layout is asked for only when a height may change, the detail
pane repaints only the lines that changed, and the fields, drawn as lines, look as the
table drew them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from flowtop.core.model import Flow
from flowtop.tui.widgets.detail import _fields_table, fields_lines, flow_fields_rows
from flowtop.tui.widgets.quiet import single_lines
from tests.tui.helpers import Clock, DemoSource, make_app, poll_now, wait_until


def _cells(renderable: Any, width: int) -> list[list[tuple[str, Style | None]]]:
    """Each cell as it looks: its character, and its style unless it is a blank (a
    blank looks the same bold, dim or plain)."""
    console = Console(width=width, file=io.StringIO(), color_system="truecolor")
    return [
        [
            (char, None if char == " " else (style or Style()))
            for text, style, _ in line
            for char in text
        ]
        for line in console.render_lines(renderable)
    ]


FLOWS = [
    Flow.from_raw({}),
    Flow.from_raw(
        {
            "src_ip": "10.0.0.1",
            "dest_ip": "10.0.0.2",
            "src_port": 443,
            "dest_port": 51000,
            "protocol": "TCP",
            "ipp": 6,
            "hdr_compression_bytes": "12000",
            "ipsec_overhead_kbps": "21000",
            "path": "wan1->wan2",
            "a_new_field": "its value",
        }
    ),
    Flow.from_raw({"hdr_compression_bytes": "not a number"}),
]


@pytest.mark.parametrize("flow", FLOWS)
def test_fields_as_lines_draw_what_the_table_draws(flow: Flow) -> None:
    rows = flow_fields_rows(flow)
    console = Console(width=100, file=io.StringIO())
    lines = Text("\n", end="").join(fields_lines(rows, 100, console))
    assert _cells(lines, 100) == _cells(_fields_table(rows), 100)


@pytest.mark.parametrize("width", [20, 31, 45])
def test_fields_too_wide_fold_under_their_column_and_lose_nothing(width: int) -> None:
    rows = flow_fields_rows(FLOWS[1])
    console = Console(width=width, file=io.StringIO())
    lines = fields_lines(rows, width, console)
    assert all(line.cell_len <= width for line in lines)
    text = "".join(line.plain for line in lines)
    for _, value in rows:
        for word in value.plain.split():
            assert word in text.replace(" ", "") or word in text
    # A folded value goes on under its own column, not under the labels.
    folded = [line.plain for line in lines if line.plain.startswith(" ")]
    assert folded, "a value this long must fold at this width"


def test_single_lines_knows_a_height_only_without_wrapping() -> None:
    from rich.text import Text

    assert single_lines(Text("ab\ncd"), 2) == 2
    assert single_lines(Text("abc"), 2) is None
    assert single_lines(Text("abc"), 0) is None


async def test_a_poll_updates_status_and_detail_without_a_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        # A second poll first: the pane settles (its scrollbar comes) after the first
        # fill, which a loaded machine may leave for the poll measured below.
        await poll_now(pilot, app, None)
        await pilot.pause()
        calls: list[tuple[str | None, bool]] = []
        refreshes: list[tuple[str | None, tuple[Region, ...], bool]] = []
        update = Static.update
        refresh = Widget.refresh

        def spy(self: Static, content: Any = "", *, layout: bool = True) -> None:
            calls.append((self.id, layout))
            update(self, content, layout=layout)

        def spy_refresh(self: Widget, *regions: Region, **options: Any) -> Widget:
            refreshes.append((self.id, regions, bool(options.get("layout"))))
            return refresh(self, *regions, **options)

        monkeypatch.setattr(Static, "update", spy)
        monkeypatch.setattr(Widget, "refresh", spy_refresh)
        await poll_now(pilot, app, None)
        assert [name for name, layout in calls if name == "status" and layout] == []
        pane = {"fields", "pps-history", "kbps-history", "detail-title", "timeline"}
        seen = [entry for entry in refreshes if entry[0] in pane]
        # The fields change each poll; their height does not, and only changed lines
        # are repainted: a region each, never the whole widget.
        fields = [regions for name, regions, _ in seen if name == "fields"]
        assert fields and all(regions for regions in fields)
        assert sum(region.height for regions in fields for region in regions) < len(
            app.detail.query_one("#fields").lines  # type: ignore[attr-defined]
        )
        assert [name for name, _, layout in seen if layout] == []
        # Nothing changed: nothing is updated.
        calls.clear()
        refreshes.clear()
        app._update_detail()
        app._update_status()
        assert [name for name, _ in calls if name == "status"] == []
        assert [entry for entry in refreshes if entry[0] in pane] == []
