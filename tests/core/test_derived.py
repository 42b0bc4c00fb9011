"""Derived numbers: window averages, peaks, measured rates, counter resets, the
mismatch tolerance, and the totals of the flows shown and of all since start."""

from __future__ import annotations

import math
from typing import Any

import pytest

from flowtop.core import glyphs
from flowtop.core.columns import SortSpec, resolve_column
from flowtop.core.derived import (
    MISMATCH_FLOOR_KBPS,
    PARTIAL_MARK,
    CounterTracker,
    counter_reset,
    derived,
    direction_class,
    mismatch,
    window_average,
    window_weights,
)
from flowtop.core.filter import compile_filter
from flowtop.core.groups import build_groups, resolve_grouping, share_text
from flowtop.core.model import Flow
from flowtop.core.monitor import Monitor
from flowtop.core.source import Snapshot
from flowtop.core.store import FlowStore, Ring
from tests.core.factories import flow


def _flow(n: int, **values: Any) -> Flow:
    return flow(n, **{name: str(value) for name, value in values.items()})


def _ring(values: list[float]) -> Ring:
    ring = Ring(300)
    for value in values:
        ring.append(value)
    return ring


# ---- windows ---------------------------------------------------------------------------


def test_window_weights_follow_the_poll_times_newest_first() -> None:
    times = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert window_weights(times, 2.0) == [2.0]
    assert window_weights(times, 10.0) == [2.0, 2.0, 2.0, 2.0, 2.0]
    # Longer than the history: the first poll's own period is unknown.
    assert window_weights(times, 40.0) == [2.0, 2.0, 2.0, 2.0, 2.0, 0.0]
    # A window that cuts a period takes the part inside it.
    assert window_weights([0.0, 5.0, 10.0], 7.0) == [5.0, 2.0]
    assert window_weights([], 2.0) == []


def test_a_window_average_is_time_weighted_and_skips_missing_samples() -> None:
    weights = window_weights([0.0, 5.0, 10.0], 7.0)
    found = window_average(_ring([100.0, 10.0, 20.0]), weights, 7.0)
    assert found.value == pytest.approx((20.0 * 5 + 10.0 * 2) / 7)
    assert not found.partial
    missing = window_average(_ring([100.0, 10.0, math.nan]), weights, 7.0)
    assert missing.value == pytest.approx(10.0)
    assert missing.partial, "a missing sample leaves the window partly uncovered"


def test_a_window_longer_than_the_history_says_so() -> None:
    store = FlowStore()
    for poll in range(4):
        store.apply([_flow(1, customer_kbps=100 * (poll + 1))], 1000.0 + 2 * poll)
    record = next(iter(store.records.values()))
    two = derived(record.flow, "rate_2s")
    assert two.value == pytest.approx(400.0) and not two.partial
    ten = derived(record.flow, "rate_10s")
    # Three known periods of 2 s (the first poll's is unknown): partial, over 6 s.
    assert ten.partial
    assert ten.value == pytest.approx((200 + 300 + 400) / 3)
    for poll in range(4, 7):
        store.apply([_flow(1, customer_kbps=100)], 1000.0 + 2 * poll)
    record = next(iter(store.records.values()))
    assert not derived(record.flow, "rate_10s").partial
    assert derived(record.flow, "rate_10s").value == pytest.approx((300 + 400 + 100 * 3) / 5)
    assert derived(record.flow, "pps_40s").partial


def test_one_poll_gives_the_reported_rate_marked_partial() -> None:
    store = FlowStore(history=1)
    store.apply([_flow(1, customer_kbps=2000)], 1000.0)
    shown = resolve_column("rate_40s").text(store.flows()[0])
    assert shown == "2.00M" + PARTIAL_MARK


def test_a_flow_of_an_older_poll_has_no_derived_values() -> None:
    store = FlowStore()
    old = _flow(1)
    store.apply([old], 1000.0)
    store.apply([_flow(1)], 1002.0)
    assert derived(old, "rate_2s").value is None
    assert resolve_column("rate_2s").text(old) == ""


# ---- counters ----------------------------------------------------------------------------


def _tracked(*polls: list[Flow], step: float = 2.0) -> tuple[FlowStore, CounterTracker]:
    store = FlowStore()
    tracker = CounterTracker()
    for index, flows in enumerate(polls):
        store.apply(flows, 1000.0 + step * index)
        tracker.after_poll(store)
    return store, tracker


