"""The flow model: one appliance flow, parsed leniently, plus the response envelope.

The appliance documents every value as a string, but real answers carry empty
strings, "N/A", JSON numbers and fields nobody documented.  Parsing therefore
never raises for a single bad value: the value becomes ``None`` and its raw form
is kept in :attr:`Flow.unparsed` so nothing the appliance said is lost.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
)

from flowtop.core import fields
from flowtop.core.errors import UnreadableAnswer
from flowtop.core.fastpaths import (
    RememberedIPv4,
    RememberedIPv6,
    address_text,
    model_extra,
    new_tuple,
    remembered_address,
    share_fields_sets,
)
from flowtop.core.steps import Steps, run_to_end

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The field lists come from the registry (flowtop.core.fields); the Flow class below
# declares the same fields with their pydantic types (a test checks that they agree).
ADDRESS_FIELDS: Final = fields.ADDRESS_FIELDS
INT_FIELDS: Final = fields.INT_FIELDS
FLOAT_FIELDS: Final = fields.FLOAT_FIELDS
TEXT_FIELDS: Final = fields.TEXT_FIELDS
NUMERIC_FIELDS: Final = fields.NUMERIC_FIELDS
# The 26 fields in the order of the vendor's reference page; output formats use it.
API_FIELDS: Final[tuple[str, ...]] = fields.API_FIELDS

PROTOCOL_NAMES: Final[dict[int, str]] = {
    1: "ICMP",
    2: "IGMP",
    6: "TCP",
    17: "UDP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "ICMPv6",
    132: "SCTP",
}

# C0 controls, DEL and C1 controls.  Escape sequences start with ESC (C0) or CSI (C1),
# so removing these makes any appliance text inert in a terminal.  The bidi marks,
# embeddings, overrides and isolates go too: they reorder the text around them on screen.
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Half of a surrogate pair cannot be encoded (JSON allows "\ud83d" alone: a cut emoji).
_SURROGATES = re.compile("[\ud800-\udfff]")


def strip_control(text: str) -> str:
    """Remove control characters (ESC, NUL, CR, other C0/C1, bidi controls), replace
    lone surrogates with U+FFFD, and keep everything else: the result is valid Unicode."""
    if text.isprintable():
        return text
    return _SURROGATES.sub("\ufffd", _CONTROL_CHARS.sub("", text))


def valid_unicode(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD, so that it always encodes."""
    return _SURROGATES.sub("\ufffd", text)


_make_address = remembered_address


# Unbounded (a C dict, no LRU bookkeeping), trimmed after each answer by
# trim_address_cache: a fixed LRU smaller than one answer's distinct addresses
# (about 100 000 at 50 000 flows) misses on every lookup, and one much larger than
# a small answer's grows with churning hosts.
@functools.cache
def parse_address(text: str) -> IPAddress | None:
    """An IPv4/IPv6 address, or None; cached because the same hosts recur every poll."""
    candidate = text.strip()
    address = _make_address(candidate)
    if address is None and candidate.startswith("["):
        # Bracketed IPv6 ("[2001:db8::1]") is seen in the wild.
        address = _make_address(candidate.strip("[]"))
    return address


# Addresses kept per flow of the last answer (three address fields, room for churn),
# and a floor for small answers and filter texts.
ADDRESSES_PER_FLOW: Final = 8
MIN_ADDRESS_CACHE: Final = 4096


def trim_address_cache(flow_count: int) -> None:
    """Empty the address cache once it outgrows what answers of ``flow_count`` need.

    The next answer refills it with the addresses still in use, so memory follows
    the flow count instead of every host ever seen.
    """
    if parse_address.cache_info().currsize > max(
        MIN_ADDRESS_CACHE, ADDRESSES_PER_FLOW * flow_count
    ):
        parse_address.cache_clear()


def _validate_address(value: Any) -> IPAddress | None:
    if value is None or isinstance(value, RememberedIPv4 | RememberedIPv6):
        return value
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        # Every stored address is one of ours, so its text is always at hand.
        value = str(value)
    if isinstance(value, str):
        parsed = parse_address(value)
        if parsed is not None:
            return parsed
    raise ValueError("not an IP address")


# A plain validator: the cached parse is the whole check, no second pass by pydantic.
Address = Annotated[IPAddress | None, PlainValidator(_validate_address)]


