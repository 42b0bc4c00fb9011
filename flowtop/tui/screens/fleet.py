"""The fleet screen: one row per appliance of the fleet, the first thing a NOC sees.

``enter`` opens the appliance's flow view (the usual screen), ``esc`` there comes back;
``1``-``9`` open the first nine from anywhere.  ``<``/``>`` sort by the column to the
left or right and ``i`` inverts, as in the flow table; ``/`` filters by any text of a
row (name, host, state, application, path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from flowtop.core import glyphs
from flowtop.core.fleet import MemberSummary
from flowtop.core.model import strip_control
from flowtop.core.units import format_age, format_count, format_rate
from flowtop.tui.footer import fit_footer

STATE_STYLES = {
    "LIVE": "bold black on green",
    "STALE": "bold white on red",
    "STOPPED": "bold white on red",
    "PAUSED": "bold black on yellow",
    "CONNECTING": "bold black on cyan",
    "REPLAY": "bold black on cyan",
}
# The states of an appliance whose figures are current (a replay's are as recorded).
ANSWERING = frozenset({"LIVE", "REPLAY"})


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as one line of bars, scaled to their maximum."""
    bars = glyphs.current().spark
    shown = list(values)[-width:]
    top = max(shown, default=0.0)
    if top <= 0:
        return bars[0] * len(shown)
    return "".join(bars[min(len(bars) - 1, int(value / top * (len(bars) - 1)))] for value in shown)


def _known(value: Callable[[MemberSummary], Any]) -> Callable[[MemberSummary], Any]:
    """A sort value that is missing (sorts last) until the appliance has answered."""
    return lambda summary: value(summary) if summary.answered else None


@dataclass(frozen=True, slots=True)
class FleetColumn:
    key: str
    title: str
    # The cell, and the value it sorts by (None sorts last).
    cell: Callable[[MemberSummary, int], Text]
    sort: Callable[[MemberSummary], Any]
    numeric: bool = False
    # Narrow terminals drop the columns of the highest priority number first (as the
    # flow table does): at 80 columns the name, state, flows, rate and why remain.
    priority: int = 1
    # The cells it takes, about (its widest usual value and the table's padding).
    width: int = 10


# A state's reason is cut to this many cells in its row (the flow view shows it whole).
REASON_WIDTH = 40


def _state(summary: MemberSummary, number: int) -> Text:
    return Text(f" {summary.state} ", STATE_STYLES.get(summary.state, "bold"))


def _why(summary: MemberSummary, number: int) -> Text:
    """The last part of the error says why ("...: Invalid username or password"); the
    appliance's flow view shows it whole."""
    if not summary.reason:
        return Text("")
    reason = Text(strip_control(summary.reason).rsplit(": ", 1)[-1], "red")
    reason.truncate(REASON_WIDTH, overflow="ellipsis")
    return reason


def _figure(text: Callable[[MemberSummary], str]) -> Callable[[MemberSummary, int], Text]:
    """A number of the appliance's flows: unknown (not 0) until it has answered."""

    def cell(summary: MemberSummary, number: int) -> Text:
        if not summary.answered:
            return Text(glyphs.current().missing, "dim")
        return Text(text(summary))

    return cell


def _name(summary: MemberSummary, number: int) -> Text:
    return Text(strip_control(summary.name), "bold")


def _flows(summary: MemberSummary) -> str:
    return f"{summary.flows}{'+' if summary.capped is not None else ''}"


def _rate_on(summary: MemberSummary, number: int) -> Text:
    every = f"{summary.interval:g}s/{summary.max_stats}"
    return Text(every, "bold" if summary.foreground else "dim")


def _number(
    key: str,
    title: str,
    shown: Callable[[float], str],
    value: Callable[[MemberSummary], float],
    priority: int,
    width: int,
) -> FleetColumn:
    """A figure of the appliance's flows: unknown until it has answered, sorting last."""
    return FleetColumn(
        key, title, _figure(lambda s: shown(value(s))), _known(value), True, priority, width
    )


