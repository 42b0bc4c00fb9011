"""Caches and collector settings follow the flow count of the answers."""

from __future__ import annotations

import gc
import json
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
