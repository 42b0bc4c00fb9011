"""The detail pane's rate history: one column per poll, newest right, span labelled."""

from __future__ import annotations

import math

from flowtop.core.store import FlowStore
from flowtop.core.units import format_count
from flowtop.tui.widgets.detail import RateHistory, format_span, history_text
from tests.core.factories import flow
from tests.tui.helpers import Clock, ScriptedSource, make_app, poll_now, wait_until


def _lines(values: list[float], times: list[float], width: int) -> list[str]:
    return history_text("pps ", values, times, width, format_count).plain.split("\n")


def test_format_span() -> None:
    assert format_span(30) == "30s"
    assert format_span(59.4) == "59s"
    assert format_span(59.6) == "1m"
    assert format_span(150) == "2m30s"
    assert format_span(300) == "5m"
    assert format_span(1501) == "25m"
    assert format_span(3600) == "1h"
    assert format_span(4800) == "1h20m"


def test_three_samples_take_three_columns_at_the_right() -> None:
    label, upper, lower = _lines([1.0, 2.0, 4.0], [10.0, 12.0, 14.0], 20)
    assert len(upper) == len(lower) == 20
    assert lower[:17] == " " * 17 and upper[:17] == " " * 17
    # Newest (the largest) at the right, full height; the others lower.
    # Newest (the largest) at the right, full height; heights from zero.
    assert lower[-3:] == "▄██" and upper[-3:] == "  █"
    assert "last 4s" in label and "now 4" in label and "min 1" in label and "max 4" in label


def test_only_the_last_width_samples_show_and_the_span_is_theirs() -> None:
    values = [float(n) for n in range(100)]
    times = [2.0 * n for n in range(100)]
    label, upper, lower = _lines(values, times, 30)
    assert len(upper) == 30
    assert len(lower) == 30 and " " not in lower
    # The last 30 polls, 2 s apart: 58 seconds; min is the oldest of them.
    assert "last 58s" in label and "min 70" in label and "max 99" in label


def test_missing_samples_are_gaps_and_zero_is_a_floor() -> None:
    label, upper, lower = _lines([0.0, math.nan, 5.0], [1.0, 2.0, 3.0], 3)
    assert upper == "  █"
    assert lower == "▁ █"
    assert "now 5" in label


def test_without_sample_times_the_span_counts_polls() -> None:
    label, _, _ = _lines([1.0, 2.0], [], 10)
    assert "last 2 polls" in label
    label, _, _ = _lines([1.0], [5.0], 10)
    assert "this poll" in label


def test_the_store_knows_when_each_sample_was_taken() -> None:
    store = FlowStore(history=3)
    for at in (10.0, 12.0, 14.0):
        store.apply([flow(1)], at)
    store.apply([flow(1), flow(2)], 16.0)
    first = store.get(flow(1).key)
    second = store.get(flow(2).key)
    assert first is not None and second is not None
    assert store.sample_times(first) == [12.0, 14.0, 16.0]
    assert store.sample_times(second) == [16.0]
    store.clear()
    assert store.sample_times(first) == []


async def test_the_pane_draws_one_column_per_poll_newest_right() -> None:
    clock = Clock()
    source = ScriptedSource(clock, [[flow(1, pps=str(float(n)))] for n in (1, 2, 3, 4)])
    app = make_app(source, clock)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 1)
        for _ in range(3):
            await poll_now(pilot, app, source)
        history = app.detail.query_one("#pps-history", RateHistory)
        label, upper, lower = history.lines
        width = history.content_region.width
        assert len(lower) == width > 20
        # Four polls, one second apart (the scripted clock): four columns at the right.
        assert lower[: width - 4] == " " * (width - 4)
        assert lower[-4:] == "▄███" and upper[-4:] == "  ▄█"
        assert "last 3s" in label and "now 4" in label
