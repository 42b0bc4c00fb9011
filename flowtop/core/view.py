"""The view: the store's flows filtered, sorted and formatted into rows, plus a diff.

The diff against the previous view says which rows to add, remove and update and
which cells changed, so a table applies a tick without rebuilding itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flowtop.core.columns import DEFAULT_COLUMNS, Column, SortSpec, resolve_column
from flowtop.core.model import Flow, FlowKey
from flowtop.core.store import FlowRecord

FlowPredicate = Callable[[Flow], bool]


class Row(NamedTuple):
    # A tuple rather than a dataclass: a thousand are made every tick.
    key: FlowKey
    flow: Flow
    cells: tuple[str, ...]


@dataclass(slots=True)
class ViewDiff:
    """How to turn the previous view into this one."""

    added: list[FlowKey] = field(default_factory=list)
    removed: list[FlowKey] = field(default_factory=list)
    # Key -> indexes of the cells whose text changed.
    changed: dict[FlowKey, list[int]] = field(default_factory=dict)
    order_changed: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.order_changed)


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
        self._previous: dict[FlowKey, tuple[str, ...]] = {}
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
        # Cells that depend only on the key are copied from the previous view.
        dynamic = [(i, column.text) for i, column in enumerate(self.columns) if not column.keyed]
        previous = self._previous
        diff = ViewDiff()
        rows: list[Row] = []
        current: dict[FlowKey, tuple[str, ...]] = {}
        for record in chosen:
            flow = record.flow
            key = record.key
            old = previous.get(key)
            if old is None:
                cells = tuple([text(flow) for text in formatters])
            else:
                fresh = list(old)
                for i, text in dynamic:
                    fresh[i] = text(flow)
                cells = tuple(fresh)
            if old is None:
                diff.added.append(key)
            elif old != cells:
                pairs = enumerate(zip(old, cells, strict=True))
                diff.changed[key] = [i for i, (a, b) in pairs if a != b]
            current[key] = cells
            rows.append(Row(key, flow, cells))
        diff.removed = [key for key in previous if key not in current]
        order = [row.key for row in rows]
        # A table that drops the removed rows and appends the added ones ends up in
        # this order; only when it differs must the table reorder.
        kept_before = [key for key in self._previous_order if key in current]
        diff.order_changed = kept_before + diff.added != order
        self._previous = current
        self._previous_order = order
        return ViewResult(rows, diff, total)
