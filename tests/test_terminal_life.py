"""The end of a terminal: SIGTERM, SIGHUP and a vanished terminal (an SSH session that
dropped) end the real TUI promptly, with a logout, and leave nothing polling."""

from __future__ import annotations

import fcntl
import gzip
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flowtop.core.recording import Recorder, Recording
from flowtop.core.signals import SIGNAL_EXIT_DEADLINE
from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    LOGIN_V1_PATH,
    DemoAppliance,
)
from flowtop.demo.server import DemoServer
from tests.support import drain_pty

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 100, 30
STARTUP_TIMEOUT = 15.0
EXIT_TIMEOUT = 6.0
QUIET_PERIOD = 1.5
FLOWS = ("GET", FLOWS_PATH)
# sshd makes the pty the session's controlling terminal (setsid, then TIOCSCTTY); Popen
# only does the setsid.  The same process then execs flowtop, so its pid is flowtop's.
BECOME_CONTROLLING_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
    " os.execv(sys.argv[1], sys.argv[1:])"
)
EXEC_ONLY = "import os, sys; os.execv(sys.argv[1], sys.argv[1:])"
LOGOUT = ("DELETE", LOGIN_V1_PATH)


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    master: int | None
    output: bytearray
    reader: threading.Thread

    def close_master(self) -> None:
        if self.master is not None:
            os.close(self.master)
            self.master = None


@pytest.fixture
def appliance() -> DemoAppliance:
    return DemoAppliance(seed=3, flows=200)


@pytest.fixture
def server(appliance: DemoAppliance) -> Iterator[DemoServer]:
    with DemoServer(appliance, host="127.0.0.1", port=0) as running:
        yield running


def _environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FLOWTOP_") and "proxy" not in key.lower()
    }
    env.update(
        TERM="xterm-256color",
        FLOWTOP_PASSWORD=DEMO_PASSWORD,
        COLUMNS=str(COLUMNS),
        LINES=str(LINES),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
    )
    env.pop("NO_COLOR", None)
    env.pop("TEXTUAL", None)
    return env


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _count(appliance: DemoAppliance, request: tuple[str, str]) -> int:
    return sum(1 for seen in list(appliance.requests) if seen == request)


def _start(
    server: DemoServer,
    appliance: DemoAppliance,
    *,
    controlling: bool = True,
    flowtop: tuple[str, ...] = ("-m", "flowtop"),
    extra: tuple[str, ...] = (),
) -> Running:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    command = [
        sys.executable,
        "-c",
        BECOME_CONTROLLING_TERMINAL if controlling else EXEC_ONLY,
        sys.executable,
        *flowtop,
        "--url",
        server.url,
        "--user",
        DEMO_USERNAME,
        "--interval",
        "0.5",
        *extra,
    ]
    try:
        process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_environment(),
            cwd=ROOT,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(slave)
    output = bytearray()
    reader = threading.Thread(target=drain_pty, args=(master, output), daemon=True)
    reader.start()
    running = Running(process, master, output, reader)
    if not _wait_for(lambda: _count(appliance, FLOWS) >= 2, STARTUP_TIMEOUT):
        _kill(running)
        tail = bytes(output[-2000:]).decode("utf-8", "replace")
        raise AssertionError(f"flowtop never polled the demo appliance; it wrote: {tail!r}")
    return running


def _kill(running: Running) -> None:
    process = running.process
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)
    running.close_master()
    running.reader.join(2)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ended_promptly(running: Running, appliance: DemoAppliance) -> None:
    """Fail with a description of what the process does instead when it did not end."""
    process = running.process
    try:
        process.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        before, polls = _cpu_seconds(process.pid), _count(appliance, FLOWS)
        time.sleep(1.0)
        busy = _cpu_seconds(process.pid) - before
        polled = _count(appliance, FLOWS) - polls
        raise AssertionError(
            f"flowtop still runs {EXIT_TIMEOUT:g} s later, using {busy:.0%} of a CPU"
            f" and still polling ({polled} GETs in the last second)"
        ) from None


