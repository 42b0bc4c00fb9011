"""The events view (the ``e`` key): flows appearing, ending and changing path, newest first.

A full screen rather than a modal, because it is read for a while: after a WAN
failover the NOC wants to see which flows moved, from where to where.  Failovers
(many flows moving between the same two paths in one poll) get a band at the top.

Filtering uses the flow filter language on the flow the event carries (for a path
change, the flow as reported after the move; for an ended flow, its last report),
plus one pseudo-field of this screen: ``kind:new|ended|path|left|into`` (also
``appeared``, ``gone``, ``moved``, ``entered``; as every field term it matches the
whole word, with ``*`` as a wildcard such as ``kind:p*``;
``left`` and ``into`` are flows that left or entered the top N of answers capped at
max_stats = N, which proves neither an end nor a start), negated with ``!kind:`` or
``kind!=``.  So ``kind:path path:*INET`` lists the flows that moved onto an INET
path, and ``!kind:new app:zoom`` the Zoom flows that ended or moved.  An invalid
expression shows its error under the input and the last valid filter stays.

The list is a Line API widget: only the lines on screen are rendered, and the
(at most :data:`SHOWN_LIMIT`) matching events are only collected again when the
store's events or the filter changed.

Every appliance string is shown as data, never parsed as markup.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from flowtop.core import glyphs
from flowtop.core.errors import FilterError
from flowtop.core.filter import FlowFilter, compile_filter, wildcard_match
from flowtop.core.model import strip_control
from flowtop.core.store import EventKind, Failover, FlowEvent

# The newest matching events shown; the store keeps a few thousand at most.
SHOWN_LIMIT: Final = 500
# Failovers listed in the band; older ones are counted.
FAILOVER_LINES: Final = 3
REFRESH_SECONDS: Final = 1.0
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

# Words accepted after ``kind:``, whole or by a ``*`` pattern (``kind:p*``).
KIND_WORDS: Final[dict[str, EventKind]] = {
    "new": EventKind.APPEARED,
    "appeared": EventKind.APPEARED,
    "ended": EventKind.ENDED,
    "gone": EventKind.ENDED,
    "path": EventKind.PATH,
    "moved": EventKind.PATH,
    "left": EventKind.LEFT,
    "into": EventKind.ENTERED,
    "entered": EventKind.ENTERED,
}
_KIND_TERM = re.compile(r"([!-]?)(kind)(>=|<=|!=|==|[:=~<>])", re.IGNORECASE)


# ---- the filter -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A compiled events filter: kind terms (all must hold) and a flow filter."""

    expression: str
    kinds: tuple[tuple[frozenset[EventKind], bool], ...]
    flow_filter: FlowFilter

    @property
    def is_empty(self) -> bool:
        return not self.kinds and self.flow_filter.is_empty

    def matches(self, event: FlowEvent) -> bool:
        kind = event.kind
        for allowed, negated in self.kinds:
            if (kind in allowed) == negated:
                return False
        return self.flow_filter.matches(event.flow)


def compile_event_filter(expression: str) -> EventFilter:
    """Compile an events filter; raises :class:`FilterError` with the 0-based position."""
    kinds: list[tuple[frozenset[EventKind], bool]] = []
    rest = expression
    for start, end in _terms(expression):
        match = _KIND_TERM.match(expression, start, end)
        if match is None:
            continue
        negated = bool(match[1])
        operator = match[3]
        if operator not in (":", "=", "==", "!="):
            raise FilterError(
                f'kind takes ":" and a kind (new, ended, left, into, path), not "{operator}"',
                match.start(2),
            )
        if operator == "!=":
            negated = not negated
        kinds.append((_kinds(expression[match.end() : end], match.end()), negated))
        # Blank the term out rather than cut it, so the flow filter's error positions
        # still point into the text as typed.
        rest = rest[:start] + " " * (end - start) + rest[end:]
    return EventFilter(expression, tuple(kinds), compile_filter(rest))


def _terms(expression: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each whitespace-separated term; quoted spaces stay inside."""
    position, end = 0, len(expression)
    while position < end:
        if expression[position].isspace():
            position += 1
            continue
        start = position
        while position < end and not expression[position].isspace():
            if expression[position] == '"':
                position += 1
                while position < end and expression[position] != '"':
                    position += 2 if expression[position] == "\\" else 1
            position += 1
        yield start, min(position, end)


def _kinds(value: str, position: int) -> frozenset[EventKind]:
    kinds: set[EventKind] = set()
    offset = position
    for part in value.split("|"):
        word = part.strip('"').lower()
        if not word:
            raise FilterError("kind needs a value: new, ended, left, into or path", offset)
        # A quoted star is a plain star, which no kind holds: only bare ones are wildcards.
        wild = not part.startswith('"')
        found = {
            kind
            for name, kind in KIND_WORDS.items()
            if name == word or (wild and wildcard_match(name, word))
        }
        if not found:
            shown = strip_control(part)[:40]
            raise FilterError(
                f'unknown event kind "{shown}" (new, ended, left, into or path)', offset
            )
        kinds |= found
        offset += len(part) + 1
    return frozenset(kinds)


MATCH_ALL_EVENTS: Final = compile_event_filter("")


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
    if event.kind is EventKind.PATH:
        old_path, new_path = event.old_path, event.new_path
    else:
        old_path, new_path = "", flow.path or ""
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
        self._strips: dict[int, Strip] = {}
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
            if len(self._strips) > 4 * max(1, self.size.height) + 64:
                self._strips.clear()
            self._strips[index] = strip
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


@dataclass(frozen=True, slots=True)
class _Signature:
    """What the list was built from; the same again means nothing to rebuild."""

    events: int
    newest_event: FlowEvent | None
    failovers: int
    newest_failover: Failover | None
    event_filter: EventFilter
    today: tuple[int, int]


class EventsScreen(Screen[None]):
    """The events of the store, newest first, refreshed live while open.

    ``get_events`` and ``get_failovers`` are called on every refresh (after each
    poll through :meth:`refresh_events`, and once a second); the list is only
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
        self._signature: _Signature | None = None
        self._rebuilds = 0
        self._ready = False
        self._known_lines: dict[int, EventLine] = {}
        self._known_day: tuple[int, int] | None = None
        self._shown_failovers: tuple[int, Failover | None, tuple[int, int]] | None = None

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
    def rebuilds(self) -> int:
        """How many times the list was rebuilt (it is skipped when nothing changed)."""
        return self._rebuilds

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
        signature = _Signature(
            len(events),
            events[-1] if events else None,
            len(failovers),
            failovers[-1] if failovers else None,
            self._filter,
            today,
        )
        if self._signature is not None and _same(signature, self._signature):
            return
        self._signature = signature
        self._rebuilds += 1
        self._show_failovers(failovers, today)
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
        self.set_interval(REFRESH_SECONDS, self.refresh_events)

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
        shown = (len(failovers), failovers[-1] if failovers else None, today)
        if self._shown_failovers is not None and (
            shown[0] == self._shown_failovers[0]
            and shown[1] is self._shown_failovers[1]
            and shown[2] == self._shown_failovers[2]
        ):
            return  # unchanged: an update would cost a layout pass
        self._shown_failovers = shown
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


def _same(new: _Signature, old: _Signature) -> bool:
    # The newest event and failover compare by identity: the store appends new objects,
    # and two distinct events can be equal field for field.
    return (
        new.events == old.events
        and new.newest_event is old.newest_event
        and new.failovers == old.failovers
        and new.newest_failover is old.newest_failover
        and new.event_filter is old.event_filter
        and new.today == old.today
    )