class FlowKey(NamedTuple):
    """The natural identity of a flow: the 5-tuple plus direction.

    ``occurrence`` tells apart flows that one answer reported under the same key,
    so a repeated key never hides a flow.
    """

    src_ip: str
    src_port: int | None
    dest_ip: str
    dest_port: int | None
    ipp: int | None
    direction: str
    occurrence: int = 0
    # In a fleet, the appliance that reported the flow: two appliances may report the
    # same 5-tuple and direction (both ends of a conversation, private addresses).
    appliance: str = ""

    def label(self) -> str:
        """A short human form: ``10.0.0.1:5000 > 8.8.8.8:53 UDP`` (in a fleet, the
        appliance's name first: ``austin 10.0.0.1:5000 > ...``)."""
        proto = PROTOCOL_NAMES.get(self.ipp, str(self.ipp)) if self.ipp is not None else "?"
        text = (
            f"{format_endpoint(self.src_ip, self.src_port)} > "
            f"{format_endpoint(self.dest_ip, self.dest_port)} {proto}"
        )
        if self.occurrence:
            text = f"{text} #{self.occurrence + 1}"
        return f"{self.appliance} {text}" if self.appliance else text


def format_endpoint(address: object, port: int | None) -> str:
    """``addr:port``, with IPv6 addresses in brackets as in URLs."""
    text = "" if address is None else str(address)
    if port is None:
        return text or "?"
    if ":" in text:
        return f"[{text}]:{port}"
    return f"{text or '?'}:{port}"


_new_key = new_tuple
# Addresses in a Flow are always remembered ones (see _validate_address).
_address_text = address_text


# Numbers outside the range of what they measure are unparsed, not numbers: a port is
# 16 bits, a protocol 8, and counters (and rates) are never negative nor beyond 64 bits.
MAX_COUNTER: Final = 2**64 - 1
Port = Annotated[int, Field(ge=0, le=65535)]
IPProtocol = Annotated[int, Field(ge=0, le=255)]
Counter = Annotated[int, Field(ge=0, le=MAX_COUNTER)]
Rate = Annotated[float, Field(ge=0, le=float(MAX_COUNTER))]


