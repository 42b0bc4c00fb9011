"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

import pytest
import trustme

from flowtop.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``flowtop ARGV`` in process: its exit code and what it printed."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as leaving:  # argparse exits for --help and --version
        code = leaving.code if isinstance(leaving.code, int) else (0 if leaving.code is None else 1)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def server_tls_context(authority: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 issued by ``authority``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def drain_pty(master: int, output: bytearray) -> None:
    """Read a pty's output until its other side closes (EIO or EOF).

    A TUI blocks on a full pty if nobody reads, so tests drain it in a thread."""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            return
        if not chunk:
            return
        output.extend(chunk)
