"""Benchmark flowtop's CPU share at a 1 s interval, and its memory with full history.

Run from the repository root::

    python -m benchmarks.cpu_share            # full run (about two minutes)
    python -m benchmarks.cpu_share --quick    # short windows: a smoke run, not a measure
    python -m benchmarks.cpu_share --check    # exit 1 if the app takes over 8% of one core
                                              # (or the store's soak is not bounded)

CPU share.  The demo appliance runs as a real HTTP server in its own process
(``flowtop demo-server`` on 127.0.0.1, 1200 live flows).  Then, one after the other
so neither disturbs the other on a small machine, against that same server:

* the app: the real TUI, ``python -m flowtop --interval 1 --max-stats 1000``, on a
  real pseudo-terminal of 200x50 (``TERM=xterm-256color``) whose output is read as
  fast as it comes, so the app never waits on the terminal;
* the bare loop: a process that only fetches the flows with
  :class:`~flowtop.core.client.NitroClient` and parses them with
  :func:`~flowtop.core.model.parse_flows`, on the app's schedule (start to start).

Each process is left alone for a warm-up (imports, login, first render), then its
CPU time (user + system, all threads, from ``/proc/PID/stat``) is read at the start
and end of a measuring window: CPU share = CPU seconds / wall seconds, as a
percentage of one core.  The server's own CPU is not counted.  The difference
between the two is what the TUI adds to fetching and parsing.

Memory, headless.  A :class:`~flowtop.core.store.FlowStore` with 300 samples of
history is fed polls of the demo world (1000 flows, flows starting and ending every
simulated second) in a process of its own, until every ring has held its most
(300 plus the trim slack); its peak RSS is compared with a process that imports the
same modules and parses one snapshot.  A soak process runs 2000 polls and prints
its RSS along the way, with the store's record, sample and event counts, which must
stay bounded.  Peak RSS is the kernel's ``VmHWM``: ``ru_maxrss`` is not used because
Linux carries the parent's high-water mark over ``fork`` and ``exec`` into it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

from flowtop.core.client import LOGOUT_TIMEOUT, MAX_STATS_CHOICES, NitroClient
from flowtop.core.model import parse_flows
from flowtop.core.settings import ENV_PASSWORD
from flowtop.core.store import TRIM_EVERY, FlowStore
from flowtop.demo.appliance import DEMO_PASSWORD, DEMO_USERNAME
from flowtop.demo.world import DemoWorld

ROOT: Final = Path(__file__).resolve().parent.parent
HOST: Final = "127.0.0.1"
SCREEN: Final = (200, 50)
INTERVAL: Final = 1.0
TARGET_SHARE: Final = 8.0
HISTORY: Final = 300
SERVER_EXTRA_FLOWS: Final = 0.2  # the demo table is 20% larger than max_stats, as in a busy site
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
MIB: Final = 1024 * 1024

SERVER_START_TIMEOUT: Final = 15.0
SERVER_READY: Final = "flowtop demo appliance listening on "
QUIT_TIMEOUT: Final = 5.0
TERM_TIMEOUT: Final = 3.0
BARE_LOOP_SLACK: Final = 10.0
EXIT_PORT_UNAVAILABLE: Final = 3
TAIL_BYTES: Final = 16384
_ESCAPES: Final = re.compile(
    r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][A-Z0-9]|.)"
)


@dataclass(frozen=True)
class Plan:
    warmup: float
    seconds: float
    flows: int
    history_polls: int
    soak_polls: int
    quick: bool


def make_plan(quick: bool, flows: int, warmup: float | None, seconds: float | None) -> Plan:
    # Full history means every ring at its largest: HISTORY samples plus the trim slack.
    return Plan(
        warmup=warmup if warmup is not None else (2.0 if quick else 5.0),
        seconds=seconds if seconds is not None else (3.0 if quick else 30.0),
        flows=flows,
        history_polls=20 if quick else HISTORY + TRIM_EVERY,
        soak_polls=50 if quick else 2000,
        quick=quick,
    )


# --------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of every thread of ``pid`` so far."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        data = stat.read()
    # The command name is in parentheses and may itself contain spaces or ")".
    fields = data[data.rindex(b")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) from ``/proc/PID/status``, in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


# --------------------------------------------------------------------------- processes


def _child_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.cpu_share", "--child", *arguments]


def _base_environment() -> dict[str, str]:
    env = dict(os.environ)
    # The measured processes must not pick up a developer's terminal or flowtop settings.
    for name in list(env):
        if name.startswith(("FLOWTOP_", "TEXTUAL")) or name in (
            "NO_COLOR",
            "COLORTERM",
            "COLUMNS",
            "LINES",
        ):
            del env[name]
    env[ENV_PASSWORD] = DEMO_PASSWORD
    return env


def stop_process(process: subprocess.Popen[Any], timeout: float = TERM_TIMEOUT) -> None:
    """SIGTERM the process's group, then SIGKILL it; returns once the process is gone."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def demo_server(flows: int) -> Iterator[str]:
    """A ``flowtop demo-server`` process on a free loopback port; yields its URL."""
    for _ in range(3):
        port = _free_port()
        process = subprocess.Popen(
            [
                sys.executable, "-m", "flowtop", "demo-server",
                "--host", HOST, "--port", str(port), "--flows", str(flows),
            ],
            cwd=ROOT,
            env=_base_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            # The server says where it listens once it is bound, or why it could not bind.
            ready, _, _ = select.select([process.stdout], [], [], SERVER_START_TIMEOUT)
            first = process.stdout.readline().decode(errors="replace") if ready else ""
            if first.startswith(SERVER_READY):
                yield first.split()[-1]
                return
            try:
                # After a refusal the server exits at once.
                process.wait(TERM_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise RuntimeError(
                    f"the demo server did not start in time: {first.strip()!r}"
                ) from None
            if process.returncode != EXIT_PORT_UNAVAILABLE:
                output = first + process.stdout.read().decode(errors="replace")
                raise RuntimeError(f"the demo server exited with {process.returncode}: {output}")
            # Another process took the port between our probe and the server's bind.
        finally:
            stop_process(process)
            if process.stdout is not None:
                process.stdout.close()
    raise RuntimeError("no free port for the demo server after 3 tries")


@dataclass
class Window:
    """CPU seconds used by one process over a measuring window of wall seconds."""

    cpu: float
    wall: float
    start: float  # time.monotonic(), the same clock in every process on Linux
    counted: int = 0  # what the optional counter grew by over the same window

    @property
    def end(self) -> float:
        return self.start + self.wall

    @property
    def share(self) -> float:
        """Percent of one core."""
        return 100.0 * self.cpu / self.wall if self.wall > 0 else 0.0


class ExitedEarly(RuntimeError):
    """The measured process ended before its window did."""


def measure_window(
    process: subprocess.Popen[Any],
    spawned: float,
    warmup: float,
    seconds: float,
    counter: Callable[[], int] = lambda: 0,
) -> Window:
    """Sleep out the warm-up (counted from ``spawned``), then measure ``seconds``."""

    def check_alive() -> None:
        if process.poll() is not None:
            raise ExitedEarly(f"exited early with code {process.returncode}")

    def sleep_until(moment: float) -> None:
        while (left := moment - time.monotonic()) > 0:
            check_alive()
            time.sleep(min(left, 0.5))

    sleep_until(spawned + warmup)
    check_alive()
    count_start = counter()
    cpu_start, wall_start = cpu_seconds(process.pid), time.monotonic()
    sleep_until(wall_start + seconds)
    check_alive()
    cpu_end, wall_end = cpu_seconds(process.pid), time.monotonic()
    return Window(cpu_end - cpu_start, wall_end - wall_start, wall_start, counter() - count_start)


# --------------------------------------------------------------------------- the app


class TerminalReader(threading.Thread):
    """Reads everything the app writes to its terminal, so it never blocks on output."""

    def __init__(self, master: int, marker: bytes) -> None:
        super().__init__(name="pty-reader", daemon=True)
        self.master = master
        self.marker = marker
        self.total = 0
        self.seen_marker = False
        self.tail = b""  # the last output, to say why the app died if it does
        self._lock = threading.Lock()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once every copy of the terminal's other side is closed
                return
            if not chunk:
                return
            with self._lock:
                self.total += len(chunk)
                # The marker can straddle two reads.
                if not self.seen_marker and self.marker in self.tail[-len(self.marker) :] + chunk:
                    self.seen_marker = True
                self.tail = (self.tail + chunk)[-TAIL_BYTES:]

    @property
    def bytes_read(self) -> int:
        with self._lock:
            return self.total

    def last_text(self) -> str:
        """The end of the output as plain text, escape sequences removed."""
        with self._lock:
            text = self.tail.decode(errors="replace")
        text = _ESCAPES.sub("", text)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return "\n".join(lines[-20:])


@dataclass
class AppResult:
    window: Window
    output_bytes: int  # written to the terminal during the window
    rss_kib: int
    hwm_kib: int
    showed_flows: bool
    exit_code: int | None
    quit_seconds: float
    needed_signal: bool


def _take_terminal() -> None:
    # Runs in the child after setsid(): make the pty its controlling terminal, as a shell would.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def measure_app(url: str, plan: Plan) -> AppResult:
    """Run the TUI on a pseudo-terminal, measure its CPU window, then quit it with "q"."""
    master, slave = os.openpty()
    columns, rows = SCREEN
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = _base_environment()
    env["TERM"] = "xterm-256color"
    command = [
        sys.executable, "-m", "flowtop", "--url", url, "--user", DEMO_USERNAME,
        "--interval", f"{INTERVAL:g}", "--max-stats", str(plan.flows),
    ]  # fmt: skip
    # The status line shows "1000+ flows" (an answer as large as --max-stats may be
    # capped): proof that the app polls and renders.
    reader = TerminalReader(master, f"{plan.flows}+".encode())
    process: subprocess.Popen[bytes] | None = None
    try:
        spawned = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
        os.close(slave)
        slave = -1
        reader.start()
        # The output is counted over the same span as the CPU time, give or take a read.
        try:
            window = measure_window(
                process, spawned, plan.warmup, plan.seconds, lambda: reader.bytes_read
            )
        except ExitedEarly as error:
            reader.join(2.0)
            raise RuntimeError(f"the app {error}; its last output:\n{reader.last_text()}") from None
        memory = memory_kib(process.pid)
        showed_flows = reader.seen_marker
        quit_started = time.monotonic()
        os.write(master, b"q")
        needed_signal = False
        try:
            process.wait(QUIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            needed_signal = True
            stop_process(process)
        quit_seconds = time.monotonic() - quit_started
        if process.poll() is None:
            raise RuntimeError("the app did not exit, even after SIGKILL")
        return AppResult(
            window=window,
            output_bytes=window.counted,
            rss_kib=memory["VmRSS"],
            hwm_kib=memory["VmHWM"],
            showed_flows=showed_flows,
            exit_code=process.returncode,
            quit_seconds=quit_seconds,
            needed_signal=needed_signal,
        )
    finally:
        if process is not None:
            stop_process(process)
        if slave >= 0:
            os.close(slave)
        if reader.is_alive():
            reader.join(2.0)
        os.close(master)


# --------------------------------------------------------------------------- the bare loop


@dataclass
class BareResult:
    window: Window
    polls: int  # polls started inside the window
    flows: int  # flows parsed from the last answer


def measure_bare_loop(url: str, plan: Plan) -> BareResult:
    """Run the fetch-and-parse loop in its own process and measure it like the app."""
    # A bound in case this process dies; normally the loop is stopped right after its window.
    most = plan.warmup + plan.seconds + BARE_LOOP_SLACK
    command = _child_command(
        "bare-loop", "--url", url, "--flows", str(plan.flows), "--seconds", f"{most:g}"
    )
    spawned = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_base_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        window = measure_window(process, spawned, plan.warmup, plan.seconds)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=TERM_TIMEOUT + LOGOUT_TIMEOUT)
        if process.returncode != 0:
            raise RuntimeError(f"the bare loop failed with exit code {process.returncode}")
        report = json.loads(out.decode().strip().splitlines()[-1])
        starts = [float(moment) for moment in report["starts"]]
        polls = sum(window.start <= moment < window.end for moment in starts)
        return BareResult(window, polls, int(report["flows"]))
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()


async def _bare_loop(url: str, max_stats: int, seconds: float) -> dict[str, Any]:
    """Fetch and parse on the app's schedule until SIGTERM or ``seconds``; what it did."""
    password = os.environ.get(ENV_PASSWORD, DEMO_PASSWORD)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    starts: list[float] = []
    flows = 0
    async with NitroClient(url, DEMO_USERNAME, password) as client:
        end = time.monotonic() + seconds
        while not stop.is_set() and (started := time.monotonic()) < end:
            starts.append(started)
            answer = await client.fetch_flows(max_stats)
            flows = len(parse_flows(answer.body, answer.content_type).flows)
            # The app's schedule: start to start, at least a short pause after a slow poll.
            wait = max(INTERVAL - (time.monotonic() - started), min(0.2, INTERVAL))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(wait, max(0.0, end - time.monotonic())))
    return {"starts": starts, "flows": flows}


# --------------------------------------------------------------------------- memory


@dataclass
class StoreCheckpoint:
    poll: int
    rss_kib: int
    hwm_kib: int
    records: int
    samples: int
    events: int


@dataclass
class MemoryResult:
    flows: int
    polls: int
    hwm_kib: int
    records: int = 0
    samples: int = 0
    added_per_poll: float = 0.0
    checkpoints: list[StoreCheckpoint] = field(default_factory=list)


def _feed_store(flows: int, polls: int, checkpoints: Sequence[int]) -> MemoryResult:
    now = [0.0]
    world = DemoWorld(seed=1, flows=flows, clock=lambda: now[0])
    store = FlowStore(history=HISTORY)
    marks = set(checkpoints)
    added = 0
    result = MemoryResult(flows=flows, polls=polls, hwm_kib=0)
    for poll in range(1, polls + 1):
        now[0] += INTERVAL
        world.advance_to(now[0])
        parsed = parse_flows(world.encode(flows))
        update = store.apply(parsed.flows, now[0])
        if poll > 1:
            added += len(update.added)
        if poll in marks:
            memory = memory_kib()
            result.checkpoints.append(
                StoreCheckpoint(
                    poll=poll,
                    rss_kib=memory["VmRSS"],
                    hwm_kib=memory["VmHWM"],
                    records=len(store.records),
                    samples=_samples(store),
                    events=len(store.events),
                )
            )
    result.hwm_kib = memory_kib()["VmHWM"]
    result.records = len(store.records)
    result.samples = _samples(store)
    result.added_per_poll = added / max(1, polls - 1)
    return result


def _samples(store: FlowStore) -> int:
    """History samples held in memory, counting the rings' not yet trimmed slack."""
    return sum(len(r.pps.data) + len(r.kbps.data) for r in store.records.values())


def _parse_once(flows: int) -> MemoryResult:
    world = DemoWorld(seed=1, flows=flows, clock=lambda: 0.0)
    parsed = parse_flows(world.encode(flows))
    return MemoryResult(flows=len(parsed.flows), polls=1, hwm_kib=memory_kib()["VmHWM"])


def _memory_child(mode: str, flows: int, polls: int) -> dict[str, Any]:
    if mode == "baseline":
        result = _parse_once(flows)
    elif mode == "history":
        result = _feed_store(flows, polls, ())
    else:
        result = _feed_store(flows, polls, [polls * quarter // 4 for quarter in range(1, 5)])
    return {
        "flows": result.flows,
        "polls": result.polls,
        "hwm_kib": result.hwm_kib,
        "records": result.records,
        "samples": result.samples,
        "added_per_poll": result.added_per_poll,
        "checkpoints": [vars(point) for point in result.checkpoints],
    }


def measure_memory(plan: Plan) -> dict[str, MemoryResult]:
    """The three memory processes, side by side: only their own RSS is read."""
    runs = {"baseline": 1, "history": plan.history_polls, "soak": plan.soak_polls}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for mode, polls in runs.items():
            processes[mode] = subprocess.Popen(
                _child_command(mode, "--flows", str(plan.flows), "--polls", str(polls)),
                cwd=ROOT,
                env=_base_environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
        results: dict[str, MemoryResult] = {}
        for mode, process in processes.items():
            out, _ = process.communicate(timeout=600.0)
            if process.returncode != 0:
                raise RuntimeError(f"the {mode} memory run failed with {process.returncode}")
            data = json.loads(out.decode().strip().splitlines()[-1])
            points = [StoreCheckpoint(**point) for point in data.pop("checkpoints")]
            results[mode] = MemoryResult(**data, checkpoints=points)
        return results
    finally:
        for process in processes.values():
            stop_process(process)
            if process.stdout is not None:
                process.stdout.close()


def soak_bounded(soak: MemoryResult, flows: int) -> bool:
    """Records, samples and events never exceed what the store's limits allow."""
    ring_most = HISTORY + TRIM_EVERY
    default_events = FlowStore().events.maxlen or 0
    return all(
        point.samples <= 2 * point.records * ring_most
        and point.records <= flows
        and point.events <= default_events
        for point in soak.checkpoints
    )


# --------------------------------------------------------------------------- report


def _format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


@dataclass
class Results:
    app: AppResult
    bare: BareResult
    memory: dict[str, MemoryResult]


def report(results: Results, plan: Plan) -> bool:
    """Print the tables and the README lines; True when the targets are met."""
    app, bare, memory = results.app, results.bare, results.memory
    if plan.quick:
        print("\nQUICK RUN: short windows, a smoke run, not a measure")
    print(
        f"\nCPU share of one core, polling every {INTERVAL:g} s, {plan.flows} flows a poll; "
        f"{plan.seconds:g} s window after {plan.warmup:g} s warm-up"
    )
    print("(one after the other against the same demo server; its own CPU is not counted)")
    widths = [26, 7, 7, 7, 7]
    print(_format_row(["process", "cpu s", "wall s", "share", "polls"], widths))
    for name, window, polls in (
        (f"flowtop TUI, {SCREEN[0]}x{SCREEN[1]} pty", app.window, "-"),
        ("bare fetch+parse loop", bare.window, str(bare.polls)),
    ):
        cells = [name, f"{window.cpu:.2f}", f"{window.wall:.1f}", f"{window.share:.1f}%", polls]
        print(_format_row(cells, widths))
    ratio = app.window.share / bare.window.share if bare.window.share > 0 else float("inf")
    added = app.window.share - bare.window.share
    print(f"app/bare {ratio:.1f}x; the TUI adds {added:.1f}% of one core to fetch+parse")
    print(
        f"TUI: {app.output_bytes / app.window.wall / 1024:.1f} KiB/s to the terminal; "
        f"status line showed {plan.flows}+ flows: "
        f"{'yes' if app.showed_flows else 'NO'}; bare loop parsed {bare.flows} flows a poll"
    )
    how = "after SIGTERM/SIGKILL" if app.needed_signal else "on q"
    print(f"TUI quit {how} in {app.quit_seconds:.1f} s, exit code {app.exit_code}")
    print(
        f"TUI memory at the end of the window: VmRSS {_mib(app.rss_kib)}, VmHWM {_mib(app.hwm_kib)}"
    )

    baseline, history, soak = memory["baseline"], memory["history"], memory["soak"]
    print(
        f"\nMemory, headless: FlowStore(history={HISTORY}) fed by the demo world, "
        f"{plan.flows} flows, {history.added_per_poll:.1f} new flows a poll"
    )
    widths = [34, 6, 8, 8, 9]
    print(_format_row(["process", "polls", "records", "samples", "peak RSS"], widths))
    print(
        _format_row(["baseline: imports, one parse", "1", "-", "-", _mib(baseline.hwm_kib)], widths)
    )
    print(
        _format_row(
            [
                f"store, {HISTORY} samples of history",
                str(history.polls),
                str(history.records),
                str(history.samples),
                _mib(history.hwm_kib),
            ],
            widths,
        )
    )
    print(f"\nSoak: {soak.polls} polls")
    widths = [6, 8, 8, 7, 8, 9]
    print(_format_row(["poll", "records", "samples", "events", "RSS", "peak RSS"], widths))
    for point in soak.checkpoints:
        cells = [
            str(point.poll),
            str(point.records),
            str(point.samples),
            str(point.events),
            _mib(point.rss_kib),
            _mib(point.hwm_kib),
        ]
        print(_format_row(cells, widths))
    bounded = soak_bounded(soak, plan.flows)
    first, last = soak.checkpoints[0], soak.checkpoints[-1]
    print(
        f"bounded: {'yes' if bounded else 'NO'} (samples <= 2 x records x {HISTORY + TRIM_EVERY}, "
        f"events <= the store's cap); RSS from poll {first.poll} to {last.poll}: "
        f"{(last.rss_kib - first.rss_kib) / 1024:+.1f} MiB"
    )

    share_ok = app.window.share <= TARGET_SHARE
    print(
        f"\nTarget: app under {TARGET_SHARE:g}% of one core: "
        f"{'met' if share_ok else 'MISSED'} ({app.window.share:.1f}%)"
    )
    print("\nREADME lines:")
    print(
        f"CPU at {INTERVAL:g} s interval, {plan.flows} flows: app {app.window.share:.1f}% of one "
        f"core, bare fetch+parse loop {bare.window.share:.1f}% (app/bare {ratio:.1f}x)"
    )
    print(
        f"Peak RSS at {plan.flows} flows with {HISTORY} samples of history: "
        f"{_mib(history.hwm_kib)} (baseline {_mib(baseline.hwm_kib)}, "
        f"history +{_mib(history.hwm_kib - baseline.hwm_kib)})"
    )
    print(
        f"The TUI at {plan.flows} flows after {plan.warmup + plan.seconds:g} s: "
        f"RSS {_mib(app.rss_kib)} (peak {_mib(app.hwm_kib)})"
    )
    print(
        f"Soak, {soak.polls} polls: RSS {_mib(first.rss_kib)} at poll {first.poll}, "
        f"{_mib(last.rss_kib)} at poll {last.poll}; store bounded: {'yes' if bounded else 'NO'}"
    )
    return share_ok and bounded


def run(plan: Plan) -> Results:
    _say("memory: baseline, history and soak processes ...")
    memory = measure_memory(plan)
    server_flows = round(plan.flows * (1 + SERVER_EXTRA_FLOWS))
    with demo_server(server_flows) as url:
        _say(f"CPU: the TUI against {url} ...")
        app = measure_app(url, plan)
        _say("CPU: the bare fetch+parse loop ...")
        bare = measure_bare_loop(url, plan)
    return Results(app, bare, memory)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _child_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu_share --child")
    parser.add_argument("mode", choices=("bare-loop", "baseline", "history", "soak"))
    parser.add_argument("--url", default="")
    parser.add_argument("--flows", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--polls", type=int, default=1)
    args = parser.parse_args(argv)
    answer: dict[str, Any]
    if args.mode == "bare-loop":
        answer = asyncio.run(_bare_loop(args.url, args.flows, args.seconds))
    else:
        answer = _memory_child(args.mode, args.flows, args.polls)
    print(json.dumps(answer))
    return 0


def _positive(convert: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = convert(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    return parse


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--child"]:
        return _child_main(arguments[1:])
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cpu_share",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short windows (smoke run)")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 if the app is over {TARGET_SHARE:g}%% or the soak finds the store unbounded",
    )
    parser.add_argument("--seconds", type=_positive(float), help="measuring window (default 30)")
    parser.add_argument("--warmup", type=_positive(float), help="warm-up (default 5)")
    parser.add_argument(
        "--flows", type=int, choices=MAX_STATS_CHOICES, default=1000, help="flows a poll"
    )
    args = parser.parse_args(arguments)
    plan = make_plan(args.quick, args.flows, args.warmup, args.seconds)
    # SIGTERM would end this process without running the cleanups that stop the children.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    met = report(run(plan), plan)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
