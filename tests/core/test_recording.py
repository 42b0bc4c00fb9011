"""Recording polls to JSON lines and replaying them: round trips, damage, control, errors."""

from __future__ import annotations

import asyncio
import errno
import gzip
import json
import math
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest

from flowtop.core.client import NitroClient
from flowtop.core.errors import (
    AuthenticationError,
    ConnectError,
    FlowtopError,
    UnreadableAnswer,
    UsageError,
)
from flowtop.core.model import parse_flows
from flowtop.core.recording import (
    MAX_REPLAY_GAP,
    RECORD_VERSION,
    RecordedPoll,
    Recorder,
    Recording,
    ReplaySource,
    record_headless,
)
from flowtop.core.source import ClientSource, Snapshot
from flowtop.demo.appliance import DemoAppliance
from flowtop.demo.faults import Faults
from flowtop.demo.transport import DemoTransport
from flowtop.demo.world import DemoWorld

HEADER_KEYS = {"flowtop_recording", "started", "source", "max_stats"}
POLL_KEYS = {"t", "latency", "max_stats"}
START = 1_700_000_000.25


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def demo_bodies(count: int, *, flows: int = 40, seed: int = 5) -> list[bytes]:
    """Flows answers as the demo appliance sends them, one simulated second apart."""
    clock = FakeClock(100.0)
    world = DemoWorld(seed=seed, flows=flows, clock=clock)
    bodies = []
    for step in range(count):
        world.advance_to(100.0 + step)
        bodies.append(world.encode(100))
    return bodies


def snapshot_of(body: bytes, at: float, latency: float = 0.05) -> Snapshot:
    parsed = parse_flows(body)
    return Snapshot(parsed.flows, at, latency, body, parsed.ignored_items)


def make_snapshots(count: int, *, flows: int = 40, gap: float = 2.0) -> list[Snapshot]:
    return [
        snapshot_of(body, START + gap * i, 0.01 * (i + 1))
        for i, body in enumerate(demo_bodies(count, flows=flows))
    ]


def record(path: Path, snapshots: list[Snapshot], *, source: str = "admin@demo") -> Recorder:
    recorder = Recorder(path, source=source, max_stats=100)
    for snapshot in snapshots:
        assert recorder.write(snapshot, 100)
    recorder.close()
    return recorder


