"""A sort key over many flows: the mark at once, the rows sorted in steps just after."""

from __future__ import annotations

import pytest

from flowtop.core import monitor as monitor_module
from tests.tui.helpers import Clock, DemoSource, make_app, wait_until


async def test_a_sort_key_over_many_flows_sorts_the_rows_in_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(monitor_module, "DEFER_SORT_FLOWS", 10)  # the demo's 100 are many
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        finished = []
        finish = app.monitor.finish_view

        async def counted() -> None:
            finished.append(app.sort.column)
            await finish()

        monkeypatch.setattr(app.monitor, "finish_view", counted)
        for _ in range(5):
            await pilot.press("down")
        chosen = app.table.selected_key
        await pilot.press("P")
        assert app.sort.column == "pps"
        await wait_until(pilot, lambda: not app.monitor.view_pending)
        assert finished == ["pps"]
        values = [row.flow.pps for row in app.last_result.rows]  # type: ignore[union-attr]
        present = [v for v in values if v is not None]
        assert present == sorted(present, reverse=True)
        assert app.table.selected_key == chosen
        await pilot.press("P")  # the other way round: sorted in steps again
        await wait_until(pilot, lambda: not app.monitor.view_pending)
        values = [row.flow.pps for row in app.last_result.rows]  # type: ignore[union-attr]
        present = [v for v in values if v is not None]
        assert present == sorted(present)
        assert finished == ["pps", "pps"]
