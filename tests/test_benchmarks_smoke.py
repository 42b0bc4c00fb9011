"""Smoke tests of the whole-app benchmark: its parts work and its quick mode reports."""

from __future__ import annotations

import cProfile
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.app_cost import (
    APP_USER,
    COOKIE,
    COUNTS_PATH,
    FLOOR_USER,
    FLOWS_PATH,
    LOGIN_PATHS,
    PASSWORD,
    TerminalReader,
    _ApplianceServer,
    cpu_seconds,
    memory_kib,
    step_times,
)
from benchmarks.synthetic import SyntheticAppliance

ROOT = Path(__file__).resolve().parent.parent
# The quick run takes about 20 s; the bound only keeps a hung child from hanging the suite.
RUN_TIMEOUT = 120.0


def test_cpu_seconds_and_memory_read_this_process() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    used = cpu_seconds(os.getpid()) - before
    # /proc counts in clock ticks (10 ms), so allow a couple either way.
    assert 0.07 <= used <= 0.5
    memory = memory_kib()
    assert 0 < memory["VmRSS"] <= memory["VmHWM"]


@pytest.fixture
def bench_server() -> Iterator[_ApplianceServer]:
    appliance = SyntheticAppliance(1500, seed=3)
    bodies = [appliance.body() for _ in range(2)]
    server = _ApplianceServer(bodies)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)


def test_bench_appliance_serves_more_flows_than_max_stats_and_counts_per_user(
    bench_server: _ApplianceServer,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", bench_server.server_address[1])
    try:
        connection.request("GET", f"{FLOWS_PATH}?filter=max_stats:1000")
        refused = connection.getresponse()
        refused.read()
        assert refused.status == 401
        login = json.dumps({"login": {"username": FLOOR_USER, "password": PASSWORD}})
        connection.request("POST", LOGIN_PATHS[0], body=login)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200
        cookie = (answer.getheader("Set-Cookie") or "").split(";", 1)[0]
        assert cookie == f"{COOKIE}={FLOOR_USER}"
        answers = []
        flows = f"{FLOWS_PATH}?filter=max_stats:1000"
        for _ in range(3):
            connection.request("GET", flows, headers={"Cookie": cookie})
            answers.append(connection.getresponse().read())
        # Every answer is over max_stats; the bodies take turns, so the values move.
        assert min(len(json.loads(answer)["flows"]) for answer in answers) > 1000
        assert answers[0] == answers[2] != answers[1]
        connection.request("GET", COUNTS_PATH)
        assert json.loads(connection.getresponse().read()) == {APP_USER: 0, FLOOR_USER: 3}
    finally:
        connection.close()


def test_terminal_reader_finds_a_pattern_written_after_the_watch_across_reads() -> None:
    read_end, write_end = os.pipe()
    reader = TerminalReader(read_end)
    reader.start()
    try:
        os.write(write_end, b"\x1b[1;1HBytes\xe2\x96\xbc before the watch")
        time.sleep(0.2)
        reader.watch(re.compile(rb"Bytes(\xe2\x96\xbc|v)"))
        assert reader.wait(0.2) is None
        os.write(write_end, b"\x1b[1;1HByt")
        time.sleep(0.1)
        sent = time.monotonic()
        os.write(write_end, b"es\xe2\x96\xbc")
        seen = reader.wait(5.0)
        assert seen is not None and seen >= sent
        assert reader.bytes_read > 30
    finally:
        os.close(write_end)
        reader.join(5.0)
        os.close(read_end)


def test_quick_run_prints_the_report() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWTOP_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.app_cost", "--quick"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    lines = re.findall(
        r"^1000 flows, pane (shown|hidden): app (\d+\.\d) ms/poll, floor (\d+\.\d) ms/poll "
        r"\((\d+\.\d|inf)x\), peak RSS (\d+) MiB(, key (\d+) ms)?$",
        out,
        re.MULTILINE,
    )
    assert [line[0] for line in lines] == ["shown", "hidden"], out
    for pane, app_ms, floor_ms, _ratio, rss, _, key_ms in lines:
        # Both processes polled during the window (each poll costs some CPU), and the
        # app's peak RSS is that of a Python process with textual loaded.
        assert 0 < float(app_ms) < 1000
        assert 0 <= float(floor_ms) < 1000
        assert 20 < int(rss) < 2000
        # Keys are timed with the pane shown, each one seen on the screen.
        assert (key_ms != "") == (pane == "shown")
    assert "missed" not in out
    assert "exited with" not in out
    target = r"^  1000 flows, pane shown: app/floor (\d+\.\d|inf)x \(<= 2x: "
    assert re.search(target, out, re.MULTILINE), out


