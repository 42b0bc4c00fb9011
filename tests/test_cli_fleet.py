"""A fleet from the command line: --fleet NAME, --profile twice, --once and the JSON lines stream.

Every appliance is a demo appliance on 127.0.0.1 that the test starts itself; one
profile points at a closed port, one has a wrong password.
"""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from flowtop.demo.appliance import DEMO_PASSWORD, DEMO_USERNAME, DemoAppliance
from flowtop.demo.server import DemoServer
from tests.support import run_cli

pytestmark = pytest.mark.usefixtures("isolated_environment")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    """Two demo appliances on loopback, by profile name: their URLs."""
    with (
        DemoServer(DemoAppliance(seed=1, flows=60, clock=Clock()), host="127.0.0.1", port=0) as dc,
        DemoServer(
            DemoAppliance(seed=2, flows=40, clock=Clock()), host="127.0.0.1", port=0
        ) as austin,
    ):
        yield {"dc": dc.url, "austin": austin.url}


def _profile(name: str, url: str, password: str = DEMO_PASSWORD) -> str:
    return (
        f"[profiles.{name}]\n"
        f'url = "{url}"\nuser = "{DEMO_USERNAME}"\n'
        f"password_command = \"printf '%s' {password}\"\n"
    )


@pytest.fixture
def config(tmp_path: Path, servers: dict[str, str]) -> Path:
    path = tmp_path / "config.toml"
    text = "".join(
        [
            _profile("dc", servers["dc"]),
            _profile("austin", servers["austin"]),
            _profile("refused", servers["austin"], password="not-the-password"),
            _profile("dead", f"http://127.0.0.1:{_closed_port()}"),
            '[fleets.sites]\nprofiles = ["dc", "austin"]\n',
            '[fleets.troubled]\nprofiles = ["dc", "dead", "refused", "austin"]\n',
        ]
    )
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_once_json_carries_every_appliances_name(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    result = run_cli(
        capsys, "--config", str(config), "--fleet", "sites", "--once", "--format", "json"
    )
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    names = [row["appliance"] for row in rows]
    assert set(names) == {"dc", "austin"}
    # Sorted across the fleet (by rate, the default), as the all-flows view sorts, not
    # each appliance's rows in turn; the 26 fields after the appliance's name.
    rates = [row["customer_kbps"] or 0.0 for row in rows]
    assert rates == sorted(rates, reverse=True)
    assert names != sorted(names, key=["dc", "austin"].index)
    assert len(rows[0]) == 27 and next(iter(rows[0])) == "appliance"
    ascending = run_cli(
        capsys, "--config", str(config), "--fleet", "sites", "--once", "--sort", "bytes:asc",
        "--format", "csv",
    )  # fmt: skip
    counts = [int(row["bytes"]) for row in csv.DictReader(io.StringIO(ascending.out))]
    assert counts == sorted(counts) and len(counts) > 100
    assert result.err == ""


def test_once_prints_the_others_when_some_fail_and_exits_with_the_first_failure(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    result = run_cli(
        capsys, "--config", str(config), "--fleet", "troubled", "--once", "--format", "json"
    )
    # "dead" comes before "refused" in the fleet: its code (3, cannot connect) wins.
    assert result.code == 3
    assert {row["appliance"] for row in json.loads(result.out)} == {"dc", "austin"}
    lines = result.err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("flowtop: dead: ") and "refused" in lines[0]
    assert lines[1].startswith("flowtop: refused: authentication failed")


def test_profile_twice_is_a_fleet_and_csv_and_table_name_the_appliance(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    base = ("--config", str(config), "--profile", "austin", "--profile", "dc", "--once")
    result = run_cli(capsys, *base, "--format", "csv")
    assert result.code == 0, result.err
    table = list(csv.DictReader(io.StringIO(result.out)))
    assert next(iter(table[0])) == "appliance"
    assert next(row["appliance"] for row in table) == "austin"
    assert {row["appliance"] for row in table} == {"austin", "dc"}
    shown = run_cli(capsys, *base, "--width", "0", "--max-stats", "50")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0].startswith("Appliance")
    assert {line.split()[0] for line in lines[1:]} == {"austin", "dc"}


def test_headless_jsonl_streams_every_poll_of_every_appliance(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    result = run_cli(
        capsys,
        "--config", str(config), "--fleet", "sites", "--headless", "--format", "jsonl",
        "--count", "2", "--interval", "0.5", "--max-stats", "50",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    records = [json.loads(line) for line in lines]
    by_appliance = {
        name: [r for r in records if r["appliance"] == name] for name in ("dc", "austin")
    }
    # Two polls each, of up to 50 flows each.
    for rows in by_appliance.values():
        times = sorted({row["time"] for row in rows})
        assert len(times) == 2 and all(t.endswith("Z") for t in times)
        assert 0 < len(rows) <= 100
    assert all(len(record) == 28 for record in records)


def test_a_jsonl_stream_answers_a_top_talkers_query_in_duckdb(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    result = run_cli(
        capsys,
        "--config", str(config), "--fleet", "sites", "--headless", "--format", "jsonl",
        "--count", "2", "--interval", "0.5",
    )  # fmt: skip
    assert result.code == 0, result.err
    stream = tmp_path / "flows.jsonl"
    stream.write_text(result.out)
    records = [json.loads(line) for line in result.out.splitlines()]
    expected: dict[tuple[str, str], int] = {}
    for record in records:
        key = (record["appliance"], record["application"])
        expected[key] = expected.get(key, 0) + record["bytes"]
    top = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:5]
    connection = duckdb.connect()
    found = connection.execute(
        "SELECT appliance, application, sum(bytes) AS moved"
        f" FROM read_json_auto('{stream}')"
        " GROUP BY appliance, application ORDER BY moved DESC, appliance, application LIMIT 5"
    ).fetchall()
    assert [((a, app), int(moved)) for a, app, moved in found] == top
    times = connection.execute(
        f"SELECT count(DISTINCT time) FROM read_json_auto('{stream}') WHERE appliance = 'dc'"
    ).fetchone()
    assert times == (2,)


def test_jsonl_works_for_one_appliance_too(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    result = run_cli(
        capsys, "--config", str(config), "--profile", "dc", "--once", "--format", "jsonl",
        "--filter", "proto:tcp",
    )  # fmt: skip
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert records and {record["appliance"] for record in records} == {"dc"}
    assert all(record["ipp"] == 6 for record in records)


def test_a_fleet_naming_an_unknown_profile_is_a_config_error(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    with config.open("a") as file:
        file.write('[fleets.typo]\nprofiles = ["dc", "nowhere"]\n')
    result = run_cli(capsys, "--config", str(config), "--profile", "dc", "--once")
    assert result.code == 2 and result.out == ""
    assert 'fleets.typo.profiles: no profile named "nowhere"' in result.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--fleet", "nope", "--once"), 'unknown fleet "nope"'),
        (("--fleet", "sites", "--profile", "dc", "--once"), "leave out --profile"),
        (("--profile", "dc", "--profile", "dc", "--once"), "--profile dc is given twice"),
        (("--fleet", "sites", "--url", "http://x", "--once"), "leave out --url"),
        (("--fleet", "sites", "--headless"), "--format jsonl"),
    ],
)
def test_a_fleet_misused_says_why_in_one_line(
    capsys: pytest.CaptureFixture[str], config: Path, argv: tuple[str, ...], says: str
) -> None:
    result = run_cli(capsys, "--config", str(config), *argv)
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.splitlines()) == 1 and says in result.err, result.err


# ---- the live fleet view ------------------------------------------------------------


async def test_an_appliance_that_stops_answering_is_stale_while_the_other_stays_live() -> None:
    from flowtop.core.client import NitroClient
    from flowtop.core.fleet import Fleet, FleetPolicy, Member
    from flowtop.core.monitor import Monitor
    from flowtop.core.source import ClientSource
    from flowtop.tui.app import FlowTopApp
    from flowtop.tui.scenes import settle
    from flowtop.tui.screens.fleet import FleetScreen

    dc_server = DemoServer(DemoAppliance(seed=1, flows=30, clock=Clock()), host="127.0.0.1", port=0)
    austin_server = DemoServer(
        DemoAppliance(seed=2, flows=30, clock=Clock()), host="127.0.0.1", port=0
    )
    with dc_server, austin_server:
        members = []
        for name, running in (("dc", dc_server), ("austin", austin_server)):
            client = NitroClient(running.url, DEMO_USERNAME, DEMO_PASSWORD, timeout=2.0)
            source = ClientSource(client, f"{DEMO_USERNAME}@{name}")
            members.append(Member(name, source, Monitor(interval=0.5)))
        fleet = Fleet(members, FleetPolicy(background_interval=0.5))
        app = FlowTopApp(members[0].source, fleet=fleet, handle_signals=False)
        async with app.run_test(size=(160, 20)) as pilot:
            await settle(pilot, lambda: all(member.polls >= 1 for member in members))
            screen = app.screen
            assert isinstance(screen, FleetScreen)

            def state(name: str) -> str:
                row = screen.table.get_row_at(screen.shown_names.index(name))
                return str(row[2].plain)

            await settle(pilot, lambda: "LIVE" in state("dc") and "LIVE" in state("austin"))
            austin_server.stop()
            await settle(pilot, lambda: "STALE" in state("austin"), timeout=10.0)
            assert "LIVE" in state("dc")
            await pilot.press("q")


def test_the_fleet_view_runs_on_a_terminal_and_logs_out_of_every_appliance(
    tmp_path: Path,
) -> None:
    import fcntl
    import os
    import struct
    import subprocess
    import sys
    import termios
    import threading
    import time

    from flowtop.demo.appliance import FLOWS_PATH, LOGIN_V1_PATH
    from tests.support import drain_pty

    appliances = {
        "dc": DemoAppliance(seed=1, flows=30, clock=Clock()),
        "austin": DemoAppliance(seed=2, flows=30, clock=Clock()),
    }
    with (
        DemoServer(appliances["dc"], host="127.0.0.1", port=0) as dc,
        DemoServer(appliances["austin"], host="127.0.0.1", port=0) as austin,
    ):
        config = tmp_path / "config.toml"
        config.write_text(
            _profile("dc", dc.url)
            + _profile("austin", austin.url)
            + '[fleets.sites]\nprofiles = ["dc", "austin"]\nbackground_interval = 1.0\n'
        )
        config.chmod(0o600)
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 160, 0, 0))
        root = Path(__file__).resolve().parent.parent
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTOP_")}
        env.update(TERM="xterm-256color", PYTHONPATH=str(root))
        process = subprocess.Popen(
            [sys.executable, "-m", "flowtop", "--config", str(config), "--fleet", "sites"],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        output = bytearray()
        reader = threading.Thread(target=drain_pty, args=(master, output), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not all(
                ("GET", FLOWS_PATH) in appliance.requests for appliance in appliances.values()
            ):
                time.sleep(0.05)
            time.sleep(1.5)
            screen = bytes(output).decode("utf-8", "replace")
            assert "FLEET" in screen and "austin" in screen and "LIVE" in screen, screen[-2000:]
            os.write(master, b"q")
            assert process.wait(15) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)
            os.close(master)
            reader.join(2)
        for name, appliance in appliances.items():
            assert ("DELETE", LOGIN_V1_PATH) in appliance.requests, name


def test_a_fleet_is_recorded_in_one_file_each_poll_tagged_and_replays_per_appliance(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    from flowtop.cli import fleet_replay
    from flowtop.core.config import Settings
    from flowtop.core.recording import Recording

    path = tmp_path / "fleet.jsonl.gz"
    result = run_cli(
        capsys,
        "--config", str(config), "--fleet", "troubled", "--headless", "--record", str(path),
        "--count", "2", "--interval", "0.5",
    )  # fmt: skip
    # Two appliances answered: the recording holds them; the others said why on stderr,
    # and the exit code is the first of them's, as with --once ("dead": cannot connect).
    assert result.code == 3, result.err
    assert result.out == ""
    assert "recorded 4 poll(s) of 4 appliances" in result.err
    # How it goes, after the first poll (the README's progress lines).
    assert "1 poll(s) of 4 appliances recorded to" in result.err
    assert "dead: poll failed" in result.err and "refused: poll failed" in result.err
    whole = Recording.load(path)
    assert whole.appliances == ["dc", "dead", "refused", "austin"]
    whole.close()
    for name in ("dc", "austin"):
        part = Recording.load(path, appliance=name)
        assert len(part.polls) == 2
        bodies = [json.loads(poll.body) for poll in part.polls]
        assert all(body["flows"] for body in bodies)
        part.close()
    with pytest.raises(Exception, match="holds no polls of dead"):
        Recording.load(path, appliance="dead")
    plan, replays = fleet_replay(Settings(replay=str(path))) or (None, {})
    assert plan is not None and [name for name, _ in plan.appliances] == ["dc", "austin"]
    assert set(replays) == {"dc", "austin"}


async def test_a_fleets_recording_replays_in_the_fleet_view(tmp_path: Path) -> None:
    from flowtop.cli import _source_of_profile, fleet_replay
    from flowtop.core.config import Settings
    from flowtop.core.recording import Recorder
    from flowtop.core.source import Snapshot
    from flowtop.fleet_cli import build_fleet
    from flowtop.tui.app import FlowTopApp
    from flowtop.tui.scenes import settle
    from flowtop.tui.screens.fleet import FleetScreen
    from tests.core.factories import raw_flow

    path = tmp_path / "fleet.jsonl"
    recorder = Recorder(path, source="fleet lab", appliances=["dc", "austin"])
    for number in range(3):
        for name, flows in (("dc", 5), ("austin", 3)):
            body = json.dumps({"flows": [raw_flow(n) for n in range(flows)]}).encode()
            snapshot = Snapshot(flows=[], received_at=1000.0 + number, latency=0.01, raw=body)
            assert recorder.write(snapshot, appliance=name)
    recorder.close()
    replayed = fleet_replay(Settings(replay=str(path), speed=100.0))
    assert replayed is not None
    plan, replays = replayed
    fleet = build_fleet(plan, _source_of_profile, replays=replays)
    app = FlowTopApp(fleet.members[0].source, fleet=fleet, handle_signals=False)
    async with app.run_test(size=(160, 20)) as pilot:
        await settle(pilot, lambda: all(member.polls >= 3 for member in fleet.members))
        await pilot.pause(1.1)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        assert screen.shown_names == ["dc", "austin"]
        # A recording's appliances are not LIVE: REPLAY, or PAUSED at its end.
        states = {summary.state for summary in fleet.summaries()}
        assert states <= {"REPLAY", "PAUSED"} and "LIVE" not in states
        flows = {name: fleet[name].monitor.store.flows() for name in ("dc", "austin")}
        assert (len(flows["dc"]), len(flows["austin"])) == (5, 3)
        await pilot.press("2")
        await settle(pilot, lambda: app.table.row_count == 3)
        # The all-flows view of a recording says so, and no "ago" from the wall clock.
        await pilot.press("0")
        await settle(pilot, lambda: app.table.row_count == 8)
        status = app.status_info()
        assert status.mode == "REPLAY" and status.since_update is None
        assert app.monitor.now() == 1002.0
        await pilot.press("q")


@pytest.mark.parametrize(("sort", "title"), [(None, "bit/s"), ("bytes", "Bytes"), ("pps", "pps")])
def test_once_at_80_columns_keeps_the_column_it_is_sorted_by(
    capsys: pytest.CaptureFixture[str], sort: str | None, title: str
) -> None:
    # Piped output is 80 columns: the rows' order must be visible in them.
    argv = ["--demo", "--once", "--width", "80"] + (["--sort", sort] if sort else [])
    result = run_cli(capsys, *argv)
    assert result.code == 0, result.err
    header = result.out.splitlines()[0]
    assert title in header.split(), header
    assert all(len(line) <= 80 for line in result.out.splitlines())


def test_once_table_of_a_fleet_names_each_capped_appliance_on_stderr(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    base = ("--config", str(config), "--fleet", "sites", "--once", "--max-stats", "50")
    result = run_cli(capsys, *base)
    assert result.code == 0, result.err
    # dc has 60 flows and austin 40: at max_stats 50 only dc's answer is capped.
    assert result.err.splitlines() == [
        "flowtop: dc: capped by max_stats: the appliance returned only its top 50 flows;"
        " --max-stats 1000 asks for more"
    ]
    quiet = run_cli(capsys, *base, "--format", "json")
    assert quiet.code == 0 and quiet.err == ""