def flows_of(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [flow.to_json_dict() for flow in snapshot.flows]


async def replay_all(source: ReplaySource) -> list[Snapshot]:
    return [await source.fetch(100) for _ in range(source.count)]


def file_lines(path: Path) -> list[dict[str, Any]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture
def snapshots() -> list[Snapshot]:
    return make_snapshots(6)


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["flows.jsonl", "flows.jsonl.gz"])
async def test_replay_yields_the_recorded_flows_in_order(
    tmp_path: Path, snapshots: list[Snapshot], name: str
) -> None:
    path = tmp_path / name
    recorder = record(path, snapshots)
    assert recorder.polls_written == len(snapshots)
    assert recorder.last_error is None

    recording = Recording.load(path)
    assert recording.damage is None
    assert recording.header["flowtop_recording"] == RECORD_VERSION
    assert recording.header["source"] == "admin@demo"
    replayed = await replay_all(ReplaySource(recording))

    assert [flows_of(s) for s in replayed] == [flows_of(s) for s in snapshots]
    assert [s.raw for s in replayed] == [s.raw for s in snapshots]
    assert [s.received_at for s in replayed] == [s.received_at for s in snapshots]
    assert [s.latency for s in replayed] == [s.latency for s in snapshots]
    assert [s.position for s in replayed] == [(i + 1, 6) for i in range(6)]
    assert all(s.flows for s in replayed)


async def test_gzip_recording_is_compressed(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    plain, packed = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz"
    record(plain, snapshots)
    record(packed, snapshots)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert plain.read_bytes()[:1] == b"{"
    assert packed.stat().st_size * 4 < plain.stat().st_size


async def test_body_that_is_not_utf8_is_kept_byte_for_byte(tmp_path: Path) -> None:
    good = demo_bodies(1)[0]
    broken = b'{"flows": [{"application": "caf\xe9"}]}'
    path = tmp_path / "odd.jsonl"
    record(path, [snapshot_of(good, START), Snapshot([], START + 1, 0.1, broken)])

    assert "body_b64" in file_lines(path)[2]
    source = ReplaySource(Recording.load(path))
    await source.fetch(100)
    # The same error a live poll of these bytes gives, and the replay moves on.
    with pytest.raises(UnreadableAnswer, match="not UTF-8"):
        await source.fetch(100)
    assert source.position == 1
    assert Recording.load(path).polls[1].body == broken


async def test_replay_of_a_live_demo_run_shows_the_same_flows(tmp_path: Path) -> None:
    clock = FakeClock(50.0)
    password = "Hunter2-very-secret"
    appliance = DemoAppliance(
        seed=4,
        flows=80,
        username="opsuser",
        password=password,
        clock=clock,
        faults=Faults(hostile_text=True),
    )
    client = NitroClient(
        "http://demo.invalid", "opsuser", password, transport=DemoTransport(appliance)
    )
    live = ClientSource(client, "opsuser@demo")
    path = tmp_path / "live.jsonl.gz"
    recorder = Recorder(path, source=live.description, max_stats=100)
    shown = []
    try:
        for _ in range(3):
            snapshot = await live.fetch(100)
            shown.append(snapshot)
            assert recorder.write(snapshot, 100)
            clock.now += 2.0
    finally:
        recorder.close()
        await live.close()

    replayed = await replay_all(ReplaySource(Recording.load(path)))
    # Extras and unparsed values included: the whole flow, not only the 26 fields.
    assert [[f.model_dump() for f in s.flows] for s in replayed] == [
        [f.model_dump() for f in s.flows] for s in shown
    ]
    assert [[f.unparsed for f in s.flows] for s in replayed] == [
        [f.unparsed for f in s.flows] for s in shown
    ]
    content = gzip.decompress(path.read_bytes())
    assert password.encode() not in content
    assert b"SESSID" not in content


async def test_replaying_the_same_file_twice_gives_the_same_snapshots(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    path = tmp_path / "twice.jsonl"
    record(path, snapshots)
    first = await replay_all(ReplaySource(Recording.load(path)))
    second = await replay_all(ReplaySource(Recording.load(path)))
    assert [(flows_of(s), s.received_at, s.position) for s in first] == [
        (flows_of(s), s.received_at, s.position) for s in second
    ]


# -- what the file holds ------------------------------------------------------------------


def test_file_holds_only_the_documented_keys_and_no_password(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    path = tmp_path / "keys.jsonl"
    record(path, snapshots[:2], source="admin:pa55word@10.1.1.1")
    lines = file_lines(path)

    assert set(lines[0]) == HEADER_KEYS
    assert lines[0]["source"] == "admin@10.1.1.1"
    assert lines[0]["max_stats"] == 100
    for line in lines[1:]:
        assert set(line) == POLL_KEYS | {"body"}
    assert b"pa55word" not in path.read_bytes()


def test_header_written_with_the_first_poll(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    path = tmp_path / "lazy.jsonl"
    recorder = Recorder(path, source="admin@demo", clock=lambda: 42.5)
    assert path.read_bytes() == b""
    recorder.write(snapshots[0])
    first = file_lines(path)[0]
    assert first["started"] == 42.5
    # Flushed line by line: readable while the recorder is still open.
    assert Recording.load(path).polls[0].at == snapshots[0].received_at
    recorder.close()


# -- appending ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["more.jsonl", "more.jsonl.gz"])
async def test_appending_adds_a_session(
    tmp_path: Path, snapshots: list[Snapshot], name: str
) -> None:
    path = tmp_path / name
    record(path, snapshots[:3], source="admin@first")
    record(path, snapshots[3:], source="admin@second")

    assert [line.get("source") for line in file_lines(path) if "t" not in line] == [
        "admin@first",
        "admin@second",
    ]
    recording = Recording.load(path)
    assert recording.damage is None
    assert recording.header["source"] == "admin@first"
    replayed = await replay_all(ReplaySource(recording))
    assert [flows_of(s) for s in replayed] == [flows_of(s) for s in snapshots]


async def test_appending_after_a_crash_drops_the_half_written_line(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    path = tmp_path / "crashed.jsonl"
    record(path, snapshots[:3])
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 500])  # the third poll is half written

    record(path, snapshots[3:])
    recording = Recording.load(path)
    assert recording.damage is None
    replayed = await replay_all(ReplaySource(recording))
    assert [flows_of(s) for s in replayed] == [flows_of(s) for s in snapshots[:2] + snapshots[3:]]


def test_appending_keeps_a_last_line_missing_only_its_newline(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    path = tmp_path / "nonewline.jsonl"
    record(path, snapshots[:2])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    record(path, snapshots[2:3])
    recording = Recording.load(path)
    assert recording.damage is None
    assert len(recording.polls) == 3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"my notes\n", "is not a flowtop recording"),
        ("data.jsonl", b'{"a": 1}\n', "is not a flowtop recording"),
        ("plain.jsonl.gz", b'{"flowtop_recording": 1}\n', "name says otherwise"),
        (
            "packed.jsonl",
            gzip.compress(b'{"flowtop_recording": 1}\n', mtime=0),
            "name says otherwise",
        ),
        ("future.jsonl", b'{"flowtop_recording": 99}\n', "newer format"),
    ],
)
def test_appending_to_something_else_is_refused(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        Recorder(path)
    assert path.read_bytes() == content


def test_appending_to_a_damaged_gzip_recording_is_refused(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    path = tmp_path / "cut.jsonl.gz"
    record(path, snapshots[:3])
    content = path.read_bytes()[:-30]
    path.write_bytes(content)
    with pytest.raises(UsageError, match=r"damaged.*record to a new file"):
        Recorder(path)
    assert path.read_bytes() == content


@pytest.mark.parametrize("where", ["directory", "missing/parent.jsonl"])
def test_unusable_path_fails_at_start(tmp_path: Path, where: str) -> None:
    path = tmp_path if where == "directory" else tmp_path / where
    with pytest.raises(UsageError, match="cannot record to"):
        Recorder(path)


# -- disk errors --------------------------------------------------------------------------


class FullDisk:
    """A file whose every write fails as on a full disk."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_error_stops_recording_without_raising(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    path = tmp_path / "full.jsonl"
    recorder = Recorder(path)
    assert recorder.write(snapshots[0])
    disk = FullDisk()
    real = recorder._file
    assert real is not None
    real.close()
    recorder._file = disk  # type: ignore[assignment]  # the disk fills up mid-run

    assert recorder.write(snapshots[1]) is False
    assert recorder.last_error == (f"recording stopped: No space left on device (file {path})")
    assert not recorder.active
    assert recorder.write(snapshots[2]) is False
    assert disk.writes == 1
    assert recorder.polls_written == 1
    recorder.close()
    # What was written before the failure is intact.
    assert len(Recording.load(path).polls) == 1


@pytest.mark.parametrize("name", ["full.jsonl", "full.jsonl.gz"])
def test_a_real_full_device(tmp_path: Path, snapshots: list[Snapshot], name: str) -> None:
    link = tmp_path / name
    link.symlink_to("/dev/full")
    recorder = Recorder(link)
    assert recorder.write(snapshots[0]) is False
    assert recorder.last_error is not None
    assert "No space left on device" in recorder.last_error
    assert str(link) in recorder.last_error
    recorder.close()
    recorder.close()


# -- damaged recordings -------------------------------------------------------------------


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def recorded_lines(tmp_path: Path, snapshots: list[Snapshot]) -> list[bytes]:
    path = tmp_path / "source.jsonl"
    record(path, snapshots)
    return path.read_bytes().splitlines()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"this is not json", "invalid JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"t": 1.0, "latency": 0.1}', 'no "body"'),
        (b'{"t": "soon", "body": "[]"}', 'no valid "t" (poll time)'),
        (b'{"t": 1.0, "body_b64": "***"}', 'invalid base64 in "body_b64"'),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"flowtop_recording": 7}', "unsupported header"),
    ],
)
async def test_damage_in_the_middle_plays_the_good_prefix(
    tmp_path: Path, snapshots: list[Snapshot], bad: bytes, reason: str
) -> None:
    lines = recorded_lines(tmp_path, snapshots)
    path = tmp_path / "damaged.jsonl"
    write_lines(path, [*lines[:4], bad, *lines[4:]])

    recording = Recording.load(path)
    assert len(recording.polls) == 3
    assert recording.damage_line == 5
    assert recording.damage == (
        f"recording damaged at line 5: {reason}; replay stops after 3 polls"
    )
    replayed = await replay_all(ReplaySource(recording))
    assert [flows_of(s) for s in replayed] == [flows_of(s) for s in snapshots[:3]]


def test_truncated_last_line(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    path = tmp_path / "cut.jsonl"
    record(path, snapshots)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 100])

    recording = Recording.load(path)
    assert len(recording.polls) == 5
    assert (
        recording.damage
        == "recording damaged at line 7: truncated line; replay stops after 5 polls"
    )


def test_blank_lines_are_harmless(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    lines = recorded_lines(tmp_path, snapshots[:2])
    path = tmp_path / "blank.jsonl"
    write_lines(path, [lines[0], b"", lines[1], b"  ", lines[2]])
    recording = Recording.load(path)
    assert recording.damage is None
    assert len(recording.polls) == 2


def test_truncated_gzip_keeps_what_was_flushed(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    path = tmp_path / "cut.jsonl.gz"
    record(path, snapshots)
    path.write_bytes(path.read_bytes()[:-8])  # the member's trailer is gone

    recording = Recording.load(path)
    assert len(recording.polls) == 6
    assert recording.damage is not None
    assert recording.damage.startswith("recording damaged at line 8: compressed data ends early")


def test_gzip_cut_in_the_middle(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    path = tmp_path / "half.jsonl.gz"
    record(path, snapshots)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])

    recording = Recording.load(path)
    assert 0 < len(recording.polls) < 6
    assert recording.damage_line == len(recording.polls) + 2
    assert [p.body for p in recording.polls] == [s.raw for s in snapshots[: len(recording.polls)]]


def test_corrupt_gzip_data(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    path = tmp_path / "corrupt.jsonl.gz"
    record(path, snapshots)
    content = bytearray(path.read_bytes())
    middle = len(content) * 3 // 4
    content[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(content))

    recording = Recording.load(path)
    assert recording.damage is not None
    assert recording.damage_line is not None
    assert len(recording.polls) < 6
    assert [p.body for p in recording.polls] == [s.raw for s in snapshots[: len(recording.polls)]]


def test_corrupt_deflate_block_keeps_every_line_before_it(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    lines = recorded_lines(tmp_path, snapshots)
    compressor = zlib.compressobj(wbits=31)
    content = b"".join(
        compressor.compress(line + b"\n") + compressor.flush(zlib.Z_SYNC_FLUSH)
        for line in lines[:4]
    )
    # A deflate block of the reserved type, where the next line's block should start.
    path = tmp_path / "badblock.jsonl.gz"
    path.write_bytes(content + b"\x07" + bytes(100))

    recording = Recording.load(path)
    assert [p.body for p in recording.polls] == [s.raw for s in snapshots[:3]]
    assert recording.damage == (
        "recording damaged at line 5: corrupt compressed data; replay stops after 3 polls"
    )


async def test_long_gzip_recording_with_two_sessions(tmp_path: Path) -> None:
    snapshots = make_snapshots(40, flows=100)
    path = tmp_path / "long.jsonl.gz"
    record(path, snapshots[:25])
    record(path, snapshots[25:])
    assert path.stat().st_size > 2 * 65536  # read in several pieces

    replayed = await replay_all(ReplaySource(Recording.load(path)))
    assert [s.raw for s in replayed] == [s.raw for s in snapshots]


def test_recording_of_a_crashed_gzip_recorder(tmp_path: Path, snapshots: list[Snapshot]) -> None:
    path = tmp_path / "open.jsonl.gz"
    recorder = Recorder(path)
    for snapshot in snapshots[:3]:
        recorder.write(snapshot)
    # Read while still open, as after a crash: every flushed poll is there.
    recording = Recording.load(path)
    recorder.close()
    assert len(recording.polls) == 3
    assert recording.damage is not None
    assert "line 5" in recording.damage


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"hello world\n", "is not a flowtop recording"),
        (b'{"some": "json"}\n', "is not a flowtop recording"),
        (b"\x00\x01\x02\xff" * 10, "is not a flowtop recording"),
        (b'{"flowtop_recording": 2}\n', "newer format"),
        (b'{"flowtop_recording": 1, "started": 1.0}\n', "holds no polls"),
        (
            b'{"flowtop_recording": 1}\n{"t": 1\n',
            "damaged at line 2 before its first poll: invalid JSON$",
        ),
        (b"\x1f\x8b\x08\x00garbage", "not a readable recording"),
        (gzip.compress(b"plain text\n", mtime=0), "is not a flowtop recording"),
    ],
)
def test_files_that_cannot_be_replayed(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        Recording.load(path)


def test_missing_recording(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read recording"):
        Recording.load(tmp_path / "nope.jsonl")


# -- replay control -----------------------------------------------------------------------


def timed_recording(times: list[float]) -> Recording:
    body = demo_bodies(1, flows=3)[0]
    return Recording(
        [RecordedPoll(i, at, 0.01, 100, body) for i, at in enumerate(times)],
        {"flowtop_recording": 1, "source": "admin@demo"},
        path="x/demo.jsonl",
    )


async def test_step_and_seek_move_the_cursor() -> None:
    source = ReplaySource(timed_recording([0.0, 1.0, 2.0, 3.0]))
    assert (source.position, source.count) == (-1, 4)

    async def shown() -> int:
        snapshot = await source.fetch(100)
        assert snapshot.position is not None
        return snapshot.position[0] - 1

    assert [await shown(), await shown()] == [0, 1]
    source.step(-1)
    assert await shown() == 0
    source.step(2)
    assert await shown() == 2
    source.step(0)
    assert await shown() == 2
    source.seek(100)
    assert await shown() == 3
    assert source.at_end
    assert await shown() == 3  # the end keeps showing the last poll
    source.step(-10)
    assert await shown() == 0
    assert not source.at_end
    source.seek(-3)
    assert await shown() == 0


async def test_interval_to_next_follows_the_recorded_gaps_and_speed() -> None:
    times = [0.0, 2.0, 2.5, 2.5 + 3600.0, 3000.0]
    source = ReplaySource(timed_recording(times), speed=2.0)
    assert source.interval_to_next() == 0.0
    await source.fetch(100)
    assert source.interval_to_next() == 1.0
    await source.fetch(100)
    assert source.interval_to_next() == 0.25
    source.speed = 0.5
    assert source.interval_to_next() == 1.0
    await source.fetch(100)
    # An hour's pause in the recording does not freeze the replay.
    assert source.interval_to_next() == MAX_REPLAY_GAP / 0.5
    await source.fetch(100)
    assert source.interval_to_next() == 0.0  # the clock went backwards
    await source.fetch(100)
    assert source.interval_to_next() is None
    source.step(-1)
    assert source.interval_to_next() == MAX_REPLAY_GAP / 0.5
    source.seek(0)
    assert source.interval_to_next() == 0.0


@pytest.mark.parametrize("speed", [0.0, -1.0, math.nan, math.inf])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(UsageError, match="speed"):
        ReplaySource(timed_recording([0.0]), speed=speed)


def test_description() -> None:
    recording = timed_recording([0.0])
    assert ReplaySource(recording).description == "replay of admin@demo"
    assert ReplaySource(recording, description="mine").description == "mine"
    recording.header.pop("source")
    assert ReplaySource(recording).description == "replay of demo.jsonl"


def test_replay_needs_polls() -> None:
    with pytest.raises(UsageError):
        ReplaySource(Recording([], {"flowtop_recording": 1}))


# -- headless recording -------------------------------------------------------------------


class FakeSource:
    """Serves snapshots; fails on the calls listed in ``failures``; each poll takes 0.5 s."""

    def __init__(
        self, clock: FakeClock, bodies: list[bytes], failures: dict[int, FlowtopError]
    ) -> None:
        self.clock = clock
        self.bodies = bodies
        self.failures = failures
        self.calls = 0

    @property
    def description(self) -> str:
        return "admin@fake"

    async def fetch(self, max_stats: int) -> Snapshot:
        call = self.calls
        self.calls += 1
        self.clock.now += 0.5
        if call in self.failures:
            raise self.failures[call]
        return snapshot_of(self.bodies[call % len(self.bodies)], START + self.clock.now)

    async def close(self) -> None:
        pass


class Harness:
    def __init__(self, failures: dict[int, FlowtopError] | None = None) -> None:
        self.clock = FakeClock(10.0)
        self.source = FakeSource(self.clock, demo_bodies(3, flows=5), failures or {})
        self.sleeps: list[float] = []
        self.errors: list[FlowtopError] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds

    async def run(self, recorder: Recorder, **limits: Any) -> int:
        return await record_headless(
            self.source,
            recorder,
            interval=2.0,
            max_stats=100,
            clock=self.clock,
            sleep=self.sleep,
            on_error=self.errors.append,
            **{"count": None, "duration": None, **limits},
        )


async def test_headless_count_skips_a_failed_poll(tmp_path: Path) -> None:
    failure = ConnectError("cannot connect to demo: refused")
    harness = Harness({1: failure})
    path = tmp_path / "headless.jsonl"
    recorder = Recorder(path, source="admin@fake")
    assert await harness.run(recorder, count=5) == 4
    recorder.close()

    assert harness.source.calls == 5
    assert harness.errors == [failure]
    # Fixed rate: the 0.5 s each poll takes comes off the 2 s interval.
    assert harness.sleeps == [1.5, 1.5, 1.5, 1.5]
    recording = Recording.load(path)
    assert recording.damage is None
    assert [p.max_stats for p in recording.polls] == [100] * 4


async def test_headless_duration(tmp_path: Path) -> None:
    harness = Harness()
    recorder = Recorder(tmp_path / "timed.jsonl")
    assert await harness.run(recorder, duration=10.0) == 5
    recorder.close()
    assert harness.clock.now == pytest.approx(10.0 + 8.5)
    assert len(Recording.load(tmp_path / "timed.jsonl").polls) == 5


async def test_headless_backs_off_after_failures(tmp_path: Path) -> None:
    harness = Harness({0: ConnectError("down"), 1: ConnectError("down")})
    recorder = Recorder(tmp_path / "backoff.jsonl")
    assert await harness.run(recorder, count=4) == 2
    recorder.close()
    assert harness.sleeps == [1.5, 3.5, 1.5]
    assert len(harness.errors) == 2


async def test_headless_stops_on_a_disk_error(tmp_path: Path) -> None:
    link = tmp_path / "full.jsonl"
    link.symlink_to("/dev/full")
    harness = Harness()
    recorder = Recorder(link)
    assert await harness.run(recorder, count=10) == 0
    assert harness.source.calls == 1
    assert recorder.last_error is not None
    recorder.close()


async def test_headless_does_not_retry_a_refused_login(tmp_path: Path) -> None:
    harness = Harness({1: AuthenticationError("the appliance refused the credentials")})
    recorder = Recorder(tmp_path / "auth.jsonl")
    with pytest.raises(AuthenticationError):
        await harness.run(recorder, count=10)
    recorder.close()
    assert harness.source.calls == 2
    assert harness.errors == []


async def test_headless_zero_count_polls_nothing(tmp_path: Path) -> None:
    harness = Harness()
    recorder = Recorder(tmp_path / "none.jsonl")
    assert await harness.run(recorder, count=0) == 0
    assert harness.source.calls == 0
    recorder.close()


# -- streamed replay: bounded memory, bombs, stepping back ---------------------------------

MIB = 1 << 20


def header_line(max_stats: int = 100) -> bytes:
    return json.dumps({"flowtop_recording": 1, "started": START, "max_stats": max_stats}).encode()


def poll_line(body: bytes, at: float) -> bytes:
    record = {"t": at, "latency": 0.01, "body": body.decode()}
    return json.dumps(record, separators=(",", ":")).encode()


def gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def peak_while(action: Any) -> tuple[Any, int]:
    """What ``action()`` returns, and the peak of Python memory it allocated."""
    tracemalloc.start()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


async def replay_pattern(source: ReplaySource) -> list[bytes]:
    """Play a few polls, jump to the end, then step back the way the TUI does."""
    shown = [(await source.fetch(100)).raw for _ in range(3)]
    source.seek(source.count - 1)
    shown.append((await source.fetch(100)).raw)
    target = source.count - 5
    source.seek(max(0, target - 8))
    for _ in range(8):
        await source.fetch(100)
    source.seek(target)
    shown.append((await source.fetch(100)).raw)
    return shown


def test_a_gzip_bomb_line_is_skipped_with_bounded_memory(tmp_path: Path) -> None:
    # 128 MiB of "0" without a newline, from 128 copies of one tiny gzip member.
    bodies = demo_bodies(3, flows=5)
    zeros = gzip_member(b"0" * MIB)
    path = tmp_path / "bomb.jsonl.gz"
    with path.open("wb") as out:
        out.write(gzip_member(header_line() + b"\n" + poll_line(bodies[0], START) + b"\n"))
        for _ in range(128):
            out.write(zeros)
        tail = b"\n".join(poll_line(body, START + i + 1) for i, body in enumerate(bodies[1:]))
        out.write(gzip_member(b"\n" + tail + b"\n"))
    assert path.stat().st_size < 2 * MIB

    recording, peak = peak_while(lambda: Recording.load(path, max_line=4 * MIB))
    assert peak < 16 * MIB  # the line is 128 MiB
    assert recording.warnings == ["line 3 of the recording is longer than 4 MiB: skipped"]
    assert recording.damage is None
    assert [poll.body for poll in recording.polls] == bodies
    recording.close()


def test_a_gzip_bomb_of_valid_polls_replays_with_bounded_memory(tmp_path: Path) -> None:
    # 64 MiB of polls (4096 of them) from 64 copies of one 1 MiB gzip member.
    body = demo_bodies(1, flows=20)[0]
    line = poll_line(body, START)
    per_block = MIB // (len(line) + 1)
    block = gzip_member((line + b"\n") * per_block)
    path = tmp_path / "polls.jsonl.gz"
    with path.open("wb") as out:
        out.write(gzip_member(header_line() + b"\n"))
        for _ in range(64):
            out.write(block)
    assert path.stat().st_size < 4 * MIB

    async def replay() -> tuple[int, list[bytes]]:
        recording = Recording.load(path, window_bytes=2 * MIB)
        source = ReplaySource(recording)
        shown = await replay_pattern(source)
        await source.close()
        return source.count, shown

    (count, shown), peak = peak_while(lambda: asyncio.run(replay()))
    assert count == 64 * per_block
    assert shown == [body] * 5
    assert peak < 12 * MIB  # the stream is 64 MiB


def test_a_sparse_file_of_zeros_is_skipped_with_bounded_memory(tmp_path: Path) -> None:
    body = demo_bodies(1, flows=5)[0]
    path = tmp_path / "zeros.jsonl"
    path.write_bytes(header_line() + b"\n" + poll_line(body, START) + b"\n")
    with path.open("r+b") as handle:
        handle.truncate(256 * MIB)  # NUL bytes, costing no disk

    recording, peak = peak_while(lambda: Recording.load(path, max_line=4 * MIB))
    assert peak < 16 * MIB
    assert recording.warnings == ["line 3 of the recording is longer than 4 MiB: skipped"]
    assert recording.damage is None  # the over-long last line is skipped, not damage
    assert [poll.body for poll in recording.polls] == [body]
    recording.close()


def test_dev_zero_is_refused_at_once() -> None:
    with pytest.raises(UsageError, match="/dev/zero is not a regular file"):
        Recording.load("/dev/zero")


def test_a_first_line_that_never_ends_is_not_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "zeros.jsonl"
    with path.open("wb") as handle:
        handle.truncate(256 * MIB)

    def load() -> str:
        with pytest.raises(UsageError, match="is not a flowtop recording") as caught:
            Recording.load(path)
        return str(caught.value)

    _, peak = peak_while(load)
    assert peak < 4 * MIB


def test_over_long_lines_are_counted_after_a_few(tmp_path: Path) -> None:
    body = demo_bodies(1, flows=3)[0]
    long = b'{"t": 1, "body": "' + b"x" * 20_000 + b'"}'
    lines = [header_line(), *[long] * 8, poll_line(body, START)]
    path = tmp_path / "long.jsonl"
    write_lines(path, lines)
    recording = Recording.load(path, max_line=10_000)
    assert recording.warnings[0] == "line 2 of the recording is longer than 10000 bytes: skipped"
    assert recording.warnings[-1] == "3 more over-long lines skipped"
    assert len(recording.warnings) == 6
    assert [poll.body for poll in recording.polls] == [body]


@pytest.mark.parametrize("name", ["steps.jsonl", "steps.jsonl.gz"])
async def test_stepping_back_through_a_window_smaller_than_the_recording(
    tmp_path: Path, name: str
) -> None:
    snapshots = make_snapshots(30, flows=20)
    path = tmp_path / name
    record(path, snapshots[:12])
    record(path, snapshots[12:])  # two sessions
    size = len(snapshots[0].raw)
    # Room for about four polls; a tiny index that keeps every 4th poll's offset.
    recording = Recording.load(path, window_bytes=4 * size, index_entries=8)
    source = ReplaySource(recording)
    expected = [s.raw for s in snapshots]
    assert [s.raw for s in await replay_all(source)] == expected
    # The TUI's step back: from a few polls before the target, then the target.
    for target in range(28, -1, -3):
        source.seek(max(0, target - 6))
        for _ in range(min(6, target)):
            await source.fetch(100)
        source.seek(target)
        assert (await source.fetch(100)).raw == expected[target]
    # Random order reads the right polls too.
    for index in (17, 3, 29, 0, 12, 11, 25):
        assert recording.polls[index].body == expected[index]
        assert recording.polls[index].index == index
    window = recording.polls._cache  # type: ignore[attr-defined]
    assert 1 <= len(window) <= 5
    await source.close()


async def test_truncated_gzip_recording_replays_every_complete_poll(tmp_path: Path) -> None:
    snapshots = make_snapshots(20, flows=30)
    path = tmp_path / "cut.jsonl.gz"
    recorder = Recorder(path)
    for snapshot in snapshots:
        recorder.write(snapshot)
    # Cut as a crash would leave it: flushed up to the last poll, no end of stream.
    content = path.read_bytes()
    recorder.close()
    path.write_bytes(content)
    recording = Recording.load(path)
    assert recording.damage is not None and "compressed data ends early" in recording.damage
    replayed = await replay_all(ReplaySource(recording))
    assert [s.raw for s in replayed] == [s.raw for s in snapshots]
    recording.close()


def test_a_recording_changed_under_the_replay_says_so(tmp_path: Path) -> None:
    snapshots = make_snapshots(4)
    path = tmp_path / "changed.jsonl"
    record(path, snapshots)
    recording = Recording.load(path, window_bytes=1)
    assert recording.polls[3].body == snapshots[3].raw
    with path.open("r+b") as handle:
        handle.truncate(200)
    with pytest.raises(UnreadableAnswer, match="poll 2 of the recording cannot be read again"):
        recording.polls[1]
    recording.close()


async def test_closing_the_replay_closes_the_file(tmp_path: Path) -> None:
    snapshots = make_snapshots(3)
    path = tmp_path / "closed.jsonl.gz"
    record(path, snapshots)
    recording = Recording.load(path, window_bytes=1)
    source = ReplaySource(recording)
    assert (await source.fetch(100)).raw == snapshots[0].raw
    await source.close()
    await source.close()  # twice is harmless
    with pytest.raises(UnreadableAnswer, match="poll 3 of the recording cannot be read again"):
        recording.polls[2]
