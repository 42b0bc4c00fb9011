"""Layout on resize, the max_stats cap, and the modes the status line names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowtop.core.recording import Recorder, Recording, ReplaySource
from flowtop.core.source import Snapshot
from flowtop.tui.app import FlowTopApp
from flowtop.tui.screens.events import EventsScreen
from flowtop.tui.widgets.status import StatusBar, status_text
from flowtop.tui.widgets.text_lines import TextLines
from tests.core.factories import flow
from tests.tui.helpers import Clock, DemoSource, ScriptedSource, make_app, poll_now, wait_until


async def test_layout_follows_every_resize() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.detail.display
        assert app.detail.region.width == 62
        assert app.table.region.width == 200 - 62

        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        # Narrow: the table takes the whole width, the pane is hidden.
        assert not app.detail.display
        assert app.detail.region.width == 0
        assert app.table.region.width == 80
        assert app.table.region.height > 0

        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert app.detail.display
        assert app.detail.region.width == 62
        assert app.table.region.width == 200 - 62


async def test_a_status_tick_while_leaving_is_harmless() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
    # The once-a-second status timer can fire after the screen went (a loaded machine).
    app._update_status()


async def test_pane_shown_by_a_resize_shows_the_selected_flow() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert not app.detail.display
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert app.detail.display
        title = app.detail.query_one("#detail-title", TextLines).text
        assert "No flow selected" not in str(title)
        assert "→" in str(title)


def _status(app: FlowTopApp, width: int | None = None) -> str:
    return status_text(app.status_info(), width).plain


async def test_status_says_when_max_stats_capped_the_answer() -> None:
    clock = Clock()
    # The demo appliance holds far more flows than the 100 asked for.
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.store.capped == 100
        status = _status(app)
        assert "100+ flows, capped by max_stats" in status
        assert "100+ flows, capped" in _status(app, 80)
        assert "max_stats" not in _status(app, 80)
        # What the status bar shows follows its width.
        bar = app.query_one("#status", StatusBar)
        assert "capped by max_stats" in str(bar.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await wait_until(pilot, lambda: "capped by" not in str(bar.render()))
        assert "100+ flows, capped" in str(bar.render())
        await pilot.press("g", "enter")  # the group picker, on Application
        await pilot.pause()
        assert "groups of the top 100 flows" in _status(app)


async def test_an_answer_below_max_stats_is_not_capped() -> None:
    clock = Clock()
    source = ScriptedSource(clock, [[flow(n) for n in range(1, 4)]])
    app = make_app(source, clock, max_stats=50)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert app.store.capped is None
        status = _status(app)
        assert "3/3 flows" in status and "capped" not in status and "+" not in status


async def test_flows_out_of_and_into_a_capped_answer_are_not_ended_or_new() -> None:
    clock = Clock()
    source = ScriptedSource(
        clock,
        [
            [flow(1), flow(2), flow(3), flow(6)],
            # Capped at 4: flows 1 and 6 only left the top 4; flow 4 (age 4 s, older
            # than the poll before) rose into it; flow 5 (age 0.5 s) is new.
            [flow(2), flow(3), flow(4), flow(5, age="500")],
            [flow(2), flow(3)],  # not capped: flows 4 and 5 ended
        ],
    )
    app = make_app(source, clock, max_stats=4)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await poll_now(pilot, app, source)
        await poll_now(pilot, app, source)
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        await wait_until(pilot, lambda: len(screen.shown_events) == 6)
        lines = [screen.event_list.line_text(line).plain for line in screen.event_list.lines]

        def kinds(port: int) -> list[str]:
            found = [line for line in lines if f":{40000 + port} " in line]
            return [line.split()[1] + (" TOP" if " TOP " in line else "") for line in found]

        assert kinds(1) == kinds(6) == ["LEFT TOP"]
        assert kinds(4) == ["ENDED", "INTO TOP"]
        assert kinds(5) == ["ENDED", "NEW"]
        left = next(line for line in lines if ":40001 " in line)
        assert "(out of the top 4)" in left
        entered = next(line for line in lines if ":40004 " in line and "INTO" in line)
        assert "(into the top 4)" in entered
        # The kind filter knows them.
        await pilot.press("slash", *"kind:left", "enter")
        await wait_until(pilot, lambda: len(screen.shown_events) == 2)


def _recording(path: Path, polls: int, *, damaged: bool = False) -> Path:
    recorder = Recorder(path, source="admin@lab")
    for poll in range(polls):
        body = json.dumps({"flows": [{"src_ip": "10.0.0.1", "src_port": "1", "pps": str(poll)}]})
        snapshot = Snapshot(flows=[], received_at=1000.0 + poll, latency=0.01, raw=body.encode())
        recorder.write(snapshot)
    recorder.close()
    if damaged:
        with path.open("ab") as handle:
            handle.write(b'{"t": 1010, "body": "no end\n')
    return path


async def test_a_replay_says_replay_speed_and_position_never_live(tmp_path: Path) -> None:
    source = ReplaySource(Recording.load(_recording(tmp_path / "r.jsonl", 4)), speed=100)
    clock = Clock()
    app = FlowTopApp(source, clock=clock, handle_signals=False)
    seen: list[str] = []
    async with app.run_test(size=(120, 30)) as pilot:
        while not (source.at_end and app.poll_state.paused):
            seen.append(_status(app))
            await pilot.pause(0.01)
        status = _status(app)
        assert status.startswith(" REPLAY 100x 4/4   PAUSED ")
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: "REPLAY 100x 3/4" in _status(app))
    assert all("LIVE" not in line for line in [*seen, status])
    assert any(line.startswith(" REPLAY 100x ") and "PAUSED" not in line for line in seen)


async def test_a_damaged_recording_is_told_in_the_app(tmp_path: Path) -> None:
    recording = Recording.load(_recording(tmp_path / "r.jsonl", 3, damaged=True))
    assert recording.damage
    source = ReplaySource(recording, speed=100)
    clock = Clock()
    app = FlowTopApp(source, clock=clock, handle_signals=False)
    told: list[tuple[str, str]] = []
    notify = app.notify

    def capture(message: str, **options: Any) -> None:
        told.append((message, options.get("severity", "")))
        notify(message, **options)

    app.notify = capture  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: source.at_end)
        await pilot.pause()
        assert told == [(recording.damage, "warning")]
        assert recording.damage in app.status_info().notice
        assert "NOTE" in _status(app) and "damaged at line" in _status(app)


async def test_recording_while_watching_shows_rec_and_the_file(tmp_path: Path) -> None:
    clock = Clock()
    source = DemoSource(clock)
    recorder = Recorder(tmp_path / "lab-polls.jsonl.gz", source=source.description)
    app = make_app(source, clock, recorder=recorder)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        status = _status(app)
        assert status.startswith(" LIVE   REC  lab-polls.jsonl.gz  admin@demo")
        # The disk fails: the mark says recording stopped.
        recorder._fail(OSError(28, "No space left on device"))
        await poll_now(pilot, app, source)
        status = _status(app)
        assert " REC STOPPED " in status and "lab-polls" not in status.split("\n")[0]
        assert "No space left on device" in status
