"""Group-by, drill-down, highlight rules, events, export and replay in the real app."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from rich.style import Style
from textual import events

from flowtop.core.config import HighlightRule
from flowtop.core.recording import Recorder, Recording, ReplaySource
from flowtop.core.source import Snapshot
from flowtop.tui.app import FlowTopApp
from flowtop.tui.screens.events import EventsScreen
from flowtop.tui.screens.export import ExportScreen
from tests.core.factories import flow
from tests.tui.helpers import Clock, DemoSource, ScriptedSource, make_app, poll_now, wait_until


async def test_group_by_picker_and_sums_match_the_flows() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("g", "enter")
        assert app.grouping is not None and app.grouping.id == "application"
        assert app.table.columns[0].title == "Application"
        rows = app.last_result.rows  # type: ignore[union-attr]
        groups = [row.group for row in rows]
        assert all(group is not None for group in groups)
        flows = [record.flow for record in app.store.records.values()]
        assert sum(g.count for g in groups if g) == len(flows)
        assert round(sum(g.kbps for g in groups if g), 3) == round(
            sum(f.customer_kbps or 0 for f in flows), 3
        )
        kbps = [g.kbps for g in groups if g]
        assert kbps == sorted(kbps, reverse=True)
        seen = [app.grouping.id]
        for _ in range(6):
            # The picker opens on the current grouping: down, enter takes the next.
            await pilot.press("g", "down", "enter")
            seen.append(app.grouping.id if app.grouping else "none")
        await pilot.press("g", "home", "enter")
        seen.append(app.grouping.id if app.grouping else "none")
        assert seen == [
            "application", "path", "service", "dscp", "src", "dst", "direction", "none",
        ]  # fmt: skip
        assert app.table.columns[0].id == "src"


async def test_enter_drills_into_a_group_and_escape_goes_back() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("g", "enter")
        top = app.last_result.rows[0].group  # type: ignore[union-attr]
        assert top is not None
        await pilot.press("enter")
        assert app.grouping is None
        assert app.flow_filter.expression.startswith("app:")
        shown = app.last_result.rows  # type: ignore[union-attr]
        assert len(shown) == top.count
        assert {row.flow.application for row in shown} == {top.value}
        await pilot.press("escape")
        assert app.grouping is not None and app.grouping.id == "application"
        assert app.flow_filter.is_empty


async def test_group_filter_and_sort_apply_to_groups() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock, filter_text="proto:udp")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("g", "enter")
        udp = [r for r in app.store.records.values() if r.flow.ipp == 17]
        groups = [row.group for row in app.last_result.rows]  # type: ignore[union-attr]
        assert sum(g.count for g in groups if g) == len(udp)
        await pilot.press("s", "home", "enter")
        values = [g.value.casefold() for g in groups if g]
        shown = [row.group.value.casefold() for row in app.last_result.rows if row.group]  # type: ignore[union-attr]
        assert shown == sorted(values)


async def test_highlight_rules_colour_matching_rows_and_ring_once() -> None:
    clock = Clock()
    flows = [flow(1, pps="5000"), flow(2, pps="10"), flow(3, ip_dscp="ef", pps="1")]
    source = ScriptedSource(clock, [flows])
    rules = [
        HighlightRule(expr="pps>1k", color="red", bell=True),
        HighlightRule(expr="dscp:ef", color="cyan"),
    ]
    app = make_app(source, clock, highlights=rules)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 3)
        styles = app.table._highlights
        assert styles[flow(1).key] == Style(color="red", bold=True)
        assert styles[flow(3).key] == Style(color="cyan", bold=True)
        assert flow(2).key not in styles
        assert bells == [1]
        await poll_now(pilot, app, source)
        assert bells == [1], "the bell rings when a flow starts matching, not every poll"


async def test_events_screen_opens_and_closes() -> None:
    clock = Clock()
    source = ScriptedSource(
        clock, [[flow(1), flow(2)], [flow(1, path="DC-INET->Branch-LTE"), flow(3)]]
    )
    app = make_app(source, clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        await poll_now(pilot, app, source)
        await pilot.press("e")
        assert isinstance(app.screen, EventsScreen)
        kinds = {event.kind.value for event in app.screen.shown_events}
        assert kinds == {"new", "ended", "path"}
        # Each poll refreshes the open screen at once (its one refresh trigger).
        source.script.append([flow(1, path="DC-INET->Branch-LTE")])
        await poll_now(pilot, app, source)
        assert app.screen.shown_events[0].key == flow(3).key
        assert app.screen.shown_events[0].kind.value == "ended"
        await pilot.press("g")  # table keys do nothing over the events view
        assert app.grouping is None
        await pilot.press("q")
        assert not isinstance(app.screen, EventsScreen)
        assert app.is_running


async def test_ctrl_s_exports_the_view_as_shown(tmp_path: Path) -> None:
    clock = Clock()
    flows = [flow(n, application="Zoom" if n % 2 else "SSH") for n in range(6)]
    app = make_app(
        ScriptedSource(clock, [flows]), clock, export_directory=tmp_path, filter_text="app:zoom"
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 3)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("j")
        await pilot.pause()
    written = list(tmp_path.glob("flowtop-flows-*.json"))
    assert len(written) == 1
    document = json.loads(written[0].read_text())
    shown = [row.flow.to_json_dict() for row in app.last_result.rows]  # type: ignore[union-attr]
    assert document == shown
    assert {item["application"] for item in document} == {"Zoom"}


async def test_replay_plays_a_recording_and_steps(tmp_path: Path) -> None:
    path = tmp_path / "polls.jsonl"
    recorder = Recorder(path, source="admin@lab")
    for poll in range(4):
        body = json.dumps({"flows": [{"src_ip": "10.0.0.1", "src_port": "1", "pps": str(poll)}]})
        snapshot = Snapshot(flows=[], received_at=1000.0 + poll, latency=0.01, raw=body.encode())
        recorder.write(snapshot)
    recorder.close()
    source = ReplaySource(Recording.load(path), speed=100)
    clock = Clock()
    app = FlowTopApp(source, clock=clock, handle_signals=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: source.at_end and app.poll_state.paused, timeout=10)
        shown = next(iter(app.store.records.values())).flow
        assert shown.pps == 3.0
        assert "replay poll 4 of 4" in app.status_info().notice
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: "poll 2 of 4" in app.status_info().notice)
        record = next(iter(app.store.records.values()))
        assert record.flow.pps == 1.0
        assert record.pps.values() == [0.0, 1.0], "stepping back rebuilds the history"
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "poll 3 of 4" in app.status_info().notice)


async def test_live_polls_are_recorded(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "live.jsonl.gz"
    source = DemoSource(clock)
    recorder = Recorder(path, source=source.description)
    app = make_app(source, clock, recorder=recorder)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await poll_now(pilot, app, source)
        live = sorted(
            json.dumps(r.flow.to_json_dict(), sort_keys=True) for r in app.store.records.values()
        )
        await pilot.press("q")
    recording = Recording.load(path)
    assert len(recording.polls) == 2
    replay = ReplaySource(recording)
    replay.seek(1)
    snapshot = await replay.fetch(100)
    replayed = sorted(json.dumps(f.to_json_dict(), sort_keys=True) for f in snapshot.flows)
    assert replayed == live
    with gzip.open(path, "rb") as stream:
        assert b"flowtop-demo" not in stream.read()


async def test_down_then_enter_typed_together_drills_into_the_row_moved_to() -> None:
    """Keys that arrive together (fast typing, key repeat): enter acts on the cursor's
    row, not on the row the detail pane last heard about."""
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("g", "enter")
        await wait_until(pilot, lambda: app.grouping is not None)
        second = app.last_result.rows[1].group  # type: ignore[union-attr]
        assert second is not None
        # Posted in one go, with no pause between them for the messages to settle.
        app.post_message(events.Key("down", None))
        app.post_message(events.Key("enter", "\r"))
        await wait_until(pilot, lambda: app.grouping is None)
        assert {row.flow.application for row in app.last_result.rows} == {second.value}  # type: ignore[union-attr]


async def test_sorting_by_a_column_not_chosen_shows_it() -> None:
    from tests.tui.helpers import Clock, DemoSource, make_app, wait_until

    clock = Clock()
    app = make_app(DemoSource(clock), clock, columns=("src", "dst", "kbps", "rate_10s"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("B")
        await pilot.pause()
        assert app.sort.column == "bytes"
        # Added at the end of the chosen columns, and on screen (the sorted one is kept).
        assert [column.id for column in app.columns][-1] == "bytes"
        assert "bytes" in app.table.shown_column_ids()


async def test_the_full_screen_detail_pane_keeps_to_its_flow_across_polls() -> None:
    from tests.core.factories import flow
    from tests.tui.helpers import Clock, ScriptedSource, make_app, poll_now, wait_until

    clock = Clock()
    # The top talker changes between the two polls: flow 2 overtakes flow 1.
    first = [flow(1, customer_kbps="900"), flow(2, customer_kbps="100")]
    second = [flow(1, customer_kbps="100"), flow(2, customer_kbps="900")]
    source = ScriptedSource(clock, [first, second])
    app = make_app(source, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        shown = app.table.selected_key
        await pilot.press("d")
        await poll_now(pilot, app, source)
        # On the first row without the pane, the cursor would now be on flow 2.
        assert app.table.selected_key == shown
        assert str(first[0].src_ip) in app.detail.text.splitlines()[0]
