"""The detail pane: every field of the selected flow, its rate history and path timeline."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from flowtop.core import glyphs
from flowtop.core.columns import NO_PATH
from flowtop.core.fields import FIELDS, FLEET_FIELDS, SECTIONS
from flowtop.core.model import Flow, format_endpoint, strip_control
from flowtop.core.store import FlowRecord, SeriesStats
from flowtop.core.units import format_age, format_bytes, format_count, format_kbps, format_rate
from flowtop.tui.derived_rows import derived_rows
from flowtop.tui.widgets.text_lines import DEFAULT_WIDTH, TextLines

# (section title, [(label, field, unit)]) from the field registry; unit None shows the
# value as text.
_SECTIONS: tuple[tuple[str, tuple[tuple[str, str, Any], ...]], ...] = tuple(
    (
        section,
        tuple((f.title, f.name, f.unit) for f in (*FLEET_FIELDS, *FIELDS) if f.section == section),
    )
    for section in SECTIONS
)
# Fields a flow has only in a fleet (its appliance): left out where it has none.
_FLEET_NAMES = frozenset(field.name for field in FLEET_FIELDS)


def _exact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# The fewest cells a value column is given before labels are cut.
MIN_VALUE_WIDTH = 12

# The unit of the exact value, where the human one says it differently.
_EXACT_UNITS = {"kbps": " kbps", "bytes": " bytes"}


# Fields whose API name is not just the label's words: it is shown beside the label,
# so what the pane says can be found in the API reference and the filter.
_API_NAME_SHOWN = frozenset(field.name for field in FIELDS if field.show_api_name)


@functools.lru_cache(maxsize=256)
def _label(label: str, name: str) -> Text:
    """A readable label, with the API's field name beside it where that reads differently.

    Cached (never modify the result): the labels are the same every poll."""
    text = Text(label)
    if name in _API_NAME_SHOWN:
        text.append(f" ({name})", "italic")
    return text


def _shown(flow: Flow, name: str, kind: str | None) -> Text:
    value = getattr(flow, name)
    if kind == "protocol":
        return _shown_protocol(flow.protocol, flow.ipp, glyphs.current().missing)
    if value is None or (name == "path" and value == ""):
        raw = flow.unparsed.get(name)
        if raw is not None:
            return Text(f"unreadable: {strip_control(repr(raw))[:60]}", "italic red")
        return Text(NO_PATH if name == "path" else glyphs.current().missing, "dim")
    # The type is part of the key: 1, 1.0 and True are equal but are shown differently.
    return _shown_value(value, type(value).__name__, kind)


@functools.lru_cache(maxsize=64)
def _shown_protocol(protocol: str, ipp: int | None, missing: str) -> Text:
    return Text(f"{protocol} ({ipp})" if ipp is not None else missing, "bold")


@functools.lru_cache(maxsize=4096)
def _shown_value(value: Any, value_type: str, kind: str | None) -> Text:
    """A field's value as the pane shows it. Cached (never modify the result): most
    values are the same from one poll to the next."""
    if kind is None:
        return Text(str(value))
    human = {
        "bytes": format_bytes,
        "count": format_count,
        "kbps": format_rate,
        "age": format_age,
    }[kind](value)
    text = Text(human, "bold")
    exact = _exact(value)
    # The exact value, when the human one rounded it: 21.0 Mb/s  (21,000 kbps).
    rounded = human != exact and not (kind == "kbps" and human.endswith(" kb/s"))
    if kind != "age" and value != 0 and rounded:
        text.append(f"  ({exact}{_EXACT_UNITS.get(kind, '')})", "dim")
    return text


def flow_fields_rows(flow: Flow) -> list[tuple[Text, Text]]:
    """Every field of the flow, grouped: (label, value) rows of Text (never markup)."""
    rows: list[tuple[Text, Text]] = []
    for title, fields in _SECTIONS:
        rows.append((Text(title, "bold"), Text("")))
        for label, name, kind in fields:
            if name in _FLEET_NAMES and flow.value(name) is None:
                continue
            rows.append((_label(label, name), _shown(flow, name, kind)))
    # Measured rates, averages and peaks (flowtop.core.derived), beside the reported rates.
    rows.extend(derived_rows(flow))
    extras = flow.extras
    if extras:
        rows.append((Text("Other fields", "bold"), Text("")))
        for name, value in extras.items():
            rows.append((Text(strip_control(name)), Text(strip_control(str(value)))))
    return rows


def _fields_table(rows: list[tuple[Text, Text]]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def flow_fields_table(flow: Flow) -> Table:
    """Every field of the flow, grouped, as a Rich table of Text (never markup)."""
    return _fields_table(flow_fields_rows(flow))


def fields_lines(rows: list[tuple[Text, Text]], width: int, console: Console) -> list[Text]:
    """The rows as screen lines of at most ``width`` cells: the labels dim and padded to
    one column, then a space and the value, a long value folded under its column."""
    if not rows or width <= 0:
        return []
    labels = max(label.cell_len for label, _ in rows)
    if width - labels - 1 < MIN_VALUE_WIDTH:
        # Too narrow for both: the labels are cut, the values keep what room there is.
        labels = max(1, min(labels, width - 1 - MIN_VALUE_WIDTH, width // 2))
    room = max(1, width - labels - 1)
    indent = " " * (labels + 1)
    lines: list[Text] = []
    for label, value in rows:
        label = label.copy()
        label.truncate(labels, overflow="ellipsis", pad=True)
        label.stylize("dim")
        parts: list[Text] = []
        for part in value.split("\n", allow_blank=True):
            if part.cell_len <= room:
                parts.append(part)
            else:
                parts.extend(part.wrap(console, room, overflow="fold"))
        for number, part in enumerate(parts or [Text("")]):
            line = Text(end="")
            if number:
                line.append(indent)
            else:
                line.append_text(label)
                line.append(" ", "dim")
            line.append_text(part)
            lines.append(line)
    return lines


def _timeline(record: FlowRecord, now: float) -> Text:
    text = Text()
    if not record.path_changes:
        text.append("no path change since first seen", "dim")
        return text
    for change in reversed(record.path_changes):
        stamp = time.strftime("%H:%M:%S", time.localtime(change.at))
        ago = format_age(max(0.0, now - change.at) * 1000)
        text.append(f"{stamp} ({ago} ago)  ", "dim")
        text.append(change.old)
        text.append(glyphs.current().arrow, "bold yellow")
        text.append(change.new)
        text.append("\n")
    text.rstrip()
    return text


# One cell of a two-line bar: eight heights each, sixteen in all.
# Two lines of eight bar heights each (the glyph set's, so ASCII terminals get theirs).
_HEIGHTS = 8
_LEVELS = 2 * _HEIGHTS


def format_span(seconds: float) -> str:
    """A time span for a label: ``30s``, ``2m30s``, ``5m``, ``1h20m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s" if minutes < 10 and rest else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def _span_label(count: int, times: Sequence[float]) -> str:
    if count <= 1:
        return "this poll" if count else "no samples yet"
    if len(times) >= count:
        return f"last {format_span(times[-1] - times[-count])}"
    return f"last {count} polls"


