"""Recording polls to a JSON-lines file and replaying them as a flow source.

A recording keeps each answer's body exactly as received, so a replay parses the same
bytes the live run parsed and shows the same table.  One JSON object per line::

    {"flowtop_recording": 1, "started": <unix time>, "source": "admin@host", "max_stats": 100}
    {"t": <unix time>, "latency": <seconds>, "max_stats": 100, "body": "<answer text>"}

A body that is not UTF-8 is stored as ``"body_b64"`` instead of ``"body"``.  Nothing
else is written: no credentials, no cookies, no headers.  Appending to a recording
starts with a new header line (a new session); names ending in ``.gz`` are gzip, one
member per session.

A replay streams the file (:meth:`Recording.load` indexes it once, then polls are read
on demand through a bounded window), reading gzip with the standard library's
:mod:`gzip`; a line longer than the client's answer cap is skipped with a warning.
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
import stat
import time
import weakref
import zlib
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, overload

from flowtop.core.client import DEFAULT_MAX_BODY_BYTES
from flowtop.core.errors import (
    AuthenticationError,
    FlowtopError,
    UnreadableAnswer,
    UsageError,
)
from flowtop.core.model import parse_flows, strip_control
from flowtop.core.monitor import Monitor, run_polls
from flowtop.core.poller import MAX_INTERVAL
from flowtop.core.source import FlowSource, Snapshot

RECORD_VERSION: Final = 1
HEADER_KEY: Final = "flowtop_recording"
# A fleet's recording: the header lists its appliances, each poll names its own.
FLEET_KEY: Final = "fleet"
APPLIANCE_KEY: Final = "appliance"

# A recorded gap longer than the longest polling interval means recording was
# interrupted (or sessions were appended); replaying it verbatim would look frozen.
MAX_REPLAY_GAP: Final = MAX_INTERVAL

_GZIP_MAGIC: Final = b"\x1f\x8b"
_CHUNK: Final = 1 << 20
# A poll line holds one answer, and the client refuses answers over its cap: a longer
# line (a gzip bomb, a foreign file) is skipped with a warning, never held whole.
MAX_LINE_BYTES: Final = DEFAULT_MAX_BODY_BYTES
# The header is a hundred bytes; a longer first line is not a recording.
_HEADER_LINE_MAX: Final = 64 * 1024
# A replay holds recently read polls up to about this many bytes of bodies (at least
# the rebuild window of the TUI's step back for 1000-flow answers), and reads the rest
# from the file again when needed.
REPLAY_WINDOW_BYTES: Final = 64 * 1024 * 1024
# Cost of a cached poll beyond its body (objects, dictionary slot).
_POLL_OVERHEAD: Final = 256
# The index keeps the offset of every poll up to this many polls, then of every 2nd,
# 4th, ... poll: its size stays bounded whatever the number of polls.
_INDEX_ENTRIES: Final = 1 << 16
# Over-long lines and more than this many are reported as a count.
_WARNINGS_LISTED: Final = 5
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

    def __init__(self, reason: str, salvaged: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        # For corrupt gzip data: what the stream held from the line's start to the damage.
        self.salvaged = salvaged


@dataclass(frozen=True, slots=True)
class _Line:
    """One line read: ``data`` is None when it was longer than the limit (and skipped)."""

    data: bytes | None
    complete: bool  # it ended with a newline
    size: int  # bytes it took in the (uncompressed) stream, newline included


_END: Final = _Line(b"", False, 0)


def _size_text(size: int) -> str:
    if size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size % (1 << 10) == 0:
        return f"{size >> 10} KiB"
    return f"{size} bytes"


def _damage_reason(error: Exception) -> str:
    if isinstance(error, EOFError):
        return "compressed data ends early (truncated file)"
    if isinstance(error, zlib.error | gzip.BadGzipFile):
        return "corrupt compressed data"
    if isinstance(error, OSError):
        return f"read error: {_error_text(error)}"
    return "unreadable data"


class _LineReader:
    """The lines of a recording, plain or gzip (any number of members), from an offset.

    Offsets count bytes of the uncompressed stream.  Seeking back in gzip starts over
    from the file's beginning (the :mod:`gzip` module's own seek); forward it reads on.
    Only one line, at most ``limit`` bytes, is ever held.  At corrupt gzip data the
    complete lines before the damage are still given, then :class:`_StreamDamage`.
    """

    def __init__(self, raw: IO[bytes], gzipped: bool) -> None:
        self._raw = raw
        self.gzipped = gzipped
        self._stream: IO[bytes] | gzip.GzipFile | None = None
        self.offset = 0
        # After corrupt data: what was salvaged before it, and why the stream ends there.
        self._salvaged = b""
        self._damage: str | None = None

    def _start(self) -> IO[bytes] | gzip.GzipFile:
        self._raw.seek(0)
        self.offset = 0
        self._salvaged, self._damage = b"", None
        if self.gzipped:
            self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb")
        else:
            self._stream = self._raw
        return self._stream

    def seek(self, offset: int) -> None:
        if self._damage is not None and 0 <= offset - self.offset <= len(self._salvaged):
            self._salvaged = self._salvaged[offset - self.offset :]
            self.offset = offset
            return
        try:
            stream = self._stream
            if stream is None or self._damage is not None or offset < self.offset:
                stream = self._start()
            if offset != self.offset:
                stream.seek(offset)
                self.offset = offset
        except (EOFError, zlib.error, OSError) as error:
            self._stream = None
            raise _StreamDamage(_damage_reason(error)) from None

    def readline(self, limit: int, *, skip: bool = True) -> _Line:
        """The next line; a longer one is read through to its end and given as None.

        With ``skip`` False a longer line is not read through (the reader must then
        seek before reading on).
        """
        if self._damage is not None:
            return self._salvaged_line(limit)
        stream = self._stream if self._stream is not None else self._start()
        start = self.offset
        try:
            data = stream.readline(limit + 1)
            if data.endswith(b"\n"):
                self.offset += len(data)
                return _Line(data[:-1], True, len(data))
            if len(data) <= limit:
                self.offset += len(data)
                return _Line(data, False, len(data)) if data else _END
            # Too long: read on to its end, a piece at a time.
            size = len(data)
            del data
            if not skip:
                self._stream = None  # the position is lost: start over next time
                return _Line(None, False, size)
            if not self.gzipped:
                return self._skip_plain(stream, start + size)
            while piece := stream.readline(_CHUNK):
                size += len(piece)
                if piece.endswith(b"\n"):
                    self.offset += size
                    return _Line(None, True, size)
            self.offset += size
            return _Line(None, False, size)
        except (EOFError, zlib.error, OSError) as error:
            self._stream = None
            reason = _damage_reason(error)
            if not (self.gzipped and isinstance(error, zlib.error | gzip.BadGzipFile)):
                raise _StreamDamage(reason) from None
        # The failed read lost what it had decompressed: read it again, carefully.
        self._salvaged = self._salvage(start, limit)
        self._damage = reason
        self.offset = start
        return self._salvaged_line(limit)

    def _skip_plain(self, stream: IO[bytes] | gzip.GzipFile, position: int) -> _Line:
        """Past the end of an over-long line of a plain file, from ``position`` in it."""
        start = self.offset
        while piece := stream.read(_CHUNK):
            newline = piece.find(b"\n")
            if newline >= 0:
                end = position + newline + 1
                stream.seek(end)
                self.offset = end
                return _Line(None, True, end - start)
            position += len(piece)
        self.offset = position
        return _Line(None, False, position - start)

    def _salvaged_line(self, limit: int) -> _Line:
        assert self._damage is not None
        if not self._salvaged:
            raise _StreamDamage(self._damage)
        newline = self._salvaged.find(b"\n")
        if newline < 0:
            # The last line before the damage; zlib gives no byte of a read that fails,
            # so its newline may be lost even when the line is whole.
            data, self._salvaged = self._salvaged, b""
            self.offset += len(data)
            return _Line(data if len(data) <= limit else None, False, len(data))
        data = self._salvaged[:newline]
        self._salvaged = self._salvaged[newline + 1 :]
        self.offset += newline + 1
        return _Line(data if len(data) <= limit else None, True, newline + 1)

    def _salvage(self, start: int, limit: int) -> bytes:
        """The bytes from ``start`` up to the corrupt spot of a gzip stream.

        A failing read loses everything it decompressed; reading a few bytes at a time,
        then byte by byte, keeps every line before the damage, as gzip(1) would.
        """
        kept = bytearray()
        for step in (256, 1):
            try:
                stream = self._start()
                stream.seek(start + len(kept))
                assert isinstance(stream, gzip.GzipFile)
                while len(kept) <= limit:
                    piece = stream.read1(step)
                    if not piece:
                        break
                    kept += piece
            except (EOFError, zlib.error, OSError):
                continue
            break
        self._stream = None
        return bytes(kept)

    def close(self) -> None:
        self._stream = None
        self._raw.close()


def _open_recording(name: str) -> tuple[IO[bytes], bool]:
    """The file opened for reading, and whether it is gzip; UsageError if impossible."""
    try:
        raw = open(name, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as error:
        raise UsageError(f"cannot read recording {name}: {_error_text(error)}") from None
    try:
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
            raise UsageError(f"{name} is not a regular file (a recording is replayed from a file)")
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
    except OSError as error:
        raw.close()
        raise UsageError(f"cannot read recording {name}: {_error_text(error)}") from None
    except UsageError:
        raw.close()
        raise
    return raw, gzipped


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
        appliances: Sequence[str] = (),
    ) -> None:
        """``appliances``: a fleet's, in profile order; each poll then names its own."""
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
        if appliances:
            self._header[FLEET_KEY] = [_scrub_source(name) for name in appliances]
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
            if end - start <= MAX_LINE_BYTES and isinstance(_decode_object(handle.read()), dict):
                # Complete but for its newline.
                handle.write(b"\n")
            else:
                handle.truncate(start)

    def _check_existing_gzip(self, handle: IO[bytes]) -> None:
        """Refuse to append after damage: the new session could never be replayed."""
        reader = _LineReader(handle, gzipped=True)
        number = 1
        try:
            last = reader.readline(_HEADER_LINE_MAX, skip=False)
            if last.size == 0:
                return
            _check_header(self.path, last.data or b"")
            while (line := reader.readline(MAX_LINE_BYTES)).size:
                number += 1
                last = line
        except _StreamDamage as damage:
            raise UsageError(
                f"{self.path} is damaged ({damage.reason}); record to a new file"
            ) from None
        if not last.complete:
            raise UsageError(
                f"{self.path} is damaged at line {number} (truncated line); record to a new file"
            )

    def write(
        self, snapshot: Snapshot, max_stats: int | None = None, appliance: str | None = None
    ) -> bool:
        """Append one poll (of ``appliance``, in a fleet's recording); False (and
        :attr:`last_error` set) once writing has failed."""
        if self._file is None:
            return False
        record: dict[str, Any] = {
            "t": _finite(snapshot.received_at),
            "latency": _finite(snapshot.latency),
            "max_stats": self.max_stats if max_stats is None else max_stats,
        }
        if appliance is not None:
            record[APPLIANCE_KEY] = appliance
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


