"""The field registry: every field of a flow declared once.

Each of the 26 API fields is one :class:`Field`: its API name, type, aliases, the
label and section of the detail pane, its unit and formatter, its table column (if it
has its own), whether and how it groups.  The model's field lists, the table columns,
the filter's aliases, sort keys, groupings, the detail pane, the help screen and the
README's field table are all derived from :data:`FIELDS`.

An alias means one field wherever a field is named: ``--filter``, ``--sort``,
``--columns``, ``--group-by`` (for groupable fields), the sort and group pickers.
The filter alone also knows a few terms that match either end of a flow
(:data:`EITHER_END_TERMS`: ``ip``, ``host``, ``port``); they are not fields, so they
name no column, sort or grouping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from flowtop.core.units import format_age, format_bytes, format_count, format_kbps

Kind = Literal["text", "address", "int", "float"]
# How a value reads to a person: the detail pane and the table format it by its unit.
Unit = Literal["bytes", "count", "kbps", "age", "protocol"]

# Rates are shown in bits per second with SI prefixes (``21.0M``): the title says so.
RATE_TITLE: Final = "bit/s"

# The detail pane's sections, in the order it shows them.
SECTIONS: Final = (
    "Endpoints",
    "Path and service",
    "QoS and rules",
    "Counters",
    "Rates and overheads",
)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """A field's own table column: id (also one of the field's names), title, width.

    Narrow terminals drop columns with the highest ``priority`` number first; a
    column that is not ``squeezable`` (an address, a protocol) is never cut short.
    """

    id: str
    title: str
    width: int
    priority: int = 1
    squeezable: bool = True
    # A number shown as a name (the protocol) aligns and sorts by default as text.
    shows_text: bool = False


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """How a groupable field groups: the grouping's id, the group column's title,
    its place in the ``g`` list and the filter name a drill-down writes."""

    id: str
    title: str
    order: int
    drill: str


@dataclass(frozen=True, slots=True)
class Field:
    """One API field of a flow."""

    name: str
    kind: Kind
    # The detail pane's label, in words.
    title: str
    section: str
    aliases: tuple[str, ...] = ()
    unit: Unit | None = None
    # The table's formatter for the value (None: the value as text).
    formatter: Callable[[float | None], str] | None = None
    column: ColumnSpec | None = None
    group: GroupSpec | None = None
    # The detail pane shows the API name beside the label where it reads differently.
    show_api_name: bool = False
    sortable: bool = True
    # Set by flowtop, not sent by the appliance: the appliance of a fleet that reported
    # the flow (a model attribute, but no field of the API, JSON or CSV).
    fleet: bool = False
    # Computed by flowtop (flowtop.core.derived) from the history and counters it keeps,
    # not sent by the appliance: no model attribute, no JSON or CSV field.
    derived: bool = False
    # What a derived field means, for the help screen and the README.
    description: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")

    @property
    def groupable(self) -> bool:
        return self.group is not None

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this field answers to: the API name, then its aliases."""
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class EitherEndTerm:
    """A filter-only term that matches when any of its fields does (``ip``, ``port``)."""

    name: str
    fields: tuple[str, ...]
    description: str


_E, _P, _Q, _C, _R = SECTIONS