class Flow(BaseModel):
    """One flow as the appliance reported it, with typed values.

    Unknown fields are kept (``model_extra``); values that could not be parsed are
    ``None`` here and kept verbatim in :attr:`unparsed`.
    """

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        coerce_numbers_to_str=True,
        allow_inf_nan=False,
        ser_json_inf_nan="null",
        hide_input_in_errors=True,
    )

    src_ip: Address = None
    src_port: Port | None = None
    dest_ip: Address = None
    dest_port: Port | None = None
    ipp: IPProtocol | None = None
    direction: str | None = None
    application: str | None = None
    service_type: str | None = None
    service_name: str | None = None
    path: str | None = None
    class_type: str | None = None
    vpathclass: str | None = None
    transmission_type: str | None = None
    ip_dscp: str | None = None
    rule_id: str | None = None
    app_rule_id: str | None = None
    lan_gw_ip: Address = None
    age: Counter | None = None
    bytes: Counter | None = None
    packets: Counter | None = None
    hitcount: Counter | None = None
    hdr_compression_bytes: Counter | None = None
    pps: Rate | None = None
    customer_kbps: Rate | None = None
    ipsec_overhead_kbps: Rate | None = None
    virtual_path_overhead_kbps: Rate | None = None

    # Raw values of known fields that could not be parsed.  The alias keeps an
    # appliance field called "unparsed" from landing here; it stays an extra.
    # None rather than an empty dict: one object less per flow per poll for the GC.
    unparsed_values: dict[str, Any] | None = Field(
        default=None, validation_alias="\x00unparsed", exclude=True, repr=False
    )
    # In a fleet, the appliance that reported the flow (flowtop.core.fields.FLEET_FIELDS),
    # set when its store takes the answer; never read from an answer: an appliance's own
    # field called "appliance" stays an extra.
    appliance: str | None = Field(default=None, validation_alias="\x00appliance", exclude=True)

    @classmethod
    def from_raw(cls, data: dict[str, Any], *, clean: bool = False) -> Flow:
        """Parse one raw flow object leniently; never raises for a bad value.

        ``clean`` promises that no string holds a control character, which lets a
        well-formed item validate in a single pass inside pydantic-core.
        """
        validate = cls.__pydantic_validator__.validate_python
        if clean:
            try:
                flow: Flow = validate(data)
            except ValidationError:
                pass
            else:
                # Nested extra fields still need their depth bounded (see MAX_NESTING).
                if not _has_containers(model_extra(flow)):
                    return flow
        cleaned = _prepare(data)
        try:
            flow = validate(cleaned)
            return flow
        except ValidationError as error:
            unparsed: dict[str, Any] = {}
            for detail in error.errors(include_url=False):
                location = detail.get("loc", ())
                if location and isinstance(location[0], str) and location[0] in cleaned:
                    name = location[0]
                    unparsed[name] = cleaned[name]
                    cleaned[name] = None
            cleaned["\x00unparsed"] = unparsed
            flow = validate(cleaned)
            return flow

    @property
    def unparsed(self) -> dict[str, Any]:
        """Raw values of known fields that could not be parsed (``"N/A"`` for a port, say)."""
        return self.unparsed_values or {}

    @property
    def extras(self) -> dict[str, Any]:
        """Fields the appliance sent that the reference does not document."""
        return self.model_extra or {}

    @property
    def key(self) -> FlowKey:
        src, dest, appliance = self.src_ip, self.dest_ip, self.appliance
        # This runs per flow per poll: new_tuple skips the NamedTuple's Python
        # __new__, and the remembered text skips a Python-level __str__ (fastpaths).
        return _new_key(
            FlowKey,
            (
                "" if src is None else _address_text(src),
                self.src_port,
                "" if dest is None else _address_text(dest),
                self.dest_port,
                self.ipp,
                self.direction or "",
                0,
                "" if appliance is None else appliance,
            ),
        )

    @property
    def protocol(self) -> str:
        """The protocol by name where known (TCP, UDP, ...), else its number."""
        if self.ipp is None:
            return ""
        return PROTOCOL_NAMES.get(self.ipp, str(self.ipp))

    def value(self, name: str) -> Any:
        """A field's typed value by API name (known or extra); None when absent."""
        if name in Flow.model_fields:
            return getattr(self, name)
        return self.extras.get(name)

    def to_json_dict(self) -> dict[str, Any]:
        """The 26 API fields, typed for JSON: numbers as numbers, addresses as text; a
        fleet's flow names its appliance first."""
        out: dict[str, Any] = {} if self.appliance is None else {"appliance": self.appliance}
        for name in API_FIELDS:
            value = getattr(self, name)
            if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
                value = str(value)
            out[name] = value
        return out


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise raw values before typed validation: strip controls, map blanks to None."""
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if type(name) is not str:
            name = str(name)
        name = strip_control(name)
        if type(value) is str:
            value = strip_control(value)
            if name in _TYPED_FIELDS:
                stripped = value.strip()
                if stripped in _BLANKS:
                    value = None
                elif name not in _ADDRESS_SET:
                    value = stripped
        elif type(value) is bool and name in _TYPED_FIELDS:
            # JSON true/false is not a number or a name; keep it as unparsed.
            value = str(value).lower()
        elif isinstance(value, list | dict):
            value = _strip_nested(value, 1)
        cleaned[name] = value
    return cleaned


def _strip_nested(value: Any, depth: int) -> Any:
    """Nested data with clean text, and no deeper than :data:`MAX_NESTING` containers."""
    if isinstance(value, str):
        return strip_control(value)
    if isinstance(value, list | dict) and depth > MAX_NESTING:
        return TOO_DEEP
    if isinstance(value, list):
        return [_strip_nested(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {strip_control(str(k)): _strip_nested(v, depth + 1) for k, v in value.items()}
    return value


def _has_containers(extra: dict[str, Any] | None) -> bool:
    return extra is not None and any(isinstance(v, list | dict) for v in extra.values())


# Nested data (extra fields) is kept this many containers deep, then cut with TOO_DEEP:
# deeper data would make printing or comparing it exceed the interpreter's stack.  It is
# above pydantic-core's own JSON limit, so its fast path never has anything to cut.
MAX_NESTING: Final = 200
TOO_DEEP: Final = "(nested too deeply)"
_KNOWN_FIELDS: Final = frozenset(API_FIELDS)
_TYPED_FIELDS: Final = frozenset(ADDRESS_FIELDS + NUMERIC_FIELDS)
_ADDRESS_SET: Final = frozenset(ADDRESS_FIELDS)
_BLANKS: Final = frozenset({"", "-", "--", "N/A", "n/a", "NA", "null", "None", "none"})


@dataclass(slots=True)
class ParsedFlows:
    """The flows of one answer, plus how many array items were not flow objects."""

    flows: list[Flow] = field(default_factory=list)
    ignored_items: int = 0


def describe_body(body: bytes, content_type: str = "") -> str:
    """A short human description of a body that is not what we expected."""
    head = body[:512].lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if not body.strip():
        return "an empty body"
    if head.startswith(b"<"):
        return "an XML or HTML document"
    return f"{len(body)} bytes of unrecognised data"


# Raw C0 controls and DEL, less the JSON whitespace that may sit between tokens.
_RAW_CONTROLS: Final = bytes(c for c in [*range(0x20), 0x7F] if c not in (0x09, 0x0A, 0x0D))
# Escapes that can decode to a control character (\u001b, \n, ...).
_CONTROL_ESCAPES: Final = (b"\\u00", b"\\b", b"\\f", b"\\n", b"\\r", b"\\t")
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")


# Escapes of a surrogate half or a bidi control, and bidi controls in UTF-8.
_UNSAFE_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F]|061[cC]|200[eEfF]|202[a-eA-E]|206[6-9])")
# One literal first byte: an alternation of whole sequences scans a large body slowly.
_BIDI_UTF8 = re.compile(rb"\xe2(?:\x80[\x8e\x8f\xaa-\xae]|\x81[\xa6-\xa9])")


def body_is_clean(body: bytes) -> bool:
    """True when no string in this JSON body can contain a control character (C0, C1,
    bidi) or a lone surrogate.

    Plain substring tests first: a regex alternation over a large body costs milliseconds.
    """
    if len(body.translate(None, _RAW_CONTROLS)) != len(body):
        return False
    if b"\\" in body and any(escape in body for escape in _CONTROL_ESCAPES):
        return False
    # One-byte tests (memchr) before two-byte ones: an ASCII body pays almost nothing.
    if b"\\" in body and b"\\u" in body and _UNSAFE_ESCAPE.search(body) is not None:
        return False
    if b"\xd8" in body and b"\xd8\x9c" in body:
        return False
    if b"\xe2" in body and _BIDI_UTF8.search(body) is not None:
        return False
    return b"\xc2" not in body or _C1_UTF8.search(body) is None


def decode_json_checked(body: bytes, content_type: str = "") -> tuple[Any, bool]:
    """Decode a JSON body; also say whether its strings are free of control characters.

    Raw control characters inside strings are accepted (the model strips them).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableAnswer(f"not UTF-8 (invalid byte at byte {error.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise UnreadableAnswer("an empty body instead of JSON")
    try:
        return _load(text, strict=True), body_is_clean(body)
    except json.JSONDecodeError as error:
        if error.msg.startswith("Invalid control character"):
            return _loads_lax(text), False
        if text.lstrip()[:1] == "<":
            raise UnreadableAnswer(describe_body(body, content_type) + " instead of JSON") from None
        byte = len(text[: error.pos].encode("utf-8"))
        raise UnreadableAnswer(f"invalid JSON at byte {byte}: {error.msg}") from None
    except RecursionError:
        raise UnreadableAnswer("answer nested too deeply") from None


def _loads_lax(text: str) -> Any:
    try:
        return _load(text, strict=False)
    except json.JSONDecodeError as error:
        byte = len(text[: error.pos].encode("utf-8"))
        raise UnreadableAnswer(f"invalid JSON at byte {byte}: {error.msg}") from None


def _load(text: str, *, strict: bool) -> Any:
    """``json.loads``, but a number too long for ``int`` stays text (unparsed later) and
    nesting too deep for the stack is cut at :data:`MAX_NESTING` (see :func:`_cut_deep`).

    Raises :class:`json.JSONDecodeError`, or :class:`UnreadableAnswer` when even that fails.
    """
    options: dict[str, Any] = {} if strict else {"strict": False}
    cut = False
    while True:
        try:
            return json.loads(text, **options)
        except json.JSONDecodeError:
            raise
        except RecursionError:
            if cut:
                raise UnreadableAnswer("answer nested too deeply") from None
            text, cut = _cut_deep(text), True
        except ValueError:
            # Python refuses int() of more than 4300 digits (sys.set_int_max_str_digits).
            if "parse_int" in options:
                raise UnreadableAnswer("answer holds a number too long to read") from None
            options["parse_int"] = _parse_int


def _parse_int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


_JSON_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _cut_deep(text: str) -> str:
    """The JSON text with every container deeper than :data:`MAX_NESTING` replaced by the
    string :data:`TOO_DEEP`; brackets inside strings are text and do not count."""
    parts: list[str] = []
    depth = 0
    last = 0
    cut_at = -1
    limit = MAX_NESTING + 1
    for match in _JSON_STRUCTURE.finditer(text):
        char = text[match.start()]
        if char == '"':
            continue
        if char in "[{":
            depth += 1
            if depth == limit:
                cut_at = match.start()
            continue
        if depth == limit and cut_at >= 0:
            parts.append(text[last:cut_at])
            parts.append(json.dumps(TOO_DEEP))
            last = match.end()
            cut_at = -1
        depth -= 1
    if depth != 0:
        raise UnreadableAnswer("answer nested too deeply (and not closed)")
    parts.append(text[last:])
    return "".join(parts)


def _describe_json(value: Any) -> str:
    if value is None:
        return "JSON null"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, list):
        return "a JSON array"
    keys = ", ".join(sorted(strip_control(str(k)) for k in value)[:5])
    return f"JSON object without flows (keys: {keys})" if keys else "an empty JSON object"


