"""The view: the store's flows filtered, sorted and formatted into rows, plus a diff.

The diff against the previous view says which rows to add, remove and update and
which cells changed, so a table applies a tick without rebuilding itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flowtop.core.columns import DEFAULT_COLUMNS, Column, SortSpec, resolve_column
from flowtop.core.model import Flow, FlowKey
from flowtop.core.store import FlowRecord

FlowPredicate = Callable[[Flow], bool]


class Row:
    """One shown flow.  Its cell texts are formatted on first use.

    A table draws only the rows on screen, so formatting lazily saves formatting a
    thousand rows a tick to show fifty.
    """

    __slots__ = ("_cells", "_formatters", "flow", "key")

    def __init__(
        self, key: FlowKey, flow: Flow, formatters: Sequence[Callable[[Flow], str]]
    ) -> None:
        self.key = key
        self.flow = flow
        self._formatters = formatters
        self._cells: tuple[str, ...] | None = None

    @property
    def cells(self) -> tuple[str, ...]:
        cells = self._cells
        if cells is None:
            flow = self.flow
            cells = self._cells = tuple([text(flow) for text in self._formatters])
        return cells

    def __repr__(self) -> str:
        return f"Row({self.key.label()})"


class ViewDiff:
    """How to turn the previous view into this one.

    ``changed`` (which cells of kept rows show new text) is computed on first use,
    since it formats every kept row; a table that redraws only what is on screen
    compares the visible rows' cells itself and never needs it.
    """

    __slots__ = ("_changed", "_current", "_previous", "added", "order_changed", "removed")

    def __init__(
        self,
        added: list[FlowKey],
        removed: list[FlowKey],
        order_changed: bool,
        previous: dict[FlowKey, Row],
        current: list[Row],
    ) -> None:
        self.added = added
        self.removed = removed
        self.order_changed = order_changed
        self._previous = previous
        self._current = current
        self._changed: dict[FlowKey, list[int]] | None = None

    @property
    def changed(self) -> dict[FlowKey, list[int]]:
        """Key -> indexes of the cells whose text changed, for rows in both views."""
        if self._changed is None:
            changed: dict[FlowKey, list[int]] = {}
            previous = self._previous
            for row in self._current:
                old = previous.get(row.key)
                if old is None or old is row:
                    continue
                before, after = old.cells, row.cells
                if before != after:
                    pairs = enumerate(zip(before, after, strict=True))
                    changed[row.key] = [i for i, (a, b) in pairs if a != b]
            self._changed = changed
        return self._changed

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.order_changed or self.changed)


@dataclass(slots=True)
class ViewResult:
    rows: list[Row]
    diff: ViewDiff
    total: int

    def index_of(self, key: FlowKey) -> int | None:
        for index, row in enumerate(self.rows):
            if row.key == key:
                return index
        return None


def sort_records(records: list[FlowRecord], column: Column, descending: bool) -> list[FlowRecord]:
    """Sort by the column's value, missing values last in both directions.

    Ties keep first-seen order (the store's order), so equal rows never jitter.
    """
    value = column.sort_value
    present: list[tuple[Any, FlowRecord]] = []
    missing: list[FlowRecord] = []
    for record in records:
        v = value(record.flow)
        if v is None:
            missing.append(record)
        else:
            present.append((v, record))
    try:
        present.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:
        # Mixed types (an extra field holding numbers and text): compare as text.
        present.sort(key=lambda pair: str(pair[0]), reverse=descending)
    return [record for _, record in present] + missing


class FlowView:
    """Computes rows from the store, remembering the previous rows to diff against."""

    def __init__(self, columns: Sequence[str] = DEFAULT_COLUMNS) -> None:
        self.columns: tuple[Column, ...] = tuple(resolve_column(name) for name in columns)
        self._previous: dict[FlowKey, Row] = {}
        self._previous_order: list[FlowKey] = []

    def set_columns(self, columns: Sequence[str]) -> None:
        self.columns = tuple(resolve_column(name) for name in columns)
        self.reset()

    def reset(self) -> None:
        """Forget the previous view: the next diff adds every row."""
        self._previous = {}
        self._previous_order = []

    def compute(
        self,
        records: Iterable[FlowRecord],
        predicate: FlowPredicate | None = None,
        sort: SortSpec | None = None,
    ) -> ViewResult:
        everything = list(records)
        total = len(everything)
        chosen = (
            everything
            if predicate is None
            else [record for record in everything if predicate(record.flow)]
        )
        if sort is not None:
            chosen = sort_records(chosen, resolve_column(sort.column), sort.descending)
        formatters = [column.text for column in self.columns]
        previous = self._previous
        current: dict[FlowKey, Row] = {}
        rows: list[Row] = []
        added: list[FlowKey] = []
        for record in chosen:
            key = record.key
            row = Row(key, record.flow, formatters)
            if key not in previous:
                added.append(key)
            current[key] = row
            rows.append(row)
        removed = [key for key in previous if key not in current]
        order = [row.key for row in rows]
        # A table that drops the removed rows and appends the added ones ends up in
        # this order; only when it differs must the table reorder.
        kept_before = [key for key in self._previous_order if key in current]
        order_changed = kept_before + added != order
        diff = ViewDiff(added, removed, order_changed, previous, rows)
        self._previous = current
        self._previous_order = order
        return ViewResult(rows, diff, total)
