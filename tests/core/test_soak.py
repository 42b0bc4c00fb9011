"""Soak: 10,000 polls of a churning demo appliance, memory levels off.

Simulating and parsing a 200-flow world costs about 2 ms a poll, so 10,000 fresh
polls would take 20 s or more.  The world is run for one cycle of snapshots,
parsed once, and the snapshots are applied cyclically.  That keeps the churn the
store sees real (flows start and end, the 100-flow cap pushes flows in and out,
links fail over, and every lap boundary replaces much of the table at once) while
the loop costs only the store and the view.  The snapshots and their flows are
allocated before tracing starts, so traced memory is the store's and the view's.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

from flowtop.core.columns import SortSpec
from flowtop.core.filter import compile_filter
from flowtop.core.groups import GROUPINGS
from flowtop.core.model import Flow, parse_flows
from flowtop.core.store import (
    DEFAULT_HISTORY,
    DEFAULT_MAX_EVENTS,
    PATH_TIMELINE_LIMIT,
    TRIM_EVERY,
    FlowStore,
)
from flowtop.core.view import FlowView
from flowtop.demo.world import DemoWorld

POLLS = 10_000
# Divides the measuring interval, so every measurement sees the store at the same
# point of a lap; and longer than the history, so long-lived flows fill their rings.
CYCLE = 500
MEASURE_EVERY = 2_000
# Tracing doubles the cost of a poll.  By two laps in the store has its working size,
# and whatever it allocates from then on and keeps is what the measurements see.
TRACE_FROM = 2 * CYCLE
MAX_STATS = 100
VIEW_EVERY = 5
# Traced memory holds steady within about 10 KB from poll 4,000 on; a store that never
# trimmed its rings would grow by about 0.6 MB over the same polls (flows end, so even
# that leak is bounded by how long flows live).
MAX_GROWTH_BYTES = 128 * 1024


def _snapshots() -> list[list[Flow]]:
    now = [0.0]
    world = DemoWorld(seed=11, flows=200, clock=lambda: now[0])
    snapshots: list[list[Flow]] = []
    for _ in range(CYCLE):
        now[0] += 1.0
        world.advance_to(now[0])
        snapshots.append(parse_flows(world.encode(MAX_STATS)).flows)
    return snapshots


def _traced_bytes() -> int:
    # Reference cycles awaiting the collector are not the store's growth.
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _history_samples(store: FlowStore) -> Iterator[int]:
    for record in store.records.values():
        yield len(record.pps.data)
        yield len(record.kbps.data)


def test_ten_thousand_polls_with_churn_level_off() -> None:
    snapshots = _snapshots()
    store = FlowStore()
    view = FlowView()
    predicate = compile_filter("!app:dns")
    sort = SortSpec("kbps", True)
    grouping = GROUPINGS["path"]
    measured: dict[int, int] = {}
    added = removed = path_changes = failovers = 0

    try:
        for poll in range(1, POLLS + 1):
            if poll == TRACE_FROM:
                tracemalloc.start()
            flows = snapshots[(poll - 1) % CYCLE]
            update = store.apply(flows, at=float(poll))
            added += len(update.added)
            removed += len(update.removed)
            path_changes += len(update.path_changes)
            failovers += len(update.failovers)
            assert len(store.records) == len(flows)
            # The UI computes a view every tick and the view keeps the previous rows;
            # every few polls is enough to show those do not pile up, at a fifth the cost.
            if poll % VIEW_EVERY == 0:
                if poll % (2 * VIEW_EVERY):
                    result = view.compute(store.records.values(), predicate, sort)
                else:
                    result = view.compute_groups(store.records.values(), grouping, None, sort)
                assert result.total == len(flows)
            if poll % MEASURE_EVERY == 0:
                measured[poll] = _traced_bytes()
                assert len(store.records) <= MAX_STATS
                assert sum(_history_samples(store)) <= (
                    2 * len(store.records) * (DEFAULT_HISTORY + TRIM_EVERY)
                )
                assert len(store.events) <= DEFAULT_MAX_EVENTS
    finally:
        tracemalloc.stop()

    # The run did churn, and filled every bounded structure.
    assert store.poll == POLLS
    assert added > 5 * MAX_STATS and removed > 5 * MAX_STATS
    assert path_changes > 0 and failovers > 0
    assert len(store.events) == DEFAULT_MAX_EVENTS
    rings = [record.pps for record in store.records.values()]
    assert max(len(ring) for ring in rings) == DEFAULT_HISTORY
    assert all(len(ring.data) < DEFAULT_HISTORY + TRIM_EVERY for ring in rings)
    assert all(len(record.path_changes) <= PATH_TIMELINE_LIMIT for record in store.records.values())
    assert len(store.failovers) <= (store.failovers.maxlen or 0)

    # Memory levels off: whatever the store holds after 4,000 polls it still holds,
    # give or take, after 10,000.
    assert sorted(measured) == list(range(MEASURE_EVERY, POLLS + 1, MEASURE_EVERY))
    steady = [measured[poll] for poll in measured if poll >= 2 * MEASURE_EVERY]
    assert max(steady) - measured[2 * MEASURE_EVERY] < MAX_GROWTH_BYTES, measured
