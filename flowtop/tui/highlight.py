"""Highlight rules: flows matching a filter expression are coloured, and may ring the bell."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.style import Style

from flowtop.core.config import HighlightRule
from flowtop.core.filter import FlowFilter, compile_filter
from flowtop.core.groups import RowKey
from flowtop.core.model import FlowKey
from flowtop.core.view import Row


@dataclass(frozen=True, slots=True)
class CompiledRule:
    match: FlowFilter
    style: Style
    bell: bool


class Highlighter:
    """Applies the rules to a view's rows; the first matching rule wins."""

    def __init__(self, rules: Sequence[HighlightRule]) -> None:
        self.rules = [
            CompiledRule(compile_filter(rule.expr), Style(color=rule.color, bold=True), rule.bell)
            for rule in rules
        ]
        self._ringing: set[RowKey] = set()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def styles(self, rows: Iterable[Row]) -> tuple[dict[RowKey, Style], bool]:
        """Styles by row key, and whether a flow just started matching a bell rule."""
        styles: dict[RowKey, Style] = {}
        ringing: set[RowKey] = set()
        for row in rows:
            if not isinstance(row.key, FlowKey):
                continue  # a group row
            flow = row.flow
            for rule in self.rules:
                if rule.match.matches(flow):
                    styles[row.key] = rule.style
                    if rule.bell:
                        ringing.add(row.key)
                    break
        started = bool(ringing - self._ringing)
        self._ringing = ringing
        return styles, started
