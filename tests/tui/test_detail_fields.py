"""The detail pane shows every registry field once, in its section, with its label."""

from __future__ import annotations

import io

from rich.console import Console

from flowtop.core import glyphs
from flowtop.core.fields import FIELDS, SECTIONS
from flowtop.core.model import Flow
from flowtop.tui.widgets.detail import flow_fields_table


def _text(flow: Flow) -> str:
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(flow_fields_table(flow))
    return console.export_text()


def test_every_field_in_its_section_in_registry_order() -> None:
    lines = _text(Flow.from_raw({})).splitlines()
    # An empty flow: every value is the missing mark, the path "(none)".
    missing = glyphs.current().missing
    labels = [line.replace(missing, "").replace("(none)", "").strip() for line in lines]
    expected: list[str] = []
    for section in SECTIONS:
        expected.append(section)
        for field in FIELDS:
            if field.section == section:
                shown = f"{field.title} ({field.name})" if field.show_api_name else field.title
                expected.append(shown)
    assert [label for label in labels if label] == expected


def test_units_come_from_the_registry() -> None:
    text = _text(Flow.from_raw({"hdr_compression_bytes": "12000", "ipsec_overhead_kbps": "21000"}))
    assert "12.0k" in text  # bytes
    assert "21.0 Mb/s" in text  # kbps spelled out as a rate