# In the order of the detail pane: sections, then fields within each.
FIELDS: Final[tuple[Field, ...]] = (
    Field(
        "src_ip", "address", "Source", _E, ("src", "source"),
        column=ColumnSpec("src", "Source", 21, 1, squeezable=False),
        group=GroupSpec("src", "Source host", 4, "src"),
    ),
    Field("src_port", "int", "Source port", _E, ("sport",)),
    Field(
        "dest_ip", "address", "Destination", _E, ("dst", "dest", "destination"),
        column=ColumnSpec("dst", "Destination", 21, 1, squeezable=False),
        group=GroupSpec("dst", "Destination host", 5, "dst"),
    ),
    Field("dest_port", "int", "Dest port", _E, ("dport",)),
    Field(
        "ipp", "int", "Protocol", _E, ("proto", "protocol"), unit="protocol",
        column=ColumnSpec("proto", "Proto", 5, 3, squeezable=False, shows_text=True),
        show_api_name=True,
    ),
    Field(
        "direction", "text", "Direction", _E, ("dir",),
        column=ColumnSpec("dir", "Dir", 3, 3, squeezable=False),
        group=GroupSpec("direction", "Direction", 6, "dir"),
    ),
    Field(
        "lan_gw_ip", "address", "LAN gateway", _E, ("gw",),
        column=ColumnSpec("gw", "LAN gateway", 15, 5),
    ),
    Field(
        "path", "text", "Path", _P,
        column=ColumnSpec("path", "Path", 22, 2),
        group=GroupSpec("path", "Path", 1, "path"),
    ),
    Field("service_type", "text", "Service type", _P, ("type",)),
    Field(
        "service_name", "text", "Service name", _P, ("service", "svc"),
        column=ColumnSpec("service", "Service", 16, 4),
        group=GroupSpec("service", "Service", 2, "service_name"),
    ),
    Field(
        "transmission_type", "text", "Transmission", _P, ("transmission",),
        column=ColumnSpec("transmission", "Transmission", 14, 5),
    ),
    Field(
        "application", "text", "Application", _P, ("app",),
        column=ColumnSpec("app", "Application", 14, 1),
        group=GroupSpec("application", "Application", 0, "app"),
    ),
    Field(
        "ip_dscp", "text", "DSCP", _Q, ("dscp",),
        column=ColumnSpec("dscp", "DSCP", 7, 4), show_api_name=True,
        group=GroupSpec("dscp", "DSCP", 3, "dscp"),
    ),
    Field(
        "class_type", "text", "Class type", _Q, ("class",),
        column=ColumnSpec("class", "Class", 11, 5),
    ),
    Field("vpathclass", "text", "Path class ID", _Q, ("vpc",), show_api_name=True),
    Field(
        "rule_id", "text", "Rule ID", _Q, ("rule",),
        column=ColumnSpec("rule", "Rule", 5, 5), show_api_name=True,
    ),
    Field("app_rule_id", "text", "App rule ID", _Q, show_api_name=True),
    Field(
        "bytes", "int", "Bytes", _C, unit="bytes", formatter=format_bytes,
        column=ColumnSpec("bytes", "Bytes", 6, 2),
    ),
    Field(
        "packets", "int", "Packets", _C, ("pkts",), unit="count", formatter=format_count,
        column=ColumnSpec("packets", "Pkts", 6, 5),
    ),
    Field(
        "hitcount", "int", "Hit count", _C, ("hits",), unit="count", show_api_name=True,
    ),
    Field("hdr_compression_bytes", "int", "Hdr compression", _C, unit="bytes"),
    Field(
        "age", "int", "Age", _C, unit="age", formatter=format_age,
        column=ColumnSpec("age", "Age", 6, 2),
    ),
    Field(
        "pps", "float", "pps", _R, unit="count", formatter=format_count,
        column=ColumnSpec("pps", "pps", 6, 1),
    ),
    Field(
        "customer_kbps", "float", "Rate", _R, ("kbps", "rate"), unit="kbps",
        formatter=format_kbps, column=ColumnSpec("kbps", RATE_TITLE, 6, 1), show_api_name=True,
    ),
    Field("ipsec_overhead_kbps", "float", "IPsec overhead", _R, unit="kbps"),
    Field("virtual_path_overhead_kbps", "float", "Path overhead", _R, unit="kbps"),
)  # fmt: skip

# Fields flowtop derives from what it keeps between polls (flowtop.core.derived): the
# rate and pps averaged over iftop's three windows and their peaks, from the history
# rings, and the rates measured from the byte and packet counters between two polls.
# Rates are in kbps like customer_kbps (``rate_40s>1M`` is over 1 Gb/s, as ``rate>1M``).
_D = "Rates and overheads"
# The 10 s and 40 s averages say more than the 2 s one (about the reported rate at the
# default interval): on a narrow terminal the 2 s column goes first.
_AVERAGES: Final = (("2s", 3), ("10s", 2), ("40s", 2))


def _averaged(quantity: str, unit: Unit, label: str) -> tuple[Field, ...]:
    formatter = format_kbps if unit == "kbps" else format_count
    prefix = "" if quantity == "rate" else "pps"
    fields: list[Field] = []
    for window, priority in _AVERAGES:
        fields.append(
            Field(
                f"{quantity}_{window}",
                "float",
                f"{label} {window} average",
                _D,
                unit=unit,
                formatter=formatter,
                column=ColumnSpec(f"{quantity}_{window}", f"{prefix}{window}", 7, priority),
                derived=True,
                description=f"{label} averaged over the last {window}",
            )
        )
    fields.append(
        Field(
            f"{quantity}_peak",
            "float",
            f"{label} peak",
            _D,
            unit=unit,
            formatter=formatter,
            column=ColumnSpec(f"{quantity}_peak", f"{prefix}Peak" if prefix else "Peak", 7, 3),
            derived=True,
            description=f"highest {label} reported since flowtop first saw the flow",
        )
    )
    return tuple(fields)


DERIVED_FIELDS: Final[tuple[Field, ...]] = (
    *_averaged("rate", "kbps", "rate"),
    *_averaged("pps", "count", "pps"),
    Field(
        "rate_measured", "float", "Measured rate", _D, ("measured",), unit="kbps",
        formatter=format_kbps, column=ColumnSpec("rate_measured", "Meas", 7, 3),
        derived=True,
        description="rate from the byte counter between the last two polls",
    ),
    Field(
        "pps_measured", "float", "Measured pps", _D, unit="count", formatter=format_count,
        column=ColumnSpec("pps_measured", "Mpps", 6, 3), derived=True,
        description="pps from the packet counter between the last two polls",
    ),
    Field(
        "rate_mismatch", "int", "Rate mismatch", _D, ("mismatch",),
        column=ColumnSpec("mismatch", "Stale", 5, 3), derived=True,
        description="1 when the reported rate or pps disagrees with the counters (stale stats)",
    ),
)  # fmt: skip

