"""One row per conversation: the two directions of a flow paired, as iftop shows them.

Two flows are the two directions of one conversation when one's addresses and ports
are the other's reversed, with the same protocol.  The row shows the forward flow
(LAN to WAN where either is, else the one seen first) with ``=>`` its rate and ``<=``
the other's; rates, packets and bytes add up.  A flow whose other direction is absent
(or filtered out) stays a row of its own, so every flow shown is in exactly one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from flowtop.core.columns import NO_PATH, Column
from flowtop.core.model import Flow, FlowKey, format_endpoint
from flowtop.core.store import FlowRecord
from flowtop.core.units import format_bytes, format_count, format_kbps, format_rate

# A paired row's direction cell: both ways.
BOTH_WAYS: Final = "<->"


@dataclass(frozen=True, slots=True)
class Pair:
    """A conversation: the forward flow's record and the reverse one's, if present."""

    forward: FlowRecord
    reverse: FlowRecord | None


def _ends(key: FlowKey) -> tuple[Any, ...]:
    return (key.src_ip, key.src_port, key.dest_ip, key.dest_port, key.ipp)


def _reversed_ends(key: FlowKey) -> tuple[Any, ...]:
    return (key.dest_ip, key.dest_port, key.src_ip, key.src_port, key.ipp)


def _outbound(record: FlowRecord) -> bool:
    direction = record.flow.direction
    return direction is not None and direction.casefold().replace(" ", "") == "lantowan"


def pair_records(records: Iterable[FlowRecord]) -> list[Pair]:
    """The records paired into conversations, in the order their first flow came.

    Every record is in exactly one pair (as its forward or its reverse flow).
    """
    ordered = list(records)
    waiting: dict[tuple[Any, ...], list[int]] = {}
    for index, record in enumerate(ordered):
        waiting.setdefault(_ends(record.key), []).append(index)
    used = [False] * len(ordered)
    pairs: list[Pair] = []
    for index, record in enumerate(ordered):
        if used[index]:
            continue
        used[index] = True
        partner: FlowRecord | None = None
        for other in waiting.get(_reversed_ends(record.key), ()):
            if not used[other]:
                used[other] = True
                partner = ordered[other]
                break
        if partner is not None and _outbound(partner) and not _outbound(record):
            pairs.append(Pair(partner, record))
        else:
            pairs.append(Pair(record, partner))
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


def pair_formatters(
    columns: Sequence[Column], formatters: Sequence[Callable[[Any], str]], reverse: Flow | None
) -> list[Callable[[Any], str]]:
    """The cell texts of a pair's row (given the forward flow): sums, both rates."""
    if reverse is None:
        return [
            (lambda flow: "") if column.id == REVERSE_COLUMN.id else text
            for column, text in zip(columns, formatters, strict=True)
        ]
    shown: list[Callable[[Any], str]] = []
    for column, text in zip(columns, formatters, strict=True):
        summed = _SUMMED.get(column.id)
        if summed is not None:
            shown.append(_summed_text(summed[0], summed[1], getattr(reverse, summed[0])))
        elif column.id == REVERSE_COLUMN.id:
            shown.append(_constant(format_kbps(reverse.customer_kbps)))
        elif column.id == "dir":
            shown.append(lambda flow: BOTH_WAYS)
        else:
            shown.append(text)
    return shown


def _summed_text(
    name: str, format_value: Callable[[Any], str], other: float | int | None
) -> Callable[[Any], str]:
    def text(flow: Any) -> str:
        return format_value(_add(getattr(flow, name), other))

    return text


def _constant(text: str) -> Callable[[Any], str]:
    return lambda flow: text


def pair_sort_value(column: Column) -> Callable[[Pair], Any]:
    """How pairs sort by ``column``: sums for the summed columns, each rate by its own."""
    if column.id == REVERSE_COLUMN.id:
        return lambda pair: pair.reverse.flow.customer_kbps if pair.reverse else None
    if column.id == FORWARD_COLUMN.id:
        return lambda pair: pair.forward.flow.customer_kbps
    summed = _SUMMED.get(column.id)
    if summed is not None:
        name = summed[0]
        return lambda pair: _add(
            getattr(pair.forward.flow, name),
            getattr(pair.reverse.flow, name) if pair.reverse else None,
        )
    value = column.sort_value
    return lambda pair: value(pair.forward.flow)


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


def other_direction_rows(forward: Flow, reverse: Flow) -> list[tuple[str, str]]:
    """The detail pane's "Other direction" rows: what the reverse flow does, its path and
    DSCP first (they may differ from this direction's, and that is worth seeing)."""

    def differs(name: str) -> str:
        mine, theirs = getattr(forward, name), getattr(reverse, name)
        return "" if mine == theirs else f"  (this way: {_text(mine) or NO_PATH})"

    return [
        ("Direction", _text(reverse.direction)),
        ("Path", (reverse.path or NO_PATH) + differs("path")),
        ("DSCP", _text(reverse.ip_dscp) + differs("ip_dscp")),
        ("Service", _text(reverse.service_name)),
        ("Rate", format_rate(reverse.customer_kbps) if reverse.customer_kbps is not None else ""),
        ("pps", format_count(reverse.pps)),
        ("Bytes", format_bytes(reverse.bytes)),
    ]
