"""The view: the store's flows filtered, sorted and formatted into rows, plus a diff.

The diff against the previous view says which rows came and went, so a table
drops what it cached for the gone ones and marks the new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, is_, itemgetter
from typing import Any, Final, TypeVar, overload

from flowtop.core.columns import DEFAULT_COLUMNS, Column, SortSpec, resolve_column
from flowtop.core.groups import (
    Group,
    Grouping,
    RowKey,
    build_groups,
    group_columns,
    group_key,
)
from flowtop.core.model import Flow, FlowKey
from flowtop.core.names import HOST_GROUPINGS, Naming
from flowtop.core.pairs import pair_columns, pair_records, pair_sort_value, pair_texts
from flowtop.core.steps import Steps, run_to_end
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
    rows: Sequence[Row]
    diff: ViewDiff
    total: int
    # Pair mode: how many rows hold two flows (the flows shown are rows + paired).
    paired: int | None = None

    def index_of(self, key: RowKey) -> int | None:
        rows = self.rows
        if isinstance(rows, FlowRows):
            return rows.index_of(key)
        for index, row in enumerate(rows):
            if row.key == key:
                return index
        return None


class FlowRows(Sequence[Row]):
    """The flow rows of a view, in order, each built on first use.

    A table shows fifty rows of 50 000: building a :class:`Row` for every flow of
    every view (a new sort, a key typed in the filter) costs tens of ms.  A record
    keeps the row last built for it, which is used again while its flow is the
    same object.  The flows are taken when the view is computed: the rows show
    them even after the store has moved on.
    """

    __slots__ = ("_flows", "_formatters", "_keys", "_records")

    def __init__(
        self,
        records: list[FlowRecord],
        flows: list[Flow],
        formatters: tuple[Callable[[Any], str], ...],
    ) -> None:
        self._records = records
        self._flows = flows
        self._formatters = formatters
        self._keys: list[FlowKey] | None = None

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return list(map(self._row, self._records[index], self._flows[index]))
        return self._row(self._records[index], self._flows[index])

    def __iter__(self) -> Iterator[Row]:
        return map(self._row, self._records, self._flows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FlowRows | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FlowRows({len(self)} rows)"

    def _row(self, record: FlowRecord, flow: Flow) -> Row:
        row = record.row
        if type(row) is not Row or row.item is not flow or row._formatters is not self._formatters:
            row = record.row = Row(record.key, flow, self._formatters)
        return row

    def flows(self) -> list[Flow]:
        """The rows' flows, in order (a new list)."""
        return list(self._flows)

    def keys(self) -> list[FlowKey]:
        """The rows' keys, in order (without building the rows; the same list each time)."""
        if self._keys is None:
            self._keys = list(map(_key_of, self._records))
        return self._keys

    def index_of(self, key: RowKey) -> int | None:
        try:
            return self.keys().index(key)  # type: ignore[arg-type]
        except ValueError:
            return None


def sort_by(items: list[T], value: Callable[[T], Any], descending: bool) -> list[T]:
    """Sort by ``value``, missing values (None) last in both directions.

    Ties keep the incoming order (the store's first-seen order), so equal rows never
    jitter from one tick to the next.
    """
    return list(map(items.__getitem__, sorted_positions(list(map(value, items)), descending)))


def sorted_positions(values: list[Any], descending: bool) -> list[int]:
    """The positions of ``values`` in sorted order, missing values (None) last, ties in
    their order.  Positions sorted by a list lookup: no Python call per comparison nor
    a tuple per item, so 50 000 flows sort in a few ms."""
    if None in values:
        present = [index for index, v in enumerate(values) if v is not None]
        missing = [index for index, v in enumerate(values) if v is None]
    else:
        present, missing = list(range(len(values))), []
    try:
        present.sort(key=values.__getitem__, reverse=descending)
    except TypeError:
        # Mixed types (an extra field holding numbers and text): compare as text.
        texts = [str(v) for v in values]
        present.sort(key=texts.__getitem__, reverse=descending)
    present.extend(missing)
    return present


_flow_of: Final[Callable[[FlowRecord], Flow]] = attrgetter("flow")
_key_of: Final[Callable[[FlowRecord], FlowKey]] = attrgetter("key")


# Flows a step of FlowView.compute_steps takes where it calls Python per flow.
STEP_ROWS: Final = 2000


def _mapped_steps(function: Callable[[Flow], T], flows: list[Flow]) -> Steps[list[T]]:
    """``list(map(function, flows))``, :data:`STEP_ROWS` flows a step."""
    if len(flows) <= STEP_ROWS:
        return list(map(function, flows))
    out: list[T] = []
    for start in range(0, len(flows), STEP_ROWS):
        out.extend(map(function, flows[start : start + STEP_ROWS]))
        yield
    return out


def _same(these: list[Any], those: list[Any]) -> bool:
    """The same objects in the same order (identity: no __eq__ of flows)."""
    return len(these) == len(those) and all(map(is_, these, those))


def _permuted(items: list[T], order: list[int]) -> list[T]:
    """``[items[i] for i in order]`` in one C call (itemgetter of many gives a tuple)."""
    if len(order) < 2:
        return [items[i] for i in order]
    return list(itemgetter(*order)(items))


def sort_records(records: list[FlowRecord], column: Column, descending: bool) -> list[FlowRecord]:
    values = list(map(column.sort_value, map(_flow_of, records)))
    return list(map(records.__getitem__, sorted_positions(values, descending)))


