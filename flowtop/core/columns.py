"""Table columns: how each one shows a flow as text and how it sorts.

Shared by the live table and batch output, so both show the same thing.
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from flowtop.core import derived
from flowtop.core.errors import UsageError
from flowtop.core.fields import ALL_FIELDS, EITHER_END, FLEET_FIELDS, Field, resolve_field
from flowtop.core.fields import RATE_TITLE as RATE_TITLE
from flowtop.core.model import Flow, format_endpoint


@dataclass(frozen=True, slots=True)
class Column:
    """One table column.

    ``sort_value`` returns None for a missing value; those always sort last.
    """

    id: str
    title: str
    width: int
    numeric: bool
    # A flow column takes a Flow; a group column (core/groups.py) takes a Group.
    text: Callable[[Any], str]
    sort_value: Callable[[Any], Any]
    # Narrow terminals drop columns with the highest priority number first.
    priority: int = 1
    # Free text may be cut short to fit; an address or a protocol cut short misleads.
    squeezable: bool = True


def _address_order(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> Any:
    if address is None:
        return None
    return (address.version, int(address))


def _endpoint_order(flow: Flow, address_field: str, port_field: str) -> Any:
    address = getattr(flow, address_field)
    if address is None:
        return None
    return (address.version, int(address), getattr(flow, port_field) or 0)


def _text(name: str) -> Callable[[Flow], str]:
    def text(flow: Flow) -> str:
        value = getattr(flow, name)
        return "" if value is None else str(value)

    return text


def _folded(name: str) -> Callable[[Flow], Any]:
    def value(flow: Flow) -> Any:
        text = getattr(flow, name)
        return None if text is None or text == "" else text.casefold()

    return value


def _attr(name: str) -> Callable[[Flow], Any]:
    # In C: sorting 50 000 flows calls it for each one.
    return operator.attrgetter(name)


def _service(flow: Flow) -> str:
    name, kind = flow.service_name, flow.service_type
    if name and kind and name != kind:
        return f"{name} ({kind})"
    return name or kind or ""


def _service_order(flow: Flow) -> Any:
    text = _service(flow)
    return text.casefold() if text else None


# An empty path (a passthrough flow) reads as the path groups call it.
NO_PATH: Final = "(none)"


def _path(flow: Flow) -> str:
    return flow.path or NO_PATH


def _direction(flow: Flow) -> str:
    direction = flow.direction
    if direction is None:
        return ""
    folded = direction.casefold().replace(" ", "")
    if folded == "lantowan":
        return "L>W"
    if folded == "wantolan":
        return "W>L"
    return direction


# Columns whose text or order is not just their field's value: an endpoint is the
# address and its port, the protocol reads as a name, the service adds its type.
_CUSTOM: Final[dict[str, tuple[Callable[[Flow], str], Callable[[Flow], Any]]]] = {
    "src": (
        lambda f: format_endpoint(f.src_ip, f.src_port),
        lambda f: _endpoint_order(f, "src_ip", "src_port"),
    ),
    "dst": (
        lambda f: format_endpoint(f.dest_ip, f.dest_port),
        lambda f: _endpoint_order(f, "dest_ip", "dest_port"),
    ),
    "proto": (lambda f: f.protocol, _attr("ipp")),
    "dir": (_direction, _folded("direction")),
    "service": (_service, _service_order),
    "path": (_path, _folded("path")),
}


def _formatted(name: str, formatter: Callable[[Any], str]) -> Callable[[Flow], str]:
    def text(flow: Flow) -> str:
        return formatter(getattr(flow, name))

    return text


def _own_column(field: Field) -> Column:
    """The column a field declares in the registry."""
    spec = field.column
    assert spec is not None
    custom = _CUSTOM.get(spec.id)
    if field.derived:
        # Averages, peaks and measured rates: from the flow's record (core/derived.py).
        text, order = derived.cell_text(field.name), derived.getter(field.name)
    elif custom is not None:
        text, order = custom
    elif field.kind == "address":
        text, order = _text(field.name), _address_order_of(field.name)
    elif field.numeric:
        shown = field.formatter
        text = _text(field.name) if shown is None else _formatted(field.name, shown)
        order = _attr(field.name)
    else:
        text, order = _text(field.name), _folded(field.name)
    numeric = field.numeric and not spec.shows_text
    return Column(
        spec.id, spec.title, spec.width, numeric, text, order, spec.priority,
        squeezable=spec.squeezable,
    )  # fmt: skip


def _address_order_of(name: str) -> Callable[[Flow], Any]:
    def value(flow: Flow) -> Any:
        return _address_order(getattr(flow, name))

    return value


DEFAULT_COLUMNS: Final = (
    "src",
    "dst",
    "proto",
    "dir",
    "app",
    "service",
    "path",
    "dscp",
    "pps",
    "kbps",
    "bytes",
    "age",
)
# The columns in the order pickers and messages list them: the defaults first.
_COLUMN_ORDER: Final = (*DEFAULT_COLUMNS, "packets", "class", "transmission", "rule", "gw")
_OWN_COLUMNS: Final = {
    field.column.id: _own_column(field) for field in ALL_FIELDS if field.column is not None
}
COLUMNS: Final[dict[str, Column]] = {
    **{name: _OWN_COLUMNS[name] for name in _COLUMN_ORDER if name in _OWN_COLUMNS},
    **_OWN_COLUMNS,
}
# Columns of fields only a fleet's flows have (the appliance): the all-flows view's.
FLEET_COLUMNS: Final = frozenset(
    field.column.id for field in FLEET_FIELDS if field.column is not None
)
# Which field each column shows.
COLUMN_FIELDS: Final[dict[str, str]] = {
    field.column.id: field.name for field in ALL_FIELDS if field.column is not None
}


def _field_column(field: Field) -> Column:
    """A column for an API field that has no column of its own (sorting by it)."""
    name = field.name
    numeric = field.numeric
    return Column(name, name, 8, numeric, _text(name), _attr(name) if numeric else _folded(name))


def resolve_column(name: str) -> Column:
    """A column by id, API field name or alias; raises UsageError naming the choices.

    A name means the field it means everywhere (see :mod:`flowtop.core.fields`): the
    field's own column where it has one, else a plain column of its value.
    """
    field = resolve_field(name)
    if field is not None and field.sortable:
        if field.column is not None:
            return COLUMNS[field.column.id]
        return _field_column(field)
    term = EITHER_END.get(name.strip().lower())
    if term is not None:
        ends = " or ".join(term.fields)
        raise UsageError(f'"{name}" is a filter term for {ends}; name one of them here')
    choices = ", ".join(COLUMNS)
    raise UsageError(f'unknown column "{name}" (choose from {choices}, or any API field name)')


@dataclass(frozen=True, slots=True)
class SortSpec:
    """Sort by one column; numbers default to descending, text to ascending."""

    column: str = "kbps"
    descending: bool = True

    @classmethod
    def parse(cls, text: str) -> SortSpec:
        """``pps``, ``app:asc``, ``bytes:desc``; raises UsageError."""
        name, _, direction = text.partition(":")
        column = resolve_column(name)
        if direction == "":
            return cls(column.id, column.numeric)
        direction = direction.strip().lower()
        if direction not in ("asc", "desc"):
            raise UsageError(f'sort direction must be "asc" or "desc", not "{direction}"')
        return cls(column.id, direction == "desc")

    def inverted(self) -> SortSpec:
        return SortSpec(self.column, not self.descending)

    def __str__(self) -> str:
        return f"{self.column}:{'desc' if self.descending else 'asc'}"
