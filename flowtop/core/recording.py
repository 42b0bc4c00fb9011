"""Recording polls to a JSON-lines file and replaying them as a flow source.

A recording keeps each answer's body exactly as received, so a replay parses the same
bytes the live run parsed and shows the same table.  One JSON object per line::

    {"flowtop_recording": 1, "started": <unix time>, "source": "admin@host", "max_stats": 100}
    {"t": <unix time>, "latency": <seconds>, "max_stats": 100, "body": "<answer text>"}

A body that is not UTF-8 is stored as ``"body_b64"`` instead of ``"body"``.  Nothing
else is written: no credentials, no cookies, no headers.  Appending to a recording
starts with a new header line (a new session); names ending in ``.gz`` are gzip, one
member per session.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import math
import os
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final

from flowtop.core.errors import (
    ANSWER_FAILURES,
    AuthenticationError,
    FlowtopError,
    UsageError,
    answer_failure,
)
from flowtop.core.model import parse_flows, strip_control
from flowtop.core.poller import MAX_INTERVAL, PollState
from flowtop.core.source import FlowSource, Snapshot

RECORD_VERSION: Final = 1
HEADER_KEY: Final = "flowtop_recording"

# A recorded gap longer than the longest polling interval means recording was
# interrupted (or sessions were appended); replaying it verbatim would look frozen.
MAX_REPLAY_GAP: Final = MAX_INTERVAL

_GZIP_MAGIC: Final = b"\x1f\x8b"
_CHUNK: Final = 1 << 20
# Compressed bytes fed to zlib at once: on corruption only the piece holding it is
# decompressed again byte by byte, to keep every line before the damage.
_PIECE: Final = 1 << 16
# gzip.open defaults to level 9, several times slower for little gain on JSON text;
# the recorder writes in the TUI's event loop.
_GZIP_LEVEL: Final = 6
# "user:password@host": only the password part is dropped.
_PASSWORD_IN_USERINFO = re.compile(r"(?<=[^\s/:@]):[^\s/@]*@")


def _is_gzip_name(path: str) -> bool:
    return path.lower().endswith(".gz")


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _scrub_source(source: str) -> str:
    return _PASSWORD_IN_USERINFO.sub("@", strip_control(source))


def _error_text(error: OSError) -> str:
    return error.strerror or str(error)


# -- reading lines, plain or gzip ---------------------------------------------------------


class _StreamDamage(Exception):
    """The file's bytes could not be read to the end (I/O or compression error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    """The file's content in chunks, decompressed when it is gzip (any number of members).

    Decompressing by hand rather than with :mod:`gzip` keeps every byte that came out
    before a truncation or corruption: a crashed recorder's last flushed lines survive.
    """
    try:
        data = handle.read(_PIECE)
        if data[:2] != _GZIP_MAGIC:
            while data:
                yield data
                data = handle.read(_CHUNK)
            return
        decompressor = zlib.decompressobj(wbits=31)
        started = False
        while True:
            while data:
                if not started:
                    # Padding between or after members is allowed, as in gzip(1).
                    data = data.lstrip(b"\x00")
                    if not data:
                        break
                    started = True
                before = decompressor.copy()
                try:
                    out = decompressor.decompress(data)
                except zlib.error:
                    yield _salvage(before, data)
                    raise _StreamDamage("corrupt compressed data") from None
                if out:
                    yield out
                data = b""
                if decompressor.eof:
                    # The next member (another session) starts in the same piece.
                    data = decompressor.unused_data
                    decompressor = zlib.decompressobj(wbits=31)
                    started = False
            data = handle.read(_PIECE)
            if not data:
                if started:
                    raise _StreamDamage("compressed data ends early (truncated file)")
                return
    except OSError as error:
        raise _StreamDamage(f"read error: {_error_text(error)}") from None


def _salvage(decompressor: Any, piece: bytes) -> bytes:
    """What ``piece`` decompresses to before the byte where it is corrupt."""
    out = bytearray()
    for offset in range(len(piece)):
        try:
            out += decompressor.decompress(piece[offset : offset + 1])
        except zlib.error:
            break
    return bytes(out)


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, line without newline, complete)``; only the last can be incomplete."""
    number = 0
    # Parts of a line spanning chunks are joined once: a body line can be megabytes.
    pending: list[bytes] = []
    for chunk in _chunks(handle):
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            pending.append(chunk[start:end])
            number += 1
            yield number, b"".join(pending), True
            pending = []
            start = end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield number + 1, b"".join(pending), False


def _decode_object(line: bytes) -> dict[str, Any] | str:
    """The line's JSON object, or why it is not one."""
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8"
    except (json.JSONDecodeError, RecursionError):
        return "invalid JSON"
    if not isinstance(value, dict):
        return "not a JSON object"
    return value


