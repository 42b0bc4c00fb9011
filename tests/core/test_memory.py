"""Caches and collector settings follow the flow count of the answers."""

from __future__ import annotations

import gc
import json
import time
import weakref
from collections.abc import Iterator

import pytest

from flowtop.core import memory
from flowtop.core.model import ADDRESSES_PER_FLOW, MIN_ADDRESS_CACHE, parse_address, parse_flows
from flowtop.core.store import Ring


@pytest.fixture
def gc_state() -> Iterator[None]:
    threshold = gc.get_threshold()
    tuned = memory._tuned
    yield
    gc.set_threshold(*threshold)
    memory._tuned = tuned
    gc.unfreeze()


class Node:
    """An object that can be in a reference cycle and be watched with a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def _body(hosts: range) -> bytes:
    flows = [
        {"src_ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "dest_ip": "192.0.2.1"}
        for i in hosts
    ]
    return json.dumps({"flows": flows}).encode()


def test_address_cache_holds_a_large_answer_whole() -> None:
    """A 50 000-flow answer has more distinct addresses than the old 65 536-entry LRU."""
    parse_address.cache_clear()
    body = _body(range(70_000))
    parse_flows(body)
    before = parse_address.cache_info()
    parse_flows(body)
    after = parse_address.cache_info()
    assert after.misses == before.misses  # the second poll builds no address
    assert after.currsize >= 70_000


def test_address_cache_follows_the_flow_count() -> None:
    """Churning hosts do not grow the cache past what the answers need."""
    parse_address.cache_clear()
    for start in range(0, 20 * 1000, 1000):
        parse_flows(_body(range(start, start + 1000)))
        limit = max(MIN_ADDRESS_CACHE, ADDRESSES_PER_FLOW * 1000)
        assert parse_address.cache_info().currsize <= limit + 1001
    parse_flows(_body(range(10)))
    assert parse_address.cache_info().currsize <= MIN_ADDRESS_CACHE + 11


@pytest.mark.usefixtures("gc_state")
def test_collector_left_alone_unless_tuned() -> None:
    memory._tuned = False
    gc.set_threshold(700, 10, 10)
    memory.fit_to_flows(50_000)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.usefixtures("gc_state")
def test_young_generation_follows_the_flow_count() -> None:
    memory.tune_garbage_collector()
    assert gc.get_threshold()[0] == memory.YOUNG_THRESHOLD
    memory.fit_to_flows(50_000)
    assert gc.get_threshold() == (
        50_000 * memory.OBJECTS_PER_FLOW,
        memory.MIDDLE_THRESHOLD,
        memory.OLD_THRESHOLD,
    )
    memory.fit_to_flows(100)
    assert gc.get_threshold()[0] == memory.YOUNG_THRESHOLD


@pytest.mark.usefixtures("gc_state")
def test_after_a_poll_nothing_is_frozen_unless_tuned() -> None:
    memory._tuned = False
    gc.unfreeze()
    kept = [Node() for _ in range(100)]
    assert not memory.after_poll()
    assert gc.get_freeze_count() == 0
    assert kept


@pytest.mark.usefixtures("gc_state")
def test_what_survives_a_poll_is_frozen_and_still_freed_by_reference_counting() -> None:
    memory.tune_garbage_collector()
    before = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]
    gone = weakref.ref(kept[0])
    assert not memory.after_poll()
    assert gc.get_freeze_count() >= before + 1000
    ids = set(map(id, kept))
    assert not any(id(node) in ids for node in gc.get_objects())  # no generation scans them
    del kept
    assert gone() is None
    assert gc.get_freeze_count() < before + 1000


@pytest.mark.usefixtures("gc_state")
def test_a_cycle_frozen_after_a_poll_is_collected_by_the_full_collection_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "FULL_COLLECTION_POLLS", 3)
    memory.tune_garbage_collector()
    cycle = _cycle()
    assert not memory.after_poll()
    gc.collect()
    assert cycle() is not None  # frozen: no collection of the generations sees it
    assert not memory.after_poll()
    assert memory.after_poll()  # the third poll: unfrozen and collected
    assert cycle() is None
    assert gc.get_freeze_count() > 0  # what lives is frozen again
    assert not memory.after_poll()


@pytest.mark.usefixtures("gc_state")
def test_frozen_objects_grown_by_a_quarter_bring_a_full_collection_sooner() -> None:
    memory.tune_garbage_collector()
    assert not memory.after_poll()
    cycle = _cycle()
    grown = [Node() for _ in range(gc.get_freeze_count() // 4 + memory.FROZEN_SLACK + 1000)]
    assert memory.after_poll()
    assert cycle() is None
    assert memory._fewest_frozen >= len(grown)
    assert not memory.after_poll()


@pytest.mark.usefixtures("gc_state")
def test_the_fewest_frozen_follow_the_flows_down() -> None:
    """After fewer flows, a quarter more is counted from the fewer."""
    memory.tune_garbage_collector()
    step = gc.get_freeze_count() // 4 + memory.FROZEN_SLACK + 1000
    many = [Node() for _ in range(2 * step)]
    memory.full_collection()
    del many
    assert not memory.after_poll()
    again = [Node() for _ in range(step)]  # a quarter more than the fewer, not the many
    assert memory.after_poll()
    assert again


def test_polls_of_the_core_make_no_reference_cycles() -> None:
    """What freezing after each poll relies on: the flows, records and rows of the polls
    of churning flows are all freed by reference counting."""
    from flowtop.core.monitor import Monitor
    from flowtop.core.source import Snapshot
    from tests.core.factories import flow

    monitor = Monitor(history=5)

    def poll(n: int) -> None:
        flows = [flow(i, bytes=str(n * i)) for i in range(n * 50, n * 50 + 300)]
        monitor.apply(Snapshot(flows, time.time(), 0.1))
        monitor.frame()
        monitor.sort_by("bytes" if n % 2 else "pps")
        monitor.frame()

    poll(0)
    poll(1)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for n in range(2, 12):
            poll(n)
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


def test_rate_history_takes_four_bytes_a_sample() -> None:
    """Two series of 300 samples at 50 000 flows: about 120 MB in float32, 240 in float64."""
    ring = Ring(300)
    ring.append(12.345)
    assert ring.data.itemsize == 4
    assert ring.values() == [pytest.approx(12.345, rel=1e-6)]


def test_memory_per_flow_with_full_history_stays_under_6_kib() -> None:
    """What one live flow costs (README, Performance): 4.3 KiB with 300 samples of history
    when measured; a flow's own fields set (2.2 KiB) or a deque per record would pass 6.
    A parsed flow is 1.3 KiB with the pydantic of the lock and 2.4 KiB with the oldest
    one declared; with a fields set of its own it would be 3.4 KiB or more."""
    from benchmarks.memory import measure

    result = measure(400, history=300)
    assert result.parsed < 3 * 1024
    assert result.per_flow < 6 * 1024


async def test_the_monitor_freezes_after_each_poll_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flowtop.core.monitor import Monitor
    from flowtop.core.source import Snapshot
    from tests.core.factories import flow

    calls: list[int] = []
    monitor = Monitor()
    monkeypatch.setattr(memory, "after_poll", lambda: calls.append(len(monitor.store)) or False)
    await monitor._apply_in_steps(Snapshot([flow(1), flow(2)], time.time(), 0.1))
    assert calls == [2]