def unwrap_envelope(document: Any) -> list[Any]:
    """The flow items of a bare array, ``{"flows": [...]}`` or ``{"flows": {"flows": [...]}}``."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and "flows" in document:
        inner = document["flows"]
        if isinstance(inner, list):
            return inner
        if isinstance(inner, dict) and isinstance(inner.get("flows"), list):
            items: list[Any] = inner["flows"]
            return items
        if inner is None:
            return []
        raise UnreadableAnswer(f'"flows" holds {_describe_json(inner)} instead of a list')
    raise UnreadableAnswer(f"{_describe_json(document)} instead of a flows list")


def parse_items(items: Iterable[Any], *, clean: bool = False) -> ParsedFlows:
    """Validate flow items; items that are not objects are counted, not fatal.

    ``clean`` promises that no string holds a control character (see :func:`body_is_clean`),
    which lets clean items skip the per-value sanitising pass.
    """
    result = ParsedFlows()
    from_raw = Flow.from_raw
    for item in items:
        if isinstance(item, dict):
            result.flows.append(from_raw(item, clean=clean))
        else:
            result.ignored_items += 1
    return result


# The validators of whole answers, each built on first use: building one costs a few
# ms of start-up, and a one-shot run of a small answer needs only one of them.
@functools.cache
def _flow_list() -> TypeAdapter[list[Flow]]:
    return TypeAdapter(list[Flow])


@functools.cache
def _flows_object() -> type[BaseModel]:
    class FlowsObject(BaseModel):
        flows: list[Flow]

    return FlowsObject


@functools.cache
def _nested_flows_object() -> type[BaseModel]:
    class NestedFlowsObject(BaseModel):
        flows: _flows_object()  # type: ignore[valid-type]

    return NestedFlowsObject


def _parse_well_formed(body: bytes) -> list[Flow] | None:
    """One pass in pydantic-core from bytes to flows, or None when anything is off.

    About twice as fast as json.loads plus per-item validation.  Dispatching on the
    first byte beats a pydantic union, which validates the members more than once.
    """
    first = body[:64].lstrip()[:1]
    try:
        if first == b"[":
            return _flow_list().validate_json(body)
        if first == b"{":
            try:
                flows: list[Flow] = _flows_object().model_validate_json(body).flows  # type: ignore[attr-defined]
                return flows
            except ValidationError:
                nested: list[Flow] = _nested_flows_object().model_validate_json(body).flows.flows  # type: ignore[attr-defined]
                return nested
    except ValueError:
        # A ValidationError, or a number too long for int: the careful path decides.
        pass
    return None


# A large answer is validated in pieces of about this many bytes (some 200 flows, a
# few ms each), so that the event loop gets a turn between them (see core.steps).
PIECE_BYTES: Final = 128 * 1024
# The envelopes a large answer is cut in pieces in: a bare array, {"flows": [...]}
# and {"flows": {"flows": [...]}}, with nothing else around the array.
_ARRAY_HEAD: Final = re.compile(rb'[ \t\n\r]*(?:\{[ \t\n\r]*"flows"[ \t\n\r]*:[ \t\n\r]*){0,2}\[')
_ARRAY_TAIL: Final = re.compile(rb"\][ \t\n\r]*(?:\}[ \t\n\r]*){0,2}\Z")
# Where one flow object ends and the next begins.
_BETWEEN_OBJECTS: Final = re.compile(rb"\}[ \t\n\r]*,[ \t\n\r]*\{")


def _array_bounds(body: bytes) -> tuple[int, int] | None:
    """Where the flows array's items start and end in a plain envelope, else None."""
    head = _ARRAY_HEAD.match(body)
    tail = _ARRAY_TAIL.search(body, max(0, len(body) - 64))
    if head is None or tail is None or head.end() > tail.start():
        return None
    # The braces before the array must match those after it (no "[...]}" mix-ups).
    if body.count(b"{", 0, head.end()) != body.count(b"}", tail.start()):
        return None
    return head.end(), tail.start()


