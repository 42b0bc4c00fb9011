"""A poll redraws the status line and the detail pane without laying the screen out
again (issue 11): the layout is asked for only when a height may change, and the
fields, drawn as fixed lines, look as the table drew them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.widgets import Static

from flowtop.core.model import Flow
from flowtop.tui.widgets.detail import _fields_lines, _fields_table, flow_fields_rows
from flowtop.tui.widgets.quiet import single_lines
from tests.tui.helpers import Clock, DemoSource, make_app, poll_now, wait_until


def _segments(renderable: Any, width: int) -> list[list[Segment]]:
    console = Console(width=width, file=io.StringIO(), color_system="truecolor")
    # A blank without a style and one with the null style look the same.
    return [
        list(Segment.simplify(Segment(text, style or Style()) for text, style, _ in line))
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
    lines = _fields_lines(rows, 100)
    assert lines is not None
    assert _segments(lines, 100) == _segments(_fields_table(rows), 100)


def test_fields_too_wide_for_lines_are_left_to_the_table() -> None:
    rows = flow_fields_rows(FLOWS[1])
    assert _fields_lines(rows, 20) is None


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
        await pilot.pause()
        calls: list[tuple[str | None, bool]] = []
        update = Static.update

        def spy(self: Static, content: Any = "", *, layout: bool = True) -> None:
            calls.append((self.id, layout))
            update(self, content, layout=layout)

        monkeypatch.setattr(Static, "update", spy)
        await poll_now(pilot, app, None)
        watched = {"status", "fields", "pps-history", "kbps-history", "detail-title"}
        seen = [(name, layout) for name, layout in calls if name in watched]
        # The fields change each poll; their height does not.
        assert "fields" in {name for name, _ in seen}
        assert [name for name, layout in seen if layout] == []
        # Nothing changed: nothing is updated.
        calls.clear()
        app._update_detail()
        app._update_status()
        assert [name for name, _ in calls if name in watched] == []
