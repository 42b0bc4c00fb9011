"""The events view (the ``e`` key): flows appearing, ending and changing path, newest first.

A full screen rather than a modal, because it is read for a while: after a WAN
failover the NOC wants to see which flows moved, from where to where.  Failovers
(many flows moving between the same two paths in one poll) get a band at the top.

Filtering uses the events filter (:mod:`flowtop.core.event_filter`): the flow filter
language on the flow the event carries, plus ``kind:new|ended|path|left|into``.  An
invalid expression shows its error under the input and the last valid filter stays.

The list is a Line API widget: only the lines on screen are rendered (from a bounded
cache), and the (at most :data:`SHOWN_LIMIT`) matching events are only collected
again when the store's events, the filter or the day changed.  The app refreshes the
screen after each poll.

Every appliance string is shown as data, never parsed as markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from flowtop.core import glyphs
from flowtop.core.columns import NO_PATH
from flowtop.core.errors import FilterError
from flowtop.core.event_filter import MATCH_ALL_EVENTS, EventFilter, compile_event_filter
from flowtop.core.model import strip_control
from flowtop.core.store import EventKind, Failover, FlowEvent

# The newest matching events shown; the store keeps a few thousand at most.
SHOWN_LIMIT: Final = 500
# Failovers listed in the band; older ones are counted.
FAILOVER_LINES: Final = 3
# Column widths grow to the widest value shown, up to these caps (longer values push
# the rest of their line to the right rather than being cut).
FLOW_WIDTH_CAP: Final = 52
APP_WIDTH_CAP: Final = 24
GAP: Final = "  "

KIND_LABELS: Final[dict[EventKind, str]] = {
    EventKind.APPEARED: "NEW",
    EventKind.ENDED: "ENDED",
    EventKind.PATH: "PATH",
    EventKind.LEFT: "LEFT TOP",
    EventKind.ENTERED: "INTO TOP",
}
KIND_STYLES: Final[dict[EventKind, Style]] = {
    EventKind.APPEARED: Style(color="green", bold=True),
    EventKind.ENDED: Style(color="red", bold=True),
    EventKind.PATH: Style(color="yellow", bold=True),
    EventKind.LEFT: Style(color="magenta", bold=True),
    EventKind.ENTERED: Style(color="cyan", bold=True),
}
_KIND_WIDTH: Final = max(len(label) for label in KIND_LABELS.values())
_DIM: Final = Style(dim=True)
_PATH_STYLE: Final = Style(color="yellow")

# ---- formatting -------------------------------------------------------------------


def _clock_text(at: float, today: tuple[int, int]) -> str:
    local = time.localtime(at)
    if (local.tm_year, local.tm_yday) != today:
        # The store keeps events across midnight: an hour alone would mislead.
        return time.strftime("%m-%d %H:%M:%S", local)
    return time.strftime("%H:%M:%S", local)


def _today(now: float) -> tuple[int, int]:
    local = time.localtime(now)
    return local.tm_year, local.tm_yday


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))


def failover_text(failover: Failover, today: tuple[int, int]) -> Text:
    """``14:02:11  312 flows moved A → B``, appliance text kept literal."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(_clock_text(failover.at, today), "bold")
    text.append(GAP)
    text.append(f"{failover.count} flows moved ", "bold")
    text.append(strip_control(failover.old))
    text.append(glyphs.current().arrow, "bold")
    text.append(strip_control(failover.new))
    return text


@dataclass(frozen=True, slots=True)
class EventLine:
    """The texts of one shown event, before padding to the column widths."""

    event: FlowEvent
    clock: str
    flow: str
    application: str
    old_path: str
    new_path: str


def event_line(event: FlowEvent, today: tuple[int, int]) -> EventLine:
    flow = event.flow
    # An empty path (a passthrough flow) reads as the table and the groups call it.
    if event.kind is EventKind.PATH:
        old_path, new_path = event.old_path or NO_PATH, event.new_path or NO_PATH
    else:
        old_path, new_path = "", flow.path or NO_PATH
    return EventLine(
        event=event,
        clock=_clock_text(event.at, today),
        flow=strip_control(event.key.label()),
        application=strip_control(flow.application or ""),
        old_path=strip_control(old_path),
        new_path=strip_control(new_path),
    )