# Fields flowtop sets in a fleet: which appliance reported the flow.  The all-flows
# view shows, sorts, filters (``appliance:austin``) and groups by it.
FLEET_FIELDS: Final[tuple[Field, ...]] = (
    Field(
        "appliance", "text", "Appliance", _E,
        # Priority 0: never dropped for want of room (rows of several appliances).
        column=ColumnSpec("appliance", "Appliance", 10, 0, squeezable=False),
        group=GroupSpec("appliance", "Appliance", 7, "appliance"),
        fleet=True,
        description="the appliance of the fleet that reported the flow",
    ),
)  # fmt: skip

# Filter-only terms: they match either end of a flow, so they are no column, sort or group.
EITHER_END_TERMS: Final[tuple[EitherEndTerm, ...]] = (
    EitherEndTerm("ip", ("src_ip", "dest_ip"), "either address"),
    EitherEndTerm("host", ("src_ip", "dest_ip"), "either address, as ip"),
    EitherEndTerm("port", ("src_port", "dest_port"), "either port"),
)

# The API fields, the fleet's, then the derived ones: every field a name can mean.
ALL_FIELDS: Final[tuple[Field, ...]] = FIELDS + FLEET_FIELDS + DERIVED_FIELDS
BY_NAME: Final[dict[str, Field]] = {field.name: field for field in ALL_FIELDS}
# Every name and alias, lower case, to its field.
_BY_ANY_NAME: Final[dict[str, Field]] = {
    name: field for field in ALL_FIELDS for name in field.names
}
EITHER_END: Final[dict[str, EitherEndTerm]] = {term.name: term for term in EITHER_END_TERMS}


def _of_kind(*kinds: Kind) -> tuple[str, ...]:
    return tuple(field.name for field in FIELDS if field.kind in kinds)


# The 26 API fields in the order of the vendor's reference page (alphabetical).
API_FIELDS: Final[tuple[str, ...]] = tuple(sorted(field.name for field in FIELDS))
DERIVED_NAMES: Final[tuple[str, ...]] = tuple(field.name for field in DERIVED_FIELDS)
ADDRESS_FIELDS: Final = _of_kind("address")
INT_FIELDS: Final = _of_kind("int")
FLOAT_FIELDS: Final = _of_kind("float")
TEXT_FIELDS: Final = _of_kind("text")
NUMERIC_FIELDS: Final = INT_FIELDS + FLOAT_FIELDS

# alias -> API field, for every alias of every field.
ALIASES: Final[dict[str, str]] = {
    alias: field.name for field in ALL_FIELDS for alias in field.aliases
}
# Every text field, the fleet's too: what the filter matches as text.
TEXT_NAMES: Final = tuple(field.name for field in ALL_FIELDS if field.kind == "text")
GROUPABLE: Final[tuple[Field, ...]] = tuple(
    sorted(
        (field for field in FIELDS + FLEET_FIELDS if field.group is not None),
        key=lambda field: field.group.order if field.group is not None else 0,
    )
)


def resolve_field(name: str) -> Field | None:
    """The field an API name or alias names (any case, surrounding space ignored)."""
    return _BY_ANY_NAME.get(name.strip().lower())


def _check() -> None:
    """The registry's own consistency: names unique, column and group ids are names."""
    seen: set[str] = set()
    for field in ALL_FIELDS:
        for name in field.names:
            if name in seen or name in EITHER_END:
                raise AssertionError(f"field name {name!r} declared twice")
            seen.add(name)
        if field.column is not None and field.column.id not in field.names:
            raise AssertionError(f"column {field.column.id!r} is not a name of {field.name}")
        if field.group is not None and field.group.id not in field.names:
            raise AssertionError(f"grouping {field.group.id!r} is not a name of {field.name}")
        if field.section not in SECTIONS:
            raise AssertionError(f"{field.name}: unknown section {field.section!r}")


_check()


def _kind_text(field: Field) -> str:
    kind = {"text": "text", "address": "address", "int": "number", "float": "number"}[field.kind]
    if field.derived:
        return f"{kind}, derived: {field.description}"
    return f"{kind}, in a fleet: {field.description}" if field.fleet else kind


def markdown_table() -> str:
    """The README's field table: every field, its aliases and where it can be used."""
    lines = [
        "| field | aliases | type | table column | group-by |",
        "|---|---|---|---|---|",
    ]
    for field in (*sorted(FIELDS, key=lambda field: field.name), *FLEET_FIELDS, *DERIVED_FIELDS):
        aliases = " ".join(f"`{alias}`" for alias in field.aliases) or "-"
        column = f"`{field.column.id}`" if field.column is not None else "plain"
        group = f"`{field.group.id}`" if field.group is not None else "-"
        lines.append(f"| `{field.name}` | {aliases} | {_kind_text(field)} | {column} | {group} |")
    for term in EITHER_END_TERMS:
        fields = " or ".join(f"`{name}`" for name in term.fields)
        lines.append(f"| {fields} | `{term.name}` (filter only) | {term.description} | - | - |")
    return "\n".join(lines)
