"""Work in steps (issue 11): a large answer is parsed, stored and viewed without
holding the event loop, and the steps give exactly what the work done at once gives."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from flowtop.core import model
from flowtop.core.columns import SortSpec
from flowtop.core.filter import compile_filter
from flowtop.core.model import parse_flow_steps, parse_flows
from flowtop.core.steps import run_sliced, run_to_end
from flowtop.core.store import STEP_FLOWS, FlowStore
from flowtop.core.view import FlowRows, FlowView
from tests.core.factories import flow, raw_flow


def _count_steps(steps: Any) -> tuple[int, Any]:
    count = 0
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return count, stop.value
        count += 1


def _raw(count: int) -> list[dict[str, Any]]:
    flows = [raw_flow(n) for n in range(count)]
    for n, item in enumerate(flows):
        if n % 7 == 0:
            item["application"] = 'a},{"b'  # a cut inside a string: not valid JSON alone
        if n % 11 == 0:
            item["extra"] = [{"a": 1}, {"b": [2, {"c": 3}]}]  # nested objects
    return flows


@pytest.mark.parametrize(
    "envelope",
    [
        lambda flows: flows,
        lambda flows: {"flows": flows},
        lambda flows: {"flows": {"flows": flows}},
    ],
    ids=["array", "object", "nested"],
)
def test_a_large_answer_is_parsed_in_pieces_with_the_same_flows(envelope: Any) -> None:
    body = json.dumps(envelope(_raw(600)), indent=1).encode()
    at_once = model._parse_flows_at_once(body)
    steps, parsed = _count_steps(parse_flow_steps(body, piece_bytes=4096))
    assert steps > 10
    assert parsed == at_once
    assert len(parsed.flows) == 600
    assert parse_flows(body) == at_once


@pytest.mark.parametrize(
    "body",
    [
        # Something else beside the array: the whole body decides, as before.
        json.dumps({"flows": [raw_flow(n) for n in range(200)], "more": [1, 2]}).encode(),
        # A bad value in one piece: that flow's value is kept as unparsed.
        json.dumps(
            [raw_flow(n, src_port="N/A" if n == 150 else str(n)) for n in range(200)]
        ).encode(),
        # Not an array of objects at all in a piece.
        json.dumps(
            [raw_flow(n) for n in range(100)] + [1, "x"] + [raw_flow(n) for n in range(99)]
        ).encode(),
        # A control character in a string of one piece.
        json.dumps(
            [raw_flow(n, application="\x1b[31m" if n == 120 else "x") for n in range(200)]
        ).encode(),
    ],
    ids=["extra-key", "bad-value", "not-objects", "control"],
)
def test_a_piece_that_is_not_plain_hands_the_answer_to_the_careful_parse(body: bytes) -> None:
    parsed = run_to_end(parse_flow_steps(body, piece_bytes=2048))
    assert parsed == model._parse_flows_at_once(body)


def test_store_apply_in_steps_matches_apply_at_once() -> None:
    count = 2 * STEP_FLOWS + 5
    first = [flow(n) for n in range(count)]
    second = [flow(n, path="B") for n in range(10, count + 10)]
    at_once, stepped = FlowStore(), FlowStore()
    at_once.apply(first, 1.0)
    steps, _ = _count_steps(stepped.apply_steps(first, 1.0))
    assert steps >= 2
    update = at_once.apply(second, 2.0)
    _, stepped_update = _count_steps(stepped.apply_steps(second, 2.0))
    assert stepped_update == update
    assert list(stepped.records) == list(at_once.records)
    assert [r.pps.values() for r in stepped.records.values()] == [
        r.pps.values() for r in at_once.records.values()
    ]


async def test_sliced_steps_let_other_tasks_run_between_them() -> None:
    ran: list[int] = []

    def steps() -> Any:
        for n in range(5):
            ran.append(n)
            yield
        return "done"

    async def other() -> None:
        ran.append(-1)

    task = asyncio.ensure_future(other())
    # A slice of 0 s: a turn for other tasks after every step.
    assert await run_sliced(steps(), slice_seconds=0.0) == "done"
    await task
    assert ran.index(-1) < 4


async def test_small_work_does_not_yield() -> None:
    ran: list[int] = []

    def steps() -> Any:
        for n in range(3):
            ran.append(n)
            yield
        return "done"

    async def other() -> None:
        ran.append(-1)

    task = asyncio.ensure_future(other())
    assert await run_sliced(steps(), slice_seconds=60.0) == "done"
    await task
    assert ran == [0, 1, 2, -1]


def _store(count: int) -> FlowStore:
    store = FlowStore()
    store.apply([flow(n, pps=str(n % 17)) for n in range(count)], 1.0)
    return store


def test_flow_rows_are_built_on_use_and_kept_while_the_flow_is_the_same() -> None:
    store = _store(50)
    view = FlowView()
    first = view.compute(store.records.values(), None, SortSpec("pps"))
    assert isinstance(first.rows, FlowRows)
    row = first.rows[3]
    again = view.compute(store.records.values(), None, SortSpec("pps"))
    assert again.rows[3] is row
    assert again.diff.added == [] and again.diff.removed == []
    assert [r.key for r in again.rows] == again.rows.keys()  # type: ignore[attr-defined]
    assert again.index_of(row.key) == 3
    assert again.rows[1:3] == [again.rows[1], again.rows[2]]


def test_rows_show_the_flows_of_their_view_after_the_store_moved_on() -> None:
    store = FlowStore()
    store.apply([flow(1, application="old")], 1.0)
    view = FlowView()
    result = view.compute(store.records.values())
    store.apply([flow(1, application="new")], 2.0)
    assert result.rows[0].flow.application == "old"
    assert view.compute(store.records.values()).rows[0].flow.application == "new"


def test_a_new_sort_or_filter_reports_exactly_the_rows_that_came_and_went() -> None:
    store = _store(40)
    view = FlowView()
    view.compute(store.records.values(), None, SortSpec("pps"))
    by_bytes = view.compute(store.records.values(), None, SortSpec("bytes"))
    assert by_bytes.diff.added == [] and by_bytes.diff.removed == []
    narrow = compile_filter("sport:40001")
    narrowed = view.compute(store.records.values(), narrow, SortSpec("bytes"))
    assert [row.key for row in narrowed.rows] == [flow(1).key]
    assert len(narrowed.diff.removed) == 39 and narrowed.diff.added == []
    widened = view.compute(store.records.values(), None, SortSpec("bytes"))
    assert len(widened.diff.added) == 39 and widened.diff.removed == []


def test_a_flow_that_ended_and_came_back_between_views_is_neither_added_nor_removed() -> None:
    store = FlowStore()
    view = FlowView()
    store.apply([flow(1), flow(2)], 1.0)
    view.compute(store.records.values())
    store.apply([flow(1)], 2.0)
    store.apply([flow(1), flow(2), flow(3)], 3.0)
    result = view.compute(store.records.values())
    assert result.diff.added == [flow(3).key]
    assert result.diff.removed == []


def test_a_sort_of_the_same_flows_is_reused_and_new_flows_are_sorted_anew() -> None:
    store = FlowStore()
    store.apply([flow(n, pps=str(n)) for n in range(30)], 1.0)
    view = FlowView()
    by_pps = view.compute(store.records.values(), None, SortSpec("pps"))
    view.compute(store.records.values(), None, SortSpec("bytes"))
    again = view.compute(store.records.values(), None, SortSpec("pps"))
    assert again.rows.keys() == by_pps.rows.keys()  # type: ignore[attr-defined]
    assert SortSpec("pps") in view._orders and SortSpec("bytes") in view._orders
    # The same keys with new rates: a new order, not the remembered one.
    store.apply([flow(n, pps=str(100 - n)) for n in range(30)], 2.0)
    moved = view.compute(store.records.values(), None, SortSpec("pps"))
    assert [row.flow.pps for row in moved.rows] == sorted(
        (float(100 - n) for n in range(30)), reverse=True
    )
    assert list(view._orders) == [SortSpec("pps")]


async def test_between_slices_the_loop_is_left_a_moment_for_callbacks_in_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key reaches the screen through several loop callbacks in a row; a pause of 0
    would run a slice of the steps between each two of them."""
    from flowtop.core import steps as steps_module

    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(seconds: float) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(steps_module.asyncio, "sleep", recording_sleep)

    def steps() -> Any:
        for _ in range(3):
            yield
        return None

    await run_sliced(steps(), slice_seconds=1e-9)
    assert pauses and all(pause == steps_module.PAUSE_SECONDS > 0 for pause in pauses)
