"""Highlight styles: the colour of each rule; the matching itself is core
(:mod:`flowtop.core.highlight`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.style import Style

from flowtop.core.config import HighlightRule
from flowtop.core.groups import RowKey
from flowtop.core.highlight import HighlightMatcher
from flowtop.core.model import FlowKey
from flowtop.core.view import Row


def rule_styles(rules: Sequence[HighlightRule]) -> tuple[Style, ...]:
    """The style of each rule, by rule index."""
    return tuple(Style(color=rule.color, bold=True) for rule in rules)


def styles_by_key(matched: Mapping[FlowKey, int], styles: Sequence[Style]) -> dict[RowKey, Style]:
    return {key: styles[index] for key, index in matched.items()}


class Highlighter:
    """Applies the rules to a view's rows; the first matching rule wins."""

    def __init__(self, rules: Sequence[HighlightRule]) -> None:
        self.matcher = HighlightMatcher(rules)
        self.styles_of_rules = rule_styles(rules)

    def __bool__(self) -> bool:
        return bool(self.matcher)

    def styles(self, rows: Iterable[Row]) -> tuple[dict[RowKey, Style], bool]:
        """Styles by row key, and whether a flow just started matching a bell rule."""
        matched, started = self.matcher.match(rows)
        return styles_by_key(matched, self.styles_of_rules), started