def _level(value: float, top: float) -> int:
    """0 for zero, else 1 to 16: a value above zero always shows."""
    if top <= 0 or value <= 0:
        return 0
    return max(1, min(_LEVELS, math.ceil(value / top * _LEVELS)))


def history_text(
    label: str,
    values: Sequence[float],
    times: Sequence[float],
    width: int,
    formatter: Any,
    bar_style: str | Style = "",
) -> Text:
    """A series as three lines: its label, span and now/min/max/avg, then a two-line bar
    chart with one column per poll, newest at the right (missing samples are gaps).

    Only the last ``width`` samples fit; the span and the figures are theirs.
    """
    width = max(1, width)
    glyph_set = glyphs.current()
    bars = glyph_set.spark
    shown = list(values[-width:])
    stats = SeriesStats.of(shown)

    def figure(value: float | None) -> str:
        return glyph_set.missing if value is None else str(formatter(value))

    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{label} ", "bold")
    text.append(_span_label(len(shown), times), "italic")
    text.append(f"  now {figure(stats.current)}  ")
    text.append(
        f"min {figure(stats.minimum)}  max {figure(stats.maximum)}  avg {figure(stats.mean)}",
        "dim",
    )
    top = stats.maximum or 0.0
    upper: list[str] = []
    lower: list[str] = []
    for value in shown:
        if math.isnan(value):
            upper.append(" ")
            lower.append(" ")
            continue
        level = _level(value, top)
        half = _HEIGHTS
        upper.append(bars[level - half - 1] if level > half else " ")
        lower.append(bars[-1] if level >= half else bars[max(0, level - 1)])
    padding = " " * (width - len(shown))
    text.append("\n" + padding)
    text.append("".join(upper), bar_style)
    text.append("\n" + padding)
    text.append("".join(lower), bar_style)
    return text


