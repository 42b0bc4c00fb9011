"""The events filter: the flow filter language plus the kind pseudo-field."""

from __future__ import annotations

import time
from typing import Any

import pytest

from flowtop.core.errors import FilterError
from flowtop.core.event_filter import compile_event_filter
from flowtop.core.model import Flow
from flowtop.core.store import EventKind, FlowStore
from tests.core.factories import flow

NOW = time.mktime((2024, 5, 6, 14, 2, 0, 0, 0, -1))
INET = "DC-INET->Branch-INET"


def _event(kind: EventKind, flow_: Flow | None = None) -> Any:
    store = FlowStore()
    first = flow_ or flow(1)
    store.apply([first], NOW)
    if kind is EventKind.APPEARED:
        store.apply([first, flow(2)], NOW)
    elif kind is EventKind.ENDED:
        store.apply([], NOW)
    else:
        store.apply([first.model_copy(update={"path": INET})], NOW)
    return store.events[-1]


@pytest.mark.parametrize(
    ("expression", "new", "ended", "path"),
    [
        ("", True, True, True),
        ("kind:new", True, False, False),
        ("KIND:Ended", False, True, False),
        ("kind:p*", False, False, True),
        ("kind:*e*", True, True, True),
        ("kind:end*|new", True, True, False),
        ("kind:appeared|gone", True, True, False),
        ("kind=moved", False, False, True),
        ("kind==e*", False, True, False),
        ("!kind:new", False, True, True),
        ("-kind:new", False, True, True),
        ("kind!=new", False, True, True),
        ("kind:new kind:path", False, False, False),
        ('kind:"new"|path', True, False, True),  # quoting as in every field
        ("kind:new\tpath:*INET", False, False, False),
        ("path:*INET", False, False, True),
        ("path:INET", False, False, False),  # a field term matches the whole value
        ("kind:path path:*MPLS*", False, False, False),
        ('app:"kind:path"', False, False, False),
        ('"kind:path"', False, False, False),
    ],
)
def test_event_filter_semantics(expression: str, new: bool, ended: bool, path: bool) -> None:
    compiled = compile_event_filter(expression)
    assert compiled.expression == expression
    assert compiled.matches(_event(EventKind.APPEARED)) is new
    assert compiled.matches(_event(EventKind.ENDED)) is ended
    assert compiled.matches(_event(EventKind.PATH)) is path


@pytest.mark.parametrize(
    ("expression", "message", "position"),
    [
        ("kind:", "kind needs a value", 5),
        ("kind:new|", "kind needs a value", 9),
        ("kind:new|zz", 'unknown event kind "zz"', 9),
        ("kind:p", 'unknown event kind "p"', 5),  # not a prefix: the whole word
        ("kind:new|e", 'unknown event kind "e"', 9),
        ("app:x kind~new", 'kind takes ":"', 6),
        ("kind>1", 'kind takes ":"', 0),
        ("kind:new bogus:1", 'unknown field "bogus"', 9),
        ('kind:"*"', 'unknown event kind "*"', 5),  # a quoted star is no wildcard
        ('kind:"open', "unclosed quote", 5),
        ('kind:new app:"open', "unclosed quote", 13),
    ],
)
def test_event_filter_errors_point_into_the_text_as_typed(
    expression: str, message: str, position: int
) -> None:
    with pytest.raises(FilterError) as caught:
        compile_event_filter(expression)
    assert message in caught.value.reason
    assert caught.value.position == position


def test_kind_terms_are_blanked_out_of_the_flow_filter() -> None:
    compiled = compile_event_filter('!kind:new app:zoom kind!="path"')
    assert compiled.flow_filter.expression == "          app:zoom" + " " * 13
    assert compiled.kinds == (
        (frozenset({EventKind.APPEARED}), True),
        (frozenset({EventKind.PATH}), True),
    )
