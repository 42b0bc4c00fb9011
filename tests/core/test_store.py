"""The flow store: snapshots, bounded history, path events, ended flows forgotten."""

from __future__ import annotations

import math

from flowtop.core.store import EventKind, FlowStore, Ring, SeriesStats
from tests.core.factories import flow


def test_apply_tracks_added_and_removed() -> None:
    store = FlowStore()
    first = store.apply([flow(1), flow(2)], at=100.0)
    assert len(first.added) == 2 and first.removed == []
    second = store.apply([flow(2), flow(3)], at=101.0)
    assert second.added == [flow(3).key]
    assert second.removed == [flow(1).key]
    assert set(store.records) == {flow(2).key, flow(3).key}


def test_history_is_bounded_and_follows_the_flow() -> None:
    store = FlowStore(history=5)
    for i in range(12):
        store.apply([flow(1, pps=str(i), customer_kbps=str(i * 10))], at=float(i))
    record = store.get(flow(1).key)
    assert record is not None
    assert record.pps.values() == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert record.kbps.values()[-1] == 110.0


def test_ended_flows_are_forgotten_with_their_history() -> None:
    store = FlowStore()
    store.apply([flow(1)], at=1.0)
    store.apply([], at=2.0)
    store.apply([flow(1)], at=3.0)
    record = store.get(flow(1).key)
    assert record is not None and len(record.pps) == 1 and record.first_seen == 3.0


def test_missing_rates_are_gaps_not_zeros() -> None:
    store = FlowStore()
    store.apply([flow(1, pps="N/A")], at=1.0)
    store.apply([flow(1, pps="5")], at=2.0)
    record = store.get(flow(1).key)
    assert record is not None
    values = record.pps.values()
    assert math.isnan(values[0]) and values[1] == 5.0
    stats = SeriesStats.of(values)
    assert (stats.current, stats.minimum, stats.maximum, stats.mean) == (5.0, 5.0, 5.0, 5.0)


def test_path_change_becomes_an_event_and_timeline_entry() -> None:
    store = FlowStore()
    store.apply([flow(1)], at=1.0)
    update = store.apply([flow(1, path="DC-INET->Branch-LTE")], at=2.0)
    assert [(c.old, c.new) for c in update.path_changes] == [
        ("DC-MPLS->Branch-MPLS", "DC-INET->Branch-LTE")
    ]
    record = store.get(flow(1).key)
    assert record is not None and record.path_changes[-1].at == 2.0
    assert store.events[-1].kind is EventKind.PATH


def test_many_flows_moving_together_is_a_failover() -> None:
    store = FlowStore()
    store.apply([flow(n) for n in range(10)], at=1.0)
    moved = [flow(n, path="DC-INET->Branch-LTE") for n in range(8)] + [flow(8), flow(9)]
    update = store.apply(moved, at=2.0)
    assert len(update.failovers) == 1
    failover = update.failovers[0]
    assert (failover.old, failover.new, failover.count) == (
        "DC-MPLS->Branch-MPLS",
        "DC-INET->Branch-LTE",
        8,
    )


def test_repeated_keys_keep_both_flows() -> None:
    store = FlowStore()
    update = store.apply([flow(1, bytes="1"), flow(1, bytes="2")], at=1.0)
    assert update.duplicate_keys == 1
    assert len(store) == 2
    assert sorted(r.flow.bytes or 0 for r in store.records.values()) == [1, 2]
    assert {r.key.occurrence for r in store.records.values()} == {0, 1}


def test_events_are_bounded() -> None:
    store = FlowStore(max_events=10)
    for i in range(30):
        store.apply([flow(i)], at=float(i))
    assert len(store.events) == 10


def test_first_poll_does_not_flood_the_event_log() -> None:
    store = FlowStore()
    store.apply([flow(n) for n in range(50)], at=1.0)
    assert len(store.events) == 0
    store.apply([flow(n) for n in range(51)], at=2.0)
    assert [e.kind for e in store.events] == [EventKind.APPEARED]


def test_ring_wraps_and_keeps_order() -> None:
    ring = Ring(3)
    for v in range(5):
        ring.append(float(v))
    assert ring.values() == [2.0, 3.0, 4.0]
    assert len(ring) == 3 and ring.capacity == 3


def test_very_many_flows_keep_fewer_samples_each_within_the_budget() -> None:
    """The history of all flows is bounded: at 50 000 flows a series keeps 100 samples,
    at 1000 its whole 300, never fewer than the floor; rings shrink at their next trim."""
    from flowtop.core.store import (
        HISTORY_BUDGET,
        MIN_HISTORY,
        TRIM_EVERY,
        FlowStore,
        history_for,
    )

    assert history_for(1000) == 300 and history_for(50_000) == HISTORY_BUDGET // 50_000
    assert history_for(10_000_000) == MIN_HISTORY and history_for(0) == 300
    store = FlowStore(history=300)
    few = [flow(n) for n in range(3)]
    for poll in range(TRIM_EVERY * 3):
        store.apply(few, float(poll))
    record = next(iter(store.records.values()))
    assert len(record.pps) == TRIM_EVERY * 3 and record.pps.capacity == 300
    # The same flows among very many: their series keep what the budget allows.
    import flowtop.core.store as store_module

    original = store_module.HISTORY_BUDGET
    store_module.HISTORY_BUDGET = 3 * MIN_HISTORY
    try:
        for poll in range(TRIM_EVERY * 3, TRIM_EVERY * 4):
            store.apply(few, float(poll))
    finally:
        store_module.HISTORY_BUDGET = original
    assert store.depth == MIN_HISTORY
    assert record.pps.capacity == MIN_HISTORY and len(record.pps.data) <= MIN_HISTORY
    assert len(record.pps) == MIN_HISTORY == len(store.sample_times(record))