def _left_note(event: FlowEvent) -> str:
    """Which top N a flow left or entered: the answer was capped at max_stats = N."""
    if event.kind is EventKind.LEFT:
        return f"  (out of the top {event.top})"
    if event.kind is EventKind.ENTERED:
        return f"  (into the top {event.top})"
    return ""


# ---- the list ---------------------------------------------------------------------


class EventList(ScrollView, can_focus=True):
    """Read-only lines, newest first; renders only what is on screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "scroll_up", "Up", show=False),
        Binding("j", "scroll_down", "Down", show=False),
    ]
    DEFAULT_CSS = """
    EventList { height: 1fr; background: $surface; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[EventLine] = []
        self._widths = (0, 0, 0)
        self._empty_text = ""
        # Rendered lines by index, for the lines built by the last set_lines.
        self._strips: LRUCache[int, Strip] = LRUCache(256)
        self._base_style = Style()

    @property
    def lines(self) -> list[EventLine]:
        return self._lines

    def set_lines(self, lines: list[EventLine], empty_text: str) -> None:
        """Show ``lines``; the line that was on top stays on top if it is still there."""
        anchor = self._top_event()
        self._lines = lines
        self._empty_text = empty_text
        self._strips.clear()
        clock_width = max((len(line.clock) for line in lines), default=8)
        flow_width = min(FLOW_WIDTH_CAP, max((cell_len(ln.flow) for ln in lines), default=0))
        app_width = min(APP_WIDTH_CAP, max((cell_len(ln.application) for ln in lines), default=0))
        self._widths = (clock_width, flow_width, app_width)
        widest = max((self._line_length(line) for line in lines), default=cell_len(empty_text))
        self.virtual_size = Size(widest, max(1, len(lines)))
        if anchor is not None and self.scroll_y > 0:
            for index, line in enumerate(lines):
                if line.event is anchor:
                    # New events arrive on top; keep the text being read in place.
                    self.scroll_to(y=index, animate=False, immediate=True)
                    break
        self.refresh()

    def _top_event(self) -> FlowEvent | None:
        index = round(self.scroll_y)
        return self._lines[index].event if 0 <= index < len(self._lines) else None

    def _line_length(self, line: EventLine) -> int:
        clock_width, flow_width, app_width = self._widths
        length = clock_width + len(GAP) + _KIND_WIDTH + len(GAP)
        length += max(flow_width, cell_len(line.flow)) + len(GAP)
        length += max(app_width, cell_len(line.application)) + len(GAP)
        if line.old_path:
            length += cell_len(line.old_path) + len(glyphs.current().arrow)
        return length + cell_len(line.new_path) + cell_len(_left_note(line.event))

    def line_text(self, line: EventLine) -> Text:
        """One event as it is drawn: padded columns, kind coloured, no markup."""
        clock_width, flow_width, app_width = self._widths
        event = line.event
        text = Text(no_wrap=True, end="")
        text.append(_pad(line.clock, clock_width), _DIM)
        text.append(GAP)
        text.append(_pad(KIND_LABELS[event.kind], _KIND_WIDTH), KIND_STYLES[event.kind])
        text.append(GAP)
        text.append(_pad(line.flow, flow_width))
        text.append(GAP)
        text.append(_pad(line.application, app_width))
        text.append(GAP)
        if event.kind is EventKind.PATH:
            text.append(line.old_path, _PATH_STYLE)
            text.append(glyphs.current().arrow, KIND_STYLES[EventKind.PATH])
            text.append(line.new_path, _PATH_STYLE)
        else:
            text.append(line.new_path, _DIM)
            text.append(_left_note(event), _DIM)
        return text

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The base style once a frame, not once a line (it walks the CSS ancestry).
        base = self.rich_style
        if base != self._base_style:
            self._base_style = base
            self._strips.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        base = self._base_style
        strip = self._strips.get(index)
        if strip is None:
            strip = self._render_index(index, base)
            self._strips.grow(4 * self.size.height + 64)
            self._strips.set(index, strip)
        return strip.crop_extend(scroll_x, scroll_x + self.size.width, base)

    def _render_index(self, index: int, base: Style) -> Strip:
        lines = self._lines
        if not lines:
            if index == 0 and self._empty_text:
                return Strip([Segment(self._empty_text, base + _DIM)])
            return Strip([])
        if index >= len(lines):
            return Strip([])
        text = self.line_text(lines[index])
        segments = list(text.render(self.app.console))
        return Strip(Segment.apply_style(segments, base), text.cell_len)


# ---- the screen -------------------------------------------------------------------


# What the list (events, filter, day) or the band (failovers, day) was built from.
_Mark = tuple[object, ...]


def _same(new: _Mark, old: _Mark | None) -> bool:
    """Whether two marks are the same.  Events, failovers and the filter compare by
    identity: the store appends new objects, and two distinct events can be equal
    field for field."""
    return old is not None and all(
        a is b or (isinstance(a, int | tuple) and a == b) for a, b in zip(new, old, strict=True)
    )


class EventsScreen(Screen[None]):
    """The events of the store, newest first, refreshed live while open.

    ``get_events`` and ``get_failovers`` are called on every :meth:`refresh_events`
    (the app calls it after each poll); the list and the failover band are only
    rebuilt when what they return changed.  ``clock`` is wall time, used to tell
    events of an earlier day (shown with their date).
    """

    DEFAULT_CSS = """
    EventsScreen { layout: vertical; }
    EventsScreen > #events-title { height: 1; background: $panel; padding: 0 1; }
    EventsScreen > #events-failovers {
        height: auto; display: none; padding: 0 1;
        background: $warning-muted; color: $text;
    }
    EventsScreen > #events-failovers.-shown { display: block; }
    EventsScreen > #events-filter { border: none; height: 1; padding: 0 1; }
    EventsScreen > #events-filter-error {
        color: $error; height: auto; padding: 0 1; display: none;
    }
    EventsScreen > #events-filter-error.-shown { display: block; }
    EventsScreen > #events-keys { height: 1; color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Close", show=False),
        Binding("q,e", "close", "Close", show=False),
        Binding("slash", "focus_filter", "Filter", show=False, key_display="/"),
    ]

    def __init__(
        self,
        get_events: Callable[[], Sequence[FlowEvent]],
        get_failovers: Callable[[], Sequence[Failover]],
        clock: Callable[[], float] = time.time,
        *,
        filter_text: str = "",
    ) -> None:
        super().__init__()
        self._get_events = get_events
        self._get_failovers = get_failovers
        self._clock = clock
        self._initial_filter = filter_text
        try:
            self._filter = compile_event_filter(filter_text)
        except FilterError:
            self._filter = MATCH_ALL_EVENTS
        self._list_mark: _Mark | None = None
        self._band_mark: _Mark | None = None
        self._ready = False
        self._known_lines: dict[int, EventLine] = {}
        self._known_day: tuple[int, int] | None = None

    # Public API

    @property
    def event_filter(self) -> EventFilter:
        """The filter in force (the last valid one typed)."""
        return self._filter

    @property
    def filter_expression(self) -> str:
        return self._filter.expression

    @property
    def shown_events(self) -> list[FlowEvent]:
        """The events listed, newest first."""
        return [line.event for line in self.event_list.lines]

    @property
    def event_list(self) -> EventList:
        return self.query_one(EventList)

    def refresh_events(self) -> None:
        """Take the current events and failovers; cheap when nothing changed."""
        if not self._ready:
            return
        events = self._get_events()
        failovers = self._get_failovers()
        today = _today(self._clock())
        band: _Mark = (len(failovers), failovers[-1] if failovers else None, today)
        if not _same(band, self._band_mark):
            # Only when changed: an update of the band costs a layout pass.
            self._band_mark = band
            self._show_failovers(failovers, today)
        mark: _Mark = (len(events), events[-1] if events else None, self._filter, today)
        if not _same(mark, self._list_mark):
            self._list_mark = mark
            lines, capped = self._matching(events, today)
            self.event_list.set_lines(lines, self._empty_text(events))
            self._show_title(len(lines), capped, len(events))

    # Composition and keys

    def compose(self) -> ComposeResult:
        yield Static("", id="events-title")
        yield Static("", id="events-failovers")
        yield Input(
            value=self._initial_filter,
            placeholder="filter: kind:path  path:*INET*  app:zoom  ip:10.1.0.0/16   (enter: back)",
            id="events-filter",
        )
        yield Static("", id="events-filter-error")
        yield EventList(id="events-list")
        yield Static(
            Text(
                "/ filter (flow filter + kind:new|ended|left|into|path)   "
                "up/down pgup/pgdn scroll   esc, q or e closes"
            ),
            id="events-keys",
        )

    def on_mount(self) -> None:
        self._ready = True
        self.event_list.focus()
        self.refresh_events()

    def action_focus_filter(self) -> None:
        field = self.query_one("#events-filter", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def action_back(self) -> None:
        """Esc leaves the filter input first (keeping the filter), then the screen."""
        if self.query_one("#events-filter", Input).has_focus:
            self.event_list.focus()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Changed, "#events-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        error_line = self.query_one("#events-filter-error", Static)
        try:
            compiled = compile_event_filter(event.value)
        except FilterError as error:
            error_line.update(Text(f"{error} (the last valid filter stays)"))
            error_line.add_class("-shown")
            return
        error_line.update("")
        error_line.remove_class("-shown")
        if compiled.expression != self._filter.expression:
            self._filter = compiled
            self.refresh_events()

    @on(Input.Submitted, "#events-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.event_list.focus()

    # Building

    def _matching(
        self, events: Sequence[FlowEvent], today: tuple[int, int]
    ) -> tuple[list[EventLine], bool]:
        """The newest matching events as lines, and whether the limit cut the list."""
        event_filter = self._filter
        everything = event_filter.is_empty
        # Lines of the previous build, by event identity: most events are still shown.
        known = self._known_lines if today == self._known_day else {}
        lines: list[EventLine] = []
        capped = False
        for event in reversed(events):
            if everything or event_filter.matches(event):
                if len(lines) == SHOWN_LIMIT:
                    capped = True
                    break
                line = known.get(id(event))
                if line is None or line.event is not event:
                    line = event_line(event, today)
                lines.append(line)
        self._known_lines = {id(line.event): line for line in lines}
        self._known_day = today
        return lines, capped

    def _empty_text(self, events: Sequence[FlowEvent]) -> str:
        if not events:
            return "No events yet: flows appearing, ending or changing path are listed here."
        return "No event matches the filter."

    def _show_title(self, shown: int, capped: bool, kept: int) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Events", "bold")
        title.append("  newest first  ", "dim")
        if capped:
            title.append(f"the newest {shown} matching")
        else:
            title.append(f"{shown} shown")
        title.append(f" of {kept} kept", "dim")
        if not self._filter.is_empty:
            title.append("  filter: ", "dim")
            title.append(self._filter.expression)
        # One line whatever it says: no layout pass needed.
        self.query_one("#events-title", Static).update(title, layout=False)

    def _show_failovers(self, failovers: Sequence[Failover], today: tuple[int, int]) -> None:
        band = self.query_one("#events-failovers", Static)
        if not failovers:
            band.remove_class("-shown")
            band.update("")
            return
        newest = list(reversed(failovers))
        lines = [failover_text(failover, today) for failover in newest[:FAILOVER_LINES]]
        if len(newest) > FAILOVER_LINES:
            lines.append(Text(f"and {len(newest) - FAILOVER_LINES} earlier failovers", "dim"))
        band.update(Text("\n").join(lines))
        band.add_class("-shown")
