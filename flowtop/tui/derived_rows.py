"""The detail pane's rows of derived numbers: the rates measured from the counters beside
the reported ones (marked when they disagree), iftop's averages and the peaks.  The values
come from the core (:mod:`flowtop.core.derived`); here they only become Text."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from flowtop.core import glyphs
from flowtop.core.derived import (
    MISMATCH_MARK,
    PARTIAL_MARK,
    Derived,
    counter_reset,
    derived,
    find_record,
)
from flowtop.core.model import Flow
from flowtop.core.units import format_count, format_kbps, format_rate


def _pps(value: float | None) -> str:
    text = format_count(value)
    return f"{text} pps" if text else ""


def _figure(found: Derived, formatter: Callable[[float | None], str]) -> Text:
    missing = glyphs.current().missing
    if found.value is None:
        return Text(missing, "dim")
    text = Text(formatter(found.value), "dim" if found.partial else "bold")
    if found.partial:
        text.append(PARTIAL_MARK, "dim")
    return text


def _measured(flow: Flow, quantity: str) -> Text:
    name = f"{quantity}_measured"
    found = derived(flow, name)
    formatter = format_rate if quantity == "rate" else _pps
    if found.value is None:
        located = find_record(flow)
        record = located[1] if located is not None else None
        reset = record is not None and counter_reset(record)
        why = "counter reset" if reset else "needs two polls"
        return Text(f"{glyphs.current().missing} ({why})", "dim")
    text = Text(formatter(found.value), "bold")
    if found.mismatch:
        # The reported rate is on the row above: they disagree beyond the tolerance.
        text.append(f"  {MISMATCH_MARK} stale stats", "bold yellow")
    else:
        text.append("  from counters", "dim")
    return text


def _averages(flow: Flow, quantity: str) -> Text:
    formatter = format_kbps if quantity == "rate" else format_count
    text = Text()
    for index, window in enumerate(("2s", "10s", "40s")):
        if index:
            text.append("  ")
        text.append_text(_figure(derived(flow, f"{quantity}_{window}"), formatter))
    return text


def _peaks(flow: Flow) -> Text:
    text = _figure(derived(flow, "rate_peak"), format_rate)
    text.append(", ", "dim")
    text.append_text(_figure(derived(flow, "pps_peak"), _pps))
    return text


def derived_rows(flow: Flow) -> list[tuple[Text, Text]]:
    """(label, value) rows: measured rate and pps, then averages and peaks.  A value
    over less history than its window is dim and marked.  None for a flow that no
    store holds now (nothing is known of it but what it says)."""
    if find_record(flow) is None:
        return []
    return [
        (Text("Measured rate"), _measured(flow, "rate")),
        (Text("Measured pps"), _measured(flow, "pps")),
        (Text("Rate 2s/10s/40s"), _averages(flow, "rate")),
        (Text("pps 2s/10s/40s"), _averages(flow, "pps")),
        (Text("Peak rate, pps"), _peaks(flow)),
    ]
