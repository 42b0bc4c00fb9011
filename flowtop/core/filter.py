"""The filter language: one line typed by a person, compiled once into a flow predicate.

An expression is a list of terms separated by whitespace; a flow must match every
term.  Terms:

The convention is that of Kibana's query language: a field term matches the whole
value, a bare word is found anywhere.

``word``, ``"two words"``
    Case-insensitive substring of any text field, of the addresses as text, of the
    protocol name (``tcp``) or of a string value the appliance sent in an
    undocumented field.  Numbers are not searched: ``443`` alone would match every
    byte counter; use ``port:443``.  Addresses are searched only for words that can
    be part of one (hex digits, ``.``, ``:``, or any word with ``%`` for a scope).
    An unquoted ``*`` in a word stands for any text within one value: ``micro*teams``.
``field:value`` (also ``field=value``, ``field==value``; ``field!=value`` negates)
    ``field`` is an API field name or an alias of :data:`FIELD_ALIASES`, in any case.
    An alias means the same field as in ``--sort``, ``--columns`` and ``--group-by``
    (:mod:`flowtop.core.fields`); the filter-only terms ``ip``, ``host`` (either
    address) and ``port`` (either port) match when either end does.  The value depends on the field:

    * text fields: the whole value, case-insensitive (``app:http`` is not ``HTTPS``,
      ``dscp:ef`` is not ``default``); an unquoted ``*`` is a wildcard for any text
      (``app:micro*``, ``path:*INET*``);
    * addresses: an address is compared for equality (IPv4 or IPv6, normalised, so
      ``2001:DB8:0::5`` equals ``2001:db8::5``), a value with ``/`` is a network
      (``10.1.0.0/16``; host bits are allowed) and a value with an unquoted ``*`` a
      pattern of the address text (``ip:10.1.*``); anything else is an error;
    * numbers: equality, with an optional suffix ``k``/``K`` (1e3), ``M``/``m`` (1e6,
      never milli) or ``G``/``g`` (1e9); no wildcards;
    * ``proto`` (``ipp``) also takes protocol names: ``tcp``, ``udp``, ``icmp`` ...

    ``|`` separates alternatives, any of which may match: ``app:zoom|teams``.
``field>N``, ``>=``, ``<``, ``<=``
    Comparison with a number (suffixes as above), only on numeric fields.
``field~regex``
    Case-insensitive regular expression search on the value's text (numbers and
    addresses included).  ``|`` belongs to the regex here.  Matching is RE2's, in
    linear time (:mod:`flowtop.core.regex`): no backreferences, no lookaround.
``!term``, ``-term``
    Negation.  A flow without the field matches a negated field term, so
    ``!app~.`` finds flows with no application.

A flow without a value never matches a positive field term or a comparison.

Quotes make one value of text with spaces, ``|``, a literal ``*`` or a leading
``-``/``!``: ``app:"ms teams"``, ``app~"^ms "``.  Inside quotes ``\\"`` is a quote and ``\\\\`` a
backslash; any other backslash is kept, so ``"\\d+"`` is the regex ``\\d+``.  Quoted
and bare text join when nothing separates them.  A word of the shape of an IPv6
address (``fe80::1``) is a word, not a field named ``fe80``.

An empty expression matches everything.  Anything invalid raises
:class:`~flowtop.core.errors.FilterError` with the 0-based position of the field name
for field problems, of the value (or alternative) for value problems, and of the
opening quote for an unclosed quote.  No other exception escapes, whatever the text.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, Final, Literal

from flowtop.core import derived, glyphs
from flowtop.core.errors import FilterError
from flowtop.core.fastpaths import model_extra, model_values
from flowtop.core.fields import ALIASES, DERIVED_NAMES, EITHER_END_TERMS, FLEET_FIELDS, TEXT_NAMES
from flowtop.core.model import (
    ADDRESS_FIELDS,
    API_FIELDS,
    PROTOCOL_NAMES,
    Flow,
    IPAddress,
    parse_address,
)
from flowtop.core.names import known_name, port_number
from flowtop.core.regex import RegexError, compile_search

Predicate = Callable[[Flow], bool]

# Every alias of the field registry, plus the terms that match either end of a flow.
FIELD_ALIASES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        **{alias: (name,) for alias, name in ALIASES.items()},
        **{term.name: term.fields for term in EITHER_END_TERMS},
    }
)

# The API fields and the fleet's (which appliance reported a flow: a model attribute).
_FLEET_NAMES: Final = tuple(field.name for field in FLEET_FIELDS)
_API_SET: Final = frozenset(API_FIELDS + _FLEET_NAMES)
# Fields flowtop derives (averages, peaks, measured rates): numbers, read from the
# flow's record rather than the flow (flowtop.core.derived).
_DERIVED_SET: Final = frozenset(DERIVED_NAMES)
_TEXT_SET: Final = frozenset(TEXT_NAMES)
_ADDRESS_SET: Final = frozenset(ADDRESS_FIELDS)
_PORT_FIELDS: Final = frozenset({"src_port", "dest_port"})
_PROTOCOL_NUMBERS: Final = {name.lower(): number for number, name in PROTOCOL_NAMES.items()}

_MULTIPLIERS: Final = {"": 1.0, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)([kKmMgG]?)")

# A field term: an ASCII name directly followed by an operator.  Longest operators first.
_FIELD_TERM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(>=|<=|!=|==|[:=~<>])")
# An IPv6-shaped word ("fe80::1", "fe80::1%eth0", "fe80::/10") starts like a field term.
_IPV6_WORD = re.compile(r"[0-9A-Fa-f]{1,4}:[0-9A-Fa-f:.]*(?:%\S*)?(?:/\S*)?(?!\S)")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_QUOTE_ESCAPE = re.compile(r'\\(["\\])')
_BARE = re.compile(r'[^\s"|]+')
_BARE_WITH_BARS = re.compile(r'[^\s"]+')
_SPACE = re.compile(r"\s+")
_SAFE_VALUE = re.compile(r"[\w.@/+,#%-]+")
# A value of an address term that is no address but can be a host name (a letter in it,
# so that a mistyped IPv4 address is still an error).
_HOST_NAME_VALUE = re.compile(r"[A-Za-z0-9_.-]*[A-Za-z_][A-Za-z0-9_.-]*")

_COMPARISONS: Final = frozenset({">", ">=", "<", "<="})
# Flow strings never hold control characters (the model strips them), so NUL can
# join the searched texts into one string without creating false matches.
_JOIN = "\x00"
_SHOWN_CHARS: Final = 40

Kind = Literal["text", "address", "number"]


def parse_quantity(text: str) -> float:
    """A number with an optional k/M/G suffix: ``"1.5k"`` is 1500.0.

    ``k``/``K`` is 1e3, ``M``/``m`` 1e6 and ``G``/``g`` 1e9 (``m`` is never milli).
    Surrounding whitespace is ignored; infinities, NaN and anything else raise
    :class:`ValueError`.
    """
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a number: {_show(text)!r}")
    value = float(match[1]) * _MULTIPLIERS[match[2]]
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {_show(text)!r}")
    return value


def quote_value(text: str) -> str:
    """``text`` written as one filter value, quoted when it needs to be.

    ``f"app:{quote_value(name)}"`` compiles to a match of exactly ``name`` (a ``*`` in
    it is quoted, so it is no wildcard),
    and ``quote_value(name)`` alone is a word for exactly ``name``.  The empty string
    gives ``""``, which the filter refuses as an empty value.
    """
    if _SAFE_VALUE.fullmatch(text) and text[0] not in "-!":
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FlowFilter:
    """A compiled filter expression; immutable, safe to share between threads."""

    __slots__ = ("_empty", "_expression", "_predicate")

    _expression: str
    _predicate: Predicate
    _empty: bool

    def __init__(self, expression: str) -> None:
        """Compile ``expression``; raises :class:`FilterError` when it is invalid."""
        predicates = _Parser(expression).parse()
        object.__setattr__(self, "_expression", expression)
        object.__setattr__(self, "_predicate", _all_of(predicates))
        object.__setattr__(self, "_empty", not predicates)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FlowFilter is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("FlowFilter is immutable")

    @property
    def expression(self) -> str:
        return self._expression

    @property
    def is_empty(self) -> bool:
        """True when the filter matches every flow."""
        return self._empty

    def matches(self, flow: Flow) -> bool:
        return self._predicate(flow)

    def __call__(self, flow: Flow) -> bool:
        return self._predicate(flow)

    def __reduce__(self) -> tuple[type[FlowFilter], tuple[str]]:
        # Copies and pickles recompile from the text; closures do not pickle.
        return (FlowFilter, (self._expression,))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FlowFilter):
            return self._expression == other._expression
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._expression)

    def __repr__(self) -> str:
        return f"FlowFilter({self._expression!r})"


def compile_filter(expression: str) -> FlowFilter:
    """Compile a filter expression; raises :class:`FilterError` when it is invalid."""
    return FlowFilter(expression)


def _always(flow: Flow) -> bool:
    return True


def _all_of(predicates: tuple[Predicate, ...]) -> Predicate:
    if not predicates:
        return _always
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda flow: first(flow) and second(flow)

    # Explicit loops in these hot closures: a generator in any()/all() costs more than
    # the predicates themselves.
    def all_of(flow: Flow) -> bool:
        for predicate in predicates:  # noqa: SIM110
            if not predicate(flow):
                return False
        return True

    return all_of


def _any_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]

    def any_of(flow: Flow) -> bool:
        for predicate in predicates:  # noqa: SIM110
            if predicate(flow):
                return True
        return False

    return any_of


def _negate(predicate: Predicate) -> Predicate:
    return lambda flow: not predicate(flow)


def _show(text: str, limit: int = _SHOWN_CHARS) -> str:
    """User text made safe for a one-line message: short, no control characters."""
    if len(text) > limit:
        text = text[: limit - 1] + glyphs.current().ellipsis
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape", "replace").decode("ascii")
        for char in text
    )


@functools.lru_cache(maxsize=65536)
def _address_text(address: IPAddress) -> str:
    # Cached: IPv6 formatting costs microseconds and the same hosts recur every poll.
    return str(address).lower()


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _skip_space(text: str, position: int) -> int:
    space = _SPACE.match(text, position)
    return position if space is None else space.end()


def _kind(field: str) -> Kind:
    if field in _TEXT_SET:
        return "text"
    if field in _ADDRESS_SET:
        return "address"
    return "number"


class _Value:
    """One alternative of a term's value, with where it starts in the expression.

    ``glob`` holds the pieces between unquoted ``*`` wildcards (lowered), or is None
    when the value has none; ``text`` is the value as written, without quotes.
    """

    __slots__ = ("glob", "position", "text")

    def __init__(self, text: str, position: int, glob: tuple[str, ...] | None = None) -> None:
        self.text = text
        self.position = position
        self.glob = glob

    def matches(self, text: str) -> bool:
        """Whether all of ``text`` is this value, case-insensitive, ``*`` a wildcard."""
        text = text.lower()
        return text == self.text.lower() if self.glob is None else _glob_match(text, self.glob)


# The public name of a value as the tokenizer read it (for pseudo-fields, below).
TermValue = _Value


@dataclass(frozen=True, slots=True)
class PseudoTerm:
    """A ``name<operator>values`` term of a field the caller defines, as the filter's
    tokenizer read it: ``negated`` by a leading ``!`` or ``-`` (a ``!=`` operator is
    left to the caller), ``values`` split at unquoted ``|`` (possibly empty text)."""

    name: str
    position: int
    operator: str
    negated: bool
    values: tuple[TermValue, ...]


def compile_with_pseudo_fields(
    expression: str, fields: Mapping[str, Callable[[PseudoTerm], object]]
) -> FlowFilter:
    """Compile ``expression`` where the terms of the pseudo-``fields`` (lower-case names)
    go to their callbacks, in the order typed; the callbacks may raise
    :class:`FilterError`.  Returns the filter of the other terms, whose expression is
    ``expression`` with the pseudo-terms blanked out (positions hold)."""
    parser = _Parser(expression, fields)
    parser.parse()
    rest = expression
    for start, end in parser.pseudo_spans:
        rest = rest[:start] + " " * (end - start) + rest[end:]
    return FlowFilter(rest)


# A word or field value: literal text, or the pieces between its wildcards.
Needle = str | tuple[str, ...]


def _needle(value: _Value) -> Needle:
    return value.text.lower() if value.glob is None else value.glob


class _Parser:
    def __init__(
        self,
        expression: str,
        pseudo: Mapping[str, Callable[[PseudoTerm], object]] | None = None,
    ) -> None:
        self.text = expression
        self.pseudo = pseudo or {}
        self.pseudo_spans: list[tuple[int, int]] = []
        self.field_predicates: list[Predicate] = []
        self.words: list[tuple[tuple[Needle, ...], bool]] = []

    def parse(self) -> tuple[Predicate, ...]:
        text = self.text
        end = len(text)
        position = _skip_space(text, 0)
        while position < end:
            position = _skip_space(text, self._term(position))
        # Word terms share one pass over the flow's texts; they go last because field
        # terms are cheaper and usually rule most flows out.
        if self.words:
            self.field_predicates.append(_word_predicate(tuple(self.words)))
        return tuple(self.field_predicates)

    def _term(self, start: int) -> int:
        text = self.text
        negated = text[start] in "!-"
        body = start + 1 if negated else start
        if body >= len(text) or text[body].isspace():
            raise FilterError(f'nothing to negate after "{text[start]}"', start)
        match = _FIELD_TERM.match(text, body)
        if match is not None and not self._is_ipv6_word(match, body):
            handler = self.pseudo.get(match[1].lower())
            if handler is not None:
                values, position = self._values(match.end(), split_bars=True, allow_empty=True)
                name = match[1].lower()
                handler(PseudoTerm(name, match.start(1), match[2], negated, tuple(values)))
                self.pseudo_spans.append((start, position))
                return position
            return self._field_term(match, negated)
        values, position = self._values(body, split_bars=True)
        self.words.append((tuple(_needle(value) for value in values), negated))
        return position

    def _is_ipv6_word(self, match: re.Match[str], body: int) -> bool:
        name = match[1].lower()
        if name in FIELD_ALIASES or name in _API_SET or match[2] != ":":
            return False
        return _IPV6_WORD.match(self.text, body) is not None

    def _field_term(self, match: re.Match[str], negated: bool) -> int:
        name, operator = match[1], match[2]
        name_position = match.start(1)
        fields = self._fields(name, name_position)
        kind = _kind(fields[0])
        label = name.lower()
        if operator == "~":
            values, position = self._values(match.end(), split_bars=False)
            predicate = _regex_predicate(fields, values[0], label)
        elif operator in _COMPARISONS:
            if kind != "number":
                raise FilterError(
                    f'operator "{operator}" needs a numeric field; {label} is {kind}',
                    name_position,
                )
            values, position = self._values(match.end(), split_bars=False)
            number = _number(fields[0], values[0], label)
            predicate = _any_of([_comparison(field, operator, number) for field in fields])
        else:
            values, position = self._values(match.end(), split_bars=True)
            if kind == "text":
                needles = tuple(_needle(value) for value in values)
                predicate = _any_of([_whole_text(field, needles) for field in fields])
            elif kind == "address":
                predicate = _any_of([_address(field, values) for field in fields])
            else:
                for value in values:
                    if value.glob is not None:
                        raise FilterError(
                            f'wildcard "*" needs a text or address field; {label} is numeric',
                            value.position,
                        )
                numbers = frozenset(_number(fields[0], value, label) for value in values)
                predicate = _any_of([_equal_number(field, numbers) for field in fields])
            if operator == "!=":
                negated = not negated
        self.field_predicates.append(_negate(predicate) if negated else predicate)
        return position

    @staticmethod
    def _fields(name: str, position: int) -> tuple[str, ...]:
        lowered = name.lower()
        aliased = FIELD_ALIASES.get(lowered)
        if aliased is not None:
            return aliased
        if lowered in _API_SET or lowered in _DERIVED_SET:
            return (lowered,)
        shown = _show(name)
        close = []
        if len(lowered) <= _SHOWN_CHARS:
            names = [*FIELD_ALIASES, *API_FIELDS, *_FLEET_NAMES, *DERIVED_NAMES]
            close = difflib.get_close_matches(lowered, names, n=1)
        if close:
            raise FilterError(f'unknown field "{shown}" (did you mean {close[0]}?)', position)
        known = ", ".join(FIELD_ALIASES)
        raise FilterError(
            f'unknown field "{shown}" (known: {known}, or any API field name)', position
        )

    def _values(
        self, start: int, *, split_bars: bool, allow_empty: bool = False
    ) -> tuple[list[_Value], int]:
        """The alternatives of one value running to the next unquoted whitespace."""
        text = self.text
        end = len(text)
        bare = _BARE if split_bars else _BARE_WITH_BARS
        values: list[_Value] = []
        # The pieces of the current alternative: finished ones (split at unquoted "*",
        # only where bars split too: never in a regex or a comparison) and the open one.
        pieces: list[str] = []
        parts: list[str] = []
        part_start = position = start
        while position < end and not text[position].isspace():
            char = text[position]
            if char == '"':
                quoted = _QUOTED.match(text, position)
                if quoted is None:
                    raise FilterError("unclosed quote", position)
                parts.append(_QUOTE_ESCAPE.sub(r"\1", quoted[1]))
                position = quoted.end()
            elif char == "|" and split_bars:
                values.append(self._value(pieces, parts, part_start, start, allow_empty))
                pieces, parts = [], []
                position += 1
                part_start = position
            else:
                run = bare.match(text, position)
                assert run is not None  # the character is neither space, quote nor bar
                if split_bars and "*" in run[0]:
                    first, *others = run[0].split("*")
                    parts.append(first)
                    for other in others:
                        pieces.append("".join(parts))
                        parts = [other]
                else:
                    parts.append(run[0])
                position = run.end()
        values.append(self._value(pieces, parts, part_start, start, allow_empty))
        return values, position

    def _value(
        self, pieces: list[str], parts: list[str], position: int, start: int, allow_empty: bool
    ) -> _Value:
        last = "".join(parts)
        value = "*".join([*pieces, last])
        if not value and not allow_empty:
            if position == start:
                raise FilterError("empty value", position)
            raise FilterError('empty alternative after "|"', position)
        if not pieces:
            return _Value(value, position)
        return _Value(value, position, tuple(piece.lower() for piece in [*pieces, last]))


def _number(field: str, value: _Value, label: str) -> float:
    text = value.text
    if field == "ipp":
        number = _PROTOCOL_NUMBERS.get(text.strip().lower())
        if number is not None:
            return float(number)
    try:
        return parse_quantity(text)
    except ValueError:
        pass
    if field in _PORT_FIELDS:
        # A service name from the services database: dport:https is dport:443.
        port = port_number(text)
        if port is not None:
            return float(port)
    if field == "ipp" and text.strip().isalpha():
        known = ", ".join(_PROTOCOL_NUMBERS)
        raise FilterError(
            f'unknown protocol "{_show(text)}" (known: {known}, or a number)', value.position
        )
    raise FilterError(f'bad number "{_show(text)}" for {label}', value.position)


def _getter(field: str) -> Callable[[Flow], Any]:
    """A field's value of a flow: an attribute, or a derived value of its record."""
    if field in _DERIVED_SET:
        return derived.getter(field)
    return attrgetter(field)


