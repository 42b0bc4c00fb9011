"""One-shot output for scripts (``--once``): a text table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Final

from rich.cells import cell_len, set_cell_size

from flowtop.core import glyphs
from flowtop.core.columns import Column
from flowtop.core.glyphs import asciify
from flowtop.core.model import API_FIELDS, Flow, valid_unicode
from flowtop.core.view import Row

FORMATS: Final = ("table", "json", "csv")
_GAP: Final = 1
# CSV columns in the order of the flow model (endpoints, then path and service, then
# counters), not the alphabetical order of the reference's field list.
CSV_FIELDS: Final[tuple[str, ...]] = tuple(
    name for name in Flow.model_fields if name in API_FIELDS
) + tuple(name for name in API_FIELDS if name not in Flow.model_fields)


def _keeps_whole(column: Column) -> bool:
    # An address, port or number cut short misleads: one-shot output never cuts them.
    return column.numeric or not column.squeezable


def fit_columns(
    columns: Sequence[Column], width: int, longest: Sequence[int] | None = None
) -> list[tuple[Column, int]]:
    """Columns with their widths for an output ``width`` columns wide (0: no limit).

    ``longest`` gives each column's widest cell: addresses, protocols and numbers
    get all of it, never cut.  Drops the least important columns until the rest
    fit, then shares the spare room among the text columns, which may be cut.
    """
    if longest is None:
        longest = [0] * len(columns)
    minimum = {
        id(c): max(c.width, cell_len(c.title), n if _keeps_whole(c) else 0)
        for c, n in zip(columns, longest, strict=True)
    }
    wanted = {id(c): max(minimum[id(c)], n) for c, n in zip(columns, longest, strict=True)}
    if width <= 0:
        return [(c, wanted[id(c)]) for c in columns]
    kept = list(columns)
    while len(kept) > 1 and sum(minimum[id(c)] for c in kept) + _GAP * (len(kept) - 1) > width:
        victim = max(kept, key=lambda c: (c.priority, kept.index(c)))
        kept.remove(victim)
    widths = [minimum[id(c)] for c in kept]
    spare = width - sum(widths) - _GAP * (len(kept) - 1)
    text_indexes = [i for i, c in enumerate(kept) if not _keeps_whole(c) and c.width >= 10]
    if spare > 0 and text_indexes:
        share, extra = divmod(spare, len(text_indexes))
        for n, i in enumerate(text_indexes):
            widths[i] += share + (1 if n < extra else 0)
    if spare < 0 and kept and not _keeps_whole(kept[-1]):
        widths[-1] = max(1, widths[-1] + spare)
    return list(zip(kept, widths, strict=True))


def _fit(text: str, width: int, right: bool) -> str:
    """Exactly ``width`` terminal cells: wide characters (CJK, emoji) count as two."""
    length = cell_len(text)
    if length > width:
        ellipsis = glyphs.current().ellipsis
        return (
            set_cell_size(text, width - 1) + ellipsis if width > 1 else set_cell_size(text, width)
        )
    padding = " " * (width - length)
    return padding + text if right else text + padding


def _longest(rows: Sequence[Row], columns: Sequence[Column]) -> list[int]:
    return [
        max((cell_len(row.cells[i]) for row in rows if i < len(row.cells)), default=0)
        for i in range(len(columns))
    ]


def dropped_columns(rows: Sequence[Row], columns: Sequence[Column], width: int) -> list[str]:
    """The ids of the columns :func:`render_table` leaves out at this width."""
    kept = {id(column) for column, _ in fit_columns(columns, width, _longest(rows, columns))}
    return [column.id for column in columns if id(column) not in kept]


def render_table(rows: Sequence[Row], columns: Sequence[Column], width: int) -> str:
    """A plain aligned table, like ``top -b``: no colour, nothing but text.

    ``width`` 0 means no limit.  With the ASCII glyph set every character is ASCII.
    """
    layout = fit_columns(columns, width, _longest(rows, columns))
    positions = [columns.index(column) for column, _ in layout]
    gap = " " * _GAP
    lines = [gap.join(_fit(c.title, w, c.numeric) for c, w in layout).rstrip()]
    for row in rows:
        cells = row.cells
        lines.append(
            gap.join(
                _fit(cells[p] if p < len(cells) else "", w, c.numeric)
                for p, (c, w) in zip(positions, layout, strict=True)
            ).rstrip()
        )
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
    writer.writerow(CSV_FIELDS)
    for flow in flows:
        values = flow.to_json_dict()
        writer.writerow([csv_cell(values[name]) for name in CSV_FIELDS])
    return valid_unicode(buffer.getvalue())