def test_measured_rates_come_from_the_counters_between_two_polls() -> None:
    store, _ = _tracked(
        [_flow(1, bytes=1_000_000, packets=1000, customer_kbps=400, pps=100)],
        [_flow(1, bytes=1_100_000, packets=1200, customer_kbps=400, pps=100)],
    )
    current = store.flows()[0]
    # 100 kB in 2 s is 400 kbps; 200 packets in 2 s is 100 pps.
    assert derived(current, "rate_measured").value == pytest.approx(400.0)
    assert derived(current, "pps_measured").value == pytest.approx(100.0)
    assert derived(current, "rate_mismatch").value == 0.0
    assert resolve_column("rate_measured").text(current) == "400k"


def test_a_first_sight_has_no_measured_rate() -> None:
    store, _ = _tracked([_flow(1, bytes=1000)])
    assert derived(store.flows()[0], "rate_measured").value is None
    assert resolve_column("mismatch").text(store.flows()[0]) == ""


def test_a_counter_going_backwards_is_a_reset_not_a_negative_rate() -> None:
    store, tracker = _tracked(
        [_flow(1, bytes=5_000_000, packets=5000)],
        [_flow(1, bytes=3000, packets=3)],
    )
    record = next(iter(store.records.values()))
    assert counter_reset(record)
    assert derived(record.flow, "rate_measured").value is None
    assert derived(record.flow, "pps_measured").value is None
    # What the counter holds now moved since the reset.
    assert tracker.everything.total.moved_bytes == 3000
    assert record.moved_bytes == 3000


@pytest.mark.parametrize(
    ("reported", "measured", "expected"),
    [
        (400.0, 400.0, False),
        (400.0, 250.0, False),  # within half of the larger
        (400.0, 150.0, True),
        (1000.0, 0.0, True),  # the appliance reports traffic the counters do not see
        (6.0, 0.0, False),  # below the floor: tiny flows round too coarsely
        (None, 10.0, None),
        (10.0, None, None),
    ],
)
def test_the_mismatch_tolerance(
    reported: float | None, measured: float | None, expected: bool | None
) -> None:
    assert mismatch(reported, measured) is expected
    assert MISMATCH_FLOOR_KBPS > 6.0


def test_stale_statistics_are_marked() -> None:
    """The appliance keeps reporting 2 Mb/s while its counters show 80 kb/s."""
    store, _ = _tracked(
        [_flow(1, bytes=1_000_000, customer_kbps=2000)],
        [_flow(1, bytes=1_020_000, customer_kbps=2000)],
    )
    current = store.flows()[0]
    assert derived(current, "rate_mismatch").value == 1.0
    assert resolve_column("rate_measured").text(current) == "80k!"
    assert resolve_column("mismatch").text(current) == "!"
    assert compile_filter("mismatch:1").matches(current)


def test_stale_packet_statistics_are_marked_too() -> None:
    store, _ = _tracked(
        [_flow(1, bytes=1_000_000, packets=1000, customer_kbps=400, pps=500)],
        [_flow(1, bytes=1_100_000, packets=1200, customer_kbps=400, pps=500)],
    )
    current = store.flows()[0]
    assert resolve_column("rate_measured").text(current) == "400k"
    assert resolve_column("pps_measured").text(current) == "100!"
    assert derived(current, "rate_mismatch").value == 1.0


def test_peaks_are_the_highest_reported_since_first_seen() -> None:
    store, _ = _tracked(
        [_flow(1, customer_kbps=100, pps=10)],
        [_flow(1, customer_kbps=900, pps=5)],
        [_flow(1, customer_kbps=300, pps=50)],
    )
    current = store.flows()[0]
    assert derived(current, "rate_peak").value == 900.0
    assert derived(current, "pps_peak").value == 50.0


def test_peaks_without_a_tracker_come_from_the_history() -> None:
    store = FlowStore()
    for kbps in (100, 900, 300):
        store.apply([_flow(1, customer_kbps=kbps)], 1000.0 + kbps)
    assert derived(store.flows()[0], "rate_peak").value == pytest.approx(900.0)


# ---- totals -------------------------------------------------------------------------------


