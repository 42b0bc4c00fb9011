"""One-shot output for scripts (``--once``): a text table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Final

from rich.cells import cell_len

from flowtop.core import glyphs
from flowtop.core.columns import Column
from flowtop.core.fields import FLEET_FIELDS
from flowtop.core.glyphs import asciify
from flowtop.core.layout import SEPARATOR, fit_cell, fit_columns
from flowtop.core.model import API_FIELDS, Flow, valid_unicode
from flowtop.core.view import Row

FORMATS: Final = ("table", "json", "csv", "jsonl")
# CSV columns in the order of the flow model (endpoints, then path and service, then
# counters), not the alphabetical order of the reference's field list.
CSV_FIELDS: Final[tuple[str, ...]] = tuple(
    name for name in Flow.model_fields if name in API_FIELDS
) + tuple(name for name in API_FIELDS if name not in Flow.model_fields)
# A fleet's flows add these (the appliance), in front.
FLEET_CSV_FIELDS: Final[tuple[str, ...]] = tuple(field.name for field in FLEET_FIELDS)


def _longest(rows: Sequence[Row], columns: Sequence[Column]) -> list[int]:
    return [
        max((cell_len(row.cells[i]) for row in rows if i < len(row.cells)), default=0)
        for i in range(len(columns))
    ]


def dropped_columns(
    rows: Sequence[Row], columns: Sequence[Column], width: int, sort: str | None = None
) -> list[str]:
    """The ids of the columns :func:`render_table` leaves out at this width."""
    kept = {index for index, _ in _fit(rows, columns, width, sort)}
    return [column.id for index, column in enumerate(columns) if index not in kept]


def _fit(
    rows: Sequence[Row], columns: Sequence[Column], width: int, sort: str | None
) -> list[tuple[int, int]]:
    ids = [column.id for column in columns]
    keep = ids.index(sort) if sort in ids else None
    return fit_columns(columns, width, keep=keep, never_cut=_longest(rows, columns))


def render_table(
    rows: Sequence[Row], columns: Sequence[Column], width: int, sort: str | None = None
) -> str:
    """A plain aligned table, like ``top -b``: no colour, nothing but text.

    ``width`` 0 means no limit.  The column ``sort`` (an id) is never the one left out
    for want of room, as on screen: rows in an order nobody can see read as disorder.
    With the ASCII glyph set every character is ASCII.
    """
    layout = [
        (index, size, columns[index].numeric) for index, size in _fit(rows, columns, width, sort)
    ]
    lines = [SEPARATOR.join(fit_cell(columns[i].title, w, right) for i, w, right in layout)]
    for row in rows:
        cells = row.cells
        lines.append(
            SEPARATOR.join(
                fit_cell(cells[i] if i < len(cells) else "", w, right) for i, w, right in layout
            )
        )
    lines = [line.rstrip() for line in lines]
    text = valid_unicode("\n".join(lines) + "\n")
    return asciify(text) if glyphs.current().ascii else text


def render_json(flows: Sequence[Flow], *, ascii_only: bool = False) -> str:
    """An array of objects keyed by the 26 API field names, values typed.

    ``ascii_only`` escapes non-ASCII text (``\\u00e9``): the same JSON, in ASCII.
    """
    records = [flow.to_json_dict() for flow in flows]
    return valid_unicode(json.dumps(records, indent=2, ensure_ascii=ascii_only)) + "\n"


def render_records_json(records: Sequence[dict[str, Any]], *, ascii_only: bool = False) -> str:
    """Rows that are not flows (group sums), as a JSON array."""
    text = json.dumps(list(records), indent=2, ensure_ascii=ascii_only, default=str)
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
    """A header row of the 26 API field names (:data:`CSV_FIELDS` order), then one row a
    flow; missing is empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # A fleet's flows (the all-flows view's export) say which appliance, first.
    fleet = any(flow.appliance is not None for flow in flows)
    header = (*FLEET_CSV_FIELDS, *CSV_FIELDS) if fleet else CSV_FIELDS
    writer.writerow(header)
    for flow in flows:
        values = flow.to_json_dict()
        writer.writerow([csv_cell(values.get(name)) for name in header])
    return valid_unicode(buffer.getvalue())
