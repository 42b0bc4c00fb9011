"""One row per conversation: the two directions of a flow paired, as iftop shows them.

Two flows are the two directions of one conversation when one's addresses and ports
are the other's reversed, with the same protocol.  The row shows the forward flow
(LAN to WAN where either is, else the one seen first) with ``=>`` its rate and ``<=``
the other's; rates, packets and bytes add up.  A flow whose other direction is absent
(or filtered out) stays a row of its own, so every flow shown is in exactly one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any, Final, TypeAlias

from flowtop.core.columns import NO_PATH, Column
from flowtop.core.derived import PARTIAL_MARK, derived
from flowtop.core.fields import resolve_field
from flowtop.core.model import Flow, format_endpoint
from flowtop.core.store import FlowRecord
from flowtop.core.units import format_bytes, format_count, format_kbps, format_rate

# A paired row's direction cell: both ways.
BOTH_WAYS: Final = "<->"


# A conversation: the forward flow's record and the reverse one's, if present.
Pair: TypeAlias = tuple[FlowRecord, "FlowRecord | None"]


def _outbound(record: FlowRecord) -> bool:
    direction = record.flow.direction
    return direction is not None and direction.casefold().replace(" ", "") == "lantowan"


def pair_records(records: Iterable[FlowRecord]) -> list[Pair]:
    """The records paired into conversations, in the order their first flow came.

    Every record is in exactly one pair (as its forward or its reverse flow).
    """
    ordered = list(records)
    # The records by their ends (addresses, ports, protocol): the first of each, and any
    # others (the same ends in both directions' names, repeated keys) apart.
    first: dict[tuple[Any, ...], FlowRecord] = {}
    others: dict[tuple[Any, ...], list[FlowRecord]] = {}
    for record in ordered:
        # Addresses, ports, protocol and the appliance (in a fleet's all-flows view the
        # two directions pair at one appliance, never across two).
        key = record.key
        ends = (key[0], key[1], key[2], key[3], key[4], key[7])
        if first.setdefault(ends, record) is not record:
            others.setdefault(ends, []).append(record)
    used: set[int] = set()
    pairs: list[Pair] = []
    for record in ordered:
        if id(record) in used:
            continue
        used.add(id(record))
        key = record.key
        reverse = (key[2], key[3], key[0], key[1], key[4], key[7])
        partner: FlowRecord | None = None
        candidate = first.get(reverse)
        if candidate is not None and id(candidate) not in used:
            partner = candidate
        elif reverse in others:
            partner = next((r for r in others[reverse] if id(r) not in used), None)
        if partner is None:
            pairs.append((record, None))
            continue
        used.add(id(partner))
        if _outbound(partner) and not _outbound(record):
            pairs.append((partner, record))
        else:
            pairs.append((record, partner))
    return pairs


def _add(a: float | int | None, b: float | int | None) -> float | int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


# Flow columns whose paired cell is the sum of both directions.
_SUMMED: Final[dict[str, tuple[str, Callable[[Any], str]]]] = {
    "pps": ("pps", format_count),
    "kbps": ("customer_kbps", format_kbps),
    "bytes": ("bytes", format_bytes),
    "packets": ("packets", format_count),
}

FORWARD_COLUMN: Final = Column(
    "out", "=>", 6, True,
    lambda flow: format_kbps(flow.customer_kbps), lambda flow: flow.customer_kbps, 1,
)  # fmt: skip
REVERSE_COLUMN: Final = Column(
    "in", "<=", 6, True, lambda flow: "", lambda flow: None, 1
)  # fmt: skip
PAIR_COLUMN_IDS: Final = frozenset({FORWARD_COLUMN.id, REVERSE_COLUMN.id})


def pair_columns(columns: Sequence[Column]) -> tuple[Column, ...]:
    """The flow columns with ``=>`` and ``<=`` (each direction's rate) after the rate,
    which is then both directions' sum (at the end when the rate is not shown)."""
    shown: list[Column] = []
    for column in columns:
        shown.append(column)
        if column.id == "kbps":
            shown.extend((FORWARD_COLUMN, REVERSE_COLUMN))
    if not any(column.id == "kbps" for column in columns):
        shown.extend((FORWARD_COLUMN, REVERSE_COLUMN))
    return tuple(shown)


PairText = Callable[[Flow, "Flow | None"], str]


def pair_texts(
    columns: Sequence[Column], formatters: Sequence[Callable[[Any], str]]
) -> list[PairText]:
    """The cell texts of pair rows, given the forward flow and the reverse one (None: a
    flow alone): sums, both rates, ``<->``; shared by every row of a view."""
    texts: list[PairText] = []
    for column, text in zip(columns, formatters, strict=True):
        summed = _SUMMED.get(column.id)
        if summed is not None:
            texts.append(_summed_text(summed[0], summed[1], text))
        elif column.id in _SUMMED_DERIVED:
            texts.append(_summed_derived_text(column.id, text))
        elif column.id == REVERSE_COLUMN.id:
            texts.append(_reverse_rate)
        elif column.id == "dir":
            texts.append(_direction(text))
        else:
            texts.append(_forward(text))
    return texts


# Derived rates that add up over both directions (averages over the same window, rates
# measured over the same polls); a peak does not (the peak of a sum is not a sum).
_SUMMED_DERIVED: Final = frozenset(
    {
        f"{quantity}_{window}"
        for quantity in ("rate", "pps")
        for window in ("2s", "10s", "40s", "measured")
    }
)


def _summed_derived_text(name: str, alone: Callable[[Any], str]) -> PairText:
    field = resolve_field(name)
    assert field is not None
    formatter = field.formatter

    def text(flow: Flow, reverse: Flow | None) -> str:
        if reverse is None:
            return alone(flow)
        ours, theirs = derived(flow, name), derived(reverse, name)
        if ours.value is None or theirs.value is None:
            return alone(flow)
        total = ours.value + theirs.value
        shown = formatter(total) if formatter is not None else f"{total:g}"
        return shown + (PARTIAL_MARK if ours.partial or theirs.partial else "")

    return text


def _summed_text(
    name: str, format_value: Callable[[Any], str], alone: Callable[[Any], str]
) -> PairText:
    def text(flow: Flow, reverse: Flow | None) -> str:
        if reverse is None:
            return alone(flow)
        return format_value(_add(getattr(flow, name), getattr(reverse, name)))

    return text


def _reverse_rate(flow: Flow, reverse: Flow | None) -> str:
    return "" if reverse is None else format_kbps(reverse.customer_kbps)


def _direction(alone: Callable[[Any], str]) -> PairText:
    return lambda flow, reverse: alone(flow) if reverse is None else BOTH_WAYS


def _forward(text: Callable[[Any], str]) -> PairText:
    return lambda flow, reverse: text(flow)


def pair_sort_value(column: Column) -> Callable[[Pair], Any]:
    """How pairs sort by ``column``: sums for the summed columns, each rate by its own."""
    if column.id == REVERSE_COLUMN.id:
        return lambda pair: pair[1].flow.customer_kbps if pair[1] is not None else None
    if column.id == FORWARD_COLUMN.id:
        return lambda pair: pair[0].flow.customer_kbps
    if column.id in _SUMMED_DERIVED:
        value_of = column.sort_value
        return lambda pair: (
            value_of(pair[0].flow)
            if pair[1] is None
            else _add(value_of(pair[0].flow), value_of(pair[1].flow))
        )
    summed = _SUMMED.get(column.id)
    if summed is not None:
        get = attrgetter(summed[0])
        return lambda pair: (
            get(pair[0].flow) if pair[1] is None else _add(get(pair[0].flow), get(pair[1].flow))
        )
    value = column.sort_value
    return lambda pair: value(pair[0].flow)


def pair_heading(flow: Flow, named: str | None, arrow: str) -> str:
    """The detail pane's title for a conversation: both ways between the two ends."""
    if named is None:
        named = (
            f"{format_endpoint(flow.src_ip, flow.src_port)}{arrow}"
            f"{format_endpoint(flow.dest_ip, flow.dest_port)} {flow.protocol}"
        )
    return f"{named}  (and back)"


def _text(value: object) -> str:
    return "" if value is None else str(value)


PATH_ARROW: Final = "->"


def asymmetric(here: str | None, there: str | None) -> bool | None:
    """Whether two ends' paths use different links; None when unknown.

    An appliance names a path by its two WAN links, from its side or in the direction
    of the traffic (``DC-MPLS->Austin-MPLS`` at both ends, or ``Austin-MPLS->DC-MPLS``
    at the branch): the same two links either way.  Other links at the other end
    (``Austin-INET->DC-INET``) mean the conversation goes one way and comes back
    another."""
    if not here or not there or PATH_ARROW not in here or PATH_ARROW not in there:
        return None
    ours = {part.strip().casefold() for part in here.split(PATH_ARROW)}
    theirs = {part.strip().casefold() for part in there.split(PATH_ARROW)}
    return ours != theirs


def other_direction_rows(forward: Flow, reverse: Flow) -> list[tuple[str, str]]:
    """The detail pane's "Other direction" rows: what the reverse flow does, its path and
    DSCP first (they may differ from this direction's, and that is worth seeing)."""

    def differs(name: str) -> str:
        mine, theirs = getattr(forward, name), getattr(reverse, name)
        if mine == theirs or (name == "path" and asymmetric(mine, theirs) is False):
            # The same two links, named either way round: the same path.
            return ""
        return f"  (this way: {_text(mine) or NO_PATH})"

    return [
        ("Direction", _text(reverse.direction)),
        ("Path", (reverse.path or NO_PATH) + differs("path")),
        ("DSCP", _text(reverse.ip_dscp) + differs("ip_dscp")),
        ("Service", _text(reverse.service_name)),
        ("Rate", format_rate(reverse.customer_kbps) if reverse.customer_kbps is not None else ""),
        ("pps", format_count(reverse.pps)),
        ("Bytes", format_bytes(reverse.bytes)),
    ]