def test_bytes_moved_since_start_count_deltas_new_flows_and_ended_ones() -> None:
    w2l = {"direction": "WAN to LAN"}
    _, tracker = _tracked(
        [_flow(1, bytes=10_000, age=60_000), _flow(2, bytes=50_000, age=60_000, **w2l)],
        # Flow 3 began since the last poll (age 1.5 s): all its bytes moved since.
        [
            _flow(1, bytes=11_000, age=62_000),
            _flow(2, bytes=54_000, age=62_000, **w2l),
            _flow(3, bytes=700, age=1500),
        ],
        # Flow 1 ended; flow 4 is old and newly seen (out of a capped answer): its past
        # is unknown, so it counts from here on.
        [_flow(2, bytes=56_000, age=64_000, **w2l), _flow(4, bytes=9_999_999, age=600_000)],
        [_flow(2, bytes=56_000, age=66_000, **w2l), _flow(4, bytes=10_000_999, age=602_000)],
    )
    everything = tracker.everything
    assert everything.total.moved_bytes == 1000 + 4000 + 700 + 2000 + 1000
    assert everything.lan_to_wan.moved_bytes == 1000 + 700 + 1000
    assert everything.wan_to_lan.moved_bytes == 4000 + 2000


def test_totals_split_by_direction_with_peaks_for_shown_and_all() -> None:
    monitor = Monitor(history=10)
    lan = {"direction": "LAN to WAN"}
    wan = {"direction": "WAN to LAN"}
    monitor.apply(
        Snapshot(
            [
                _flow(1, customer_kbps=1000, pps=100, application="zoom", **lan),
                _flow(2, customer_kbps=3000, pps=300, application="zoom", **wan),
                _flow(3, customer_kbps=500, pps=50, application="ssh", **lan),
            ],
            1000.0,
            0.1,
        )
    )
    totals = monitor.frame().totals
    assert totals is not None and not totals.filtered
    assert totals.everything.total.kbps == 4500.0
    assert totals.everything.lan_to_wan.kbps == 1500.0
    assert totals.everything.wan_to_lan.pps == 300.0
    assert totals.shown is totals.everything
    monitor.set_filter(compile_filter("app:zoom"))
    shown = monitor.frame().totals
    assert shown is not None and shown.filtered
    assert shown.shown.total.kbps == 4000.0 and shown.shown.total.flows == 2
    assert shown.shown.lan_to_wan.kbps == 1000.0
    assert shown.everything.total.kbps == 4500.0
    # A quieter poll: the peaks stay.
    monitor.apply(
        Snapshot(
            [_flow(1, customer_kbps=10, application="zoom", **lan)],
            1002.0,
            0.1,
        )
    )
    later = monitor.frame().totals
    assert later is not None
    assert later.shown.total.kbps == 10.0
    assert later.shown_peak_kbps == 4000.0
    assert later.peak_kbps == 4500.0
    # Group mode sums the same flows.
    monitor.group_by(resolve_grouping("app"))
    grouped = monitor.frame().totals
    assert grouped is not None and grouped.shown.total.kbps == 10.0


def test_derived_fields_filter_and_sort_through_the_monitor() -> None:
    monitor = Monitor(history=30, sort=SortSpec.parse("rate_10s"))
    for poll in range(8):
        monitor.apply(
            Snapshot(
                [
                    # Flow 1 was fast and is now quiet; flow 2 the other way round.
                    _flow(1, customer_kbps=5000 if poll < 6 else 10),
                    _flow(2, customer_kbps=10 if poll < 6 else 3000),
                ],
                1000.0 + 2 * poll,
                0.1,
            )
        )
    frame = monitor.frame()
    assert [row.flow.src_port for row in frame.rows] == [40001, 40002]
    monitor.set_filter(compile_filter("rate_2s>1k"))
    assert [row.flow.src_port for row in monitor.frame().rows] == [40002]
    monitor.set_filter(compile_filter("rate_40s>=2000 rate_peak>4k"))
    assert [row.flow.src_port for row in monitor.frame().rows] == [40001]


def test_direction_classes() -> None:
    assert direction_class("LAN to WAN") == 0
    assert direction_class("wan-to-lan") == 1
    assert direction_class("WAN2LAN") == 1
    assert direction_class(None) == 2
    assert direction_class("sideways") == 2