_HEADER: Final = "header"
_BLANK: Final = "blank"


def _classify(
    line: bytes, complete: bool, index: int, default_max_stats: int, appliance: str | None = None
) -> Any:
    """What a line after the first is: a poll, a header's max_stats, blank, or damage.

    Returns a :class:`RecordedPoll`, ``(_HEADER, max_stats)``, ``_BLANK`` or the reason
    the line is damaged (a str).  With ``appliance``, the polls of the other appliances
    of a fleet's recording are passed over as blank lines are.
    """
    if not line.strip():
        return _BLANK
    value = _decode_object(line)
    if isinstance(value, str):
        return value if complete else "truncated line"
    if HEADER_KEY in value:
        # A later session appended to the same file.
        if _header_version(value) != RECORD_VERSION:
            return "unsupported header"
        return (_HEADER, _header_max_stats(value))
    if appliance is not None and value.get(APPLIANCE_KEY) != appliance:
        return _BLANK
    return _poll_from(value, index, default_max_stats)


class _PollIndex:
    """Where polls start in the stream: every ``stride``-th poll's offset, bounded."""

    def __init__(self, entries: int = _INDEX_ENTRIES) -> None:
        self._entries = max(2, entries)
        self.stride = 1
        self.count = 0
        self.offsets = array("q")
        self.defaults = array("q")  # the session's max_stats where each entry starts

    def add(self, offset: int, default_max_stats: int) -> None:
        if self.count % self.stride == 0:
            self.offsets.append(offset)
            self.defaults.append(default_max_stats)
            if len(self.offsets) > self._entries:
                self.offsets = self.offsets[::2]
                self.defaults = self.defaults[::2]
                self.stride *= 2
        self.count += 1

    def entry(self, index: int) -> int:
        return min(index // self.stride, len(self.offsets) - 1)


class _StreamedPolls(Sequence[RecordedPoll]):
    """The polls of a recording file, read on demand through a bounded window.

    Reading on from the last poll read is cheap; anything else seeks to the nearest
    indexed poll before it.  Going back in gzip means decompressing from the start, so
    a backward miss also reads the polls before it, up to half the window.
    """

    def __init__(
        self,
        reader: _LineReader,
        index: _PollIndex,
        *,
        window_bytes: int,
        max_line: int,
        appliance: str | None = None,
    ) -> None:
        self._reader = reader
        self._appliance = appliance
        self._index = index
        self._window_bytes = max(1, window_bytes)
        self._max_line = max_line
        self._cache: OrderedDict[int, RecordedPoll] = OrderedDict()
        self._cached_bytes = 0
        self._next: int | None = None  # the poll the reader is positioned at
        self._default_max_stats = 0
        self._closer = weakref.finalize(self, reader.close)

    def __len__(self) -> int:
        return self._index.count

    @overload
    def __getitem__(self, index: int) -> RecordedPoll: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RecordedPoll]: ...

    def __getitem__(self, index: int | slice) -> RecordedPoll | Sequence[RecordedPoll]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("poll index out of range")
        return self._get(index)

    def _get(self, index: int) -> RecordedPoll:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        try:
            if self._next is None or not self._ahead(index):
                self._position(index)
            while True:
                poll = self._read_next()
                if poll.index == index:
                    return poll
        except (_StreamDamage, ValueError) as damage:
            # ValueError: the file was closed (the replay is over).
            self._next = None
            reason = damage.reason if isinstance(damage, _StreamDamage) else "file closed"
            raise UnreadableAnswer(
                f"poll {index + 1} of the recording cannot be read again: {reason}"
            ) from None

    def _ahead(self, index: int) -> bool:
        """Reading on from the reader's position reaches ``index`` without a detour."""
        assert self._next is not None
        if index < self._next:
            return False
        entry = self._index.entry(index)
        return self._index.entry(self._next) == entry or self._next > entry * self._index.stride

    def _position(self, index: int) -> None:
        entry = self._index.entry(index)
        offsets = self._index.offsets
        if self._reader.gzipped and offsets[entry] < self._reader.offset:
            # Starting over from the file's beginning: take in the polls before too.
            lowest = offsets[entry] - self._window_bytes // 2
            entry = min(entry, bisect_left(offsets, lowest, 0, entry))
        self._reader.seek(offsets[entry])
        self._next = entry * self._index.stride
        self._default_max_stats = self._index.defaults[entry]

    def _read_next(self) -> RecordedPoll:
        assert self._next is not None
        while True:
            line = self._reader.readline(self._max_line)
            if line.size == 0:
                raise _StreamDamage("the file ends early (was it changed?)")
            if line.data is None:
                continue  # over-long, skipped as when it was loaded
            kind = _classify(
                line.data, line.complete, self._next, self._default_max_stats, self._appliance
            )
            if kind == _BLANK:
                continue
            if isinstance(kind, tuple):
                self._default_max_stats = kind[1]
                continue
            if isinstance(kind, str):
                raise _StreamDamage(f"{kind} (was the file changed?)")
            self._next += 1
            self._keep(kind)
            return kind  # type: ignore[no-any-return]

    def _keep(self, poll: RecordedPoll) -> None:
        if poll.index in self._cache:
            return
        self._cache[poll.index] = poll
        self._cached_bytes += len(poll.body) + _POLL_OVERHEAD
        while self._cached_bytes > self._window_bytes and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= len(dropped.body) + _POLL_OVERHEAD

    def close(self) -> None:
        self._cache.clear()
        self._cached_bytes = 0
        self._closer()


