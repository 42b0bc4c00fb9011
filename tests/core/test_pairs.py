"""Pair mode: both directions of a conversation in one row, and no flow lost."""

from __future__ import annotations

import random

from flowtop.core.columns import SortSpec
from flowtop.core.filter import compile_filter
from flowtop.core.model import Flow
from flowtop.core.monitor import Monitor
from flowtop.core.pairs import other_direction_rows, pair_records
from flowtop.core.store import FlowStore
from tests.core.factories import flow


def _reverse(forward: Flow, **changes: object) -> Flow:
    update = {
        "src_ip": forward.dest_ip,
        "src_port": forward.dest_port,
        "dest_ip": forward.src_ip,
        "dest_port": forward.src_port,
        "direction": "WAN to LAN",
        **changes,
    }
    return forward.model_copy(update=update)


def _store(flows: list[Flow]) -> FlowStore:
    store = FlowStore()
    store.apply(flows, 1.0)
    return store


def test_two_directions_make_one_row_with_both_rates() -> None:
    out = flow(1, customer_kbps="800", pps="10", bytes="1000")
    back = _reverse(out, customer_kbps=200.0, pps=5.0, bytes=300, path="DC-LTE", ip_dscp="cs1")
    lone = flow(2)
    monitor = Monitor(columns=("src", "dst", "dir", "pps", "kbps", "bytes"))
    # The reverse flow comes first: the row still shows the LAN to WAN direction.
    monitor.store.apply([back, lone, out], 1.0)
    monitor.set_pairs(True)
    frame = monitor.frame()
    ids = [column.id for column in frame.columns]
    assert ids == ["src", "dst", "dir", "pps", "kbps", "out", "in", "bytes"]
    rows = {row.key: row for row in frame.rows}
    assert len(rows) == 2 and frame.result.paired == 1
    pair = rows[out.key]
    assert pair.partner is not None and pair.partner.key == back.key
    assert pair.cells == (
        "10.1.0.2:40001",
        "192.0.2.10:443",
        "<->",
        "15",
        "1.00M",
        "800k",
        "200k",
        "1.30k",
    )
    single = rows[lone.key]
    assert single.partner is None
    assert single.cells[5:7] == ("16k", "")
    assert frame.status.paired == 1 and frame.status.shown == 2 and frame.status.total == 3
    detail = dict(other_direction_rows(out, back))
    assert detail["Path"] == "DC-LTE  (this way: DC-MPLS->Branch-MPLS)"
    assert detail["DSCP"] == "cs1  (this way: af21)"


def test_sorting_pairs_by_rate_uses_both_directions() -> None:
    small_out = flow(1, customer_kbps="100")
    big_back = _reverse(small_out, customer_kbps=5000.0)
    middle = flow(2, customer_kbps="1000")
    monitor = Monitor()
    monitor.store.apply([small_out, middle, big_back], 1.0)
    monitor.set_pairs(True)
    assert [row.key for row in monitor.frame().rows] == [small_out.key, middle.key]
    monitor.set_sort(SortSpec("in", True))
    assert [row.key for row in monitor.frame().rows] == [small_out.key, middle.key]
    monitor.set_sort(SortSpec("out", True))
    assert [row.key for row in monitor.frame().rows] == [middle.key, small_out.key]
    # Out of pair mode the pair columns are gone, and so is a sort by them.
    monitor.set_pairs(False)
    assert monitor.sort == SortSpec()


def test_pairing_never_loses_a_flow() -> None:
    generator = random.Random(5)
    for _ in range(30):
        flows: list[Flow] = []
        for n in range(generator.randint(0, 40)):
            one = flow(
                n, src_ip=f"10.0.0.{generator.randint(1, 4)}", src_port=str(generator.randint(1, 3))
            )
            flows.append(one)
            if generator.random() < 0.5:
                flows.append(_reverse(one))
        store = _store(flows)
        records = list(store.records.values())
        pairs = pair_records(records)
        seen = [pair[0].key for pair in pairs] + [
            pair[1].key for pair in pairs if pair[1] is not None
        ]
        assert sorted(seen) == sorted(record.key for record in records)
        assert len(set(seen)) == len(seen)


def test_a_filtered_out_direction_leaves_the_other_single() -> None:
    out = flow(1)
    back = _reverse(out)
    monitor = Monitor()
    monitor.store.apply([out, back], 1.0)
    monitor.set_pairs(True)
    monitor.set_filter(compile_filter("dir:W*"))
    frame = monitor.frame()
    assert [row.key for row in frame.rows] == [back.key]
    assert frame.rows[0].partner is None and frame.result.paired == 0


def test_a_pairs_averages_and_measured_rates_are_both_directions_sums() -> None:
    out = flow(1, customer_kbps="800", pps="10")
    back = _reverse(out, customer_kbps=200.0, pps=5.0)
    monitor = Monitor(columns=("src", "kbps", "rate_10s", "rate_peak", "pps_2s"))
    monitor.store.apply([out, back], 1.0)
    monitor.set_pairs(True)
    (row,) = monitor.frame().rows
    cells = dict(zip([column.id for column in monitor.frame().columns], row.cells, strict=True))
    # One poll: each average is its reported rate, marked as covering less than its window.
    assert cells["kbps"] == "1.00M"
    assert cells["rate_10s"] == "1.00M*"
    assert cells["pps_2s"] == "15*"
    # A peak is not summed (the peak of a sum is no sum of peaks): this direction's.
    assert cells["rate_peak"] == "800k"


def test_the_other_direction_over_the_same_links_is_no_other_path() -> None:
    out = flow(1, path="SiteB-INET->SiteC-BBAND")
    back = _reverse(out, path="SiteC-BBAND->SiteB-INET")
    assert dict(other_direction_rows(out, back))["Path"] == "SiteC-BBAND->SiteB-INET"
    other_links = _reverse(out, path="SiteC-MPLS->SiteB-MPLS")
    assert dict(other_direction_rows(out, other_links))["Path"].endswith(
        "(this way: SiteB-INET->SiteC-BBAND)"
    )
