"""Highlight matching: which rule a row matches (the first one wins) and when the bell rings.

The styles belong to the TUI (:mod:`flowtop.tui.highlight`); the rules and their
bell are core, so every mode and plain unit tests share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flowtop.core.config import HighlightRule
from flowtop.core.filter import FlowFilter, compile_filter
from flowtop.core.model import FlowKey
from flowtop.core.view import Row


@dataclass(frozen=True, slots=True)
class CompiledRule:
    match: FlowFilter
    color: str
    bell: bool


class HighlightMatcher:
    """Matches a view's rows against the rules; remembers which rows ring the bell."""

    def __init__(self, rules: Sequence[HighlightRule]) -> None:
        self.rules = [
            CompiledRule(compile_filter(rule.expr), rule.color, rule.bell) for rule in rules
        ]
        self._ringing: set[FlowKey] = set()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def match(self, rows: Iterable[Row]) -> tuple[dict[FlowKey, int], bool]:
        """The index of the rule each flow row matches (groups are never highlighted),
        and whether a flow just started matching a bell rule."""
        matched: dict[FlowKey, int] = {}
        ringing: set[FlowKey] = set()
        for row in rows:
            key = row.key
            if not isinstance(key, FlowKey):
                continue  # a group row
            flow = row.flow
            for index, rule in enumerate(self.rules):
                if rule.match.matches(flow):
                    matched[key] = index
                    if rule.bell:
                        ringing.add(key)
                    break
        started = bool(ringing - self._ringing)
        self._ringing = ringing
        return matched, started