def _text(
    key: str, title: str, value: Callable[[MemberSummary], str], priority: int, width: int
) -> FleetColumn:
    """A text of the appliance (from the appliance: never markup, no control character)."""
    return FleetColumn(
        key, title, lambda s, n: Text(strip_control(value(s))), value, False, priority, width
    )


COLUMNS: tuple[FleetColumn, ...] = (
    # The appliances in the order of their profiles (as 1-9 number them), then by name.
    FleetColumn(
        "order", "#", lambda s, n: Text(str(n) if n <= 9 else "", "dim"), lambda s: 0, width=3
    ),
    FleetColumn("name", "Appliance", _name, lambda s: s.name, width=12),
    FleetColumn("state", "State", _state, lambda s: s.state, width=11),
    _text("host", "Host", lambda s: s.source, 4, 16),
    FleetColumn(
        "flows", "Flows", _figure(_flows), _known(lambda s: s.flows), numeric=True, width=7
    ),
    _number("pps", "pps", format_count, lambda s: s.pps, 2, 8),
    _number("rate", "Rate", format_rate, lambda s: s.kbps, 1, 12),
    _number("out", "LAN>WAN", format_rate, lambda s: s.lan_to_wan_kbps, 3, 11),
    _number("in", "WAN>LAN", format_rate, lambda s: s.wan_to_lan_kbps, 3, 11),
    _text("app", "Top application", lambda s: s.top_application, 2, 16),
    _text("path", "Busiest path", lambda s: s.busiest_path, 3, 19),
    FleetColumn(
        "failover",
        "Failover",
        lambda s, n: Text(
            f"{format_age(s.since_failover * 1000)} ago" if s.since_failover is not None else "",
        ),
        lambda s: s.since_failover,
        numeric=True,
        priority=4,
        width=11,
    ),
    FleetColumn(
        "latency",
        "Latency",
        lambda s, n: Text(f"{s.latency * 1000:.0f}ms" if s.latency is not None else ""),
        lambda s: s.latency,
        numeric=True,
        priority=2,
        width=9,
    ),
    FleetColumn(
        "trend",
        "Rate history",
        lambda s, n: Text(sparkline(s.rates, 16), "green"),
        lambda s: s.kbps,
        priority=4,
        width=18,
    ),
    FleetColumn(
        "every", "Polls", _rate_on, lambda s: (not s.foreground, s.interval), priority=2, width=9
    ),
    FleetColumn("why", "Why", _why, lambda s: s.reason or None, width=32),
)
PRIORITIES: tuple[int, ...] = tuple(sorted({column.priority for column in COLUMNS}))


# A table cell's padding, left and right.
CELL_PADDING = 2
# How far the last column reaches past the right edge, in cells (see _fit_columns).
LAST_COLUMN_REACH = 3


def columns_for(
    width: int, widths: Callable[[FleetColumn], int] | None = None
) -> tuple[FleetColumn, ...]:
    """The columns that fit ``width`` cells: the highest priority numbers go first, the
    first priority always stays (a NOC at 80 columns still sees state and why).
    ``widths`` measures a column (its widest cell now); else its usual width."""
    measure = widths or (lambda column: column.width)
    for highest in reversed(PRIORITIES):
        shown = tuple(column for column in COLUMNS if column.priority <= highest)
        if sum(map(measure, shown)) <= width or highest == PRIORITIES[0]:
            return shown
    return COLUMNS


def row_text(summary: MemberSummary) -> str:
    """Every text of a row, for the filter."""
    return " ".join(
        (summary.name, summary.source, summary.state, summary.reason, summary.top_application,
         summary.busiest_path)
    ).casefold()  # fmt: skip


