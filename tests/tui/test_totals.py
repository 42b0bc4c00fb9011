"""The totals line, the share bars of group rows, the columns of averages and measured
rates, and the detail pane's measured rates, in the real app."""

from __future__ import annotations

from typing import Any

from flowtop.core.model import Flow
from flowtop.tui.widgets.detail import flow_fields_rows
from flowtop.tui.widgets.totals import TotalsBar
from tests.core.factories import flow
from tests.tui.helpers import Clock, ScriptedSource, make_app, poll_now, wait_until


def _flow(n: int, **values: Any) -> Flow:
    return flow(n, **{name: str(value) for name, value in values.items()})


def _polls() -> list[list[Flow]]:
    """Two flows a second apart: zoom LAN to WAN at 2 Mb/s whose counters agree, and
    ssh WAN to LAN reporting 1 Mb/s while its counters show 8 kb/s (stale statistics)."""
    polls = []
    for index in range(4):
        polls.append(
            [
                _flow(
                    1, application="zoom", direction="LAN to WAN", customer_kbps=2000,
                    pps=200, bytes=1_000_000 + 250_000 * index, packets=1000 + 200 * index,
                    age=60_000 + 1000 * index,
                ),
                _flow(
                    2, application="ssh", direction="WAN to LAN", customer_kbps=1000,
                    pps=100, bytes=500_000 + 1000 * index, packets=500 + index,
                    age=60_000 + 1000 * index,
                ),
            ]
        )  # fmt: skip
    return polls


def _totals_line(app: Any) -> str:
    return str(app.query_one("#totals", TotalsBar).render())


async def test_the_totals_line_shows_both_directions_peak_and_bytes_moved() -> None:
    clock = Clock()
    source = ScriptedSource(clock, _polls())
    app = make_app(source, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        await poll_now(pilot, app, source)
        line = _totals_line(app)
        assert line.startswith("Total 3.00Mb/s  300 pps")
        assert "L>W 2.00Mb/s" in line and "W>L 1.00Mb/s" in line
        assert "peak 3.00Mb/s" in line
        # One second apart: 250 kB and 1 kB moved.
        assert "moved 251kB in 1s" in line
        await pilot.press("slash", *"app:ssh", "enter")
        await pilot.pause()
        line = _totals_line(app)
        assert line.startswith("Shown 1.00Mb/s")
        assert "| all 3.00Mb/s" in line
        assert "L>W 0b/s" in line and "W>L 1.00Mb/s" in line


async def test_the_totals_line_fits_80_columns_keeping_the_directions() -> None:
    clock = Clock()
    source = ScriptedSource(clock, _polls())
    app = make_app(source, clock, filter_text="app:zoom")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 1)
        line = _totals_line(app)
        assert len(line) <= 78
        assert line.startswith("Shown 2.00Mb/s")
        assert "L>W" in line and "W>L" in line and "all 3.00Mb/s" in line


async def test_group_rows_carry_a_share_bar() -> None:
    clock = Clock()
    source = ScriptedSource(clock, _polls())
    app = make_app(source, clock, group_by="app")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        assert "share" in app.table.shown_column_ids()
        zoom = app.last_result.rows[0].key  # type: ignore[union-attr]
        cell = app.table.cell_text(zoom, "share")
        assert cell == "██████▋     67%"


async def test_average_and_measured_columns_and_the_stale_mark() -> None:
    clock = Clock()
    source = ScriptedSource(clock, _polls())
    app = make_app(
        source, clock, columns=("src", "app", "kbps", "rate_10s", "rate_40s", "measured")
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        await poll_now(pilot, app, source)
        assert app.table.shown_column_ids() == [
            "src", "app", "kbps", "rate_10s", "rate_40s", "rate_measured",
        ]  # fmt: skip
        zoom, ssh = (row.key for row in app.last_result.rows)  # type: ignore[union-attr]
        # Two polls a second apart cover 1 s of a 10 s window: the mark says so.
        assert app.table.cell_text(zoom, "rate_10s") == "2.00M*"
        assert app.table.cell_text(zoom, "rate_measured") == "2.00M"
        assert app.table.cell_text(ssh, "rate_measured") == "8k!"
        await pilot.press("slash", *"mismatch:1", "enter")
        await pilot.pause()
        assert app.table.row_keys() == [ssh]
        await pilot.press("d")
        await pilot.pause()
        assert app.detail_visible
        record = app.store.get(ssh)
        assert record is not None
        rows = {label.plain: value.plain for label, value in flow_fields_rows(record.flow)}
        assert rows["Measured rate"] == "8 kb/s  ! stale stats"
        assert rows["Measured pps"] == "1 pps  ! stale stats"
        assert rows["Rate 2s/10s/40s"] == "1.00M*  1.00M*  1.00M*"
        assert rows["Peak rate, pps"] == "1.00 Mb/s, 100 pps"


async def test_help_lists_the_derived_fields_from_the_registry() -> None:
    from flowtop.core.fields import DERIVED_FIELDS
    from flowtop.tui.screens.help import alias_rows, derived_table

    clock = Clock()
    source = ScriptedSource(clock, _polls())
    app = make_app(source, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query_one("#help-derived") is not None
    assert derived_table().row_count == len(DERIVED_FIELDS)
    assert ("mismatch", "rate_mismatch") in alias_rows()
    assert all(field.description.isascii() for field in DERIVED_FIELDS)


async def test_a_poll_updates_the_totals_line_without_a_layout(monkeypatch: Any) -> None:
    from textual.widgets import Static

    clock = Clock()
    source = ScriptedSource(clock, _polls())
    app = make_app(source, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        await pilot.pause()
        calls: list[tuple[str | None, bool]] = []
        update = Static.update

        def spy(self: Static, content: Any = "", *, layout: bool = True) -> None:
            calls.append((self.id, layout))
            update(self, content, layout=layout)

        monkeypatch.setattr(Static, "update", spy)
        await poll_now(pilot, app, source)
        assert ("totals", False) in calls
        assert ("totals", True) not in calls
