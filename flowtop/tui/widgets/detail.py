"""The detail pane: every field of the selected flow, its rate history and path timeline."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from flowtop.core import glyphs
from flowtop.core.columns import RATE_TITLE
from flowtop.core.model import Flow, format_endpoint, strip_control
from flowtop.core.store import FlowRecord, SeriesStats
from flowtop.core.units import format_age, format_bytes, format_count, format_kbps, format_rate
from flowtop.tui.ascii import GlyphSparkline

# (section title, [(label, field, formatter)]); formatter None shows the value as text.
_SECTIONS: tuple[tuple[str, tuple[tuple[str, str, Any], ...]], ...] = (
    (
        "Endpoints",
        (
            ("Source", "src_ip", None),
            ("Source port", "src_port", None),
            ("Destination", "dest_ip", None),
            ("Dest port", "dest_port", None),
            ("Protocol", "ipp", "protocol"),
            ("Direction", "direction", None),
            ("LAN gateway", "lan_gw_ip", None),
        ),
    ),
    (
        "Path and service",
        (
            ("Path", "path", None),
            ("Service type", "service_type", None),
            ("Service name", "service_name", None),
            ("Transmission", "transmission_type", None),
            ("Application", "application", None),
        ),
    ),
    (
        "QoS and rules",
        (
            ("DSCP", "ip_dscp", None),
            ("Class type", "class_type", None),
            ("Path class ID", "vpathclass", None),
            ("Rule ID", "rule_id", None),
            ("App rule ID", "app_rule_id", None),
        ),
    ),
    (
        "Counters",
        (
            ("Bytes", "bytes", "bytes"),
            ("Packets", "packets", "count"),
            ("Hit count", "hitcount", "count"),
            ("Hdr compression", "hdr_compression_bytes", "bytes"),
            ("Age", "age", "age"),
        ),
    ),
    (
        "Rates and overheads",
        (
            ("pps", "pps", "count"),
            ("Rate", "customer_kbps", "kbps"),
            ("IPsec overhead", "ipsec_overhead_kbps", "kbps"),
            ("Path overhead", "virtual_path_overhead_kbps", "kbps"),
        ),
    ),
)


def _exact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# Shown for an empty path (a passthrough flow), as the path groups call it.
NO_PATH = "(none)"
# The unit of the exact value, where the human one says it differently.
_EXACT_UNITS = {"kbps": " kbps", "bytes": " bytes"}


# Fields whose API name is not just the label's words: it is shown beside the label,
# so what the pane says can be found in the API reference and the filter.
_API_NAME_SHOWN = frozenset(
    {"vpathclass", "rule_id", "app_rule_id", "ipp", "hitcount", "customer_kbps", "ip_dscp"}
)


def _label(label: str, name: str) -> Text:
    """A readable label, with the API's field name beside it where that reads differently."""
    text = Text(label)
    if name in _API_NAME_SHOWN:
        text.append(f" ({name})", "italic")
    return text


def _shown(flow: Flow, name: str, kind: str | None) -> Text:
    value = getattr(flow, name)
    missing = glyphs.current().missing
    if kind == "protocol":
        return Text(f"{flow.protocol} ({flow.ipp})" if flow.ipp is not None else missing, "bold")
    if value is None or (name == "path" and value == ""):
        raw = flow.unparsed.get(name)
        if raw is not None:
            return Text(f"unreadable: {strip_control(repr(raw))[:60]}", "italic red")
        return Text(NO_PATH if name == "path" else missing, "dim")
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


def _stats_line(label: str, stats: SeriesStats, formatter: Any) -> Text:
    def shown(value: float | None) -> str:
        return glyphs.current().missing if value is None else formatter(value)

    text = Text(f"{label} ", "bold")
    text.append(f"now {shown(stats.current)}  ")
    text.append(f"min {shown(stats.minimum)}  ", "dim")
    text.append(f"max {shown(stats.maximum)}  ", "dim")
    text.append(f"avg {shown(stats.mean)}", "dim")
    return text


def flow_fields_table(flow: Flow) -> Table:
    """Every field of the flow, grouped, as a Rich table of Text (never markup)."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for title, fields in _SECTIONS:
        table.add_row(Text(title, "bold"), Text(""))
        for label, name, kind in fields:
            table.add_row(_label(label, name), _shown(flow, name, kind))
    extras = flow.extras
    if extras:
        table.add_row(Text("Other fields", "bold"), Text(""))
        for name, value in extras.items():
            table.add_row(Text(strip_control(name)), Text(strip_control(str(value))))
    return table


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


def _finite(values: Sequence[float]) -> list[float]:
    return [0.0 if math.isnan(v) else v for v in values]


class DetailPane(VerticalScroll):
    """Shows one flow record; the app calls :meth:`show` after each tick."""

    DEFAULT_CSS = """
    DetailPane { padding: 0 1; }
    DetailPane > .detail-title { text-style: bold; }
    DetailPane > Sparkline { height: 2; margin-bottom: 1; }
    DetailPane > .detail-heading { text-style: bold; margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text("No flow selected", "dim"), id="detail-title", classes="detail-title")
        yield Static("", id="pps-label")
        yield GlyphSparkline([], id="pps-spark")
        yield Static("", id="kbps-label")
        yield GlyphSparkline([], id="kbps-spark")
        yield Static(Text("Path timeline"), classes="detail-heading")
        yield Static("", id="timeline")
        yield Static("", id="fields")

    def show(self, record: FlowRecord | None, now: float, *, stale: bool = False) -> None:
        title = self.query_one("#detail-title", Static)
        if record is None:
            title.update(Text("No flow selected", "dim"))
            for name in ("#pps-label", "#kbps-label", "#timeline", "#fields"):
                self.query_one(name, Static).update("")
            self.query_one("#pps-spark", Sparkline).data = []
            self.query_one("#kbps-spark", Sparkline).data = []
            return
        flow = record.flow
        heading = Text(
            f"{format_endpoint(flow.src_ip, flow.src_port)}{glyphs.current().arrow}"
            f"{format_endpoint(flow.dest_ip, flow.dest_port)} {flow.protocol}",
            "bold",
        )
        if record.key.occurrence:
            heading.append(f"  (repeated key #{record.key.occurrence + 1})", "yellow")
        if stale:
            heading.append("  (stale)", "bold red")
        title.update(heading)
        pps = record.pps.values()
        kbps = record.kbps.values()
        self.query_one("#pps-label", Static).update(
            _stats_line("pps  ", SeriesStats.of(pps), format_count)
        )
        self.query_one("#kbps-label", Static).update(
            _stats_line(RATE_TITLE, SeriesStats.of(kbps), format_kbps)
        )
        self.query_one("#pps-spark", Sparkline).data = _finite(pps)
        self.query_one("#kbps-spark", Sparkline).data = _finite(kbps)
        self.query_one("#timeline", Static).update(_timeline(record, now))
        self.query_one("#fields", Static).update(flow_fields_table(flow))