def test_step_times_sums_a_steps_functions_and_marks_missing_ones(tmp_path: Path) -> None:
    from flowtop.core.model import parse_flows

    body = SyntheticAppliance(300, seed=5).body()
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [parse_flows(body) for _ in range(4)])
    path = tmp_path / "run.prof"
    profiler.dump_stats(path)
    steps = step_times(path)
    parse, everything = steps["parse"], steps["all"]
    assert parse is not None and everything is not None
    assert 0 < parse <= everything
    # Nothing else ran: those steps are "not found", not zero.
    assert steps["table"] is None and steps["output"] is None


def test_textual_floor_measures_a_bare_repaint_beside_the_stdlib_floor() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWTOP_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.textual_floor", "--seconds", "3"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    bare = re.search(r"^bare Textual repaint: (\d+\.\d) ms CPU a second$", done.stdout, re.M)
    floor = re.search(r"^stdlib floor: +(\d+\.\d) ms CPU a poll$", done.stdout, re.M)
    assert bare and floor, done.stdout
    # The bare app ran and repainted (a Python process with textual spends CPU on it).
    assert 0 < float(bare.group(1)) < 1000
    assert 0 <= float(floor.group(1)) < 1000


def test_fleet_cost_measures_a_fleet_beside_one_appliance() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWTOP_")}
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.fleet_cost",
            "--appliances", "3", "--seconds", "2", "--warmup", "1",
        ],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    alone = re.search(r"^one appliance, .*: (\d+\.\d) % of a core, (\d+) MiB$", done.stdout, re.M)
    fleet = re.search(
        r"^fleet of 3 .*: (\d+\.\d) % of a core \(.*x the one\), (\d+) MiB$", done.stdout, re.M
    )
    assert alone and fleet, done.stdout
    # Both ran (a Python process with textual loaded, polling, spends CPU and memory).
    assert float(alone.group(1)) > 0 and float(fleet.group(1)) > 0
    assert 20 < int(fleet.group(2)) < 2000
    assert "targets: under 15 % of a core: " in done.stdout


def test_a_comparison_reports_each_try_and_each_trees_medians(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks.app_cost import Case, Usage, main, make_plan, report_trees

    def case(tree: str, tries: list[float], hwm_mib: int) -> Case:
        return Case(
            flows=50_000,
            pane=True,
            columns=160,
            wall=10.0,
            app=Usage(cpu=4.0, polls=4, hwm_kib=hwm_mib * 1024),
            floor=Usage(cpu=1.0, polls=4, hwm_kib=200 * 1024),
            output_bytes=0,
            latencies_ms=tries,
            tree=tree,
            window_hwm_kib=(hwm_mib - 10) * 1024,
        )

    report_trees(
        [
            case("against", [300.0, 100.0], 420),
            case("this", [50.0, 70.0], 430),
            case("this", [60.0, 20.0], 440),
            case("against", [200.0, 140.0], 430),
        ]
    )
    out = capsys.readouterr().out
    assert "50000 shown 160x45 against: 100 300" in out
    assert (
        "50000 shown against (2 runs): app/floor 4.00x, app 1000 ms/poll, peak RSS 425 MiB,"
        " key 170 ms (peak RSS before the keys 415 MiB)"
    ) in out
    assert "50000 shown this (2 runs): app/floor 4.00x, app 1000 ms/poll, peak RSS 435 MiB" in out
    assert "key 55 ms" in out
    assert make_plan(False, [50_000], 10.0).key_sizes == (50_000,)
    with pytest.raises(SystemExit):
        main(["--repeat", "0"])