def test_group_shares_and_their_bar() -> None:
    groups = build_groups(
        [
            (f.key, f)
            for f in (
                _flow(1, customer_kbps=750, application="zoom"),
                _flow(2, customer_kbps=250, application="ssh"),
            )
        ],
        resolve_grouping("app"),
    )
    shares = {group.value: group.share for group in groups}
    assert shares == {"zoom": 0.75, "ssh": 0.25}
    try:
        glyphs.select(True)
        text = share_text(groups[0])
        assert text.isascii() and text.startswith("#######|") and text.endswith(" 75%")
    finally:
        glyphs.select(False)
    text = share_text(groups[1])
    assert text.startswith("██▌") and text.endswith(" 25%")


def test_a_store_asked_for_derived_values_is_still_freed() -> None:
    import gc
    import weakref

    store = FlowStore()
    store.apply([_flow(1)], 1000.0)
    assert derived(store.flows()[0], "rate_2s").value is not None
    gone = weakref.ref(store)
    del store
    gc.collect()
    assert gone() is None


def _one_poll_totals(*flows: Flow) -> Any:
    monitor = Monitor(history=10)
    monitor.apply(Snapshot(list(flows), 1000.0, 0.1))
    return monitor.frame().totals


def test_the_totals_line_names_flows_of_no_known_direction() -> None:
    from flowtop.core.derived import totals_parts

    totals = _one_poll_totals(
        _flow(1, customer_kbps=1000, direction="LAN->WAN"),
        _flow(2, customer_kbps=500, direction="sideways"),
    )
    parts = {label: value for _, label, value in totals_parts(totals)}
    assert parts["L>W"] == "1.00Mb/s" and parts["W>L"] == "0b/s"
    assert parts["other"] == "500kb/s"
    plain = _one_poll_totals(_flow(1, customer_kbps=1000))
    assert "other" not in {label for _, label, _ in totals_parts(plain)}


def test_the_totals_line_gives_way_by_priority() -> None:
    from flowtop.core.derived import fit_totals, totals_parts, totals_width

    totals = _one_poll_totals(
        _flow(1, customer_kbps=1000, pps=100, direction="LAN to WAN"),
        _flow(2, customer_kbps=3000, pps=300, direction="WAN to LAN"),
    )
    parts = totals_parts(totals)
    wide = fit_totals(parts, 200)
    assert wide == parts
    narrow = fit_totals(parts, 60)
    assert totals_width(narrow) <= 60
    labels = [label for _, label, _ in narrow]
    assert labels[:3] == ["Total", "L>W", "W>L"], "pps goes before the directions"
    assert [label for _, label, _ in fit_totals(parts, 5)] == ["Total"]


def test_a_burst_within_the_interval_is_not_stale_statistics() -> None:
    """Reported 100 kb/s, then 2 Mb/s: the counters' 800 kb/s lies between the two."""
    store, _ = _tracked(
        [_flow(1, bytes=1_000_000, customer_kbps=100, packets=1000, pps=10)],
        [_flow(1, bytes=1_200_000, customer_kbps=2000, packets=1010, pps=10)],
    )
    current = store.flows()[0]
    assert derived(current, "rate_measured").value == pytest.approx(800.0)
    assert derived(current, "rate_mismatch").value == 0.0
    # The same counters with the reported rate stuck at 2 Mb/s at both ends: stale.
    stuck, _ = _tracked(
        [_flow(1, bytes=1_000_000, customer_kbps=2000, packets=1000, pps=10)],
        [_flow(1, bytes=1_200_000, customer_kbps=2000, packets=1010, pps=10)],
    )
    assert derived(stuck.flows()[0], "rate_mismatch").value == 1.0


def test_the_span_of_bytes_moved_never_stands_alone() -> None:
    from flowtop.core.derived import fit_totals

    parts = [(0, "Total", "1.00Mb/s"), (3, "moved", "1.00GB"), (1, "in", "5s")]
    assert fit_totals(parts, 20) == [(0, "Total", "1.00Mb/s")]
    assert fit_totals(parts, 40) == parts


def test_the_totals_line_before_any_answer_and_after_one_poll() -> None:
    """Not zeros for an appliance that never answered; no "in 0ms" after one poll."""
    from flowtop.core.derived import CounterTracker, totals_parts

    nothing = CounterTracker().totals(None, "")
    assert [(label, value) for _, label, value in totals_parts(nothing)] == [
        ("Total", "— (no answer yet)")
    ]
    one = _one_poll_totals(_flow(1, customer_kbps=1000))
    labels = [label for _, label, _ in totals_parts(one)]
    assert "moved" in labels and "in" not in labels
