"""One-shot output for scripts (``--once``): a text table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Final

from rich.cells import cell_len, set_cell_size

from flowtop.core.columns import Column
from flowtop.core.model import API_FIELDS, Flow, valid_unicode
from flowtop.core.view import Row

FORMATS: Final = ("table", "json", "csv")
_GAP: Final = 1


def fit_columns(columns: Sequence[Column], width: int) -> list[tuple[Column, int]]:
    """Columns with their widths for a terminal ``width`` columns wide.

    Drops the least important columns until the minimum widths fit, then shares
    the spare room among the text columns.
    """
    kept = list(columns)
    while len(kept) > 1 and sum(c.width for c in kept) + _GAP * (len(kept) - 1) > width:
        victim = max(kept, key=lambda c: (c.priority, kept.index(c)))
        kept.remove(victim)
    widths = [c.width for c in kept]
    spare = width - sum(widths) - _GAP * (len(kept) - 1)
    text_indexes = [i for i, c in enumerate(kept) if not c.numeric and c.width >= 10]
    if spare > 0 and text_indexes:
        share, extra = divmod(spare, len(text_indexes))
        for n, i in enumerate(text_indexes):
            widths[i] += share + (1 if n < extra else 0)
    if spare < 0 and kept:
        widths[-1] = max(1, widths[-1] + spare)
    return list(zip(kept, widths, strict=True))


def _fit(text: str, width: int, right: bool, middle: bool = False) -> str:
    """Exactly ``width`` terminal cells: wide characters (CJK, emoji) count as two."""
    length = cell_len(text)
    if length > width:
        if middle and width >= 7 and text.isascii():
            # Keep the end of an endpoint: the port outlives the middle hextets.
            tail = (width - 1) // 2
            return text[: width - 1 - tail] + "…" + text[-tail:]
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    padding = " " * (width - length)
    return padding + text if right else text + padding


def render_table(rows: Sequence[Row], columns: Sequence[Column], width: int) -> str:
    """A plain aligned table, like ``top -b``: no colour, nothing but text."""
    layout = fit_columns(columns, width)
    positions = [columns.index(column) for column, _ in layout]
    gap = " " * _GAP
    lines = [gap.join(_fit(c.title, w, c.numeric) for c, w in layout).rstrip()]
    for row in rows:
        cells = row.cells
        lines.append(
            gap.join(
                _fit(cells[p], w, c.numeric, not c.squeezable)
                for p, (c, w) in zip(positions, layout, strict=True)
            ).rstrip()
        )
    return valid_unicode("\n".join(lines) + "\n")


def render_json(flows: Sequence[Flow]) -> str:
    """An array of objects keyed by the 26 API field names, values typed."""
    text = json.dumps([flow.to_json_dict() for flow in flows], indent=2, ensure_ascii=False)
    return valid_unicode(text) + "\n"


def render_records_json(records: Sequence[dict[str, Any]]) -> str:
    """Rows that are not flows (group sums), as a JSON array."""
    text = json.dumps(list(records), indent=2, ensure_ascii=False, default=str)
    return valid_unicode(text) + "\n"


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: empty for None, JSON for nested data, and appliance text
    that a spreadsheet would run as a formula quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def render_records_csv(records: Sequence[dict[str, Any]], header: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        writer.writerow([csv_cell(record.get(name)) for name in header])
    return valid_unicode(buffer.getvalue())


def render_csv(flows: Sequence[Flow]) -> str:
    """A header row of the 26 API field names, then one row a flow; missing is empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(API_FIELDS)
    for flow in flows:
        values = flow.to_json_dict()
        writer.writerow([csv_cell(values[name]) for name in API_FIELDS])
    return valid_unicode(buffer.getvalue())
