"""The view: filter, sort with missing values last, and the diff that drives the table."""

from __future__ import annotations

import pytest

from flowtop.core.columns import SortSpec, resolve_column
from flowtop.core.errors import UsageError
from flowtop.core.filter import compile_filter
from flowtop.core.groups import GROUPINGS, GroupKey
from flowtop.core.model import FlowKey
from flowtop.core.store import FlowStore
from flowtop.core.view import FlowView
from tests.core.factories import flow


def _store(*flows_: object) -> FlowStore:
    store = FlowStore()
    store.apply(list(flows_), at=1.0)  # type: ignore[arg-type]
    return store


def test_numeric_sort_is_by_value_not_text_and_missing_last() -> None:
    store = _store(flow(1, pps="9"), flow(2, pps="10"), flow(3, pps=""), flow(4, pps="100"))
    view = FlowView()
    for descending, expected in (
        (True, [100.0, 10.0, 9.0, None]),
        (False, [9.0, 10.0, 100.0, None]),
    ):
        result = view.compute(store.records.values(), None, SortSpec("pps", descending))
        assert [row.flow.pps for row in result.rows] == expected


def test_text_sort_is_case_insensitive() -> None:
    store = _store(
        flow(1, application="zoom"), flow(2, application="Box"), flow(3, application="ssh")
    )
    result = FlowView().compute(store.records.values(), None, SortSpec.parse("app"))
    assert [row.flow.application for row in result.rows] == ["Box", "ssh", "zoom"]


def test_address_sort_is_numeric() -> None:
    store = _store(
        flow(1, src_ip="10.0.0.10"), flow(2, src_ip="10.0.0.9"), flow(3, src_ip="9.1.1.1")
    )
    result = FlowView().compute(store.records.values(), None, SortSpec.parse("src"))
    assert [str(row.flow.src_ip) for row in result.rows] == ["9.1.1.1", "10.0.0.9", "10.0.0.10"]


def test_filter_narrows_and_total_counts_everything() -> None:
    store = _store(flow(1, application="Zoom"), flow(2, application="SSH"))
    result = FlowView().compute(store.records.values(), compile_filter("app:zoom"))
    assert [row.flow.application for row in result.rows] == ["Zoom"]
    assert result.total == 2


def test_diff_reports_no_change_when_the_same_rows_stay() -> None:
    store = FlowStore()
    view = FlowView()
    store.apply([flow(1), flow(2)], at=1.0)
    first = view.compute(store.records.values(), None, SortSpec("src", False))
    assert len(first.diff.added) == 2
    store.apply([flow(1, pps="555"), flow(2)], at=2.0)
    second = view.compute(store.records.values(), None, SortSpec("src", False))
    pps_index = [c.id for c in view.columns].index("pps")
    assert second.diff.added == [] and second.diff.removed == []
    assert second.rows[0].cells[pps_index] == "555"


def test_diff_reports_removed_rows() -> None:
    store = FlowStore()
    view = FlowView()
    store.apply([flow(1, pps="1"), flow(2, pps="2"), flow(3, pps="3")], at=1.0)
    view.compute(store.records.values(), None, SortSpec("pps", True))
    store.apply([flow(1, pps="50"), flow(2, pps="2")], at=2.0)
    result = view.compute(store.records.values(), None, SortSpec("pps", True))
    assert result.diff.removed == [flow(3).key]
    assert [row.key for row in result.rows] == [flow(1).key, flow(2).key]


def test_cells_are_human_text() -> None:
    store = _store(flow(1, bytes="1500000", customer_kbps="12500", age="3720000", ipp="17"))
    row = FlowView().compute(store.records.values()).rows[0]
    cells = dict(zip([c.id for c in FlowView().columns], row.cells, strict=True))
    assert cells["bytes"] == "1.50M"
    assert cells["kbps"] == "12.5M"
    assert cells["age"] == "1h02m"
    assert cells["proto"] == "UDP"
    assert cells["dir"] == "L>W"
    assert cells["src"] == "10.1.0.2:40001"


def test_sort_spec_parsing() -> None:
    assert SortSpec.parse("pps") == SortSpec("pps", True)
    assert SortSpec.parse("application") == SortSpec("app", False)
    assert SortSpec.parse("bytes:asc") == SortSpec("bytes", False)
    assert SortSpec.parse("hitcount") == SortSpec("hitcount", True)
    with pytest.raises(UsageError, match="unknown column"):
        SortSpec.parse("nope")
    with pytest.raises(UsageError, match="asc"):
        SortSpec.parse("pps:up")
    assert resolve_column("rate").id == "kbps"


def test_group_rows_have_group_keys_and_no_flow() -> None:
    store = FlowStore()
    store.apply([flow(1, application="Zoom"), flow(2, application="Zoom"), flow(3)], at=1.0)
    grouping = GROUPINGS["application"]
    result = FlowView().compute_groups(store.records.values(), grouping, None, None)
    keys = [row.key for row in result.rows]
    assert all(isinstance(key, GroupKey) for key in keys)
    assert GroupKey("application", "Zoom") in keys
    assert not any(key == record.key for key in keys for record in store.records.values())
    zoom = result.rows[result.index_of(GroupKey("application", "Zoom")) or 0]
    assert zoom.group is not None and zoom.group.count == 2
    with pytest.raises(TypeError, match="no single flow"):
        zoom.flow  # noqa: B018  # a group row does not pass for its top flow
    flows = FlowView().compute(store.records.values())
    assert all(isinstance(row.key, FlowKey) and row.group is None for row in flows.rows)
