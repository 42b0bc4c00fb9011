"""The command line's modes: no terminal, capped answers, headless progress, demo-server."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from flowtop import cli
from flowtop.demo.appliance import DEMO_PASSWORD
from tests.support import run_cli

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30

pytestmark = pytest.mark.usefixtures("isolated_environment")


def _environment(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FLOWTOP_") and "proxy" not in key.lower()
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def _flowtop(*argv: str, stdin: int | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowtop", *argv],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=_environment(TERM="xterm-256color"),
    )


def _one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert "Traceback" not in done.stderr
    assert done.returncode == code, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("flowtop: ")
    return lines[0]


# ---- no terminal --------------------------------------------------------------------------


def test_the_live_view_without_a_terminal_says_so_and_exits_2(tmp_path: Path) -> None:
    # `ssh host flowtop` without -t: neither stdin nor stdout is a terminal.
    done = _flowtop("--demo", stdin=subprocess.DEVNULL, cwd=tmp_path)
    line = _one_line(done, 2)
    assert "needs a terminal" in line and "--once" in line and "--headless" in line
    assert "\x1b" not in done.stderr


def test_the_live_view_with_output_to_a_file_exits_2(tmp_path: Path) -> None:
    # A terminal to type on, but the output goes to a pipe (or a file).
    master, slave = os.openpty()
    try:
        done = _flowtop("--demo", stdin=slave, cwd=tmp_path)
    finally:
        os.close(slave)
        os.close(master)
    assert "needs a terminal" in _one_line(done, 2)


def test_no_terminal_in_process_and_once_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--demo")
    assert result.code == 2 and result.out == ""
    assert "needs a terminal" in result.err
    # The modes made for scripts need none.
    once = run_cli(capsys, "--demo", "--once", "--format", "json")
    assert once.code == 0 and len(json.loads(once.out)) == 100


# ---- capped answers -----------------------------------------------------------------------


def test_once_table_says_on_stderr_that_max_stats_capped_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli(capsys, "--demo", "--once")
    assert result.code == 0
    assert "capped" not in result.out
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert "capped by max_stats" in lines[0] and "top 100 flows" in lines[0]
    assert "--max-stats 1000" in lines[0]
    grouped = run_cli(capsys, "--demo", "--once", "--group-by", "application")
    assert "group sums" in grouped.err
    # JSON and CSV are for scripts: stdout holds the data, stderr stays quiet.
    for fmt in ("json", "csv"):
        quiet = run_cli(capsys, "--demo", "--once", "--format", fmt)
        assert quiet.code == 0 and quiet.err == ""


# ---- headless progress --------------------------------------------------------------------


def test_headless_record_reports_progress_while_it_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.HEADLESS_PROGRESS_EVERY == 10
    monkeypatch.setattr(cli, "HEADLESS_PROGRESS_EVERY", 2)
    path = tmp_path / "polls.jsonl"
    result = run_cli(
        capsys, "--demo", "--headless", "--record", str(path),
        "--count", "5", "--interval", "0.5",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    progress = [line for line in lines if "recorded to" in line]
    assert [line.split()[1] for line in progress] == ["1", "2", "4"]
    assert all(str(path) in line and "100 flows, capped by max_stats" in line for line in progress)
    # The size shown is the file's size at that poll: it grows.
    sizes = [line.split("(")[1].split(")")[0] for line in progress]
    assert all(size.endswith("B") for size in sizes) and len(set(sizes)) == 3
    assert lines[-1] == f"flowtop: recorded 5 poll(s) to {path}"


# ---- demo-server --------------------------------------------------------------------------


def test_demo_server_prints_the_flowtop_line_that_works_against_it(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "flowtop", "demo-server", "--port", "0", "--flows", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_environment(),
    )
    try:
        assert server.stdout is not None
        printed: list[str] = []
        for line in server.stdout:
            printed.append(line)
            if "Ctrl-C" in line:
                break
        command = next(line for line in printed if "flowtop --url" in line)
        words = shlex.split(command)
        assert words[0] == f"FLOWTOP_PASSWORD={DEMO_PASSWORD}" and words[1] == "flowtop"
        assert "--password" not in words
        name, _, password = words[0].partition("=")
        done = subprocess.run(
            [sys.executable, "-m", "flowtop", *words[2:], "--once", "--format", "json"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=tmp_path,
            env=_environment(**{name: password}),
        )
        assert done.returncode == 0, done.stderr
        # The demo's flows come and go around the 60 asked for.
        assert 40 <= len(json.loads(done.stdout)) <= 80
    finally:
        server.terminate()
        server.wait(TIMEOUT)


# ---- what a one-shot run loads ------------------------------------------------------------

ONCE_THEN_MODULES = (
    "import sys\n"
    "from flowtop import cli\n"
    "code = cli.main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "sys.stderr.write('MODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
    "sys.exit(code)\n"
)


def test_once_loads_nothing_of_the_live_view_nor_of_recordings(tmp_path: Path) -> None:
    """--once is a quick look: no Textual, no recording module, no TOML reader without
    a config file, and no regex engine without a regex in the filter (issue 11)."""
    done = subprocess.run(
        [sys.executable, "-c", ONCE_THEN_MODULES, "--demo", "--once", "--filter", "app:zoom"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env=_environment(),
    )
    assert done.returncode == 0, done.stderr
    assert "Zoom" in done.stdout
    listed = [line for line in done.stderr.splitlines() if line.startswith("MODULES ")]
    modules = set(listed[0].split()[1:])
    assert "flowtop.core.monitor" in modules  # the list is real
    absent_modules = ("textual", "flowtop.tui", "flowtop.core.recording", "tomllib", "re2")
    # Nor the fleet's modules, for one appliance.
    for absent in (*absent_modules, "flowtop.core.fleet", "flowtop.core.all_flows"):
        assert absent not in modules, absent
    assert not any(name.startswith("textual.") for name in modules)