class RateHistory(TextLines):
    """One rate series of the selected flow, drawn to the width it is given."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"rate-history--bar"}
    DEFAULT_CSS = """
    RateHistory { height: 3; margin-bottom: 1; }
    RateHistory > .rate-history--bar { color: $text-success; }
    """

    def __init__(self, label: str, formatter: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._label = label
        self._formatter = formatter
        self._values: list[float] = []
        self._times: list[float] = []

    def set_series(self, values: Sequence[float], times: Sequence[float]) -> None:
        self._values = list(values)
        self._times = list(times)
        self._draw()

    def clear(self) -> None:
        self._values = []
        self._times = []
        self.set_texts([])

    def on_resize(self) -> None:
        if self._values:
            self._draw()
        else:
            super().on_resize()

    def _draw(self) -> None:
        # Before the first layout the width is unknown: a pane's usual width will do.
        width = self.content_region.width or DEFAULT_WIDTH
        style = self.get_component_rich_style("rate-history--bar", partial=True)
        text = history_text(self._label, self._values, self._times, width, self._formatter, style)
        self.set_texts([text])


class DetailPane(VerticalScroll):
    """Shows one flow record; the app calls :meth:`show` after each tick.

    Full screen (narrow terminals), up/down and j/k go to the next or previous flow
    of the table, as they would in it; page up/down scroll the pane.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "step_flow(1)", "Next flow", key_display="↓ j"),
        Binding("up,k", "step_flow(-1)", "Previous flow", key_display="↑ k"),
    ]

    class StepFlow(Message):
        """The user wants the detail of the next (1) or previous (-1) flow."""

        def __init__(self, step: int) -> None:
            self.step = step
            super().__init__()

    def action_step_flow(self, step: int) -> None:
        self.post_message(self.StepFlow(step))

    DEFAULT_CSS = """
    DetailPane { padding: 0 1; }
    DetailPane > .detail-title { text-style: bold; }
    DetailPane > .detail-heading { text-style: bold; margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        title = TextLines(wrap=True, id="detail-title", classes="detail-title")
        title.set_texts([Text("No flow selected", "dim")])
        yield title
        yield RateHistory("pps ", format_count, id="pps-history")
        yield RateHistory("Rate", format_kbps, id="kbps-history")
        yield Static(Text("Path timeline"), classes="detail-heading")
        yield TextLines(wrap=True, id="timeline")
        yield TextLines(id="fields")

    @property
    def text(self) -> str:
        """The plain text of the pane as drawn, top to bottom."""
        parts = []
        for child in self.children:
            if isinstance(child, TextLines):
                parts.append(child.text)
            elif isinstance(child, Static):
                parts.append(Text.from_markup(str(child.render())).plain)
        return "\n".join(parts)

    def show(
        self,
        record: FlowRecord | None,
        now: float,
        *,
        stale: bool = False,
        times: Sequence[float] = (),
        named: str | None = None,
        extra: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (),
    ) -> None:
        """Show ``record``; ``times`` are when its history samples were taken.

        ``named`` replaces the endpoints of the heading (names shown); ``extra`` are
        sections (title, (label, value) rows) shown before the flow's own fields."""
        title = self.query_one("#detail-title", TextLines)
        if record is None:
            title.set_texts([Text("No flow selected", "dim")])
            for name in ("#timeline", "#fields"):
                self.query_one(name, TextLines).set_texts([])
            self.query_one("#pps-history", RateHistory).clear()
            self.query_one("#kbps-history", RateHistory).clear()
            return
        flow = record.flow
        heading = Text(
            f"{format_endpoint(flow.src_ip, flow.src_port)}{glyphs.current().arrow}"
            f"{format_endpoint(flow.dest_ip, flow.dest_port)} {flow.protocol}",
            "bold",
        )
        if named is not None:
            heading = Text(named, "bold")
        if record.key.occurrence:
            heading.append(f"  (repeated key #{record.key.occurrence + 1})", "yellow")
        if stale:
            heading.append("  (stale)", "bold red")
        title.set_texts([heading])
        self.query_one("#pps-history", RateHistory).set_series(record.pps.values(), times)
        self.query_one("#kbps-history", RateHistory).set_series(record.kbps.values(), times)
        self.query_one("#timeline", TextLines).set_texts([_timeline(record, now)])
        fields = self.query_one("#fields", TextLines)
        rows = flow_fields_rows(flow)
        if extra:
            rows = _extra_rows(extra) + rows
        console = self.app.console
        fields.set_layout(lambda width: fields_lines(rows, width, console))


def _extra_rows(
    sections: Sequence[tuple[str, Sequence[tuple[str, str]]]],
) -> list[tuple[Text, Text]]:
    """Sections the app adds (names, the other direction), as (label, value) rows."""
    rows: list[tuple[Text, Text]] = []
    for section, lines in sections:
        rows.append((Text(section, "bold"), Text("")))
        for label, value in lines:
            rows.append((Text(strip_control(label)), Text(strip_control(value))))
    return rows