@dataclass(slots=True)
class Recording:
    """A recording: its header and its polls up to its end or its first damage.

    :meth:`load` indexes the file and reads polls on demand (see :class:`_StreamedPolls`),
    so a recording of any size takes bounded memory; built directly, ``polls`` may be a
    plain list.
    """

    polls: Sequence[RecordedPoll]
    header: dict[str, Any]
    # None when the whole file was read cleanly; else one line for a person.
    damage: str | None = None
    damage_line: int | None = None
    path: str = ""
    # Lines skipped on the way (longer than the cap), one line for a person each.
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        max_line: int = MAX_LINE_BYTES,
        window_bytes: int = REPLAY_WINDOW_BYTES,
        index_entries: int = _INDEX_ENTRIES,
        appliance: str | None = None,
    ) -> Recording:
        """Index a recording; damage ends it and is described in :attr:`damage`.

        A line longer than ``max_line`` bytes is skipped with a warning in
        :attr:`warnings`.  Raises :class:`UsageError` when the file cannot be opened,
        is not a recording, or holds no poll before its end or damage.
        """
        name = os.fspath(path)
        raw, gzipped = _open_recording(name)
        reader = _LineReader(raw, gzipped)
        try:
            header, index, damage, warnings = cls._scan(
                name, reader, max_line, index_entries, appliance
            )
        except BaseException:
            reader.close()
            raise
        polls = _StreamedPolls(
            reader, index, window_bytes=window_bytes, max_line=max_line, appliance=appliance
        )
        if not len(polls):
            polls.close()
            if damage is not None:
                line, reason = damage
                raise UsageError(
                    f"{name} is damaged at line {line} before its first poll: {reason}"
                )
            if appliance is not None:
                raise UsageError(f"{name} holds no polls of {appliance}")
            raise UsageError(f"{name} holds no polls")
        recording = cls(polls, header, path=name, warnings=warnings)
        if damage is not None:
            line, reason = damage
            plural = "" if len(polls) == 1 else "s"
            recording.damage = (
                f"recording damaged at line {line}: {reason}; "
                f"replay stops after {len(polls)} poll{plural}"
            )
            recording.damage_line = line
        return recording

    @staticmethod
    def _scan(
        name: str,
        reader: _LineReader,
        max_line: int,
        index_entries: int,
        appliance: str | None = None,
    ) -> tuple[dict[str, Any], _PollIndex, tuple[int, str] | None, list[str]]:
        """Read the file once: check it, index its polls, find its first damage."""
        try:
            first = reader.readline(_HEADER_LINE_MAX, skip=False)
        except _StreamDamage as unreadable:
            raise UsageError(f"{name} is not a readable recording ({unreadable.reason})") from None
        if first.size == 0:
            raise UsageError(f"{name} is empty, not a flowtop recording")
        if first.data is None:
            raise UsageError(f"{name} is not a flowtop recording")
        header = _check_header(name, first.data)
        index = _PollIndex(index_entries)
        default_max_stats = _header_max_stats(header)
        warnings: list[str] = []
        skipped = 0
        number = 1
        damage: tuple[int, str] | None = None
        while damage is None:
            offset = reader.offset
            try:
                line = reader.readline(max_line)
            except _StreamDamage as problem:
                damage = (number + 1, problem.reason)
                break
            if line.size == 0:
                break
            number += 1
            if line.data is None:
                skipped += 1
                if skipped <= _WARNINGS_LISTED:
                    warnings.append(
                        f"line {number} of the recording is longer than {_size_text(max_line)}:"
                        " skipped"
                    )
                continue
            kind = _classify(line.data, line.complete, index.count, default_max_stats, appliance)
            if kind == _BLANK:
                continue
            if isinstance(kind, tuple):
                default_max_stats = kind[1]
                continue
            if isinstance(kind, str):
                damage = (number, kind)
                break
            index.add(offset, default_max_stats)
        if skipped > _WARNINGS_LISTED:
            warnings.append(f"{skipped - _WARNINGS_LISTED} more over-long lines skipped")
        return header, index, damage, warnings

    @property
    def appliances(self) -> list[str]:
        """A fleet's recording: its appliances in profile order (else empty)."""
        names = self.header.get(FLEET_KEY)
        if not isinstance(names, list):
            return []
        return [strip_control(name) for name in names if isinstance(name, str) and name]

    @property
    def source(self) -> str:
        """Who was recorded, as the header says (no secrets were ever written)."""
        source = self.header.get("source")
        return strip_control(source) if isinstance(source, str) else ""

    def close(self) -> None:
        """Close the file a loaded recording reads from (idempotent)."""
        if isinstance(self.polls, _StreamedPolls):
            self.polls.close()


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
        try:
            gap = self._polls[self._cursor].at - self._polls[self._cursor - 1].at
        except FlowtopError:
            return 0.0  # unreadable now: the fetch says why
        return min(MAX_REPLAY_GAP, max(0.0, gap)) / self._speed

    async def fetch(self, max_stats: int) -> Snapshot:
        index = min(self._cursor, self.count - 1)
        # Move on before reading: an unreadable poll must not be returned forever.
        self.position = index
        self._cursor = index + 1
        poll = self._polls[index]
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
        self.recording.close()


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
    monitor = Monitor(
        description=source.description,
        interval=interval,
        max_stats=max_stats,
        recorder=recorder,
        history=1,
        recording_required=True,
        contain_bugs=False,
    )
    recorded = 0

    def heard(outcome: Snapshot | FlowtopError) -> None:
        nonlocal recorded
        if isinstance(outcome, AuthenticationError):
            return  # raised below: retrying would lock the account
        if isinstance(outcome, FlowtopError):
            if on_error is not None:
                on_error(outcome)
        elif recorder.active:
            recorded += 1
            if on_recorded is not None:
                on_recorded(recorded, outcome)

    if recorder.active:
        await run_polls(
            source, monitor, clock=clock, sleep=sleep, count=count, duration=duration, on_poll=heard
        )
    error = monitor.poll_state.last_error
    if isinstance(error, AuthenticationError):
        raise error
    return recorded