def _header_version(value: dict[str, Any]) -> int | None:
    version = value.get(HEADER_KEY)
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    return None


def _check_header(path: str, line: bytes) -> dict[str, Any]:
    value = _decode_object(line)
    if isinstance(value, str) or (version := _header_version(value)) is None:
        raise UsageError(f"{path} is not a flowtop recording")
    if version > RECORD_VERSION:
        raise UsageError(
            f"{path} is a recording of a newer format (version {version}); "
            f"this flowtop reads version {RECORD_VERSION}"
        )
    return value


# -- recording ----------------------------------------------------------------------------


class Recorder:
    """Appends every poll to a recording file.

    The file is opened (and an existing one checked) by the constructor, which raises
    :class:`UsageError` when that fails: a bad ``--record`` path stops the run before it
    starts.  Later disk errors never raise: :meth:`write` returns False, sets
    :attr:`last_error` and recording stops while the live view goes on.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        source: str = "",
        max_stats: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = os.fspath(path)
        self.max_stats = max_stats
        self.last_error: str | None = None
        self.polls_written = 0
        self._header: dict[str, Any] = {
            HEADER_KEY: RECORD_VERSION,
            "started": _finite(clock()),
            "source": _scrub_source(source),
            "max_stats": max_stats,
        }
        # Written with the first poll, so a recording never holds a session without polls.
        self._header_written = False
        self._file: IO[bytes] | gzip.GzipFile | None = self._open()

    def _open(self) -> IO[bytes] | gzip.GzipFile:
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            size = 0
        except OSError as error:
            raise UsageError(f"cannot record to {self.path}: {_error_text(error)}") from None
        gzipped = _is_gzip_name(self.path)
        try:
            if size:
                self._check_existing(gzipped)
            if gzipped:
                return gzip.open(self.path, "ab", compresslevel=_GZIP_LEVEL)
            return open(self.path, "ab")
        except OSError as error:
            raise UsageError(f"cannot record to {self.path}: {_error_text(error)}") from None

    def _check_existing(self, gzipped: bool) -> None:
        """Append only to a recording of the same kind, and never after damage."""
        with open(self.path, "rb") as handle:
            magic = handle.read(2)
            if (magic == _GZIP_MAGIC) != gzipped:
                kind = "is" if magic == _GZIP_MAGIC else "is not"
                raise UsageError(
                    f"{self.path} {kind} gzip-compressed but its name says otherwise; "
                    "not appending to it"
                )
            handle.seek(0)
            if gzipped:
                self._check_existing_gzip(handle)
            else:
                _check_header(self.path, handle.readline(_CHUNK).rstrip(b"\n"))
        if not gzipped:
            self._end_last_line()

    def _end_last_line(self) -> None:
        """Make sure appended lines start on a line of their own.

        A line left half-written by a crash is cut: it could not be replayed anyway,
        and a replay stops at the first damaged line, so it would hide the new polls.
        """
        with open(self.path, "r+b") as handle:
            end = handle.seek(0, os.SEEK_END)
            handle.seek(end - 1)
            if handle.read(1) == b"\n":
                return
            start = end
            while start > 0:
                block_start = max(0, start - 65536)
                handle.seek(block_start)
                newline = handle.read(start - block_start).rfind(b"\n")
                start = block_start
                if newline >= 0:
                    start += newline + 1
                    break
            handle.seek(start)
            if isinstance(_decode_object(handle.read()), dict):
                # Complete but for its newline.
                handle.write(b"\n")
            else:
                handle.truncate(start)

    def _check_existing_gzip(self, handle: IO[bytes]) -> None:
        """Refuse to append after damage: the new session could never be replayed."""
        lines = _lines(handle)
        try:
            first = next(lines, None)
            if first is None:
                return
            _check_header(self.path, first[1])
            last = first
            for entry in lines:
                last = entry
            number, _, complete = last
        except _StreamDamage as damage:
            raise UsageError(
                f"{self.path} is damaged ({damage.reason}); record to a new file"
            ) from None
        if not complete:
            raise UsageError(
                f"{self.path} is damaged at line {number} (truncated line); record to a new file"
            )

    def write(self, snapshot: Snapshot, max_stats: int | None = None) -> bool:
        """Append one poll; False (and :attr:`last_error` set) once writing has failed."""
        if self._file is None:
            return False
        record: dict[str, Any] = {
            "t": _finite(snapshot.received_at),
            "latency": _finite(snapshot.latency),
            "max_stats": self.max_stats if max_stats is None else max_stats,
        }
        try:
            record["body"] = snapshot.raw.decode("utf-8")
        except UnicodeDecodeError:
            record["body_b64"] = base64.b64encode(snapshot.raw).decode("ascii")
        lines = []
        if not self._header_written:
            lines.append(self._header)
        lines.append(record)
        data = "".join(
            json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines
        ).encode("utf-8")
        try:
            self._file.write(data)
            # One flush a poll: a crash loses at most the line being written.
            self._file.flush()
        except OSError as error:
            self._fail(error)
            return False
        self._header_written = True
        self.polls_written += 1
        return True

    def _fail(self, error: OSError) -> None:
        self.last_error = f"recording stopped: {_error_text(error)} (file {self.path})"
        self._close_quietly()

    def _close_quietly(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        try:
            handle.close()
        except OSError as error:
            # The descriptor is closed even so; only the unflushed tail is lost.
            if self.last_error is None:
                self.last_error = f"recording stopped: {_error_text(error)} (file {self.path})"

    @property
    def active(self) -> bool:
        """Still recording: open and no error so far."""
        return self._file is not None

    def close(self) -> None:
        """Finish the file; never raises (an error lands in :attr:`last_error`)."""
        self._close_quietly()


# -- loading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedPoll:
    """One recorded answer: when it arrived, how long it took, its body as received."""

    index: int
    at: float
    latency: float
    max_stats: int
    body: bytes = field(repr=False)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _header_max_stats(header: dict[str, Any]) -> int:
    """The session's max_stats, the default for its polls; 0 when unknown."""
    value = header.get("max_stats")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _poll_from(value: dict[str, Any], index: int, default_max_stats: int) -> RecordedPoll | str:
    """The poll a line describes, or why it does not describe one."""
    at = _number(value.get("t"))
    if at is None:
        return 'no valid "t" (poll time)'
    latency = _number(value.get("latency", 0.0))
    if latency is None:
        return 'invalid "latency"'
    max_stats = value.get("max_stats", default_max_stats)
    if not isinstance(max_stats, int) or isinstance(max_stats, bool):
        return 'invalid "max_stats"'
    if isinstance(body_text := value.get("body"), str):
        try:
            body = body_text.encode("utf-8")
        except UnicodeEncodeError:
            return '"body" is not valid text'
    elif isinstance(encoded := value.get("body_b64"), str):
        try:
            body = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return 'invalid base64 in "body_b64"'
    else:
        return 'no "body"'
    return RecordedPoll(index, at, max(0.0, latency), max_stats, body)


