"""The password command: the first line a command prints, as the password.

It never hangs: the first line is taken as soon as it arrives, and a command still
running after it (or silent until the timeout) is killed with its process group.
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import time as time_module
from collections.abc import Callable
from typing import Final

from pydantic import SecretStr

from flowtop.core.errors import UsageError
from flowtop.core.model import strip_control

__all__ = ["PASSWORD_COMMAND_GRACE", "command_words", "run_password_command"]

# Seconds a password command may go on after printing its first line.
PASSWORD_COMMAND_GRACE: Final = 1.0
# Bytes of a password command's stdout and stderr kept (a password is one short line).
_PIPE_KEPT: Final = 65536
_STDERR_SHOWN: Final = 120


def run_password_command(command: str, *, timeout: float = 30.0) -> SecretStr:
    """The first line of what ``command`` prints, as the password.

    The command means what it would mean to ``sh``.  One without shell syntax
    (pipes, ``$``, ``~``, globs, redirections, ``;`` ...) runs the program directly,
    so a missing program is reported by name; one with shell syntax runs through
    ``/bin/sh -c``.  Its stdin is empty and its stderr is captured: it must not
    prompt on either (agents such as gpg's pinentry use the terminal directly).

    Failures raise UsageError naming the program and the exit status, plus at most a
    short first line of stderr; never anything the command printed on stdout.

    The first line is taken as soon as it arrives: a process the command leaves behind
    holding stdout (ssh's ControlPersist master, ``sleep 30 &``) is not waited for.  A
    command still running :data:`PASSWORD_COMMAND_GRACE` seconds after its first line,
    or still silent at ``timeout``, is ended with its whole process group.
    """
    words = command_words(command, error=UsageError)
    name = _program_name(words)
    shell = _needs_shell(command)
    try:
        process = subprocess.Popen(
            command if shell else words,
            shell=shell,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own process group, so that a timeout ends the whole pipeline.
            start_new_session=True,
        )
    except FileNotFoundError:
        raise UsageError(f'password command "{name}": program not found') from None
    except OSError as error:
        raise UsageError(
            f'password command "{name}" could not start: {error.strerror or "error"}'
        ) from None
    try:
        out, err, status = _first_line_of(process, timeout)
    except BaseException:
        _end_group(process)
        raise
    if status is None:
        # Raised outside the try: no traceback carries an exception near the output.
        raise UsageError(f'password command "{name}" did not finish within {timeout:g} seconds')
    first = out.split(b"\n", 1)[0].removesuffix(b"\r")
    if status != 0:
        raise UsageError(_failure(name, status, err, first))
    try:
        password = first.decode("utf-8")
    except UnicodeDecodeError:
        password = None
    if password is None:
        raise UsageError(f'password command "{name}" printed something that is not UTF-8 text')
    if not password:
        raise UsageError(f'password command "{name}" printed no password on its first line')
    return SecretStr(password)


# Outside quotes these make sh do something shlex.split would not.
_SHELL_CHARS: Final = frozenset("|&;<>()$`\\*?[]{}~#!\n")


def command_words(command: str, *, error: Callable[[str], Exception]) -> list[str]:
    """shlex words of a command; ``error`` builds the exception for an unusable one."""
    try:
        words = shlex.split(command)
    except ValueError as problem:
        raise error(f"password command is not a valid command: {problem}") from None
    if not words or not words[0]:
        raise error("password command is empty")
    return words


def _needs_shell(command: str) -> bool:
    quote = ""
    for char in command:
        if quote == "'":
            if char == "'":
                quote = ""
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char in "$`\\":
                return True
        elif char in "'\"":
            quote = char
        elif char in _SHELL_CHARS:
            return True
    # FOO=bar prog: an assignment for the program's environment.
    words = command.split(None, 1)
    return bool(words) and "=" in words[0]


def _program_name(words: list[str]) -> str:
    # Leading NAME=value words are skipped: their values may well be secrets.
    for word in words:
        if "=" not in word:
            name = os.path.basename(word) or word
            return strip_control(name)[:60]
    return "(environment assignments only)"


def _first_line_of(
    process: subprocess.Popen[bytes], timeout: float
) -> tuple[bytes, bytes, int | None]:
    """``(stdout, stderr, exit status)`` once stdout holds a line or the command ended.

    The status is None when the command neither printed a line nor ended within
    ``timeout``: then its process group is killed.  Pipes are read as data arrives;
    their end of file is not waited for, since a background child may hold them.
    """
    assert process.stdout is not None and process.stderr is not None
    deadline = time_module.monotonic() + timeout
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)

        def drain(wait: float) -> None:
            for key, _ in selector.select(wait):
                fd = int(key.fd)
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(fd)
                elif len(buffers[fd]) < _PIPE_KEPT:
                    buffers[fd] += chunk

        status: int | None = None
        while True:
            remaining = deadline - time_module.monotonic()
            if remaining <= 0:
                break
            drain(min(0.05, remaining))
            status = process.poll()
            if status is not None:
                # It ended: what it wrote is in the pipes now, read it without waiting.
                for _ in range(64):
                    if not selector.get_map():
                        break
                    before = sum(len(buffer) for buffer in buffers.values())
                    drain(0)
                    if sum(len(buffer) for buffer in buffers.values()) == before:
                        break
                break
            if b"\n" in buffers[out_fd] or out_fd not in selector.get_map():
                # A line (or all of stdout): give the command a moment to report its status.
                grace = min(PASSWORD_COMMAND_GRACE, max(0.0, deadline - time_module.monotonic()))
                try:
                    status = process.wait(grace)
                except subprocess.TimeoutExpired:
                    status = 0  # still busy after printing the password: done with it
                drain(0)
                break
    _end_group(process)
    return bytes(buffers[out_fd]), bytes(buffers[err_fd]), status


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """Close the pipes; a command still running is killed with its process group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (OSError, AttributeError):  # AttributeError: no process groups (Windows)
            process.kill()
        process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _failure(name: str, status: int, err: bytes, first_out: bytes) -> str:
    if status < 0:
        try:
            how = f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            how = f"was killed by signal {-status}"
    else:
        how = f"failed with exit status {status}"
    message = f'password command "{name}" {how}'
    line = err.split(b"\n", 1)[0]
    # A command that echoed its secret to stderr as well: say nothing of stderr.
    if first_out.strip() and first_out.strip() in line:
        return message
    shown = strip_control(line.decode("utf-8", errors="replace")).strip()
    if len(shown) > _STDERR_SHOWN:
        shown = shown[: _STDERR_SHOWN - 1] + "…"
    return f"{message}: {shown}" if shown else message
