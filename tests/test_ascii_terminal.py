"""The real TUI on a pseudo-terminal under LANG=C writes nothing but ASCII."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.support import drain_pty

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 160, 40


def _screen_bytes(locale: dict[str, str]) -> bytes:
    """What flowtop --demo writes to its terminal in its first seconds."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLOWTOP_", "LC_", "LANG", "PYTHONIO", "PYTHONUTF8"))
    }
    env.update(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES), **locale)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("NO_COLOR", None)
    env.pop("TEXTUAL", None)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowtop", "--demo", "--interval", "0.5"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(slave)
    output = bytearray()
    reader = threading.Thread(target=drain_pty, args=(master, output), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        # The table's rows: a sort mark in the header and rates in bit/s.
        while time.monotonic() < deadline and output.count(b"bit/s") < 1:
            time.sleep(0.05)
        time.sleep(1.5)  # a few polls more
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)
        os.close(master)
        reader.join(2)
    assert b"bit/s" in output, bytes(output[-500:])
    return bytes(output)


@pytest.mark.parametrize(
    ("locale", "ascii_only"),
    [({"LANG": "C", "LC_ALL": "C"}, True), ({"LANG": "C"}, True), ({"LANG": "C.UTF-8"}, False)],
    ids=["LC_ALL=C", "LANG=C", "C.UTF-8"],
)
def test_terminal_gets_ascii_only_when_the_locale_is_not_utf8(
    locale: dict[str, str], ascii_only: bool
) -> None:
    written = _screen_bytes(locale)
    assert written.isascii() is ascii_only
    if ascii_only:
        assert b"bit/sv" in written
