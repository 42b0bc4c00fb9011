"""A new sort of many flows: the frame shows its mark at once, the rows follow in steps."""

from __future__ import annotations

import pytest

from flowtop.core import monitor as monitor_module
from flowtop.core.filter import compile_filter
from flowtop.core.monitor import Monitor
from flowtop.core.source import Snapshot
from tests.core.factories import flow

FLOWS = 40


@pytest.fixture(autouse=True)
def _few_flows_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor_module, "DEFER_SORT_FLOWS", FLOWS)


def _monitor(count: int = FLOWS) -> Monitor:
    """Rate rises with n, bytes fall with it: the two sorts are each other's reverse."""
    monitor = Monitor()
    flows = [
        flow(n, customer_kbps=str(float(n)), bytes=str(10_000 - n)) for n in range(1, count + 1)
    ]
    monitor.apply(Snapshot(flows, 1.0, 0.1))
    monitor.frame(defer_sort=True)
    return monitor


def _ports(monitor: Monitor, defer_sort: bool = True) -> tuple[list[int], str]:
    frame = monitor.frame(defer_sort=defer_sort)
    return [row.flow.src_port or 0 for row in frame.rows], frame.sort.column


async def test_the_new_sort_shows_its_mark_over_the_rows_shown_then_sorts_them() -> None:
    monitor = _monitor()
    by_rate, _ = _ports(monitor)
    monitor.sort_by("bytes")
    ports, column = _ports(monitor)
    assert column == "bytes"
    assert ports == by_rate  # not sorted yet
    assert monitor.view_pending
    await monitor.finish_view()
    ports, column = _ports(monitor)
    assert not monitor.view_pending
    assert ports == sorted(by_rate)
    assert monitor.frame(defer_sort=True).result.diff.added == []


async def test_finishing_twice_or_after_nothing_is_put_off_does_nothing() -> None:
    monitor = _monitor()
    await monitor.finish_view()
    assert monitor._prepared is None
    monitor.sort_by("bytes")
    monitor.frame(defer_sort=True)
    await monitor.finish_view()
    prepared = monitor._prepared
    await monitor.finish_view()
    assert monitor._prepared is prepared


def test_without_defer_sort_a_frame_sorts_at_once() -> None:
    monitor = _monitor()
    by_rate, _ = _ports(monitor)
    monitor.sort_by("bytes")
    ports, column = _ports(monitor, defer_sort=False)
    assert (ports, column) == (sorted(by_rate), "bytes")
    assert not monitor.view_pending


def test_few_flows_sort_at_once() -> None:
    monitor = _monitor(FLOWS - 1)
    by_rate, _ = _ports(monitor)
    monitor.sort_by("bytes")
    assert _ports(monitor) == (sorted(by_rate), "bytes")
    assert not monitor.view_pending


def test_a_sort_already_made_for_these_flows_is_taken_at_once() -> None:
    monitor = _monitor()
    by_rate, _ = _ports(monitor)
    monitor.sort_by("bytes")
    _ports(monitor, defer_sort=False)
    monitor.sort_by("kbps")
    assert _ports(monitor) == (by_rate, "kbps")
    assert not monitor.view_pending


def test_a_new_filter_with_the_new_sort_is_computed_at_once() -> None:
    monitor = _monitor()
    monitor.sort_by("bytes")
    monitor.set_filter(compile_filter("pps>38"))
    ports, column = _ports(monitor)
    assert (ports, column) == ([40039, 40040], "bytes")
    assert not monitor.view_pending


def test_groups_are_never_put_off() -> None:
    monitor = _monitor()
    monitor.group_by(monitor_module.resolve_grouping("app"))
    monitor.frame(defer_sort=True)
    monitor.sort_by("flows")
    frame = monitor.frame(defer_sort=True)
    assert frame.sort.column == "flows"
    assert not monitor.view_pending


async def test_a_poll_prepared_under_the_sort_before_a_key_shows_its_flows_then_sorts() -> None:
    monitor = _monitor()
    flows = [
        flow(n, customer_kbps=str(float(n)), bytes=str(10_000 - n)) for n in range(2, FLOWS + 3)
    ]
    await monitor._apply_in_steps(Snapshot(flows, 2.0, 0.1))  # prepared, sorted by rate
    monitor.sort_by("bytes")  # a key before the poll's frame
    ports, column = _ports(monitor)
    assert column == "bytes"
    assert ports == list(range(40000 + FLOWS + 2, 40001, -1))  # the poll's flows, by rate
    assert monitor.view_pending
    await monitor.finish_view()
    ports, _ = _ports(monitor)
    assert ports == list(range(40002, 40000 + FLOWS + 3))
    assert not monitor.view_pending
