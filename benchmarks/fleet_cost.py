"""A fleet's cost: 100 simulated appliances of 1000 flows in one flowtop, the open one at
1 s and the others at the fleet's background rate, against one appliance alone.

Run from the repository root::

    python -m benchmarks.fleet_cost                 # 100 appliances, 30 s window
    python -m benchmarks.fleet_cost --appliances 20 --seconds 15

The appliances.  One stdlib HTTP server in its own process answers for every
appliance: each logs in as its own user (``site1`` ... ``siteN``) and gets its own
cookie; every flows answer holds ``max_stats`` flows of a 1000-flow table (a few tables
built up front and served in turn, so rates move and flows come and go).

The app.  The real TUI on a pseudo-terminal at 160x45 (as :mod:`benchmarks.app_cost`
runs it), with a config file of N profiles at ``interval = 1`` and ``max_stats = 1000``
and a fleet of them with the default background rate (10 s, 100 flows).  After start-up
``1`` opens the first appliance's flow view, as a user would.  Measured over the
window, after a warm-up longer than the background interval: the CPU share of one
core (user + system of the process over wall time) and peak RSS (``VmHWM``).

Then the same fleet with its all-flows view open (``0``): every appliance at the
background rate, their flows in one table.

The baseline, in the same run: the same app watching the first appliance alone
(``--profile site1``), its flow view open, the same window.  Issue 12's target: the
fleet under 15 % of one core and under 400 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final
from urllib.parse import parse_qs, urlsplit

from benchmarks.app_cost import (
    COOKIE,
    FLOWS_PATH,
    LOGIN_PATHS,
    PANE_SHOWN_COLUMNS,
    PASSWORD,
    JsonHandler,
    cpu_seconds,
    memory_kib,
    served_by,
    start_on_terminal,
    stop_process,
)

HOST: Final = "127.0.0.1"
FLOWS: Final = 1000
BODIES: Final = 3
READY: Final = "fleet bench appliances on "
START_TIMEOUT: Final = 120.0
TARGET_SHARE: Final = 15.0  # percent of one core
TARGET_RSS_MIB: Final = 400.0
MIB: Final = 1024


class _Handler(JsonHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path not in LOGIN_PATHS:
            self._send(404, b'{"errorcode": 404, "message": "Not found"}')
            return
        try:
            login = json.loads(body)["login"]
            user, password = str(login["username"]), login["password"]
        except (ValueError, KeyError, TypeError):
            self._send(400, b'{"errorcode": 1401, "message": "Invalid payload"}')
            return
        if password != PASSWORD or not user.startswith("site"):
            self._send(401, b'{"errorcode": 401, "message": "Invalid username or password"}')
            return
        self._send(200, b'{"login": {}}', {"Set-Cookie": f"{COOKIE}={user}; Path=/"})

    def do_DELETE(self) -> None:
        self._send(200, b"{}")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != FLOWS_PATH:
            self._send(404, b'{"errorcode": 404, "message": "Not found"}')
            return
        user = None
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                user = value
        if user is None:
            self._send(401, b'{"errorcode": 444, "message": "Session expired"}')
            return
        wanted = parse_qs(parts.query).get("filter", ["max_stats:100"])[0]
        size = 1000 if wanted.endswith(":1000") else 100 if wanted.endswith(":100") else 50
        with self.server.lock:
            served = self.server.counts.get(user, 0)
            self.server.counts[user] = served + 1
        self._send(200, self.server.bodies[size][served % BODIES])


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bodies: dict[int, list[bytes]]) -> None:
        super().__init__((HOST, 0), _Handler)
        self.bodies = bodies
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}


def _serve() -> int:
    from benchmarks.synthetic import SyntheticAppliance

    appliance = SyntheticAppliance(FLOWS, seed=12)
    tables = []
    for _ in range(BODIES):
        tables.append(json.loads(appliance.body())["flows"])
    bodies = {
        size: [json.dumps({"flows": table[:size]}).encode() for table in tables]
        for size in (50, 100, 1000)
    }
    server = _Server(bodies)
    print(f"{READY}http://{HOST}:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


@contextlib.contextmanager
def appliances() -> Iterator[str]:
    """The fleet's appliances, one server in its own process; yields its URL."""
    with served_by(
        [sys.executable, "-m", "benchmarks.fleet_cost", "--child"], READY, START_TIMEOUT
    ) as url:
        yield url


