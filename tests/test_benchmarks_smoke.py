"""Smoke test of the CPU-share benchmark: its quick mode runs end to end and reports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.cpu_share import cpu_seconds, memory_kib

ROOT = Path(__file__).resolve().parent.parent
# The quick run takes about 13 s; the bound only keeps a hung child from hanging the suite.
RUN_TIMEOUT = 90.0


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


def test_quick_run_prints_the_report() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWTOP_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu_share", "--quick"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    cpu = re.search(
        r"^CPU at 1 s interval, 1000 flows: app (\d+\.\d)% of one core, "
        r"bare fetch\+parse loop (\d+\.\d)% \(app/bare \d+\.\dx\)$",
        out,
        re.MULTILINE,
    )
    assert cpu is not None, out
    app_share, bare_share = float(cpu.group(1)), float(cpu.group(2))
    # Both processes really ran during their windows (polling costs some CPU), and
    # neither number is a ratio gone wrong (over a whole core at one poll a second).
    assert 0 < app_share < 100
    assert 0 < bare_share < 100
    rss = re.search(
        r"^Peak RSS at 1000 flows with 300 samples of history: (\d+) MiB "
        r"\(baseline (\d+) MiB, history \+(-?\d+) MiB\)$",
        out,
        re.MULTILINE,
    )
    assert rss is not None, out
    peak, baseline = int(rss.group(1)), int(rss.group(2))
    assert 10 < baseline <= peak
    # The app polled and rendered, then quit on "q" by itself.
    assert "status line showed 1000+ flows: yes" in out
    assert "TUI quit on q in" in out and "exit code 0" in out
    assert re.search(r"^bare fetch\+parse loop .* [1-9]\d*$", out, re.MULTILINE), out
    assert "store bounded: yes" in out
    assert re.search(r"^The TUI at 1000 flows after .*: RSS \d+ MiB", out, re.MULTILINE), out