def _assert_quiet_afterwards(appliance: DemoAppliance) -> None:
    polls = _count(appliance, FLOWS)
    time.sleep(QUIET_PERIOD)
    assert _count(appliance, FLOWS) == polls, "something still polls the appliance"


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["TERM", "HUP", "INT"]
)
def test_signal_ends_flowtop_promptly_with_logout(
    server: DemoServer, appliance: DemoAppliance, signal_number: int, tmp_path: Path
) -> None:
    path = tmp_path / "polls.jsonl.gz"
    running = _start(server, appliance, extra=("--record", str(path)))
    try:
        assert _count(appliance, LOGOUT) == 0
        os.kill(running.process.pid, signal_number)
        _ended_promptly(running, appliance)
        assert running.process.returncode == 0
        assert _count(appliance, LOGOUT) == 1
        _assert_quiet_afterwards(appliance)
        with gzip.open(path, "rb") as finished:
            assert finished.read().count(b"\n") >= 2  # EOFError if left unfinished
    finally:
        _kill(running)


# flowtop, except that "?" blocks its event loop for good: a stand-in for any bug or input
# that keeps the loop busy (the hook lives here, in the test, not in flowtop).
BLOCKING_FLOWTOP = (
    "import sys, time\n"
    "from flowtop.tui.app import FlowTopApp\n"
    "FlowTopApp.action_help = lambda self: time.sleep(3600)\n"
    "from flowtop.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_signal_ends_flowtop_even_when_its_event_loop_is_blocked(
    server: DemoServer, appliance: DemoAppliance, tmp_path: Path
) -> None:
    path = tmp_path / "polls.jsonl.gz"
    running = _start(
        server, appliance, flowtop=("-c", BLOCKING_FLOWTOP), extra=("--record", str(path))
    )
    try:
        assert running.master is not None
        os.write(running.master, b"?")
        # Blocked: no more polls.
        assert _wait_for(lambda: _quiet_for(appliance, 1.2), 8.0), "the loop never blocked"
        shown = len(running.output)
        started = time.monotonic()
        os.kill(running.process.pid, signal.SIGTERM)
        running.process.wait(SIGNAL_EXIT_DEADLINE + 3.0)
        took = time.monotonic() - started
        assert running.process.returncode == 0
        assert SIGNAL_EXIT_DEADLINE - 0.5 <= took <= SIGNAL_EXIT_DEADLINE + 3.0
        running.reader.join(2)
        # The watchdog took the terminal out of the alternate screen on its way out,
        assert b"\x1b[?1049l" in bytes(running.output[shown:])
        # and finished the recording.
        with gzip.open(path, "rb") as finished:
            assert finished.read().count(b"\n") >= 2
    finally:
        _kill(running)


def _quiet_for(appliance: DemoAppliance, seconds: float) -> bool:
    polls = _count(appliance, FLOWS)
    time.sleep(seconds)
    return _count(appliance, FLOWS) == polls


def test_vanished_terminal_ends_flowtop_without_spinning(
    server: DemoServer, appliance: DemoAppliance
) -> None:
    """Closing the pty's master is what sshd does when the connection drops: the kernel
    hangs up the session (SIGHUP) and every later read or write of the terminal fails."""
    running = _start(server, appliance)
    try:
        running.close_master()
        _ended_promptly(running, appliance)
        assert _count(appliance, LOGOUT) == 1
        _assert_quiet_afterwards(appliance)
    finally:
        _kill(running)


def test_terminal_gone_without_a_hangup_ends_flowtop_without_spinning(
    server: DemoServer, appliance: DemoAppliance
) -> None:
    """A terminal that is not the session's controlling terminal (a multiplexer's pane,
    a pty handed over by a supervisor) sends no SIGHUP when it goes away: flowtop only
    sees its reads and writes fail, and must end on that alone."""
    running = _start(server, appliance, controlling=False)
    try:
        running.close_master()
        _ended_promptly(running, appliance)
        assert _count(appliance, LOGOUT) == 1
        _assert_quiet_afterwards(appliance)
    finally:
        _kill(running)


# -- stop signals without a screen: --headless and --once ---------------------------------

