"""What repainting the screen costs Textual alone, beside the stdlib floor of app_cost.

Run from the repository root::

    python -m benchmarks.textual_floor              # 30 s window
    python -m benchmarks.textual_floor --seconds 10

Issue 11 asks the whole app for at most twice the CPU of a stdlib loop that only
fetches and ``json.loads`` the appliance's answer.  This benchmark measures, in the
same run and against the same loopback appliance (:mod:`benchmarks.app_cost`'s), what
part of that budget the terminal alone takes: a bare Textual app, on a pseudo-terminal
at 160x45 like the app's case, with a one-line status, a footer and one line-API
widget whose every line changes once a second, as the flow table's do when rates
move.  It fetches nothing and parses nothing.  Its CPU per second against the floor's
CPU per poll is the least ratio any Textual app that shows a changing table can reach.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

from benchmarks.app_cost import (
    FLOOR_USER,
    INTERVAL,
    PANE_SHOWN_COLUMNS,
    ROOT,
    ROWS,
    TARGET_RATIO_SHOWN,
    TARGET_SMALL,
    _child_command,
    _environment,
    appliance,
    cpu_seconds,
    served,
    start_on_terminal,
    stop_process,
)

WARMUP: Final = 5.0
NUMBER_WIDTH: Final = 10


def _bare_app() -> int:
    """The bare Textual app: a status line, a table of changing numbers, a footer."""
    from rich.segment import Segment
    from textual.app import App, ComposeResult
    from textual.strip import Strip
    from textual.widget import Widget
    from textual.widgets import Footer, Static

    class Lines(Widget):
        DEFAULT_CSS = "Lines { height: 1fr; }"
        tick = 0

        def render_line(self, y: int) -> Strip:
            width = self.size.width
            numbers = random.Random(self.tick * 1000 + y)
            text = " ".join(
                f"{numbers.random() * 1000:{NUMBER_WIDTH}.1f}"
                for _ in range(width // (NUMBER_WIDTH + 1) + 1)
            )
            return Strip([Segment(text[:width].ljust(width), self.rich_style)], width)

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("tick 0", id="status")
            yield Lines()
            yield Footer()

        def on_mount(self) -> None:
            self.set_interval(INTERVAL, self.step)

        def step(self) -> None:
            lines = self.query_one(Lines)
            lines.tick += 1
            lines.refresh()
            self.query_one("#status", Static).update(f"tick {lines.tick}", layout=False)

    Bare().run()
    return 0


def measure(seconds: float) -> tuple[float, float]:
    """CPU ms per second of the bare app, CPU ms per poll of the floor, side by side."""
    with appliance(TARGET_SMALL, 3) as url:
        processes: list[subprocess.Popen[Any]] = []
        # The reader drains the terminal (an app whose output is not read blocks).
        bare, master, _reader = start_on_terminal(
            [sys.executable, "-m", "benchmarks.textual_floor", "--child"], PANE_SHOWN_COLUMNS
        )
        processes.append(bare)
        try:
            floor = subprocess.Popen(
                _child_command("floor", "--url", url),
                cwd=ROOT,
                env=_environment(),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            processes.append(floor)
            time.sleep(WARMUP)
            start_polls = served(url)[FLOOR_USER]
            start = {process.pid: cpu_seconds(process.pid) for process in processes}
            started = time.monotonic()
            time.sleep(seconds)
            spent = {
                process.pid: cpu_seconds(process.pid) - start[process.pid] for process in processes
            }
            wall = time.monotonic() - started
            polls = served(url)[FLOOR_USER] - start_polls
        finally:
            for process in processes:
                stop_process(process)
            with contextlib.suppress(OSError):
                os.close(master)
    bare_ms = 1000.0 * spent[bare.pid] / (wall / INTERVAL)
    floor_ms = 1000.0 * spent[floor.pid] / max(1, polls)
    return bare_ms, floor_ms


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--child"]:
        return _bare_app()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.textual_floor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    args = parser.parse_args(arguments)
    bare_ms, floor_ms = measure(args.seconds)
    ratio = bare_ms / floor_ms if floor_ms else float("inf")
    print(
        f"{TARGET_SMALL} flows, {PANE_SHOWN_COLUMNS}x{ROWS}, every {INTERVAL:g} s; load "
        + " ".join(f"{value:.1f}" for value in os.getloadavg())
    )
    print(f"bare Textual repaint: {bare_ms:.1f} ms CPU a second")
    print(f"stdlib floor:         {floor_ms:.1f} ms CPU a poll")
    print(
        f"bare/floor:           {ratio:.1f}x, of the {TARGET_RATIO_SHOWN:g}x the whole app may"
        " take (pane shown)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