@dataclass(slots=True)
class Recording:
    """A recording read into memory, up to its end or its first damage."""

    polls: list[RecordedPoll]
    header: dict[str, Any]
    # None when the whole file was read cleanly; else one line for a person.
    damage: str | None = None
    damage_line: int | None = None
    path: str = ""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        """Read a recording; damage ends the reading and is described in :attr:`damage`.

        Raises :class:`UsageError` when the file cannot be opened, is not a recording,
        or holds no poll before its end or damage (nothing to replay).
        """
        name = os.fspath(path)
        try:
            handle = open(name, "rb")  # noqa: SIM115 - closed below, also on errors
        except OSError as error:
            raise UsageError(f"cannot read recording {name}: {_error_text(error)}") from None
        with handle:
            recording = cls._read(name, handle)
        if not recording.polls:
            raise UsageError(f"{name} holds no polls")
        return recording

    @classmethod
    def _read(cls, name: str, handle: IO[bytes]) -> Recording:
        polls: list[RecordedPoll] = []
        header: dict[str, Any] | None = None
        max_stats = 0
        number = 0
        try:
            for number, line, complete in _lines(handle):
                if header is None:
                    header = _check_header(name, line)
                    max_stats = _header_max_stats(header)
                    continue
                if not line.strip():
                    continue
                value = _decode_object(line)
                if isinstance(value, str):
                    reason = value if complete else "truncated line"
                    return cls._damaged(name, polls, header, number, reason)
                if HEADER_KEY in value:
                    # A later session appended to the same file.
                    if _header_version(value) != RECORD_VERSION:
                        return cls._damaged(name, polls, header, number, "unsupported header")
                    max_stats = _header_max_stats(value)
                    continue
                poll = _poll_from(value, len(polls), max_stats)
                if isinstance(poll, str):
                    return cls._damaged(name, polls, header, number, poll)
                polls.append(poll)
        except _StreamDamage as damage:
            if header is None:
                raise UsageError(f"{name} is not a readable recording ({damage.reason})") from None
            return cls._damaged(name, polls, header, number + 1, damage.reason)
        if header is None:
            raise UsageError(f"{name} is empty, not a flowtop recording")
        return cls(polls, header, path=name)

    @classmethod
    def _damaged(
        cls,
        name: str,
        polls: list[RecordedPoll],
        header: dict[str, Any],
        line: int,
        reason: str,
    ) -> Recording:
        if not polls:
            raise UsageError(f"{name} is damaged at line {line} before its first poll: {reason}")
        plural = "" if len(polls) == 1 else "s"
        message = (
            f"recording damaged at line {line}: {reason}; "
            f"replay stops after {len(polls)} poll{plural}"
        )
        return cls(polls, header, damage=message, damage_line=line, path=name)

    @property
    def source(self) -> str:
        """Who was recorded, as the header says (no secrets were ever written)."""
        source = self.header.get("source")
        return strip_control(source) if isinstance(source, str) else ""


