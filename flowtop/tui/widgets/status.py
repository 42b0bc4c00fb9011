"""The status line: who is watched, how fresh the data is, and what state polling is in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rich.text import Text
from textual import events
from textual.widgets import Static

from flowtop.core.model import strip_control
from flowtop.core.poller import PollPhase
from flowtop.core.units import format_seconds


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


def status_text(info: StatusInfo, width: int | None = None) -> Text:
    """The status line as Rich Text; appliance-supplied text is never parsed as markup.

    ``width`` (the line's width, when known) shortens the longer marks to fit."""
    narrow = width is not None and width < NARROW_STATUS
    label, style = _PHASE_STYLE[info.phase]
    # Each line is cropped, never wrapped: the least important parts come last.
    text = Text(no_wrap=True, overflow="ellipsis")
    if info.mode:
        # A replay is never LIVE; other phases (paused, stale) are still said.
        text.append(f" {strip_control(info.mode)} ", "bold white on magenta")
        if info.phase is not PollPhase.LIVE:
            text.append(" ")
            text.append(f" {label} ", style)
    else:
        text.append(f" {label} ", style)
    if info.recording:
        text.append(" ")
        if info.recording_failed:
            text.append(" REC STOPPED ", "bold white on red")
        else:
            text.append(" REC ", "bold white on red")
            text.append(" ")
            name = strip_control(info.recording)
            limit = 20 if narrow else 40
            if len(name) > limit:
                name = name[: limit - 1] + "…"
            text.append(name, "bold red")
            text.append(" ")
    text.append(" ")
    text.append(strip_control(info.source), "bold")
    text.append("  ")
    if info.groups:
        text.append(f"{info.shown}", "bold")
        text.append(" groups of ", "dim")
        if info.capped is not None:
            text.append("the top ", "bold yellow")
        text.append(f"{info.total}", "bold")
    elif info.capped is not None:
        # The appliance may hold more flows than it returned: "100+".
        shown = f"{info.shown}/" if info.shown != info.total else ""
        text.append(f"{shown}{info.total}+", "bold")
    else:
        text.append(f"{info.shown}/{info.total}", "bold")
    text.append(" flows", "dim")
    if info.capped is not None:
        text.append(", capped" if narrow else ", capped by max_stats", "bold yellow")
    if info.row is not None and info.shown:
        text.append(f"  row {info.row}/{info.shown}", "dim")
    # The filter comes early: on a narrow terminal the line is cropped at its end.
    if info.filter:
        text.append("  filter ")
        text.append(strip_control(info.filter), "bold yellow")
    text.append(f"  sort {info.sort}", "dim")
    if info.since_update is not None:
        text.append("  ")
        text.append(f"{_ago(info.since_update)} ago", "bold")
    if info.latency is not None:
        text.append(f" ({info.latency * 1000:.0f}ms)", "dim")
    if not info.mode:
        # A replay shows what was recorded, when it was: neither applies to it.
        text.append(f"  every {format_seconds(info.interval)}  max {info.max_stats}", "dim")
    if info.error:
        text.append("\n")
        text.append(" ERROR ", "bold white on red")
        text.append(" ")
        text.append(strip_control(info.error), "red")
        if info.retry_in is not None:
            text.append(f"  retry in {max(0.0, info.retry_in):.0f}s", "bold")
        elif info.phase is PollPhase.STOPPED:
            text.append("  polling stopped; press r to try again", "bold")
    elif info.notice:
        text.append("\n")
        text.append(" NOTE ", "bold black on yellow")
        text.append(" ")
        text.append(strip_control(info.notice), "yellow")
    return text


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
        self.update(status_text(info, self.size.width or None))

    def on_resize(self, event: events.Resize) -> None:
        if self._info is not None:
            self.update(status_text(self._info, event.size.width or None))
