"""The events filter: the flow filter language plus one pseudo-field, ``kind``.

An event matches when its flow (for a path change, the flow as reported after the
move; for an ended flow, its last report) matches the flow terms, and its kind every
``kind`` term.  ``kind:new|ended|path|left|into`` (also ``appeared``, ``gone``,
``moved``, ``entered``) matches the whole word, with ``*`` as a wildcard such as
``kind:p*``; ``left`` and ``into`` are flows that left or entered the top N of answers
capped at max_stats = N, which proves neither an end nor a start.  ``!kind:`` and
``kind!=`` negate.  So ``kind:path path:*INET`` lists the flows that moved onto an
INET path, and ``!kind:new app:zoom`` the Zoom flows that ended or moved.

The terms are read by the flow filter's own tokenizer
(:func:`flowtop.core.filter.compile_with_pseudo_fields`): quoting, ``|`` and
wildcards work as in every other field, and error positions point into the text as
typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flowtop.core.errors import FilterError
from flowtop.core.filter import FlowFilter, PseudoTerm, compile_with_pseudo_fields
from flowtop.core.model import strip_control
from flowtop.core.store import EventKind, FlowEvent

# Words accepted after ``kind:``, whole or by a ``*`` pattern (``kind:p*``).
KIND_WORDS: Final[dict[str, EventKind]] = {
    "new": EventKind.APPEARED,
    "appeared": EventKind.APPEARED,
    "ended": EventKind.ENDED,
    "gone": EventKind.ENDED,
    "path": EventKind.PATH,
    "moved": EventKind.PATH,
    "left": EventKind.LEFT,
    "into": EventKind.ENTERED,
    "entered": EventKind.ENTERED,
}
_EQUALS: Final = frozenset({":", "=", "==", "!="})


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A compiled events filter: kind terms (all must hold) and a flow filter."""

    expression: str
    kinds: tuple[tuple[frozenset[EventKind], bool], ...]
    flow_filter: FlowFilter

    @property
    def is_empty(self) -> bool:
        return not self.kinds and self.flow_filter.is_empty

    def matches(self, event: FlowEvent) -> bool:
        kind = event.kind
        for allowed, negated in self.kinds:
            if (kind in allowed) == negated:
                return False
        return self.flow_filter.matches(event.flow)


def compile_event_filter(expression: str) -> EventFilter:
    """Compile an events filter; raises :class:`FilterError` with the 0-based position."""
    kinds: list[tuple[frozenset[EventKind], bool]] = []

    def kind_term(term: PseudoTerm) -> None:
        if term.operator not in _EQUALS:
            raise FilterError(
                f'kind takes ":" and a kind (new, ended, left, into, path), not "{term.operator}"',
                term.position,
            )
        negated = term.negated != (term.operator == "!=")
        kinds.append((_kinds(term), negated))

    flow_filter = compile_with_pseudo_fields(expression, {"kind": kind_term})
    return EventFilter(expression, tuple(kinds), flow_filter)


def _kinds(term: PseudoTerm) -> frozenset[EventKind]:
    kinds: set[EventKind] = set()
    for value in term.values:
        if not value.text:
            raise FilterError("kind needs a value: new, ended, left, into or path", value.position)
        found = {kind for name, kind in KIND_WORDS.items() if value.matches(name)}
        if not found:
            shown = strip_control(value.text)[:40]
            raise FilterError(
                f'unknown event kind "{shown}" (new, ended, left, into or path)', value.position
            )
        kinds |= found
    return frozenset(kinds)


MATCH_ALL_EVENTS: Final = compile_event_filter("")
