"""The status line: who is watched, how fresh the data is, and what state polling is in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rich.text import Text
from textual import events
from textual.widgets import Static

from flowtop.core import glyphs
from flowtop.core.model import strip_control
from flowtop.core.poller import PollPhase
from flowtop.core.units import format_seconds
from flowtop.tui.widgets.quiet import single_lines, text_key, update_quietly


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """Everything the status line shows, computed by the app each second and tick."""

    source: str
    interval: float
    max_stats: int
    phase: PollPhase
    shown: int
    total: int
    sort: str
    filter: str
    since_update: float | None = None
    latency: float | None = None
    error: str = ""
    retry_in: float | None = None
    notice: str = ""
    groups: bool = False
    # The cursor's row (1-based), shown as "row 12/100"; None: no rows.
    row: int | None = None
    # N when the last answer filled max_stats = N: the appliance's top N only.
    capped: int | None = None
    # "REPLAY 2x 15/120" while replaying (it stands for LIVE), else empty.
    mode: str = ""
    # The file polls are recorded to, else empty; failed: recording stopped.
    recording: str = ""
    recording_failed: bool = False
    # Pair mode: rows holding two flows (both directions); None: one row per flow.
    paired: int | None = None
    # Group mode: the flows in the groups (fewer than total under a filter).
    grouped: int | None = None


def _ago(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 60 else format_seconds(round(seconds))


_PHASE_STYLE = {
    PollPhase.CONNECTING: ("CONNECTING", "bold black on yellow"),
    PollPhase.LIVE: ("LIVE", "bold black on green"),
    PollPhase.PAUSED: ("PAUSED", "bold black on cyan"),
    PollPhase.ERROR: ("STALE", "bold white on red"),
    PollPhase.STOPPED: ("STOPPED", "bold white on red"),
}


# Below this width the capped mark is shortened.
NARROW_STATUS: Final = 110

# How readily a part of the first line gives way on a narrow terminal: the highest
# number goes first.  The phase (0) always stays; errors and their retry countdown are
# on a line of their own and never give way to these.
_KEEP: Final = 0
_PRIORITY_COUNT: Final = 1
_PRIORITY_CAPPED: Final = 1
_PRIORITY_RECORDING: Final = 2
_PRIORITY_ROW: Final = 4
# A filter is cut short (never left out) before the appliance name goes.
_PRIORITY_FILTER: Final = 2
_PRIORITY_AGE: Final = 1
# The appliance's name goes after the age, before the sort: in a fleet it says which.
_PRIORITY_SOURCE: Final = 2
_PRIORITY_SORT: Final = 4
_PRIORITY_INTERVAL: Final = 5
_PRIORITY_LATENCY: Final = 6


# The fewest cells a cut filter keeps ("  filter ip:1…"): enough to say one is in force
# (the filter bar shows it whole).
MIN_CUT: Final = 14


def _fit_parts(parts: list[tuple[int, Text]], width: int | None, cut: Text | None = None) -> Text:
    """The parts, in order, without the least important ones that do not fit ``width``.

    ``cut`` (one of the parts: the filter) is cut short, down to :data:`MIN_CUT` cells,
    before it is left out: a filter in force must show that it is."""
    kept = list(parts)
    if width is not None:
        while (excess := sum(part.cell_len for _, part in kept) - width) > 0:
            droppable = [i for i, (priority, _) in enumerate(kept) if priority != _KEEP]
            if not droppable:
                break
            victim = max(droppable, key=lambda i: (kept[i][0], i))
            part = kept[victim][1]
            if part is cut and part.cell_len - excess >= MIN_CUT:
                shorter = part.copy()
                shorter.truncate(part.cell_len - excess - 1, overflow="crop")
                shorter.append(glyphs.current().ellipsis, "bold yellow")
                kept[victim] = (kept[victim][0], shorter)
                break
            others = [i for i in droppable if kept[i][1] is not cut]
            if part is cut and others:
                # Too little room to cut it short: the next part goes instead.
                victim = max(others, key=lambda i: (kept[i][0], i))
            del kept[victim]
    line = Text(no_wrap=True, overflow="crop")
    for _, part in kept:
        line.append_text(part)
    return _crop(line, width)


def _crop(line: Text, width: int | None) -> Text:
    if width is not None and line.cell_len > width:
        line.truncate(max(0, width - 1), overflow="crop")
        line.append(glyphs.current().ellipsis)
    return line


def _part(*pieces: tuple[str, str]) -> Text:
    text = Text()
    for content, style in pieces:
        text.append(content, style)
    return text


def _error_line(info: StatusInfo, width: int | None) -> Text:
    """`` ERROR  message  retry in 5s``: the message is cut, never the countdown.

    A message too long for one line goes on over a second one before it is cut: the
    reason of an error comes last ("authentication failed for user ... : <reason>")."""
    head = _part((" ERROR ", "bold white on red"), (" ", ""))
    tails = [Text()]
    if info.retry_in is not None:
        tails = [Text(f"  retry in {max(0.0, info.retry_in):.0f}s", "bold")]
    elif info.phase is PollPhase.STOPPED:
        tails = [
            Text("  polling stopped; press r to try again", "bold"),
            Text("  press r to retry", "bold"),
        ]
    message = Text(strip_control(info.error), "red")
    line = Text(no_wrap=True, overflow="crop")
    line.append_text(head)
    if width is None:
        line.append_text(message)
        line.append_text(tails[0])
        return line
    for tail in tails:
        if head.cell_len + message.cell_len + tail.cell_len <= width:
            line.append_text(message)
            line.append_text(tail)
            return line
    tail = tails[-1]
    room = width - head.cell_len - tail.cell_len
    if room < 2:
        # Not even a word of the message fits: the countdown or "press r" does.
        line.append_text(Text(tail.plain.lstrip(), "bold"))
        return _crop(line, width)
    first, rest = _split_words(message, width - head.cell_len)
    second = Text(" " * head.cell_len)
    second.append_text(_cut(rest, room))
    second.append_text(tail)
    line.append_text(first)
    line.append("\n")
    line.append_text(_crop(second, width))
    return line


def _cut(message: Text, room: int) -> Text:
    """``message`` in at most ``room`` cells, an ellipsis marking a cut."""
    if message.cell_len <= room:
        return message
    cut = message.copy()
    cut.truncate(max(0, room - 1), overflow="crop")
    cut.append(glyphs.current().ellipsis, "red")
    return cut


def _split_words(message: Text, room: int) -> tuple[Text, Text]:
    """The words of ``message`` that fit ``room`` cells, and the rest."""
    plain = message.plain
    if message.cell_len <= room:
        return message, Text()
    # Break at the last space that fits; a message without one breaks mid-word.
    cut = plain.rfind(" ", 0, room + 1)
    if cut <= 0:
        cut = room
    return _cut(message[:cut], room), Text(plain[cut:].lstrip(), "red")


def status_text(info: StatusInfo, width: int | None = None) -> Text:
    """The status line as Rich Text; appliance-supplied text is never parsed as markup.

    With a ``width``, the first line leaves out its least important parts (latency,
    then the interval, the sort, the source) until it fits, shortens the longer marks,
    and the error line cuts the message rather than the retry countdown or "press r".
    """
    narrow = width is not None and width < NARROW_STATUS
    ellipsis = glyphs.current().ellipsis
    label, style = _PHASE_STYLE[info.phase]
    if info.mode:
        # A replay is never LIVE; other phases (paused, stale) are still said.
        badge = _part((f" {strip_control(info.mode)} ", "bold white on magenta"))
        if info.phase is not PollPhase.LIVE:
            badge.append_text(_part((" ", ""), (f" {label} ", style)))
    else:
        badge = _part((f" {label} ", style))
    parts: list[tuple[int, Text]] = [(_KEEP, badge)]
    if info.recording:
        if info.recording_failed:
            rec = _part((" ", ""), (" REC STOPPED ", "bold white on red"), (" ", ""))
        else:
            name = strip_control(info.recording)
            limit = 20 if narrow else 40
            if len(name) > limit:
                name = name[: limit - 1] + ellipsis
            rec = _part(
                (" ", ""), (" REC ", "bold white on red"), (" ", ""), (name, "bold red"), (" ", "")
            )
        parts.append((_PRIORITY_RECORDING, rec))
    parts.append((_PRIORITY_SOURCE, _part((" ", ""), (strip_control(info.source), "bold"))))
    filter_part: Text | None = None
    if info.groups and info.grouped is not None and info.grouped != info.total:
        # A filter: the flows it lets through, of all ("5 groups of 197/500+ flows").
        plus = "+" if info.capped is not None else ""
        count = _part(
            ("  ", ""), (f"{info.shown}", "bold"), (" groups of ", "dim"),
            (f"{info.grouped}/{info.total}{plus}", "bold"), (" flows", "dim"),
        )  # fmt: skip
    elif info.groups:
        count = _part(("  ", ""), (f"{info.shown}", "bold"), (" groups of ", "dim"))
        if info.capped is not None:
            count.append("the top ", "bold yellow")
        count.append_text(_part((f"{info.total}", "bold"), (" flows", "dim")))
    elif info.capped is not None:
        # The appliance may hold more flows than it returned: "100+".
        shown = f"{info.shown}/" if info.shown != info.total else ""
        count = _part(("  ", ""), (f"{shown}{info.total}+", "bold"), (" flows", "dim"))
    else:
        count = _part(("  ", ""), (f"{info.shown}/{info.total}", "bold"), (" flows", "dim"))
    if info.paired is not None and not info.groups:
        count = _paired_count(info)
    parts.append((_PRIORITY_COUNT, count))
    if info.capped is not None:
        mark = ", capped" if narrow else ", capped by max_stats"
        parts.append((_PRIORITY_CAPPED, _part((mark, "bold yellow"))))
    if info.row is not None and info.shown:
        parts.append((_PRIORITY_ROW, _part((f"  row {info.row}/{info.shown}", "dim"))))
    if info.filter:
        filter_part = _part(("  filter ", ""), (strip_control(info.filter), "bold yellow"))
        parts.append((_PRIORITY_FILTER, filter_part))
    parts.append((_PRIORITY_SORT, _part((f"  sort {info.sort}", "dim"))))
    if info.since_update is not None:
        parts.append((_PRIORITY_AGE, _part(("  ", ""), (f"{_ago(info.since_update)} ago", "bold"))))
    if info.latency is not None:
        parts.append((_PRIORITY_LATENCY, _part((f" ({info.latency * 1000:.0f}ms)", "dim"))))
    if not info.mode:
        # A replay shows what was recorded, when it was: neither applies to it.
        every = f"  every {format_seconds(info.interval)}  max {info.max_stats}"
        parts.append((_PRIORITY_INTERVAL, _part((every, "dim"))))
    text = _fit_parts(parts, width, filter_part)
    if info.error:
        text.append("\n")
        text.append_text(_error_line(info, width))
    elif info.notice:
        text.append("\n")
        notice = _part((" NOTE ", "bold black on yellow"), (" ", ""))
        notice.append(strip_control(info.notice), "yellow")
        text.append_text(_crop(notice, width))
    return text


def _paired_count(info: StatusInfo) -> Text:
    """Pair mode: the flows shown (each pair row holds two) and the rows they make."""
    flows = info.shown + (info.paired or 0)
    plus = "+" if info.capped is not None else ""
    return _part(
        ("  ", ""), (f"{flows}/{info.total}{plus}", "bold"), (" flows in ", "dim"),
        (f"{info.shown}", "bold"), (f" rows ({info.paired} paired)", "dim"),
    )  # fmt: skip


class StatusBar(Static):
    """Thin: renders a :class:`StatusInfo` given by the app."""

    DEFAULT_CSS = """
    StatusBar {
        height: auto;
        max-height: 3;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    _info: StatusInfo | None = None

    def show(self, info: StatusInfo) -> None:
        self._info = info
        self._show(self.size.width)

    def on_resize(self, event: events.Resize) -> None:
        # The event's size is the new one (it may not be stored yet).
        if self._info is not None:
            self._show(event.size.width)

    def _show(self, width: int) -> None:
        # Each poll and second: no screen layout unless the number of lines changes.
        assert self._info is not None
        text = status_text(self._info, width if width > 0 else None)
        update_quietly(self, text, (width, text_key(text)), single_lines(text, width))
