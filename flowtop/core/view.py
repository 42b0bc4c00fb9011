"""The view: the store's flows filtered, sorted and formatted into rows, plus a diff.

The diff against the previous view says which rows to add, remove and update and
which cells changed, so a table applies a tick without rebuilding itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flowtop.core.columns import DEFAULT_COLUMNS, Column, SortSpec, resolve_column
from flowtop.core.groups import Group, Grouping, build_groups, group_columns, group_key
from flowtop.core.model import Flow, FlowKey
from flowtop.core.store import FlowRecord

FlowPredicate = Callable[[Flow], bool]
T = TypeVar("T")


class Row:
    """One shown row: a flow, or a group of flows.  Cell texts are formatted on first use.

    A table draws only the rows on screen, so formatting lazily saves formatting a
    thousand rows a tick to show fifty.
    """

    __slots__ = ("_cells", "_formatters", "item", "key")

    def __init__(
        self, key: FlowKey, item: Flow | Group, formatters: Sequence[Callable[[Any], str]]
    ) -> None:
        self.key = key
        self.item = item
        self._formatters = formatters
        self._cells: tuple[str, ...] | None = None

    @property
    def flow(self) -> Flow:
        """The row's flow; for a group, its top flow (the one with the highest rate)."""
        item = self.item
        if isinstance(item, Group):
            assert item.top is not None  # a group holds at least one flow
            return item.top
        return item

    @property
    def group(self) -> Group | None:
        item = self.item
        return item if isinstance(item, Group) else None

    @property
    def cells(self) -> tuple[str, ...]:
        cells = self._cells
        if cells is None:
            item = self.item
            cells = self._cells = tuple([text(item) for text in self._formatters])
        return cells

    def to_json_dict(self) -> dict[str, Any]:
        return self.item.to_json_dict()

    def __repr__(self) -> str:
        item = self.item
        label = item.value if isinstance(item, Group) else self.key.label()
        return f"Row({label})"


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


def sort_by(items: list[T], value: Callable[[T], Any], descending: bool) -> list[T]:
    """Sort by ``value``, missing values (None) last in both directions.

    Ties keep the incoming order (the store's first-seen order), so equal rows never
    jitter from one tick to the next.
    """
    present: list[tuple[Any, T]] = []
    missing: list[T] = []
    for item in items:
        v = value(item)
        if v is None:
            missing.append(item)
        else:
            present.append((v, item))
    try:
        present.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:
        # Mixed types (an extra field holding numbers and text): compare as text.
        present.sort(key=lambda pair: str(pair[0]), reverse=descending)
    return [item for _, item in present] + missing


def sort_records(records: list[FlowRecord], column: Column, descending: bool) -> list[FlowRecord]:
    flow_value = column.sort_value
    return sort_by(records, lambda record: flow_value(record.flow), descending)


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
        """Flow rows: the records that match, sorted."""
        everything = list(records)
        chosen = (
            everything
            if predicate is None
            else [record for record in everything if predicate(record.flow)]
        )
        if sort is not None:
            chosen = sort_records(chosen, resolve_column(sort.column), sort.descending)
        formatters = [column.text for column in self.columns]
        rows: list[Row] = [Row(record.key, record.flow, formatters) for record in chosen]
        return self._result(rows, len(everything))

    def compute_groups(
        self,
        records: Iterable[FlowRecord],
        grouping: Grouping,
        predicate: FlowPredicate | None = None,
        sort: SortSpec | None = None,
    ) -> ViewResult:
        """Group rows: the matching flows summed per group, sorted like flows."""
        everything = list(records)
        items = [
            (record.key, record.flow)
            for record in everything
            if predicate is None or predicate(record.flow)
        ]
        groups = build_groups(items, grouping)
        columns = group_columns(grouping)
        by_id = {column.id: column for column in columns}
        if sort is not None:
            column = by_id.get(sort.column)
            if column is None:
                column, descending = by_id["kbps"], True
            else:
                descending = sort.descending
            groups = sort_by(groups, column.sort_value, descending)
        formatters = [column.text for column in columns]
        rows: list[Row] = [
            Row(group_key(grouping, group.value), group, formatters) for group in groups
        ]
        return self._result(rows, len(everything))

    def _result(self, rows: list[Row], total: int) -> ViewResult:
        previous = self._previous
        current = {row.key: row for row in rows}
        added = [row.key for row in rows if row.key not in previous]
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