class FleetScreen(Screen[None]):
    """The appliances of the fleet; the app calls :meth:`show` after each poll."""

    DEFAULT_CSS = """
    FleetScreen #fleet-status { height: auto; max-height: 3; background: $panel; }
    FleetScreen DataTable { height: 1fr; overflow-x: hidden; }
    FleetScreen #fleet-filter { display: none; height: 1; border: none; padding: 0 1; }
    FleetScreen #fleet-filter.-open { display: block; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding: the table's own enter would only select the row.
        Binding("enter", "open_selected", "Open", priority=True, key_display="enter"),
        Binding("a", "open_all", "All flows"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("less_than_sign", "sort_step(-1)", "Sort left", show=False, key_display="<"),
        Binding("greater_than_sign", "sort_step(1)", "Sort right", show=False, key_display=">"),
        Binding("i", "invert", "Invert", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    class Opened(Message):
        """The user opens this appliance's flow view (None: every appliance's flows)."""

        def __init__(self, name: str | None) -> None:
            self.name = name
            super().__init__()

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title
        self._summaries: list[MemberSummary] = []
        self._sort = "order"
        self._descending = False
        self._filter = ""
        self._notice = ""
        self.shown_names: list[str] = []
        # The columns that fit the screen's width (see columns_for).
        self.columns: tuple[FleetColumn, ...] = COLUMNS
        self._width = 0
        # The last column's width with its padding (see _fit_columns).
        self._last_width = 0
        # The status line as last drawn.
        self.status_line = Text()

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-status")
        table: DataTable[Text] = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Input(placeholder="filter appliances (enter: keep, esc: clear)", id="fleet-filter")
        yield Footer()

    def on_mount(self) -> None:
        self._fit(self.size.width)
        self.table.focus()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        self._width = width
        fit_footer(self.query_one(Footer), width)
        self._draw()

    def _fit_columns(self, cells: dict[str, list[Text]]) -> None:
        """The columns that fit the screen with the cells of now, the table's columns
        rebuilt when they change."""

        def measured(column: FleetColumn) -> int:
            texts = cells.get(column.key, [])
            widest = max((text.cell_len for text in texts), default=0)
            return max(widest, len(column.title)) + CELL_PADDING

        # Less a vertical scrollbar's room.
        columns = columns_for(self._width - CELL_PADDING, measured)
        # The last column reaches a little past the right edge (cropped: no horizontal
        # scrolling): no blank stretch after the columns, which Textual versions draw
        # in different colours.
        others = sum(measured(column) for column in columns[:-1])
        last = max(measured(columns[-1]), self._width - others + LAST_COLUMN_REACH)
        table = self.table
        if columns != self.columns or last != self._last_width or not table.columns:
            self.columns = columns
            self._last_width = last
            table.clear(columns=True)
            for column in columns:
                width = last - CELL_PADDING if column is columns[-1] else None
                table.add_column(column.title, key=column.key, width=width)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#fleet-table", DataTable)

    def show(self, summaries: Sequence[MemberSummary], notice: str = "") -> None:
        """The appliances' rows, and the notice (a failover; empty: none now)."""
        self._summaries = list(summaries)
        self._notice = notice
        if self.is_mounted:
            self._draw()

    def _numbers(self) -> dict[str, int]:
        return {summary.name: number for number, summary in enumerate(self._summaries, 1)}

    def _draw(self) -> None:
        table = self.table
        numbers = self._numbers()
        wanted = [s for s in self._summaries if not self._filter or self._filter in row_text(s)]
        column = next(c for c in COLUMNS if c.key == self._sort)
        if column.key == "order":
            position = {name: index for index, name in enumerate(numbers)}
            wanted.sort(key=lambda summary: position[summary.name], reverse=self._descending)
        present = [s for s in wanted if column.sort(s) is not None]
        missing = [s for s in wanted if column.sort(s) is None]
        present.sort(key=column.sort, reverse=self._descending)
        ordered = present + missing
        selected = self.selected_name
        cells = {
            c.key: [c.cell(summary, numbers[summary.name]) for summary in ordered] for c in COLUMNS
        }
        self._fit_columns(cells)
        table.clear()
        for row, summary in enumerate(ordered):
            table.add_row(*(cells[c.key][row] for c in self.columns), key=summary.name)
        self.shown_names = [summary.name for summary in ordered]
        if selected in self.shown_names:
            table.move_cursor(row=self.shown_names.index(selected), animate=False)
        self._draw_status()

    def _draw_status(self) -> None:
        """The fleet's line: the keys' hint goes first when it does not fit, then the
        sort; a notice (a failover) has a line of its own, whole."""
        live = sum(1 for s in self._summaries if s.state in ANSWERING)
        width = self.size.width or 80
        head = Text()
        head.append(" FLEET ", "bold black on cyan")
        head.append(f" {strip_control(self._title)}  ", "bold")
        head.append(f"{live}/{len(self._summaries)} live", "bold")
        hint = Text("  enter opens, a all flows, 1-9 jump", "dim")
        column = next(c for c in COLUMNS if c.key == self._sort)
        mark = glyphs.current().sort_mark(self._descending)
        sort = Text(f"  sort {column.title}{mark}", "dim")
        shown = Text()
        if self._filter:
            shown.append("  filter ", "")
            shown.append(self._filter, "bold yellow")
        parts = [head, hint, sort, shown]
        for extra in (hint, sort):
            # The hint, then the sort: the filter in force stays.
            if sum(part.cell_len for part in parts) > width:
                parts = [part for part in parts if part is not extra]
        text = Text(no_wrap=True, overflow="ellipsis")
        for part in parts:
            text.append_text(part)
        if self._notice:
            text.append("\n")
            text.append(" NOTE ", "bold black on yellow")
            text.append(" ")
            text.append(strip_control(self._notice), "bold yellow")
        self.status_line = text
        self.query_one("#fleet-status", Static).update(text)

    @property
    def selected_name(self) -> str | None:
        table = self.table
        if not self.shown_names or table.cursor_row is None:
            return None
        row = table.cursor_row
        return self.shown_names[row] if 0 <= row < len(self.shown_names) else None

    def action_open_selected(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        if field.has_focus:
            # In the filter: keep it and go back to the rows.
            field.remove_class("-open")
            self.table.focus()
            return
        name = self.selected_name
        if name is not None:
            self.post_message(self.Opened(name))

    def on_key(self, event: events.Key) -> None:
        """A key of the flow view pressed here: say where it works, not nothing."""
        if not self.table.has_focus or event.key in _OWN_KEYS:
            return  # typing into the filter, or a key of this screen's
        described = getattr(self.app, "flow_view_key", None)
        what = described(event.key) if described is not None else None
        if what:
            self.notify(
                f"{what} ({event.key}) works in a flow view: enter opens an appliance, "
                "a every appliance's flows",
                timeout=3,
                markup=False,
            )

    def action_open_all(self) -> None:
        self.post_message(self.Opened(None))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(str(event.row_key.value)))

    def action_sort_step(self, step: int) -> None:
        # Through the columns shown: an order by a hidden column reads as disorder.
        keys = [column.key for column in self.columns]
        index = keys.index(self._sort) if self._sort in keys else 0
        self._sort = keys[(index + step) % len(keys)]
        column = next(c for c in COLUMNS if c.key == self._sort)
        # Numbers biggest first, text A to Z, as in the flow table.
        self._descending = column.numeric
        self._draw()

    def action_invert(self) -> None:
        self._descending = not self._descending
        self._draw()

    def action_filter(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        field.add_class("-open")
        field.value = self._filter
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip().casefold()
        self._draw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#fleet-filter", Input).remove_class("-open")
        self.table.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        field.remove_class("-open")
        if self._filter:
            self._filter = ""
            field.value = ""
            self._draw()
        self.table.focus()


# The keys this screen binds itself (the flow view's meaning of them does not apply).
_OWN_KEYS: frozenset[str] = frozenset(
    key.strip()
    for binding in FleetScreen.BINDINGS
    if isinstance(binding, Binding)
    for key in binding.key.split(",")
)
