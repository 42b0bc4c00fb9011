"""The whole app's cost, as users run it: CPU per poll, peak RSS and key latency.

Run from the repository root::

    python -m benchmarks.app_cost            # full run: 1000, 10 000, 50 000 flows (~6 min)
    python -m benchmarks.app_cost --quick    # 1000 flows, short windows: a smoke run
    python -m benchmarks.app_cost --check    # exit 1 if a target is missed
    python -m benchmarks.app_cost --flows 1000 --flows 50000   # chosen sizes
    python -m benchmarks.app_cost --steps    # also CPU per poll by step, under cProfile
    python -m benchmarks.app_cost --flows 50000 --shown-only --keys 20 --repeat 3 \
        --against ../before                  # this tree's app and another's, in turn

Comparing (``--against DIR``).  The app of another source tree (a checkout of the
branch point, say) runs in turn with this one against the same appliance, each case
``--repeat`` times, the order swapped every repetition, so a before and an after
share the machine's load; the report gives each run and the medians of each tree.

The appliance.  A tiny stdlib HTTP server in its own process speaks the login,
logout and flows resources over loopback and answers every poll with N flows (a
few bodies of :class:`benchmarks.synthetic.SyntheticAppliance` built up front and
served in turn, so rates move and flows start and end from poll to poll).  It
ignores ``max_stats``: the app runs with ``--max-stats 1000`` and still gets 10 000
or 50 000 flows.  The server counts the flow answers it sent to each user.

The app.  ``python -m flowtop --url ... --interval 1 --max-stats 1000``, the real
TUI on a pseudo-terminal (``TERM=xterm-256color``, UTF-8), its output read and
thrown away as fast as it comes, so output encoding is paid but the app never
waits on the terminal.  Status line, footer and table as a user has them; at
160x45 the detail pane is shown (the default from 150 columns), at 149x45 it is
hidden.

The floor.  In the same run, beside the app and against the same server, a child
process that only logs in with ``http.client`` and then, on the app's schedule
(start to start), GETs the flows and ``json.loads`` them.

CPU per poll: user + system CPU seconds of the process (all threads, from
``/proc/PID/stat``) over a measuring window, divided by the flow answers the
server sent that process in the window.  Peak RSS is ``VmHWM`` from
``/proc/PID/status`` at the end.  The ratio app/floor is what the targets are
about; milliseconds depend on the machine and its load.

Key latency (with the pane shown, at the first and the largest size): while polls
go on, ``B`` (sort by bytes) and ``P`` (sort by pps) are sent in turn; the latency
is the time from writing the key to the terminal to reading the header with the
new sort mark ("Bytes▼" or "pps▼") from it.  Median of several tries, spread
over the poll cycle by a random pause.  From 10 000 flows the mark is drawn over the
rows shown and the rows sorted in steps just after (``Monitor.finish_view``): the
latency is the key's answer, not the end of that sort.

Steps (``--steps``).  The app runs twice more per size, pane shown, under cProfile
timed in the main thread's CPU time: a short run (start-up, two polls, quit) and a
long one; the difference over the polls between is the cost of a poll, by step:
parse, store, view, table (update and drawing its lines), detail, status, layout
and output (compositor and encoding, which also draws the table's lines).  The
profiler inflates the many small calls of Textual more than the rest: read the
steps against each other and against an earlier run, not against the CPU per poll.
GC is not seen by the profiler; the step benchmark ``python -m benchmarks.tick``
(a partial tick: headless, the table alone, no HTTP) times it, with parse, store,
view, table and freeing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import http.client
import http.server
import json
import os
import random
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final
from urllib.parse import urlsplit

ROOT: Final = Path(__file__).resolve().parent.parent
HOST: Final = "127.0.0.1"
INTERVAL: Final = 1.0
ROWS: Final = 45
PANE_SHOWN_COLUMNS: Final = 160
PANE_HIDDEN_COLUMNS: Final = 149
SIZES: Final = (1000, 10_000, 50_000)
APP_MAX_STATS: Final = 1000
PASSWORD: Final = "bench"
APP_USER: Final = "app"
FLOOR_USER: Final = "floor"
ENV_PASSWORD: Final = "FLOWTOP_PASSWORD"
LOGIN_PATHS: Final = ("/sdwan/nitro/v1/config/login", "/sdwan/nitro/v2/config/login")
FLOWS_PATH: Final = "/sdwan/nitro/v2/monitor/flows"
COUNTS_PATH: Final = "/bench/counts"
COOKIE: Final = "NITRO_AUTH_TOKEN"
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
MIB: Final = 1024

# Targets from issue 11 (for later work; reported, and checked by --check).
TARGET_RATIO_SHOWN: Final = 2.0
TARGET_RATIO_HIDDEN: Final = 1.6
TARGET_LATENCY_MS: Final = 150.0
TARGET_RSS_MIB: Final = 500.0
TARGET_SMALL: Final = 1000
TARGET_LARGE: Final = 50_000

SERVER_START_TIMEOUT: Final = 120.0
SERVER_READY: Final = "bench appliance listening on "
READY_TIMEOUT: Final = 120.0
KEY_TIMEOUT: Final = 30.0
QUIT_TIMEOUT: Final = 30.0
STEP_POLLS: Final = 5  # the long profiled run's fewest polls more than the short one
ANSWER_POLL: Final = 0.02
TERM_TIMEOUT: Final = 3.0
TAIL_BYTES: Final = 16384
# Sort keys sent in turn, and the header each one brings: the title with the
# descending mark (Unicode, or ASCII "v").  The default sort is by rate, so the first
# key changes the screen.
KEYS: Final = (
    (b"B", re.compile(rb"Bytes(\xe2\x96\xbc|v)")),
    (b"P", re.compile(rb"pps(\xe2\x96\xbc|v)")),
)
_ESCAPES: Final = re.compile(
    r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][A-Z0-9]|.)"
)


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    warmup: float  # after the app's second poll
    seconds: float
    key_tries: int
    key_sizes: tuple[int, ...]
    bodies: int
    quick: bool
    steps: bool = False
    min_polls: int = 2  # the fewest whole poll cycles in a window
    # The app of another source tree, run in turn with this one (None: this one only).
    against: Path | None = None
    repeat: int = 1
    shown_only: bool = False


def make_plan(quick: bool, sizes: Sequence[int] | None, seconds: float | None) -> Plan:
    chosen = tuple(sizes) if sizes else ((TARGET_SMALL,) if quick else SIZES)
    key_sizes = tuple(sorted({min(chosen), max(chosen)}))
    return Plan(
        sizes=chosen,
        warmup=1.0 if quick else 3.0,
        seconds=seconds if seconds is not None else (4.0 if quick else 20.0),
        key_tries=4 if quick else 12,
        key_sizes=key_sizes,
        bodies=2 if quick else 3,
        quick=quick,
    )


# --------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of every thread of ``pid`` so far."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        data = stat.read()
    # The command name is in parentheses and may itself contain spaces or ")".
    fields = data[data.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) from ``/proc/PID/status``, in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


# --------------------------------------------------------------------------- the appliance


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A quiet keep-alive handler that answers JSON: the bench appliances' base."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _ApplianceHandler(JsonHandler):
    server: _ApplianceServer

    def _user(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value in self.server.counts:
                return value
        return None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path not in LOGIN_PATHS:
            self._send(404, b'{"errorcode": 404, "message": "Not found"}')
            return
        try:
            login = json.loads(body)["login"]
            user, password = login["username"], login["password"]
        except (ValueError, KeyError, TypeError):
            self._send(400, b'{"errorcode": 1401, "message": "Invalid payload"}')
            return
        if password != PASSWORD or user not in self.server.counts:
            self._send(401, b'{"errorcode": 401, "message": "Invalid username or password"}')
            return
        cookie = {"Set-Cookie": f"{COOKIE}={user}; Path=/; HttpOnly"}
        self._send(200, b'{"login": {"message": "Login Success"}}', cookie)

    def do_DELETE(self) -> None:
        self._send(200, b'{"login": {"message": "resource deleted succesfully"}}')

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == COUNTS_PATH:
            with self.server.lock:
                counts = dict(self.server.counts)
            self._send(200, json.dumps(counts).encode())
            return
        if path != FLOWS_PATH:
            self._send(404, b'{"errorcode": 404, "message": "Not found"}')
            return
        user = self._user()
        if user is None:
            self._send(401, b'{"errorcode": 444, "message": "Session expired"}')
            return
        with self.server.lock:
            served = self.server.counts[user]
        bodies = self.server.bodies
        self._send(200, bodies[served % len(bodies)])
        with self.server.lock:
            self.server.counts[user] += 1


class _ApplianceServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bodies: list[bytes]) -> None:
        super().__init__((HOST, 0), _ApplianceHandler)
        self.bodies = bodies
        self.lock = threading.Lock()
        self.counts = {APP_USER: 0, FLOOR_USER: 0}

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client stopped mid-connection (the floor is ended by a signal): not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _serve(flows: int, bodies: int) -> int:
    from benchmarks.synthetic import SyntheticAppliance

    appliance = SyntheticAppliance(flows, seed=11)
    built = [appliance.body() for _ in range(bodies)]
    del appliance
    server = _ApplianceServer(built)
    print(f"{SERVER_READY}http://{HOST}:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


@contextlib.contextmanager
def appliance(flows: int, bodies: int) -> Iterator[str]:
    """The benchmark's appliance in its own process; yields its URL."""
    with served_by(
        _child_command("serve", "--flows", str(flows), "--bodies", str(bodies)),
        SERVER_READY,
        SERVER_START_TIMEOUT,
    ) as url:
        yield url


