"""The live view replaying a gzip recording larger than the replay's window."""

from __future__ import annotations

import json
from pathlib import Path

from flowtop.core.recording import Recorder, Recording, ReplaySource
from flowtop.core.source import Snapshot
from flowtop.tui.app import REPLAY_REBUILD_POLLS, FlowTopApp
from tests.tui.helpers import Clock, wait_until

POLLS = REPLAY_REBUILD_POLLS + 40


def body(poll: int) -> bytes:
    # Padding makes each poll a few KiB, so that the window holds only a few of them.
    flows = [{"src_ip": "10.0.0.1", "src_port": "1", "pps": str(poll), "application": "x" * 4000}]
    return json.dumps({"flows": flows}).encode()


async def test_stepping_back_in_a_streamed_gzip_replay_rebuilds_the_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "polls.jsonl.gz"
    recorder = Recorder(path, source="admin@lab")
    for poll in range(POLLS):
        recorder.write(Snapshot(flows=[], received_at=1000.0 + poll, latency=0.01, raw=body(poll)))
    recorder.close()
    # A window of about five polls: stepping back must read the file again.
    recording = Recording.load(path, window_bytes=5 * len(body(0)))
    source = ReplaySource(recording, speed=1000)
    app = FlowTopApp(source, clock=Clock(), handle_signals=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: source.at_end and app.poll_state.paused, timeout=30)
        assert next(iter(app.store.records.values())).flow.pps == POLLS - 1
        await pilot.press(*["left_square_bracket"] * 3)
        wanted = f"replay poll {POLLS - 3} of {POLLS}"
        await wait_until(pilot, lambda: wanted in app.status_info().notice, timeout=30)
        record = next(iter(app.store.records.values()))
        assert record.flow.pps == POLLS - 4
        # The history was rebuilt from the polls before, read back from the file.
        history = record.pps.values()
        assert history[-3:] == [POLLS - 6, POLLS - 5, POLLS - 4]
        await pilot.press("right_square_bracket")
        wanted = f"replay poll {POLLS - 2} of {POLLS}"
        await wait_until(pilot, lambda: wanted in app.status_info().notice, timeout=30)
        assert next(iter(app.store.records.values())).flow.pps == POLLS - 3
        assert len(recording.polls._cache) <= 6  # type: ignore[attr-defined]
        await pilot.press("q")
