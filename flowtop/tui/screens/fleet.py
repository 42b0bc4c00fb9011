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
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from flowtop.core import glyphs
from flowtop.core.fleet import MemberSummary
from flowtop.core.model import strip_control
from flowtop.core.units import format_age, format_count, format_rate

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
    key: str, title: str, shown: Callable[[float], str], value: Callable[[MemberSummary], float]
) -> FleetColumn:
    """A figure of the appliance's flows: unknown until it has answered, sorting last."""
    return FleetColumn(key, title, _figure(lambda s: shown(value(s))), _known(value), numeric=True)


COLUMNS: tuple[FleetColumn, ...] = (
    # The appliances in the order of their profiles (as 1-9 number them), then by name.
    FleetColumn("order", "#", lambda s, n: Text(str(n) if n <= 9 else "", "dim"), lambda s: 0),
    FleetColumn("name", "Appliance", _name, lambda s: s.name),
    FleetColumn("state", "State", _state, lambda s: s.state),
    FleetColumn("host", "Host", lambda s, n: Text(strip_control(s.source)), lambda s: s.source),
    FleetColumn("flows", "Flows", _figure(_flows), _known(lambda s: s.flows), numeric=True),
    _number("pps", "pps", format_count, lambda s: s.pps),
    _number("rate", "Rate", format_rate, lambda s: s.kbps),
    _number("out", "LAN>WAN", format_rate, lambda s: s.lan_to_wan_kbps),
    _number("in", "WAN>LAN", format_rate, lambda s: s.wan_to_lan_kbps),
    FleetColumn(
        "app",
        "Top application",
        lambda s, n: Text(strip_control(s.top_application)),
        lambda s: s.top_application,
    ),
    FleetColumn(
        "path",
        "Busiest path",
        lambda s, n: Text(strip_control(s.busiest_path)),
        lambda s: s.busiest_path,
    ),
    FleetColumn(
        "failover",
        "Failover",
        lambda s, n: Text(
            f"{format_age(s.since_failover * 1000)} ago" if s.since_failover is not None else "",
        ),
        lambda s: s.since_failover,
        numeric=True,
    ),
    FleetColumn(
        "latency",
        "Latency",
        lambda s, n: Text(f"{s.latency * 1000:.0f}ms" if s.latency is not None else ""),
        lambda s: s.latency,
        numeric=True,
    ),
    FleetColumn(
        "trend",
        "Rate history",
        lambda s, n: Text(sparkline(s.rates, 16), "green"),
        lambda s: s.kbps,
    ),
    FleetColumn("every", "Polls", _rate_on, lambda s: (not s.foreground, s.interval)),
    FleetColumn("why", "Why", _why, lambda s: s.reason or None),
)


def row_text(summary: MemberSummary) -> str:
    """Every text of a row, for the filter."""
    return " ".join(
        (summary.name, summary.source, summary.state, summary.reason, summary.top_application,
         summary.busiest_path)
    ).casefold()  # fmt: skip


class FleetScreen(Screen[None]):
    """The appliances of the fleet; the app calls :meth:`show` after each poll."""

    DEFAULT_CSS = """
    FleetScreen #fleet-status { height: 1; background: $panel; }
    FleetScreen DataTable { height: 1fr; }
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

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-status")
        table: DataTable[Text] = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Input(placeholder="filter appliances (enter: keep, esc: clear)", id="fleet-filter")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column.title, key=column.key)
        self._draw()
        table.focus()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#fleet-table", DataTable)

    def show(self, summaries: Sequence[MemberSummary], notice: str = "") -> None:
        self._summaries = list(summaries)
        if notice:
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
        table.clear()
        for summary in ordered:
            number = numbers[summary.name]
            table.add_row(*(c.cell(summary, number) for c in COLUMNS), key=summary.name)
        self.shown_names = [summary.name for summary in ordered]
        if selected in self.shown_names:
            table.move_cursor(row=self.shown_names.index(selected), animate=False)
        self._draw_status()

    def _draw_status(self) -> None:
        live = sum(1 for s in self._summaries if s.state in ANSWERING)
        text = Text()
        text.append(" FLEET ", "bold black on cyan")
        text.append(f" {strip_control(self._title)}  ", "bold")
        text.append(f"{live}/{len(self._summaries)} live", "bold")
        text.append("  enter opens, a all flows, 1-9 jump", "dim")
        column = next(c for c in COLUMNS if c.key == self._sort)
        mark = glyphs.current().sort_mark(self._descending)
        text.append(f"  sort {column.title}{mark}", "dim")
        if self._filter:
            text.append("  filter ", "")
            text.append(self._filter, "bold yellow")
        if self._notice:
            text.append("  ")
            text.append(strip_control(self._notice), "bold yellow")
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

    def action_open_all(self) -> None:
        self.post_message(self.Opened(None))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(str(event.row_key.value)))

    def action_sort_step(self, step: int) -> None:
        keys = [column.key for column in COLUMNS]
        self._sort = keys[(keys.index(self._sort) + step) % len(keys)]
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
