"""The Monitor (one appliance's live state) and run_polls (the one poll loop), no pilot."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flowtop.core.columns import SortSpec
from flowtop.core.config import HighlightRule
from flowtop.core.errors import AuthenticationError, ConnectError, FlowtopError, Throttled
from flowtop.core.filter import compile_filter
from flowtop.core.groups import resolve_grouping
from flowtop.core.model import Flow, parse_flows
from flowtop.core.monitor import Frame, Monitor, run_polls
from flowtop.core.poller import PollPhase
from flowtop.core.recording import Recorder, Recording, ReplaySource
from flowtop.core.source import Snapshot
from tests.core.factories import flow, raw_flow


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ListSource:
    """Serves the given polls in turn (a FlowtopError is raised); each takes 0.5 s."""

    def __init__(self, clock: Clock, polls: list[list[Flow] | FlowtopError]) -> None:
        self.clock = clock
        self.polls = polls
        self.calls = 0

    @property
    def description(self) -> str:
        return "admin@list"

    async def fetch(self, max_stats: int) -> Snapshot:
        poll = self.polls[min(self.calls, len(self.polls) - 1)]
        self.calls += 1
        self.clock.now += 0.5
        if isinstance(poll, FlowtopError):
            raise poll
        return Snapshot(poll, self.clock.now, 0.5, max_stats=max_stats)

    async def close(self) -> None:
        pass


def _flows() -> list[Flow]:
    return [
        flow(1, application="Zoom", customer_kbps="100"),
        flow(2, application="Zoom", customer_kbps="50"),
        flow(3, application="Office365", customer_kbps="10"),
    ]


def _applied(**options: object) -> Monitor:
    monitor = Monitor(clock=Clock(), **options)  # type: ignore[arg-type]
    monitor.apply(Snapshot(_flows(), 1000.0, 0.1))
    return monitor


def test_a_frame_holds_the_rows_sorted_by_rate_and_the_status() -> None:
    monitor = _applied()
    frame = monitor.frame()
    assert isinstance(frame, Frame)
    assert [row.flow.application for row in frame.rows] == ["Zoom", "Zoom", "Office365"]
    assert frame.status.phase is PollPhase.LIVE
    assert (frame.status.shown, frame.status.total) == (3, 3)
    assert frame.new == tuple(item.key for item in _flows())
    # The new flows are told once.
    assert monitor.frame().new == ()
    with pytest.raises(AttributeError):
        frame.stale = True  # type: ignore[misc]


def test_filter_and_sort_commands() -> None:
    monitor = _applied()
    monitor.set_filter(compile_filter("app:zoom"))
    assert len(monitor.frame().rows) == 2
    assert monitor.sort_by("kbps") is None  # the current column: inverted
    assert monitor.sort == SortSpec("kbps", False)
    monitor.clear_filter()
    assert [row.flow.customer_kbps for row in monitor.frame().rows] == [10.0, 50.0, 100.0]


def test_groups_refuse_a_flow_only_sort_and_keep_the_flow_sort() -> None:
    monitor = _applied(sort=SortSpec("age", True))
    monitor.group_by(resolve_grouping("app"))
    assert monitor.sort == SortSpec()
    assert monitor.sort_by("age") == "groups have no Age to sort by"
    assert monitor.sort_by("flows") is None
    monitor.group_by(None)
    assert monitor.sort == SortSpec("age", True)


def test_drill_into_a_group_and_back() -> None:
    monitor = _applied(filter_text="kbps>5")
    monitor.group_by(resolve_grouping("app"))
    zoom = next(row for row in monitor.frame().rows if row.group and row.group.value == "Zoom")
    assert monitor.drill(zoom)
    assert monitor.grouping is None
    assert monitor.flow_filter.expression.startswith("kbps>5 ")
    assert {row.flow.application for row in monitor.frame().rows} == {"Zoom"}
    # back: out of the drill (grouping and filter as before), then group mode, then filter.
    assert monitor.back()
    assert monitor.grouping is not None and monitor.flow_filter.expression == "kbps>5"
    assert monitor.back() and monitor.grouping is None
    assert monitor.back() and monitor.flow_filter.is_empty
    assert not monitor.back()


def test_a_flow_row_does_not_drill() -> None:
    monitor = _applied()
    assert not monitor.drill(monitor.frame().rows[0])


def test_highlight_rules_match_in_core_and_the_bell_rings_once() -> None:
    rules = [
        HighlightRule(expr="app:office365", color="red"),
        HighlightRule(expr="app:zoom", color="cyan", bell=True),
    ]
    monitor = _applied(highlights=rules)
    frame = monitor.frame()
    assert frame.bell
    by_app = {row.flow.application: frame.highlights.get(row.key) for row in frame.rows}
    assert by_app == {"Zoom": 1, "Office365": 0}
    assert not monitor.frame().bell  # the same flows still match: no new ring


def test_pause_interval_and_max_stats() -> None:
    monitor = Monitor(interval=2.0, max_stats=100)
    monitor.pause()
    assert not monitor.poll_state.may_poll
    assert monitor.next_wait(0.0) == 3600.0
    monitor.resume()
    monitor.slower()
    assert monitor.poll_state.interval == 3.0
    monitor.faster()
    monitor.faster()
    assert monitor.poll_state.interval == 1.0
    monitor.set_interval(1000)
    assert monitor.poll_state.interval == 60.0
    monitor.cycle_max_stats()
    assert monitor.max_stats == 1000


def test_a_recovery_is_told_once() -> None:
    monitor = _applied()
    monitor.failed(ConnectError("down"))
    assert monitor.frame().stale
    monitor.apply(Snapshot(_flows(), 1002.0, 0.1))
    frame = monitor.frame()
    assert not frame.stale
    assert [message.title for message in frame.messages] == ["Recovered"]
    assert monitor.frame().messages == ()


async def test_run_polls_backs_off_and_honours_retry_after() -> None:
    clock = Clock()
    source = ListSource(
        clock, [_flows(), ConnectError("down"), Throttled(429, retry_after=20.0), _flows()]
    )
    monitor = Monitor(clock=clock, interval=2.0)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    frames: list[Frame] = []
    attempts = await run_polls(
        source, monitor, clock=clock, sleep=sleep, count=4, on_frame=frames.append
    )
    assert attempts == monitor.attempts == 4
    # 2 s interval less the 0.5 s poll; backoff 2 s; Retry-After 20 s.
    assert sleeps == [1.5, 1.5, 19.5]
    assert [frame.stale for frame in frames] == [False, True, True, False]


async def test_run_polls_stops_on_refused_credentials_without_a_wake() -> None:
    clock = Clock()
    source = ListSource(clock, [AuthenticationError("refused")])
    monitor = Monitor(clock=clock)

    async def sleep(seconds: float) -> None:
        raise AssertionError("no retry after refused credentials")

    assert await run_polls(source, monitor, clock=clock, sleep=sleep) == 1
    assert monitor.poll_state.phase is PollPhase.STOPPED


async def test_run_polls_is_woken_by_a_command() -> None:
    clock = Clock()
    source = ListSource(clock, [_flows()])
    monitor = Monitor(clock=clock, interval=60.0)
    wake = asyncio.Event()
    task = asyncio.create_task(run_polls(source, monitor, wake=wake, count=2))
    while monitor.attempts < 1:
        await asyncio.sleep(0.01)
    wake.set()
    assert await asyncio.wait_for(task, 5.0) == 2


async def test_replay_runs_at_the_recorded_pace_and_steps_back(tmp_path: Path) -> None:
    path = tmp_path / "replay.jsonl"
    recorder = Recorder(path, source="admin@list")
    for index in range(5):
        raws = [raw_flow(n) for n in range(1, 2 + index % 3)]
        body = json.dumps({"flows": raws}).encode()
        recorder.write(Snapshot(parse_flows(body).flows, 100.0 + 4 * index, 0.1, body))
    recorder.close()
    replay = ReplaySource(Recording.load(path), speed=2.0)
    monitor = Monitor(replay=replay, clock=Clock())
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    assert await run_polls(replay, monitor, sleep=sleep) == 5
    # Recorded 4 s apart, played twice as fast; the end pauses and says so.
    assert sleeps == [2.0, 2.0, 2.0, 2.0]
    assert monitor.poll_state.paused
    assert "end of the recording" in monitor.status().notice
    assert monitor.mode() == "REPLAY 2x 5/5"
    await monitor.step(-3)
    assert replay.position == 1
    assert monitor.status().notice.startswith("replay poll 2 of 5")
    assert len(monitor.frame().rows) == 2


def test_a_failover_is_called_out_for_a_minute() -> None:
    clock = Clock()
    monitor = Monitor(clock=clock)
    monitor.apply(Snapshot([flow(n, path="A->B") for n in range(6)], clock.now, 0.1))
    clock.now += 2
    monitor.apply(Snapshot([flow(n, path="C->D") for n in range(6)], clock.now, 0.1))
    assert "failover: 6 flows moved A->B" in monitor.status().notice
    assert [failover.count for failover in monitor.failovers()] == [6]
    clock.now += 61
    monitor.apply(Snapshot([flow(n, path="C->D") for n in range(6)], clock.now, 0.1))
    assert "failover" not in monitor.status().notice


async def test_once_polls_a_single_time_without_waiting() -> None:
    clock = Clock()
    source = ListSource(clock, [_flows()])
    monitor = Monitor(clock=clock)

    async def sleep(seconds: float) -> None:
        raise AssertionError("one poll, no wait")

    assert await run_polls(source, monitor, clock=clock, sleep=sleep, count=1) == 1
    assert len(monitor.frame().rows) == 3


async def test_after_a_poll_the_next_frame_is_the_view_prepared_in_steps() -> None:
    clock = Clock()
    many = [flow(n, customer_kbps=str(n % 13)) for n in range(2500)]
    fewer = many[:2400] + [flow(n) for n in range(3000, 3050)]
    source = ListSource(clock, [many, fewer])
    monitor = Monitor(clock=clock)
    await monitor.poll(source)
    first = monitor.frame()  # no frame drawn before: nothing prepared
    await monitor.poll(source)
    assert monitor._prepared is not None
    prepared = monitor._prepared[1]
    frame = monitor.frame()
    assert frame.result is prepared
    assert monitor._prepared is None
    assert len(frame.result.diff.added) == 50 and len(frame.result.diff.removed) == 100
    # The same view computed at once.
    again = Monitor(clock=clock)
    again.apply(Snapshot(many, 1.0, 0.1))
    again.frame()
    again.apply(Snapshot(fewer, 2.0, 0.1))
    assert [r.key for r in again.frame().rows] == [r.key for r in frame.rows]
    assert first.rows[0].key != frame.rows[-1].key


async def test_a_command_after_the_poll_computes_its_own_view() -> None:
    clock = Clock()
    source = ListSource(clock, [_flows()])
    monitor = Monitor(clock=clock)
    await monitor.poll(source)
    monitor.frame()
    await monitor.poll(source)
    monitor.sort_by("app")
    frame = monitor.frame()
    assert [row.flow.application for row in frame.rows] == ["Office365", "Zoom", "Zoom"]


async def test_a_poll_cancelled_while_its_answer_goes_in_leaves_a_whole_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flowtop.core import monitor as monitor_module
    from flowtop.core.steps import run_sliced

    async def every_step(steps: object) -> object:
        return await run_sliced(steps, slice_seconds=0.0)  # type: ignore[arg-type]

    monkeypatch.setattr(monitor_module, "run_sliced", every_step)
    clock = Clock()
    many = [flow(n) for n in range(3000)]
    source = ListSource(clock, [many[:2000], many])
    monitor = Monitor(clock=clock)
    await monitor.poll(source)
    task = asyncio.ensure_future(monitor.poll(source))
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with monitor._applying:  # the shielded steps finish
        pass
    assert len(monitor.store) == 3000
    assert monitor.store.poll == 2
    assert {len(record.pps) for record in monitor.store.records.values()} == {1, 2}


async def test_what_the_steps_keep_between_polls_stays_bounded_over_many_polls() -> None:
    """RSS flat over hours: the flows kept for freeing in steps and the sorts kept for
    reuse are one poll's worth, however many polls and sort switches go by."""
    clock = Clock()
    polls: list[list[Flow] | FlowtopError] = [
        [flow(n + shift, pps=str((n * 7 + shift) % 11)) for n in range(300)]
        for shift in range(0, 60, 3)
    ]
    source = ListSource(clock, polls)
    monitor = Monitor(clock=clock)
    for _ in polls:
        await monitor.poll(source)
        monitor.frame()
        for column in ("pps", "bytes", "age", "pps"):
            monitor.sort_by(column)
            monitor.frame()
        assert len(monitor._graveyard) <= 1
        # The sorts used since this poll (rate, pps, bytes, age, pps ascending), no more.
        assert len(monitor.view._orders) <= 5
        current = {id(record) for record in monitor.store.records.values()}
        for records, _, _ in monitor.view._orders.values():
            assert {id(record) for record in records} == current
        assert sum(record.row is not None for record in monitor.store.records.values()) <= 300
    assert len(monitor.store) == 300
