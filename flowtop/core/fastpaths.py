"""Fast paths that reach into pydantic, ipaddress or tuple internals, in one place.

Each one runs per flow per poll, where plain code costs milliseconds a tick; each rests
on an assumption about a library's internals, and ``tests/core/test_fastpaths.py``
states every assumption as a test, so an upgrade that breaks one fails there first
rather than somewhere in a poll.

* :class:`RememberedIPv4` / :class:`RememberedIPv6`: an address that keeps its text
  and hash (the same hosts recur every poll), while pickling and printing as the plain
  ``ipaddress`` class.  Assumes the plain class is ``__mro__[2]`` of ours.
* :data:`address_text`: that remembered text in one C call.
* :data:`new_tuple`: ``tuple.__new__`` builds a NamedTuple without its Python
  ``__new__`` (flow keys, one per flow per poll).
* :data:`model_values` and :data:`model_extra`: a pydantic v2 model keeps its field
  values in ``__dict__`` and the undeclared ones in ``__pydantic_extra__``; reading
  them directly lets an ``itemgetter`` fetch many values in one C call.
* :func:`mark_appliance`: a frozen model's field written in place, through
  ``__dict__`` (the store marks each flow of a fleet's appliance with its name, once
  per flow per poll, where ``model_copy`` would build a second flow).
* :func:`share_fields_sets`: a pydantic v2 model keeps the names of the fields set
  in ``__pydantic_fields_set__``, a set of its own (2.2 KB for a flow's 26 fields,
  over half of a flow's memory); frozen models never add to it and copies copy it,
  so equal sets can be one shared object.
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Callable
from typing import Any, Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Remembered:
    """Mixin for an address that remembers its text form and hash.

    The same hosts recur in every poll and their text is needed for keys, cells
    and filters: computing it once per distinct address saves milliseconds a tick.
    It pickles and prints as the plain ``ipaddress`` class it extends.
    """

    __slots__ = ()
    _text: str
    _hash: int

    def __init__(self, address: str) -> None:
        super().__init__(address)  # type: ignore[call-arg]
        # The slots live on the concrete classes: two slotted bases cannot be mixed.
        self._text = super().__str__()  # type: ignore[misc]
        self._hash = super().__hash__()  # type: ignore[misc]

    def _plain(self) -> type:
        # (RememberedIPv4, _Remembered, IPv4Address, ...): the plain class is third.
        return type(self).__mro__[2]

    def __str__(self) -> str:
        return self._text

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"{self._plain().__name__}({self._text!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self._plain(), (self._text,))


class RememberedIPv4(_Remembered, ipaddress.IPv4Address):
    __slots__ = ("_hash", "_text")


class RememberedIPv6(_Remembered, ipaddress.IPv6Address):
    __slots__ = ("_hash", "_text")


def remembered_address(text: str) -> IPAddress | None:
    """A remembered IPv4/IPv6 address for exactly ``text``, or None."""
    try:
        return RememberedIPv6(text) if ":" in text else RememberedIPv4(text)
    except ValueError:
        return None


# The text of a remembered address (and only of one: a plain address has no _text).
address_text: Final[Callable[[IPAddress], str]] = operator.attrgetter("_text")

# new_tuple(FlowKey, values) is FlowKey(*values) without the NamedTuple's Python __new__.
new_tuple: Final = tuple.__new__

# A pydantic v2 model's field values by name, and its undeclared fields (or None).
model_values: Final[Callable[[Any], dict[str, Any]]] = operator.attrgetter("__dict__")
model_extra: Final[Callable[[Any], dict[str, Any] | None]] = operator.attrgetter(
    "__pydantic_extra__"
)


def mark_appliance(flow: Any, appliance: str) -> None:
    """Set ``flow.appliance`` (a frozen pydantic model) to ``appliance``, in place.

    Only before the flow is keyed or shown: the store does it as it takes an answer.
    """
    model_values(flow)["appliance"] = appliance


_fields_set_of: Final[Callable[[Any], set[str]]] = operator.attrgetter("__pydantic_fields_set__")
_set_attribute: Final = object.__setattr__
# The shared set of the last answer's flows: the next answer shares it too.
_shared_fields_set: set[str] = set()


def share_fields_sets(models: list[Any]) -> None:
    """Let models of a frozen pydantic class whose fields sets are equal share one set.

    An appliance sends the same fields for every flow, so one set serves a whole
    answer, and the next ones.
    """
    global _shared_fields_set
    shared = _shared_fields_set
    for model in models:
        fields_set = _fields_set_of(model)
        if fields_set is shared:
            continue
        if fields_set == shared:
            _set_attribute(model, "__pydantic_fields_set__", shared)
        else:
            shared = fields_set
    _shared_fields_set = shared
