"""Highlight rules follow the filter language: whole values, RE2 patterns."""

from __future__ import annotations

import threading

from rich.style import Style

from flowtop.core.config import HighlightRule, parse_highlight_argument
from flowtop.core.model import Flow
from flowtop.core.view import Row
from flowtop.tui.highlight import Highlighter
from tests.core.factories import flow


def _rows(*flows: Flow) -> list[Row]:
    return [Row(item.key, item, ()) for item in flows]


def test_readme_example_dscp_ef_colours_only_ef_flows() -> None:
    """Issue 8: dscp:ef@cyan coloured every best-effort ("default") flow too."""
    ef, best_effort = flow(1, ip_dscp="ef"), flow(2, ip_dscp="default")
    highlighter = Highlighter([parse_highlight_argument("dscp:ef@cyan")])
    styles, _ = highlighter.styles(_rows(ef, best_effort))
    assert styles == {ef.key: Style(color="cyan", bold=True)}


def test_regex_rules_run_in_linear_time() -> None:
    victim = flow(1, application="a" * 5000 + "!")
    matching = flow(2, application="aaaa")
    highlighter = Highlighter([HighlightRule(expr="app~(a+)+$", color="red")])
    found: list[set[object]] = []
    worker = threading.Thread(
        target=lambda: found.append(set(highlighter.styles(_rows(victim, matching))[0])),
        daemon=True,
    )
    worker.start()
    worker.join(10.0)
    assert not worker.is_alive(), "the rule is still matching"
    assert found == [{matching.key}]