def _comparison(field: str, operator: str, number: float) -> Predicate:
    get = _getter(field)
    if operator == ">":
        return lambda flow: (value := get(flow)) is not None and value > number
    if operator == ">=":
        return lambda flow: (value := get(flow)) is not None and value >= number
    if operator == "<":
        return lambda flow: (value := get(flow)) is not None and value < number
    return lambda flow: (value := get(flow)) is not None and value <= number


def _equal_number(field: str, numbers: frozenset[float]) -> Predicate:
    get = _getter(field)
    # An int and the float of equal value hash alike, so 443 is found among {443.0}.
    return lambda flow: get(flow) in numbers


def wildcard_match(text: str, pattern: str) -> bool:
    """Whether all of ``text`` matches ``pattern``, where each ``*`` stands for any text.

    Case-sensitive (lower both for the filter's behaviour); no other character is
    special; linear in the length of ``text`` for a fixed pattern.
    """
    if "*" not in pattern:
        return text == pattern
    return _glob_match(text, tuple(pattern.split("*")))


def _glob_match(text: str, glob: tuple[str, ...]) -> bool:
    """Whether all of ``text`` matches the pieces of a wildcard pattern (``a*b*c``).

    Leftmost-first search for each middle piece is exact for ``*`` alone, and linear.
    """
    head, *middle, tail = glob
    end = len(text) - len(tail)
    if end < len(head) or not text.startswith(head) or not text.endswith(tail):
        return False
    position = len(head)
    for piece in middle:
        if piece:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
    return True


