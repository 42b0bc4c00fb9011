"""c: one row per conversation in the real app; nothing lost, both directions shown."""

from __future__ import annotations

import json
from pathlib import Path

from flowtop.core.model import Flow
from flowtop.tui.widgets.status import status_text
from tests.core.factories import flow
from tests.tui.helpers import Clock, ScriptedSource, make_app, wait_until
from tests.tui.test_ascii import screen_text


def _flows() -> list[Flow]:
    out = flow(1, customer_kbps="800")
    back = out.model_copy(
        update={
            "src_ip": out.dest_ip, "src_port": out.dest_port,
            "dest_ip": out.src_ip, "dest_port": out.src_port,
            "direction": "WAN to LAN", "customer_kbps": 200.0,
            "path": "DC-LTE", "ip_dscp": "cs1",
        }
    )  # fmt: skip
    return [back, flow(2, customer_kbps="100"), out]


async def test_c_pairs_the_directions_and_the_count_adds_up(tmp_path: Path) -> None:
    clock = Clock()
    flows = _flows()
    app = make_app(ScriptedSource(clock, [flows]), clock, export_directory=tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 3)
        await pilot.press("c")
        await pilot.pause()
        assert app.table.row_count == 2
        ids = [column.id for column in app.table.columns]
        assert "out" in ids and "in" in ids
        status = status_text(app.status_info(), 200).plain
        assert "3/3 flows in 2 rows (1 paired)" in status
        out = flows[2]
        app.table.select_key(out.key)
        await pilot.pause()
        assert app.table.cell_text(out.key, "dir") == "<->"
        assert app.table.cell_text(out.key, "in") == "200k"
        fields = screen_text(app)
        assert "Other direction" in fields and "DC-LTE" in fields and "cs1" in fields
        # y copies the direction the row shows, and says so.
        app.clipboard_refusal = None  # whatever terminal the tests run in
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard.startswith("src:10.1.0.2 sport:40001 dst:192.0.2.10")
        assert any("(this direction)" in (n.title or "") for n in app._notifications)
        # An export of the pairs writes every flow.
        await pilot.press("x", "j")
        await wait_until(pilot, lambda: any(tmp_path.iterdir()))
        (written,) = tmp_path.iterdir()
        assert len(json.loads(written.read_text())) == 3
        await pilot.press("c")
        await pilot.pause()
        assert app.table.row_count == 3
        assert "out" not in [column.id for column in app.table.columns]