class FlowView:
    """Computes rows from the store, remembering the previous rows to diff against."""

    def __init__(
        self, columns: Sequence[str] = DEFAULT_COLUMNS, naming: Naming | None = None
    ) -> None:
        self.columns: tuple[Column, ...] = tuple(resolve_column(name) for name in columns)
        # Host and port names in the cells (see flowtop.core.names); None: numbers.
        self.naming = naming
        # The previous group rows' keys, in their order (a dict keeps it; a set would not).
        self._previous: Mapping[RowKey, object] = {}
        # Sort orders of one set of flows, by sort (see _sorted_before).
        self._orders: dict[SortSpec, tuple[list[FlowRecord], list[Flow], FlowRows]] = {}
        # The previous flow rows' records, in their order and in the store's.
        self._previous_records: list[FlowRecord] = []
        self._previous_unsorted: list[FlowRecord] = []
        self._formatters: tuple[Callable[[Any], str], ...] = ()

    def set_columns(self, columns: Sequence[str]) -> None:
        self.columns = tuple(resolve_column(name) for name in columns)
        self.reset()

    def reset(self) -> None:
        """Forget the previous view: the next diff adds every row."""
        self._previous = {}
        self._previous_records = []
        self._previous_unsorted = []
        self._orders = {}

    def compute(
        self,
        records: Iterable[FlowRecord],
        predicate: FlowPredicate | None = None,
        sort: SortSpec | None = None,
    ) -> ViewResult:
        """Flow rows: the records that match, sorted."""
        return run_to_end(self.compute_steps(records, predicate, sort))

    def compute_steps(
        self,
        records: Iterable[FlowRecord],
        predicate: FlowPredicate | None = None,
        sort: SortSpec | None = None,
    ) -> Steps[ViewResult]:
        """:meth:`compute` in steps of :data:`STEP_ROWS` flows where it calls Python per
        flow (filter and sort values; see :mod:`flowtop.core.steps`)."""
        everything = list(records)
        # Each flow is fetched once, in the store's order: in sorted order the same
        # fetches would jump about memory (a cache miss a flow at 50 000 flows).
        chosen = everything
        flows = list(map(_flow_of, everything))
        if predicate is not None:
            matches = yield from _mapped_steps(predicate, flows)
            chosen = list(compress(everything, matches))
            flows = list(compress(flows, matches))
        unsorted = chosen
        formatters = tuple(self.formatters())
        if formatters != self._formatters:
            self._formatters = formatters
        else:
            formatters = self._formatters
        if sort is None:
            rows = FlowRows(chosen, flows, formatters)
        else:
            before = self._sorted_before(sort, unsorted, flows)
            if before is not None:
                # The rows this sort gave these flows (with their keys): no new list.
                rows = before
                if before._formatters is not formatters:
                    rows = FlowRows(before._records, before._flows, formatters)
            else:
                column = resolve_column(sort.column)
                values = yield from _mapped_steps(column.sort_value, flows)
                yield
                order = sorted_positions(values, sort.descending)
                yield
                rows = FlowRows(_permuted(chosen, order), _permuted(flows, order), formatters)
            self._orders[sort] = (unsorted, flows, rows)
            chosen = rows._records
        yield
        diff = yield from self._flow_diff(chosen, unsorted)
        self._previous_records = chosen
        self._previous_unsorted = unsorted
        return ViewResult(rows, diff, len(everything))

    def has_sorted(self, sort: SortSpec) -> bool:
        """This sort was computed for the flows of the last flow view (a lookup now)."""
        return sort in self._orders

    def _sorted_before(
        self, sort: SortSpec, records: list[FlowRecord], flows: list[Flow]
    ) -> FlowRows | None:
        """The rows this sort gave the same flows, if it was computed since they came:
        sorting the same flows the same way again (a user switching sorts between
        polls) is then a lookup.  The cache holds the sorts of one set of flows."""
        cached = self._orders.get(sort)
        if cached is not None and _same(cached[0], records) and _same(cached[1], flows):
            return cached[2]
        if cached is not None or any(not _same(o[1], flows) for o in self._orders.values()):
            self._orders.clear()
        return None

    def _flow_diff(self, chosen: list[FlowRecord], unsorted: list[FlowRecord]) -> Steps[ViewDiff]:
        """Which flow rows came and went since the previous view.

        By record (a flow keeps its record while it lives): the same records in the
        same store order (a new sort between polls) is one C-level comparison, and
        else an id hashes at once where a FlowKey tuple hashes its seven fields on
        every lookup.  The previous records are kept, so no new one takes their ids.
        """
        if _same(unsorted, self._previous_unsorted) and not self._previous:
            return ViewDiff([], [])
        # In the store's order (the previous and the current one): the records lie
        # in memory about in that order, sorted they would be fetched at random.
        previous = self._previous_unsorted
        current = set(map(id, unsorted))
        yield
        came = current.difference(map(id, previous))
        went = (
            set(map(id, previous)).difference(current)
            if len(previous) + len(came) > len(current)
            else set()
        )
        yield
        # Keys in the order of the rows they belong to.
        added: list[RowKey] = [r.key for r in chosen if id(r) in came] if came else []
        gone: list[RowKey] = (
            [r.key for r in self._previous_records if id(r) in went] if went else []
        )
        if added and gone:
            # A flow that ended and came back has a new record but the same key: it
            # is neither added nor removed.
            came_keys, went_keys = set(added), set(gone)
            added = [key for key in added if key not in went_keys]
            gone = [key for key in gone if key not in came_keys]
        gone.extend(self._previous)
        self._previous = {}
        return ViewDiff(added, gone)

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
        previous: dict[RowKey, object] = {r.key: None for r in self._previous_records}
        previous.update(self._previous)
        current = dict.fromkeys([row.key for row in rows])
        added = [row.key for row in rows if row.key not in previous]
        removed = [key for key in previous if key not in current]
        self._previous = current
        self._previous_records = []
        self._previous_unsorted = []
        return ViewResult(rows, ViewDiff(added, removed), total)