@contextlib.contextmanager
def served_by(command: Sequence[str], ready: str, timeout: float) -> Iterator[str]:
    """A bench server in its own process, stopped on exit; yields the URL it prints last
    on its first line, which starts with ``ready``."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        started, _, _ = select.select([process.stdout], [], [], timeout)
        first = process.stdout.readline().decode(errors="replace") if started else ""
        if not first.startswith(ready):
            raise RuntimeError(f"the bench server did not start: {first.strip()!r}")
        yield first.split()[-1]
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()


def served(url: str) -> dict[str, int]:
    """Flow answers sent so far, per user."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=10.0)
    try:
        connection.request("GET", COUNTS_PATH)
        counts: dict[str, int] = json.loads(connection.getresponse().read())
        return counts
    finally:
        connection.close()


# --------------------------------------------------------------------------- the floor


def _floor(url: str) -> int:
    """Log in, then GET and json.loads the flows every INTERVAL, start to start."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=30.0)
    login = json.dumps({"login": {"username": FLOOR_USER, "password": PASSWORD}})
    connection.request(
        "POST", LOGIN_PATHS[0], body=login, headers={"Content-Type": "application/json"}
    )
    answer = connection.getresponse()
    answer.read()
    cookie = (answer.getheader("Set-Cookie") or "").split(";", 1)[0]
    headers = {"Cookie": cookie}
    url_path = f"{FLOWS_PATH}?filter=max_stats:{APP_MAX_STATS}"
    start = time.monotonic()
    while True:
        connection.request("GET", url_path, headers=headers)
        document = json.loads(connection.getresponse().read())
        if not isinstance(document, dict) or not document.get("flows"):
            raise RuntimeError("no flows in the answer")
        del document
        start += INTERVAL
        time.sleep(max(0.0, start - time.monotonic()))


# --------------------------------------------------------------------------- processes


def _child_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.app_cost", "--child", *arguments]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # The measured processes must not pick up a developer's terminal or flowtop settings.
    for name in list(env):
        if name.startswith(("FLOWTOP_", "TEXTUAL", "LC_")) or name in (
            "NO_COLOR",
            "COLORTERM",
            "COLUMNS",
            "LINES",
            "LANGUAGE",
        ):
            del env[name]
    env["LANG"] = "C.UTF-8"
    env[ENV_PASSWORD] = PASSWORD
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


class TerminalReader(threading.Thread):
    """Reads everything the app writes to its terminal; can wait for a pattern."""

    def __init__(self, master: int) -> None:
        super().__init__(name="pty-reader", daemon=True)
        self.master = master
        self.total = 0
        self.tail = b""
        self._lock = threading.Lock()
        self._pattern: re.Pattern[bytes] | None = None
        self._since = b""
        self._found = threading.Event()
        self.found_at = 0.0

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once every copy of the terminal's other side is closed
                return
            if not chunk:
                return
            now = time.monotonic()
            with self._lock:
                self.total += len(chunk)
                self.tail = (self.tail + chunk)[-TAIL_BYTES:]
                if self._pattern is not None and not self._found.is_set():
                    # Only output written after the watch began counts; a match can
                    # straddle two reads.
                    self._since = self._since[-64:] + chunk
                    if self._pattern.search(self._since):
                        self.found_at = now
                        self._found.set()

    def watch(self, pattern: re.Pattern[bytes]) -> None:
        with self._lock:
            self._pattern = pattern
            self._since = b""
            self._found.clear()

    def wait(self, timeout: float) -> float | None:
        """When the watched pattern was read (time.monotonic()), or None on timeout."""
        if not self._found.wait(timeout):
            return None
        return self.found_at

    @property
    def bytes_read(self) -> int:
        with self._lock:
            return self.total

    def last_text(self) -> str:
        with self._lock:
            text = self.tail.decode(errors="replace")
        lines = [line.strip() for line in _ESCAPES.sub("", text).splitlines() if line.strip()]
        return "\n".join(lines[-20:])


def _take_terminal() -> None:
    # Runs in the child after setsid(): make the pty its controlling terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def start_on_terminal(
    command: Sequence[str], columns: int, rows: int = ROWS, root: Path = ROOT
) -> tuple[subprocess.Popen[bytes], int, TerminalReader]:
    """``command`` on a new pseudo-terminal of ``columns`` x ``rows`` that becomes its
    controlling terminal (``TERM=xterm-256color``), as a user's ssh session gives it;
    returns the process, the terminal's master side, and its started reader."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = _environment()
    env["TERM"] = "xterm-256color"
    if root != ROOT:
        env["PYTHONPATH"] = str(root)
    try:
        process = subprocess.Popen(
            list(command),
            cwd=root,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    reader = TerminalReader(master)
    reader.start()
    return process, master, reader


# --------------------------------------------------------------------------- one case


@dataclass
class Usage:
    cpu: float  # seconds over the window
    polls: int  # flow answers the server sent over the window
    hwm_kib: int

    @property
    def per_poll_ms(self) -> float:
        return 1000.0 * self.cpu / self.polls if self.polls else float("inf")


@dataclass
class Case:
    flows: int
    pane: bool
    columns: int
    wall: float
    app: Usage
    floor: Usage
    output_bytes: int
    latencies_ms: list[float] = field(default_factory=list)
    missed_keys: int = 0
    exit_code: int | None = None
    quit_seconds: float = 0.0
    tree: str = ""  # with --against: which tree's app ("this" or "against")
    window_hwm_kib: int = 0  # the app's peak RSS before the keys (0: no keys)

    @property
    def ratio(self) -> float:
        # A floor of zero ticks (a very short window) makes the ratio infinite.
        floor = self.floor.per_poll_ms
        return self.app.per_poll_ms / floor if floor else float("inf")

    @property
    def latency_ms(self) -> float | None:
        return statistics.median(self.latencies_ms) if self.latencies_ms else None


class Failed(RuntimeError):
    """A measured process died or never got going."""


def _next_answer(url: str, process: subprocess.Popen[Any], after: int) -> dict[str, int]:
    """The counts as soon as the app has had more than ``after`` answers."""
    deadline = time.monotonic() + READY_TIMEOUT
    while (counts := served(url))[APP_USER] <= after:
        if process.poll() is not None:
            raise Failed(f"the app exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise Failed("the app stopped polling")
        time.sleep(ANSWER_POLL)
    return counts


def _wait_polls(url: str, process: subprocess.Popen[Any], who: str, polls: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while served(url)[who] < polls:
        if process.poll() is not None:
            raise Failed(f"the {who} process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise Failed(f"the {who} process got fewer than {polls} answers in time")
        time.sleep(0.1)


def measure_case(
    url: str,
    flows: int,
    pane: bool,
    plan: Plan,
    keys: bool,
    profile: Path | None = None,
    root: Path = ROOT,
) -> Case:
    """Run the app and the floor side by side; measure a window, then time keys."""
    columns = PANE_SHOWN_COLUMNS if pane else PANE_HIDDEN_COLUMNS
    app_module = ["-m", "flowtop"]
    if profile is not None:
        app_module = ["-m", "benchmarks.app_cost", "--child", "profile", "--out", str(profile)]
    command = [
        sys.executable, *app_module, "--url", url, "--user", APP_USER,
        "--interval", f"{INTERVAL:g}", "--max-stats", str(APP_MAX_STATS),
    ]  # fmt: skip
    app, master, reader = start_on_terminal(command, columns, root=root)
    floor: subprocess.Popen[bytes] | None = None
    try:
        floor = subprocess.Popen(
            _child_command("floor", "--url", url),
            cwd=ROOT,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = served(url)
        try:
            _wait_polls(url, app, APP_USER, base[APP_USER] + 2)
            _wait_polls(url, floor, FLOOR_USER, base[FLOOR_USER] + 2)
        except Failed as error:
            raise Failed(f"{error}; the app's last output:\n{reader.last_text()}") from None
        time.sleep(plan.warmup)
        # The window runs from one of the app's answers to another, so it holds whole
        # poll cycles even when a poll takes the app longer than the interval.
        start_counts = _next_answer(url, app, served(url)[APP_USER])
        start_cpu = {p.pid: cpu_seconds(p.pid) for p in (app, floor)}
        start_bytes, start_wall = reader.bytes_read, time.monotonic()
        time.sleep(plan.seconds)
        # The next answer after the window's seconds, and at least min_polls in all.
        end_counts = _next_answer(
            url, app, max(served(url)[APP_USER], start_counts[APP_USER] + plan.min_polls - 1)
        )
        end_cpu = {p.pid: cpu_seconds(p.pid) for p in (app, floor)}
        end_bytes, end_wall = reader.bytes_read, time.monotonic()
        for process in (app, floor):
            if process.poll() is not None:
                raise Failed(f"a measured process exited with {process.returncode}")

        def usage(process: subprocess.Popen[bytes], who: str) -> Usage:
            return Usage(
                cpu=end_cpu[process.pid] - start_cpu[process.pid],
                polls=end_counts[who] - start_counts[who],
                hwm_kib=memory_kib(process.pid)["VmHWM"],
            )

        case = Case(
            flows=flows,
            pane=pane,
            columns=columns,
            wall=end_wall - start_wall,
            app=usage(app, APP_USER),
            floor=usage(floor, FLOOR_USER),
            output_bytes=end_bytes - start_bytes,
        )
        if keys:
            case.window_hwm_kib = case.app.hwm_kib
            measure_keys(master, reader, plan.key_tries, case)
            case.app.hwm_kib = memory_kib(app.pid)["VmHWM"]
        quit_started = time.monotonic()
        os.write(master, b"q")
        try:
            app.wait(QUIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop_process(app)
        case.quit_seconds = time.monotonic() - quit_started
        case.exit_code = app.returncode
        return case
    finally:
        for child in (app, floor):
            if child is not None:
                stop_process(child)
        if reader.is_alive():
            reader.join(2.0)
        os.close(master)


def measure_keys(master: int, reader: TerminalReader, tries: int, case: Case) -> None:
    """Sort keys in turn: time from writing the key to reading the new header."""
    jitter = random.Random(7)
    for attempt in range(tries):
        key, pattern = KEYS[attempt % len(KEYS)]
        # Spread the tries over the poll cycle.
        time.sleep(jitter.uniform(0.2, 0.2 + INTERVAL))
        reader.watch(pattern)
        sent = time.monotonic()
        os.write(master, key)
        seen = reader.wait(KEY_TIMEOUT)
        if seen is None:
            case.missed_keys += 1
        else:
            case.latencies_ms.append(1000.0 * (seen - sent))


# --------------------------------------------------------------------------- report


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        cell.ljust(width) if i < 2 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def _pane(case: Case) -> str:
    tree = f" {case.tree}" if case.tree else ""
    return f"{'shown' if case.pane else 'hidden'} {case.columns}x{ROWS}{tree}"


def report_trees(cases: Sequence[Case]) -> None:
    """With --against: every key try, and each tree's medians over its runs."""
    print("\nKeys, each try (ms, sorted):")
    for case in cases:
        if case.latencies_ms:
            shown = " ".join(f"{ms:.0f}" for ms in sorted(case.latencies_ms))
            print(f"  {case.flows} {_pane(case)}: {shown}")
    print("Medians by tree (over the runs; keys: over every try):")
    for flows in sorted({case.flows for case in cases}):
        for pane in (True, False):
            for tree in dict.fromkeys(case.tree for case in cases):
                runs = [c for c in cases if (c.flows, c.pane, c.tree) == (flows, pane, tree)]
                if not runs:
                    continue
                tries = [ms for c in runs for ms in c.latencies_ms]
                key = f", key {statistics.median(tries):.0f} ms" if tries else ""
                if tries:
                    window = statistics.median(c.window_hwm_kib / MIB for c in runs)
                    key += f" (peak RSS before the keys {window:.0f} MiB)"
                print(
                    f"  {flows} {'shown' if pane else 'hidden'} {tree or 'app'} "
                    f"({len(runs)} runs): "
                    f"app/floor {statistics.median(c.ratio for c in runs):.2f}x, "
                    f"app {statistics.median(c.app.per_poll_ms for c in runs):.0f} ms/poll, "
                    f"peak RSS {statistics.median(c.app.hwm_kib / MIB for c in runs):.0f} MiB"
                    f"{key}"
                )


def report(cases: Sequence[Case], plan: Plan) -> bool:
    """Print the tables and the README lines; True when every measured target is met."""
    if plan.quick:
        print("\nQUICK RUN: short windows, a smoke run, not a measure")
    print(
        f"\nThe whole app vs the floor, polling every {INTERVAL:g} s, "
        f"windows of {plan.seconds:g} s or more from one of the app's answers to another,"
        f" side by side against one loopback appliance; load average {_load()}"
    )
    widths = [7, max([16, *(len(_pane(case)) for case in cases)]), 9, 8, 9, 6, 8, 9, 10, 10]
    print(
        _row(
            [
                "flows", "pane", "app ms", "floor ms", "app/floor", "polls",
                "app RSS", "floor RSS", "out KiB/p", "key ms",
            ],
            widths,
        )
    )  # fmt: skip
    for case in cases:
        latency = case.latency_ms
        key = "-" if latency is None else f"{latency:.0f}"
        if case.missed_keys:
            key += f" ({case.missed_keys} missed)"
        print(
            _row(
                [
                    str(case.flows),
                    _pane(case),
                    f"{case.app.per_poll_ms:.1f}",
                    f"{case.floor.per_poll_ms:.1f}",
                    f"{case.ratio:.1f}x",
                    f"{case.app.polls}/{case.floor.polls}",
                    f"{case.app.hwm_kib / MIB:.0f} MiB",
                    f"{case.floor.hwm_kib / MIB:.0f} MiB",
                    f"{case.output_bytes / max(1, case.app.polls) / 1024:.0f}",
                    key,
                ],
                widths,
            )
        )
    print(
        "(ms: CPU per poll; polls: answers the app/floor got in the window; RSS: peak;"
        " out: terminal output per poll; key: median from a key to the screen changing)"
    )
    quits = ", ".join(f"{case.flows} {_pane(case)}: {case.quit_seconds:.1f} s" for case in cases)
    print(f"The app quit after q in: {quits}")
    by_pane = {(case.flows, case.pane): case for case in cases}
    for flows in plan.sizes:
        shown, hidden = by_pane.get((flows, True)), by_pane.get((flows, False))
        if shown is not None and hidden is not None:
            pane_ms = shown.app.per_poll_ms - hidden.app.per_poll_ms
            print(f"{flows} flows: the detail pane (shown - hidden) costs {pane_ms:.1f} ms/poll")
    met = True
    lines = []
    for case in cases:
        if case.exit_code != 0:
            met = False
            lines.append(
                f"the app at {case.flows} flows, pane {'shown' if case.pane else 'hidden'}, "
                f"exited with {case.exit_code} {case.quit_seconds:.1f} s after q "
                f"(a negative code: killed after {QUIT_TIMEOUT:g} s)"
            )
        if case.flows == TARGET_SMALL:
            bound = TARGET_RATIO_SHOWN if case.pane else TARGET_RATIO_HIDDEN
            ok = case.ratio <= bound
            met &= ok
            lines.append(
                f"{case.flows} flows, pane {'shown' if case.pane else 'hidden'}: "
                f"app/floor {case.ratio:.1f}x (<= {bound:g}x: {'met' if ok else 'MISSED'})"
            )
        if case.flows == TARGET_LARGE:
            ok = case.app.hwm_kib / MIB < TARGET_RSS_MIB
            met &= ok
            lines.append(
                f"{case.flows} flows, pane {'shown' if case.pane else 'hidden'}: "
                f"peak RSS {case.app.hwm_kib / MIB:.0f} MiB "
                f"(< {TARGET_RSS_MIB:g} MiB: {'met' if ok else 'MISSED'})"
            )
            latency = case.latency_ms
            if latency is not None or case.missed_keys:
                ok = latency is not None and latency <= TARGET_LATENCY_MS and not case.missed_keys
                met &= ok
                median = "-" if latency is None else f"{latency:.0f} ms"
                lines.append(
                    f"{case.flows} flows: key latency median {median} "
                    f"(<= {TARGET_LATENCY_MS:g} ms: {'met' if ok else 'MISSED'})"
                )
    print("\nTargets:")
    for line in lines:
        print(f"  {line}")
    print("\nREADME lines:")
    for case in cases:
        latency = case.latency_ms
        key = "" if latency is None else f", key {latency:.0f} ms"
        print(
            f"{case.flows} flows, pane {'shown' if case.pane else 'hidden'}: "
            f"app {case.app.per_poll_ms:.1f} ms/poll, floor {case.floor.per_poll_ms:.1f} ms/poll "
            f"({case.ratio:.1f}x), peak RSS {case.app.hwm_kib / MIB:.0f} MiB{key}"
        )
    return met


def report_steps(steps: dict[int, dict[str, float | None]]) -> None:
    names = [step for step, _ in STEPS]
    print(
        "\nSteps of the whole app under cProfile, pane shown: CPU ms per poll, the"
        " profiler's overhead included\n(a long run less a short one, over the polls between;"
        " output: compositor and encoding, with the table's lines rendered in it;"
        " all: every function; GC is not seen by the profiler)"
    )
    widths = [7] + [7] * len(names) + [8]
    print(_row(["flows", *names, "all"], widths))
    for flows, found in steps.items():
        cells = ["-" if found[n] is None else f"{found[n]:.1f}" for n in [*names, "all"]]
        print(_row([str(flows), *cells], widths))


def run(plan: Plan) -> tuple[list[Case], dict[int, dict[str, float | None]]]:
    cases: list[Case] = []
    steps: dict[int, dict[str, float | None]] = {}
    for flows in plan.sizes:
        _say(f"{flows} flows: building the appliance's answers ...")
        with appliance(flows, plan.bodies) as url:
            trees: list[tuple[str, Path]] = [("", ROOT)]
            if plan.against is not None:
                trees = [("against", plan.against), ("this", ROOT)]
            for repetition in range(plan.repeat):
                order = trees if repetition % 2 == 0 else trees[::-1]
                for pane in (True,) if plan.shown_only else (True, False):
                    for tree, root in order:
                        _say(
                            f"{flows} flows, pane {'shown' if pane else 'hidden'}"
                            f"{' ' + tree if tree else ''}: app and floor ..."
                        )
                        keys = pane and flows in plan.key_sizes
                        case = measure_case(url, flows, pane, plan, keys, root=root)
                        case.tree = tree
                        cases.append(case)
            if plan.steps:
                found = profile_steps(url, flows, plan)
                if found is not None:
                    steps[flows] = found
    return cases, steps


# --------------------------------------------------------------------------- steps

# Where each step of a poll is spent in the app, by (file ending, function name): the
# step's cost is the profiler's cumulative time of those functions.  A name the
# refactored app no longer has shows as "-" rather than failing the run.
STEPS: Final = (
    ("parse", (("flowtop/core/model.py", "parse_flows"),)),
    ("store", (("flowtop/core/store.py", "apply"),)),
    ("view", (("flowtop/core/view.py", "compute"),)),
    (
        "table",
        (
            ("flowtop/tui/widgets/flow_table.py", "apply"),
            ("flowtop/tui/widgets/flow_table.py", "render_line"),
        ),
    ),
    ("detail", (("flowtop/tui/app.py", "_update_detail"),)),
    ("status", (("flowtop/tui/app.py", "_update_status"),)),
    # Layout without the compositor refresh that ends it (that is output).
    ("layout", (("textual/screen.py", "_refresh_layout"),)),
    ("output", (("textual/screen.py", "_compositor_refresh"),)),
)


def step_times(path: Path) -> dict[str, float | None]:
    """CPU seconds of each step over a cProfile file's run; None when not found."""
    import pstats

    stats = pstats.Stats(str(path))
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    found: dict[str, float | None] = {}
    for step, places in STEPS:
        total: float | None = None
        for (filename, _, function), (_, _, _, cumulative, _) in table.items():
            name = filename.replace(os.sep, "/")
            if any(name.endswith(end) and function == want for end, want in places):
                total = (total or 0.0) + cumulative
        found[step] = total
    # A relayout ends in a compositor refresh: that part is output, not layout.
    output_key = next(
        (key for key in table if key[2] == "_compositor_refresh" and _ends(key, "screen.py")), None
    )
    layout = found.get("layout")
    if layout is not None and output_key is not None:
        callers: dict[tuple[str, int, str], tuple[Any, ...]] = table[output_key][4]
        for caller, (_, _, _, cumulative) in callers.items():
            if caller[2] == "_refresh_layout" and _ends(caller, "screen.py"):
                layout -= cumulative
        found["layout"] = layout
    found["all"] = sum(entry[2] for entry in table.values())
    return found


def _ends(key: tuple[str, int, str], end: str) -> bool:
    return key[0].replace(os.sep, "/").endswith(end)


def profile_steps(url: str, flows: int, plan: Plan) -> dict[str, float | None] | None:
    """Milliseconds per poll by step: a long and a short profiled run, the difference.

    Both runs pay start-up, the first layout and quitting; their difference is what
    the extra polls of the long run cost.
    """
    short = dataclasses.replace(plan, warmup=0.0, seconds=0.1)
    long = dataclasses.replace(plan, min_polls=plan.min_polls + STEP_POLLS)
    runs: list[tuple[dict[str, float | None], int]] = []
    for name, run_plan in (("short", short), ("long", long)):
        _say(f"{flows} flows, pane shown: the app under cProfile, {name} run ...")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "app.prof"
            before = served(url)[APP_USER]
            case = measure_case(url, flows, True, run_plan, False, profile=path)
            polls = served(url)[APP_USER] - before
            if case.exit_code != 0 or not path.exists():
                _say(f"the profiled app exited with {case.exit_code}: no steps")
                return None
            runs.append((step_times(path), polls))
    (few, few_polls), (many, many_polls) = runs
    polls = many_polls - few_polls
    if polls <= 0:
        _say("the long profiled run had no more polls than the short one: no steps")
        return None
    per_poll: dict[str, float | None] = {}
    for step, total in many.items():
        base = few.get(step)
        per_poll[step] = None if total is None or base is None else 1000.0 * (total - base) / polls
    return per_poll


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _child_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_cost --child")
    parser.add_argument("mode", choices=("serve", "floor", "profile"))
    parser.add_argument("--url", default="")
    parser.add_argument("--flows", type=int, default=TARGET_SMALL)
    parser.add_argument("--bodies", type=int, default=3)
    parser.add_argument("--out", default="")
    args, rest = parser.parse_known_args(argv)
    if args.mode == "profile":
        return _profiled_app(Path(args.out), [*rest, "--url", args.url])
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.mode == "serve":
        return _serve(args.flows, args.bodies)
    return _floor(args.url)


def _profiled_app(out: Path, argv: list[str]) -> int:
    """Run ``python -m flowtop ARGV`` under cProfile, timed in this thread's CPU time.

    CPU time, not the default wall clock: on a busy machine, waiting for a core
    must not count as work.
    """
    import cProfile
    import runpy

    profiler = cProfile.Profile(time.thread_time)
    sys.argv = ["flowtop", *argv]
    code = 0
    profiler.enable()
    try:
        runpy.run_module("flowtop", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        profiler.disable()
        profiler.dump_stats(out)
    return code


def _positive(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
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
        prog="python -m benchmarks.app_cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="1000 flows, short windows")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument(
        "--flows", type=_positive(int), action="append", help="flows a poll (repeatable)"
    )
    parser.add_argument("--seconds", type=_positive(float), help="measuring window (default 20)")
    parser.add_argument(
        "--steps", action="store_true", help="also run the app under cProfile: CPU per step"
    )
    parser.add_argument("--keys", type=_positive(int), help="key tries a case (default 12)")
    parser.add_argument("--shown-only", action="store_true", help="no pane-hidden case")
    parser.add_argument(
        "--against", type=Path, help="also run the app of this source tree, in turn"
    )
    parser.add_argument("--repeat", type=_positive(int), default=1, help="runs of each case")
    args = parser.parse_args(arguments)
    plan = dataclasses.replace(
        make_plan(args.quick, args.flows, args.seconds),
        steps=args.steps,
        against=args.against.resolve() if args.against else None,
        repeat=args.repeat,
        shown_only=args.shown_only,
    )
    if args.keys:
        plan = dataclasses.replace(plan, key_tries=args.keys)
    # SIGTERM would end this process without running the cleanups that stop the children.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    cases, steps = run(plan)
    met = report(cases, plan)
    if plan.against is not None or plan.repeat > 1:
        report_trees(cases)
    if steps:
        report_steps(steps)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