STOP_SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
STOP_IDS = ["TERM", "HUP", "INT"]


def _start_plain(server: DemoServer, *arguments: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "flowtop", "--url", server.url, "--user", DEMO_USERNAME]
    return subprocess.Popen(
        [*command, *arguments],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(),
        cwd=ROOT,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError(f"flowtop still runs {EXIT_TIMEOUT:g} s after the signal") from None
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.mark.parametrize("signal_number", STOP_SIGNALS, ids=STOP_IDS)
def test_stop_signal_finishes_a_headless_recording_and_logs_out(
    server: DemoServer, appliance: DemoAppliance, tmp_path: Path, signal_number: int
) -> None:
    path = tmp_path / "polls.jsonl.gz"
    process = _start_plain(server, "--headless", "--record", str(path), "--interval", "0.5")
    try:
        if not _wait_for(lambda: _count(appliance, FLOWS) >= 3, STARTUP_TIMEOUT):
            raise AssertionError("flowtop never polled the demo appliance")
        polls = _count(appliance, FLOWS)
        os.kill(process.pid, signal_number)
        code, _, err = _finish(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # A headless recording ended by a signal ended normally: 0, as with --count.
    assert code == 0, err
    assert f"stopped by {signal.Signals(signal_number).name}" in err
    assert "Traceback" not in err
    assert _count(appliance, LOGOUT) == 1
    with gzip.open(path, "rb") as finished:
        lines = finished.read().splitlines()  # EOFError if the stream was left unfinished
    assert len(lines) >= polls  # a header and every poll answered before the signal
    recording = Recording.load(path)
    assert recording.damage is None
    # A finished file takes another session.
    Recorder(path).close()
    _assert_quiet_afterwards(appliance)


@pytest.mark.parametrize("signal_number", STOP_SIGNALS, ids=STOP_IDS)
def test_stop_signal_during_once_logs_out_and_exits_with_the_signal(
    server: DemoServer, appliance: DemoAppliance, signal_number: int
) -> None:
    appliance.faults.delay = 3.0  # the answer is slow: the signal comes while waiting
    process = _start_plain(server, "--once")
    try:
        if not _wait_for(lambda: _count(appliance, FLOWS) >= 1, STARTUP_TIMEOUT):
            raise AssertionError("flowtop never asked for flows")
        appliance.faults.delay = 0.0  # the logout gets a prompt answer
        os.kill(process.pid, signal_number)
        code, out, err = _finish(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert code == 128 + signal_number, err
    assert out == ""
    assert err.strip() == f"flowtop: stopped by {signal.Signals(signal_number).name}"
    assert _count(appliance, LOGOUT) == 1


# flowtop, except that a headless recording gets stuck for good after its first poll.
STUCK_HEADLESS = (
    "import sys, time\n"
    "import flowtop.cli\n"
    "async def stuck(source, recorder, **options):\n"
    "    recorder.write(await source.fetch(100))\n"
    "    time.sleep(3600)\n"
    "flowtop.cli.record_headless = stuck\n"
    "sys.exit(flowtop.cli.main(sys.argv[1:]))\n"
)


def test_stop_signal_ends_a_stuck_headless_recording_with_its_file_finished(
    server: DemoServer, appliance: DemoAppliance, tmp_path: Path
) -> None:
    path = tmp_path / "polls.jsonl.gz"
    command = [sys.executable, "-c", STUCK_HEADLESS, "--url", server.url, "--user"]
    process = subprocess.Popen(
        [*command, DEMO_USERNAME, "--headless", "--record", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(),
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        if not _wait_for(lambda: path.exists() and path.stat().st_size > 0, STARTUP_TIMEOUT):
            raise AssertionError("flowtop never recorded")
        time.sleep(0.3)
        started = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        process.wait(SIGNAL_EXIT_DEADLINE + 3.0)
        assert time.monotonic() - started >= SIGNAL_EXIT_DEADLINE - 0.5
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert process.returncode == 0
    with gzip.open(path, "rb") as finished:
        assert finished.read().count(b"\n") == 2  # the header and the one poll