# A piece whose cut fell inside a string or a nested object: not JSON on its own.
_CUT_INSIDE: Final = "cut inside"
# How many times a piece may take in the next one before the whole body is parsed
# at once: a body that is no valid JSON would otherwise be re-read piece after piece.
MAX_PIECE_MERGES: Final = 4


def _piece_flows(piece: bytes) -> list[Flow] | str | None:
    """The flows of one piece (a JSON array), :data:`_CUT_INSIDE`, or None when it
    needs the careful parse of the whole body."""
    if not body_is_clean(piece):
        return None
    try:
        return _flow_list().validate_json(piece)
    except ValidationError as error:
        details = error.errors(include_url=False)
        return _CUT_INSIDE if details and details[0]["type"] == "json_invalid" else None
    except ValueError:
        return None


def parse_flows(body: bytes, content_type: str = "") -> ParsedFlows:
    """Parse a raw flows answer. Raises :class:`UnreadableAnswer` only for the whole body."""
    return run_to_end(parse_flow_steps(body, content_type))


def parse_flow_steps(
    body: bytes, content_type: str = "", piece_bytes: int = PIECE_BYTES
) -> Steps[ParsedFlows]:
    """:func:`parse_flows` in steps (see :mod:`flowtop.core.steps`): a large
    well-formed answer is validated a piece of ``piece_bytes`` at a time, with a
    step between pieces; anything else is parsed at once, as :func:`parse_flows`."""
    bounds = _array_bounds(body) if len(body) > piece_bytes else None
    if bounds is not None:
        # Cut between flow objects, each piece validated as a JSON array of its own.
        # When every piece is a valid array, the array is exactly their items in
        # order (JSON values delimit themselves), so the cuts never change what is
        # parsed.  A cut inside a string or a nested object that holds "},{" makes
        # its piece invalid: that piece takes in the next one and is tried again.
        begin, end = bounds
        flows: list[Flow] = []
        reach, merges = piece_bytes, 0
        while True:
            cut = _BETWEEN_OBJECTS.search(body, begin + reach, end)
            stop = end if cut is None else cut.start() + 1
            part = _piece_flows(b"[" + body[begin:stop] + b"]")
            if isinstance(part, list):
                share_fields_sets(part)
                flows.extend(part)
                if cut is None:
                    trim_address_cache(len(flows))
                    return ParsedFlows(flows)
                begin, reach, merges = cut.end() - 1, piece_bytes, 0
                yield
                continue
            if part is None or cut is None or merges >= MAX_PIECE_MERGES:
                break
            reach, merges = cut.end() - begin, merges + 1
    return _parse_flows_at_once(body, content_type)


def _parse_flows_at_once(body: bytes, content_type: str = "") -> ParsedFlows:
    if body_is_clean(body):
        flows = _parse_well_formed(body)
        if flows is not None:
            share_fields_sets(flows)
            trim_address_cache(len(flows))
            return ParsedFlows(flows)
    document, clean = decode_json_checked(body, content_type)
    parsed = parse_items(unwrap_envelope(document), clean=clean)
    share_fields_sets(parsed.flows)
    trim_address_cache(len(parsed.flows))
    return parsed