def _glob_search(text: str, glob: tuple[str, ...]) -> bool:
    """Whether the pieces of a wildcard pattern occur in ``text`` in order (unanchored)."""
    position = 0
    for piece in glob:
        if piece:
            found = text.find(piece, position)
            if found < 0:
                return False
            position = found + len(piece)
    return True


def _whole_text(field: str, needles: tuple[Needle, ...]) -> Predicate:
    """The whole value, case-insensitive, equals one text or matches one pattern."""
    get = attrgetter(field)
    exact = frozenset(needle for needle in needles if isinstance(needle, str))
    globs = tuple(needle for needle in needles if not isinstance(needle, str))
    if not globs:
        if len(exact) == 1:
            (only,) = exact
            return lambda flow: (value := get(flow)) is not None and value.lower() == only
        return lambda flow: (value := get(flow)) is not None and value.lower() in exact

    def whole_text(flow: Flow) -> bool:
        value = get(flow)
        if value is None:
            return False
        lowered = value.lower()
        if lowered in exact:
            return True
        for glob in globs:  # noqa: SIM110
            if _glob_match(lowered, glob):
                return True
        return False

    return whole_text


def _address(field: str, values: list[_Value]) -> Predicate:
    addresses: set[IPAddress] = set()
    host_names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    globs: list[tuple[str, ...]] = []
    for value in values:
        text = value.text
        if value.glob is not None:
            globs.append(value.glob)
            continue
        if "/" in text:
            try:
                networks.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise FilterError(f'bad CIDR "{_show(text)}"', value.position) from None
            continue
        address = parse_address(text)
        if address is None:
            if _HOST_NAME_VALUE.fullmatch(text):
                # A host name: matches the address's name once known (see names).
                host_names.add(text.lower())
                continue
            raise FilterError(
                f'bad address "{_show(text)}" (an address, a network such as 10.1.0.0/16, '
                "a pattern such as 10.1.* or a host name such as *.corp.example)",
                value.position,
            )
        addresses.add(address)
    get = attrgetter(field)
    frozen = frozenset(addresses)
    network_list = tuple(networks)
    glob_list = tuple(globs)
    name_set = frozenset(host_names)

    def address_matches(flow: Flow) -> bool:
        value = get(flow)
        if value is None:
            return False
        if value in frozen:
            return True
        for network in network_list:
            if value in network:
                return True
        if glob_list:
            shown = _address_text(value)
            for glob in glob_list:
                if _glob_match(shown, glob):
                    return True
        if glob_list or name_set:
            # Patterns and names match the host name too, once it is known.
            name = known_name(value)
            if name is not None:
                if name in name_set:
                    return True
                for glob in glob_list:
                    if _glob_match(name, glob):
                        return True
        return False

    if glob_list or network_list or name_set:
        return address_matches
    return lambda flow: get(flow) in frozen