def write_config(folder: Path, url: str, count: int) -> Path:
    lines = []
    for number in range(1, count + 1):
        lines += [
            f"[profiles.site{number}]",
            f'url = "{url}"',
            f'user = "site{number}"',
            "interval = 1.0",
            "max_stats = 1000",
            "",
        ]
    names = ", ".join(f'"site{number}"' for number in range(1, count + 1))
    lines += ["[fleets.bench]", f"profiles = [{names}]", ""]
    path = folder / "config.toml"
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class Measure:
    name: str
    share: float  # percent of one core
    rss_mib: float


def measure(
    name: str, argv: Sequence[str], warmup: float, seconds: float, key: bytes = b"1"
) -> Measure:
    """The app on a pty: ``key`` (``1``: the first appliance's flow view, ``0``: every
    appliance's flows), then a window is measured."""
    app, master, reader = start_on_terminal(
        [sys.executable, "-m", "flowtop", *argv], PANE_SHOWN_COLUMNS
    )
    try:
        time.sleep(3.0)
        os.write(master, key)
        time.sleep(warmup)
        if app.poll() is not None:
            raise RuntimeError(f"{name}: the app exited: {reader.last_text()}")
        start_cpu, start_wall = cpu_seconds(app.pid), time.monotonic()
        time.sleep(seconds)
        spent = cpu_seconds(app.pid) - start_cpu
        wall = time.monotonic() - start_wall
        peak = memory_kib(app.pid)["VmHWM"] / MIB
        os.write(master, b"q")
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.wait(15)
    finally:
        stop_process(app)
        with contextlib.suppress(OSError):
            os.close(master)
    return Measure(name, 100.0 * spent / wall, peak)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--child"]:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return _serve()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fleet_cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--appliances", type=int, default=100, help="appliances in the fleet")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    parser.add_argument(
        "--warmup", type=float, default=15.0, help="after opening the first (> 10 s)"
    )
    args = parser.parse_args(arguments)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with appliances() as url, tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), url, args.appliances)
        base = ["--config", str(config)]
        print(
            f"{args.appliances} appliances of {FLOWS} flows; load "
            + " ".join(f"{v:.1f}" for v in os.getloadavg()),
            file=sys.stderr,
            flush=True,
        )
        alone = measure("one appliance", [*base, "--profile", "site1"], 3.0, args.seconds)
        fleet = measure("fleet", [*base, "--fleet", "bench"], args.warmup, args.seconds)
        # Every appliance's flows in one table (all at the background rate).
        every = measure(
            "all flows", [*base, "--fleet", "bench"], args.warmup, args.seconds, key=b"0"
        )
    ratio = fleet.share / alone.share if alone.share else float("inf")
    print(
        f"one appliance, 1000 flows at 1 s: {alone.share:.1f} % of a core, {alone.rss_mib:.0f} MiB"
    )
    print(
        f"fleet of {args.appliances} (one open at 1 s, the rest at 10 s/100):"
        f" {fleet.share:.1f} % of a core ({ratio:.1f}x the one), {fleet.rss_mib:.0f} MiB"
    )
    print(
        f"the same fleet, its all-flows view open (every appliance at 10 s/100):"
        f" {every.share:.1f} % of a core, {every.rss_mib:.0f} MiB"
    )
    share_met = "met" if fleet.share < TARGET_SHARE else "MISSED"
    rss_met = "met" if fleet.rss_mib < TARGET_RSS_MIB else "MISSED"
    print(
        f"targets: under {TARGET_SHARE:g} % of a core: {share_met}; "
        f"under {TARGET_RSS_MIB:g} MB: {rss_met}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