# -- replaying ----------------------------------------------------------------------------


class ReplaySource:
    """A :class:`FlowSource` playing a recording, with a cursor the TUI can move.

    :meth:`fetch` returns the poll at the cursor and moves the cursor on; past the end
    it keeps returning the last poll.  The requested ``max_stats`` is ignored: the
    replay shows what was recorded.
    """

    def __init__(
        self, recording: Recording, *, speed: float = 1.0, description: str | None = None
    ) -> None:
        if not recording.polls:
            raise UsageError("the recording holds no polls")
        self.recording = recording
        self.speed = speed
        self._polls = recording.polls
        self._cursor = 0
        self.position = -1  # index of the poll last returned; -1 before the first fetch
        if description is None:
            shown = recording.source or os.path.basename(recording.path) or "a recording"
            description = f"replay of {shown}"
        self._description = description

    @property
    def description(self) -> str:
        return self._description

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"the replay speed must be a positive number (got {value})")
        self._speed = float(value)

    @property
    def count(self) -> int:
        return len(self._polls)

    @property
    def at_end(self) -> bool:
        """The last poll is the one shown."""
        return self.position == self.count - 1

    def seek(self, index: int) -> None:
        """The next :meth:`fetch` returns poll ``index`` (clamped to the recording)."""
        self._cursor = min(max(0, index), self.count - 1)

    def step(self, delta: int) -> None:
        """The next :meth:`fetch` returns the poll ``delta`` away from the one shown."""
        self.seek(self.position + delta)

    def interval_to_next(self) -> float | None:
        """Real seconds to wait before the next fetch; None when the end was shown.

        The recorded gap leading to the next poll, divided by the speed, and capped
        at :data:`MAX_REPLAY_GAP` recorded seconds.
        """
        if self._cursor >= self.count:
            return None
        if self._cursor == 0:
            return 0.0
        gap = self._polls[self._cursor].at - self._polls[self._cursor - 1].at
        return min(MAX_REPLAY_GAP, max(0.0, gap)) / self._speed

    async def fetch(self, max_stats: int) -> Snapshot:
        index = min(self._cursor, self.count - 1)
        poll = self._polls[index]
        # Move on before parsing: an unreadable poll must not be returned forever.
        self.position = index
        self._cursor = index + 1
        parsed = parse_flows(poll.body)
        return Snapshot(
            flows=parsed.flows,
            received_at=poll.at,
            latency=poll.latency,
            raw=poll.body,
            ignored_items=parsed.ignored_items,
            position=(index + 1, self.count),
            max_stats=poll.max_stats,
        )

    async def close(self) -> None:
        pass


# -- recording without a screen -----------------------------------------------------------


async def record_headless(
    source: FlowSource,
    recorder: Recorder,
    *,
    interval: float,
    max_stats: int,
    count: int | None,
    duration: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    on_error: Callable[[FlowtopError], None] | None = None,
    on_recorded: Callable[[int, Snapshot], None] | None = None,
) -> int:
    """Poll and record until ``count`` polls were attempted or ``duration`` seconds passed.

    Returns how many polls were recorded.  A failed poll is reported to ``on_error`` and
    skipped, with the poller's backoff before the next one; a refused login is raised
    (retrying would lock the account); a disk error ends the loop (see
    :attr:`Recorder.last_error`).
    """
    state = PollState(interval=interval)
    start = clock()
    deadline = None if duration is None else start + duration
    attempts = 0
    recorded = 0
    while recorder.active and (count is None or attempts < count):
        began = clock()
        if deadline is not None and began >= deadline:
            break
        attempts += 1
        try:
            snapshot = await source.fetch(max_stats)
        except AuthenticationError:
            raise
        except FlowtopError as error:
            state.failed(error)
            if on_error is not None:
                on_error(error)
        except ANSWER_FAILURES as error:
            # A bug reading this one answer: reported and skipped like any failed poll.
            failure = answer_failure(error)
            state.failed(failure)
            if on_error is not None:
                on_error(failure)
        else:
            state.succeeded(snapshot.received_at, snapshot.latency)
            if not recorder.write(snapshot, max_stats):
                break
            recorded += 1
            if on_recorded is not None:
                on_recorded(recorded, snapshot)
        if count is not None and attempts >= count:
            break
        due = began + state.delay()
        if deadline is not None and due >= deadline:
            break
        await sleep(max(0.0, due - clock()))
    return recorded