def _regex_predicate(fields: tuple[str, ...], value: _Value, label: str) -> Predicate:
    try:
        search = compile_search(value.text)
    except RegexError as error:
        raise FilterError(
            f'bad regular expression "{_show(value.text)}": {_show(str(error), 2 * _SHOWN_CHARS)}',
            value.position,
        ) from None
    return _any_of([_regex(field, search) for field in fields])


def _regex(field: str, search: Callable[[str], bool]) -> Predicate:
    get = _getter(field)
    kind = _kind(field)
    if kind == "text":
        return lambda flow: (value := get(flow)) is not None and search(value)
    if kind == "address":
        # The host name too, once it is known (see flowtop.core.names).
        return lambda flow: (
            (value := get(flow)) is not None
            and (
                search(_address_text(value))
                or ((name := known_name(value)) is not None and search(name))
            )
        )
    if field == "ipp":
        # Either form counts, so proto~^t finds TCP and proto~^1 finds ICMP and UDP.
        return lambda flow: (
            (value := get(flow)) is not None
            and (search(str(value)) or (value in PROTOCOL_NAMES and search(PROTOCOL_NAMES[value])))
        )
    return lambda flow: (value := get(flow)) is not None and search(_number_text(value))


# Item getters on the model's values fetch eleven values in one C call, three times
# faster than attribute access (see flowtop.core.fastpaths).  The appliance's name is
# searched too: a word finds a fleet's appliance.
_TEXT_VALUES = itemgetter(*TEXT_NAMES)
_ADDRESS_VALUES = itemgetter(*ADDRESS_FIELDS)
_ADDRESS_CHARS: Final = frozenset("0123456789abcdef.:%")


