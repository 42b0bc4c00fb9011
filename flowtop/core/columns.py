"""Table columns: how each one shows a flow as text and how it sorts.

Shared by the live table and batch output, so both show the same thing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from flowtop.core.errors import UsageError
from flowtop.core.model import (
    API_FIELDS,
    NUMERIC_FIELDS,
    Flow,
    format_endpoint,
)
from flowtop.core.units import format_age, format_bytes, format_count, format_kbps


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
    def value(flow: Flow) -> Any:
        return getattr(flow, name)

    return value


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
# Rates are shown in bits per second with SI prefixes (``21.0M``): the title says so.
RATE_TITLE: Final = "bit/s"


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


COLUMNS: Final[dict[str, Column]] = {
    column.id: column
    for column in (
        Column(
            "src",
            "Source",
            21,
            False,
            lambda f: format_endpoint(f.src_ip, f.src_port),
            lambda f: _endpoint_order(f, "src_ip", "src_port"),
            1,
            squeezable=False,
        ),
        Column(
            "dst",
            "Destination",
            21,
            False,
            lambda f: format_endpoint(f.dest_ip, f.dest_port),
            lambda f: _endpoint_order(f, "dest_ip", "dest_port"),
            1,
            squeezable=False,
        ),
        Column("proto", "Proto", 5, False, lambda f: f.protocol, _attr("ipp"), 3, squeezable=False),
        Column("dir", "Dir", 3, False, _direction, _folded("direction"), 3, squeezable=False),
        Column("app", "Application", 14, False, _text("application"), _folded("application"), 1),
        Column("service", "Service", 16, False, _service, _service_order, 4),
        Column("path", "Path", 22, False, _path, _folded("path"), 2),
        Column("dscp", "DSCP", 7, False, _text("ip_dscp"), _folded("ip_dscp"), 4),
        Column("pps", "pps", 6, True, lambda f: format_count(f.pps), _attr("pps"), 1),
        Column(
            "kbps",
            RATE_TITLE,
            6,
            True,
            lambda f: format_kbps(f.customer_kbps),
            _attr("customer_kbps"),
            1,
        ),
        Column("bytes", "Bytes", 6, True, lambda f: format_bytes(f.bytes), _attr("bytes"), 2),
        Column("age", "Age", 6, True, lambda f: format_age(f.age), _attr("age"), 2),
        Column("packets", "Pkts", 6, True, lambda f: format_count(f.packets), _attr("packets"), 5),
        Column("class", "Class", 11, False, _text("class_type"), _folded("class_type"), 5),
        Column(
            "transmission",
            "Transmission",
            14,
            False,
            _text("transmission_type"),
            _folded("transmission_type"),
            5,
        ),
        Column("rule", "Rule", 5, False, _text("rule_id"), _folded("rule_id"), 5),
        Column(
            "gw",
            "LAN gateway",
            15,
            False,
            _text("lan_gw_ip"),
            lambda f: _address_order(f.lan_gw_ip),
            5,
        ),
    )
}

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

# Friendly names accepted wherever a column or sort field is named.
COLUMN_ALIASES: Final[dict[str, str]] = {
    "src_ip": "src",
    "source": "src",
    "dest_ip": "dst",
    "dest": "dst",
    "destination": "dst",
    "ipp": "proto",
    "protocol": "proto",
    "direction": "dir",
    "application": "app",
    "service_name": "service",
    "svc": "service",
    "ip_dscp": "dscp",
    "customer_kbps": "kbps",
    "rate": "kbps",
    "class_type": "class",
    "transmission_type": "transmission",
    "rule_id": "rule",
    "lan_gw_ip": "gw",
}


def _field_column(name: str) -> Column:
    """A column for any API field that has no column of its own (sorting by it)."""
    numeric = name in NUMERIC_FIELDS
    return Column(name, name, 8, numeric, _text(name), _attr(name) if numeric else _folded(name))


def resolve_column(name: str) -> Column:
    """A column by id, alias or API field name; raises UsageError naming the choices."""
    wanted = name.strip().lower()
    wanted = COLUMN_ALIASES.get(wanted, wanted)
    if wanted in COLUMNS:
        return COLUMNS[wanted]
    if wanted in API_FIELDS:
        return _field_column(wanted)
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
