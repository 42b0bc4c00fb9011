"""Group-by: flows summed per application, path, service, DSCP, host or direction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from flowtop.core import glyphs
from flowtop.core.columns import RATE_TITLE, Column
from flowtop.core.errors import UsageError
from flowtop.core.fields import EITHER_END, GROUPABLE, resolve_field
from flowtop.core.filter import quote_value
from flowtop.core.model import Flow, FlowKey
from flowtop.core.units import format_bytes, format_count, format_kbps

NO_VALUE: Final = "(none)"
GROUP_JSON_FIELDS: Final = ("group_by", "value", "flows", "pps", "kbps", "bytes", "top_flow")


@dataclass(frozen=True, slots=True)
class Grouping:
    """One way to group: the value of a flow, and the filter that selects a group."""

    id: str
    title: str
    value: Callable[[Flow], str | None]
    filter_field: str

    def drill_filter(self, value: str) -> str:
        """The filter expression that selects the flows of one group."""
        if value == NO_VALUE:
            # The filter language has no "empty" value; no text at all is "not anything".
            return f"!{self.filter_field}~."
        return f"{self.filter_field}:{quote_value(value)}"


def _text(name: str) -> Callable[[Flow], str | None]:
    def value(flow: Flow) -> str | None:
        text = getattr(flow, name)
        return None if text is None else str(text)

    return value


GROUPINGS: Final[dict[str, Grouping]] = {
    grouped.group.id: Grouping(
        grouped.group.id, grouped.group.title, _text(grouped.name), grouped.group.drill
    )
    for grouped in GROUPABLE
    if grouped.group is not None
}
# Groupings by a field flowtop sets in a fleet (the appliance): only a view of several
# appliances' flows offers them.
FLEET_GROUPINGS: Final[frozenset[str]] = frozenset(
    grouped.group.id for grouped in GROUPABLE if grouped.group is not None and grouped.fleet
)
# The order `g` cycles through; None is "no grouping".  A view of several appliances
# cycles through the appliance first (ALL_FLOWS_GROUP_CYCLE).
GROUP_CYCLE: Final[tuple[str | None, ...]] = (
    None,
    *(grouping for grouping in GROUPINGS if grouping not in FLEET_GROUPINGS),
)
ALL_FLOWS_GROUP_CYCLE: Final[tuple[str | None, ...]] = (
    None,
    *sorted(FLEET_GROUPINGS),
    *GROUP_CYCLE[1:],
)


def resolve_grouping(name: str) -> Grouping:
    """A grouping by its id, or any name of a groupable field (see :mod:`flowtop.core.fields`)."""
    named = resolve_field(name)
    if named is not None and named.group is not None:
        return GROUPINGS[named.group.id]
    choices = ", ".join(GROUPINGS)
    term = EITHER_END.get(name.strip().lower())
    if term is not None:
        ends = " or ".join(term.fields)
        raise UsageError(
            f'cannot group by "{name}": a filter term for {ends} (choose from {choices})'
        )
    raise UsageError(f'cannot group by "{name}" (choose from {choices})')


@dataclass(slots=True)
class Group:
    """The flows that share one value, with their sums."""

    grouping: Grouping
    value: str
    count: int = 0
    pps: float = 0.0
    kbps: float = 0.0
    bytes: int = 0
    top: Flow | None = None
    keys: list[FlowKey] = field(default_factory=list)
    # Its share of the rate of all groups shown (0 to 1), set by build_groups.
    share: float = 0.0

    def add(self, key: FlowKey, flow: Flow) -> None:
        self.count += 1
        self.keys.append(key)
        self.pps += flow.pps or 0.0
        kbps = flow.customer_kbps or 0.0
        self.kbps += kbps
        self.bytes += flow.bytes or 0
        if self.top is None or kbps > (self.top.customer_kbps or 0.0):
            self.top = flow

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "group_by": self.grouping.id,
            "value": self.value,
            "flows": self.count,
            "pps": round(self.pps, 3),
            "kbps": round(self.kbps, 3),
            "bytes": self.bytes,
            "top_flow": self.top.key.label() if self.top is not None else None,
        }


def build_groups(items: Iterable[tuple[FlowKey, Flow]], grouping: Grouping) -> list[Group]:
    """Groups in first-seen order; a flow without the value falls in "(none)"."""
    groups: dict[str, Group] = {}
    value_of = grouping.value
    for key, flow in items:
        value = value_of(flow) or NO_VALUE
        group = groups.get(value)
        if group is None:
            group = groups[value] = Group(grouping, value)
        group.add(key, flow)
    total = sum(group.kbps for group in groups.values())
    if total > 0:
        for group in groups.values():
            group.share = group.kbps / total
    return list(groups.values())


# The share column: a bar as iftop draws it, then the percentage.
SHARE_BAR_WIDTH: Final = 10


def share_text(group: Group) -> str:
    """``█████▍     54%``: the group's share of the total rate shown."""
    bar = glyphs.current().bar_text(group.share, SHARE_BAR_WIDTH)
    if 0 < group.share < 0.005:
        return f"{bar}  <1%"
    return f"{bar}{group.share * 100:4.0f}%"


@dataclass(frozen=True, slots=True)
class GroupKey:
    """The key of a group row: the grouping's id and the value its flows share."""

    grouping: str
    value: str

    def label(self) -> str:
        return f"{self.grouping} {self.value}"


# The key of a shown row: a flow's, or a group's (never equal to a flow's).
RowKey: TypeAlias = FlowKey | GroupKey


def group_key(grouping: Grouping, value: str) -> GroupKey:
    """The row key of the group of ``value`` in ``grouping``."""
    return GroupKey(grouping.id, value)


def group_columns(grouping: Grouping) -> tuple[Column, ...]:
    """The table columns of a grouped view; ids match the flow columns where they can."""
    return (
        Column("group", grouping.title, 24, False, lambda g: g.value, lambda g: g.value.casefold()),
        Column("flows", "Flows", 6, True, lambda g: str(g.count), lambda g: g.count),
        Column("pps", "pps", 6, True, lambda g: format_count(g.pps), lambda g: g.pps),
        Column("kbps", RATE_TITLE, 6, True, lambda g: format_kbps(g.kbps), lambda g: g.kbps),
        Column("bytes", "Bytes", 6, True, lambda g: format_bytes(g.bytes), lambda g: g.bytes),
        Column(
            "share",
            "Share of rate",
            SHARE_BAR_WIDTH + 5,
            True,
            share_text,
            lambda g: g.share,
            2,
            squeezable=False,
        ),
        Column(
            "top",
            "Top flow",
            30,
            False,
            lambda g: g.top.key.label() if g.top is not None else "",
            lambda g: g.top.customer_kbps if g.top is not None else None,
            2,
        ),
    )