def _may_be_in_address(needle: Needle) -> bool:
    """Whether a lowered word can occur in an address's text (a scope is found via "%")."""
    text = needle if isinstance(needle, str) else "".join(needle)
    return "%" in text or set(text) <= _ADDRESS_CHARS


def _found_in(needle: Needle, text: str) -> bool:
    if isinstance(needle, str):
        return needle in text
    return _glob_search(text, needle)


def _searchable(flow: Flow, with_addresses: bool) -> list[str]:
    """The texts words are looked for in: text fields, addresses, protocol, extra strings."""
    values = model_values(flow)
    texts: list[str] = list(filter(None, _TEXT_VALUES(values)))
    if with_addresses:
        for address in _ADDRESS_VALUES(values):
            if address is not None:
                texts.append(_address_text(address))
    ipp = values["ipp"]
    if ipp is not None:
        texts.append(PROTOCOL_NAMES.get(ipp) or str(ipp))
    extras = model_extra(flow)
    if extras:
        texts.extend(value for value in extras.values() if isinstance(value, str))
    return texts


def _word_predicate(words: tuple[tuple[tuple[Needle, ...], bool], ...]) -> Predicate:
    needles = [needle for alternatives, _ in words for needle in alternatives]
    # Formatting addresses is the dearest part; "zoom" cannot be in one, so skip them.
    with_addresses = any(_may_be_in_address(needle) for needle in needles)
    plain = [needle for needle in needles if isinstance(needle, str)]
    if len(plain) < len(needles) or any(_JOIN in needle for needle in plain):
        # A wildcard stays within one text, and a needle holding the joiner could
        # match across two texts: look in each text.
        def word_by_text(flow: Flow) -> bool:
            texts = [text.lower() for text in _searchable(flow, with_addresses)]
            for alternatives, negated in words:
                found = any(_found_in(needle, text) for needle in alternatives for text in texts)
                if found == negated:
                    return False
            return True

        return word_by_text

    if len(words) == 1 and len(plain) == 1 and not words[0][1]:
        only = plain[0]
        return lambda flow: only in _JOIN.join(_searchable(flow, with_addresses)).lower()

    # Every needle is text here.
    text_words = [
        ([needle for needle in alternatives if isinstance(needle, str)], negated)
        for alternatives, negated in words
    ]

    def word(flow: Flow) -> bool:
        haystack = _JOIN.join(_searchable(flow, with_addresses)).lower()
        for alternatives, negated in text_words:
            found = False
            for needle in alternatives:
                if needle in haystack:
                    found = True
                    break
            if found == negated:
                return False
        return True

    return word


MATCH_ALL: Final = FlowFilter("")

__all__ = [
    "FIELD_ALIASES",
    "MATCH_ALL",
    "FlowFilter",
    "Predicate",
    "PseudoTerm",
    "TermValue",
    "compile_filter",
    "compile_with_pseudo_fields",
    "parse_quantity",
    "quote_value",
    "wildcard_match",
]
