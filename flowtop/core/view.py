"""The view: the store's flows filtered, sorted and formatted into rows, plus a diff.

The diff against the previous view says which rows came and went, so a table
drops what it cached for the gone ones and marks the new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flowtop.core.columns import DEFAULT_COLUMNS, Column, SortSpec, resolve_column
from flowtop.core.groups import (
    Group,
    Grouping,
    RowKey,
    build_groups,
    group_columns,
    group_key,
)
from flowtop.core.model import Flow
from flowtop.core.names import HOST_GROUPINGS, Naming
from flowtop.core.pairs import pair_columns, pair_records, pair_sort_value, pair_texts
from flowtop.core.store import FlowRecord

FlowPredicate = Callable[[Flow], bool]
T = TypeVar("T")


class Row:
    """One shown row: a flow, or a group of flows.  Cell texts are formatted on first use.

    A table draws only the rows on screen, so formatting lazily saves formatting a
    thousand rows a tick to show fifty.
    """

    __slots__ = ("_cells", "_formatters", "item", "key", "partner")

    def __init__(
        self,
        key: RowKey,
        item: Flow | Group,
        formatters: Sequence[Callable[..., str]],
        partner: FlowRecord | None = None,
    ) -> None:
        self.key = key
        self.item = item
        self._formatters = formatters
        self._cells: tuple[str, ...] | None = None
        # In pair mode (flowtop.core.pairs), the other direction of the row's flow.
        self.partner = partner

    @property
    def flow(self) -> Flow:
        """The row's flow; a group row has none (see :attr:`group`): TypeError."""
        item = self.item
        if isinstance(item, Group):
            raise TypeError(f"the group row {item.value!r} has no single flow")
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


class PairRow(Row):
    """A row of pair mode: its cells are made from its flow and the other direction's."""

    __slots__ = ()

    @property
    def cells(self) -> tuple[str, ...]:
        cells = self._cells
        if cells is None:
            item = self.item
            partner = self.partner
            reverse = partner.flow if partner is not None else None
            cells = self._cells = tuple([text(item, reverse) for text in self._formatters])
        return cells


@dataclass(slots=True)
class ViewDiff:
    """How the rows' keys changed since the previous view: which rows came and went.

    Cell texts are not compared: a table that redraws only what is on screen
    compares the visible rows' cells itself.
    """

    added: list[RowKey]
    removed: list[RowKey]


@dataclass(slots=True)
class ViewResult:
    rows: list[Row]
    diff: ViewDiff
    total: int
    # Pair mode: how many rows hold two flows (the flows shown are rows + paired).
    paired: int | None = None

    def index_of(self, key: RowKey) -> int | None:
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

    def __init__(
        self, columns: Sequence[str] = DEFAULT_COLUMNS, naming: Naming | None = None
    ) -> None:
        self.columns: tuple[Column, ...] = tuple(resolve_column(name) for name in columns)
        # Host and port names in the cells (see flowtop.core.names); None: numbers.
        self.naming = naming
        # The previous rows' keys, in their order (a dict keeps it; a set would not).
        self._previous: dict[RowKey, None] = {}

    def set_columns(self, columns: Sequence[str]) -> None:
        self.columns = tuple(resolve_column(name) for name in columns)
        self.reset()

    def reset(self) -> None:
        """Forget the previous view: the next diff adds every row."""
        self._previous = {}

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
        formatters = self.formatters()
        rows: list[Row] = [Row(record.key, record.flow, formatters) for record in chosen]
        return self._result(rows, len(everything))

    def formatters(self) -> list[Callable[[Any], str]]:
        """The text of each flow column's cell: names where they are shown."""
        naming = self.naming
        if naming is None or not naming.active:
            return [column.text for column in self.columns]
        return [naming.column_text(column.id) or column.text for column in self.columns]

    def compute_pairs(
        self,
        records: Iterable[FlowRecord],
        predicate: FlowPredicate | None = None,
        sort: SortSpec | None = None,
    ) -> ViewResult:
        """One row per conversation: the matching flows, each direction paired with the
        other where both match (see :mod:`flowtop.core.pairs`)."""
        everything = list(records)
        chosen = (
            everything
            if predicate is None
            else [record for record in everything if predicate(record.flow)]
        )
        pairs = pair_records(chosen)
        columns = pair_columns(self.columns)
        if sort is not None:
            by_id = {column.id: column for column in columns}
            column = by_id.get(sort.column)
            if column is None:
                column = resolve_column(sort.column)
            pairs = sort_by(pairs, pair_sort_value(column), sort.descending)
        # The flow columns' texts (names where shown), then the two rates'.
        flow_texts = dict(zip([c.id for c in self.columns], self.formatters(), strict=True))
        texts = pair_texts(columns, [flow_texts.get(c.id, c.text) for c in columns])
        rows: list[Row] = [
            PairRow(forward.key, forward.flow, texts, reverse) for forward, reverse in pairs
        ]
        result = self._result(rows, len(everything))
        result.paired = sum(1 for _, reverse in pairs if reverse is not None)
        return result

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
        naming = self.naming
        if naming is not None and naming.hosts and grouping.id in HOST_GROUPINGS:
            # A host's group shows its name, once known.
            formatters[0] = lambda group: naming.address(group.value)
        rows: list[Row] = [
            Row(group_key(grouping, group.value), group, formatters) for group in groups
        ]
        return self._result(rows, len(everything))

    def _result(self, rows: list[Row], total: int) -> ViewResult:
        previous = self._previous
        current = dict.fromkeys([row.key for row in rows])
        added = [row.key for row in rows if row.key not in previous]
        removed = [key for key in previous if key not in current]
        self._previous = current
        return ViewResult(rows, ViewDiff(added, removed), total)
