"""The flow store under any sequence of snapshots: its invariants, checked after every poll.

Flows are drawn from a small key space so that keys repeat across polls, end and
come back, and repeat within one snapshot.  A plain model kept next to the store
says what each poll must leave behind: the live keys, each flow's history (only
the polls it has been present without a break, at most ``history`` of them), the
bounded event log and the path changes.  The history and the event log are kept
small so that their bounds are reached, and one rule repeats a snapshot for more
than :data:`TRIM_EVERY` polls so that the rings' lazy trimming is exercised.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from flowtop.core.columns import SortSpec
from flowtop.core.filter import FlowFilter, compile_filter
from flowtop.core.groups import GROUPINGS, GroupKey
from flowtop.core.model import Flow, FlowKey
from flowtop.core.store import (
    FAILOVER_MIN_FLOWS,
    PATH_TIMELINE_LIMIT,
    TRIM_EVERY,
    EventKind,
    FlowStore,
    Ring,
    StoreUpdate,
)
from flowtop.core.view import FlowView

HISTORY = 5
MAX_EVENTS = 20

# Raw values as the appliance might send them: strings, JSON numbers, blanks and junk.
rates = st.one_of(
    st.none(),
    st.floats(min_value=-1e6, max_value=1e9, allow_nan=False).map(str),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.integers(min_value=-10, max_value=10**6),
    st.sampled_from(["", "N/A", "nan", "inf", "-inf", "1e400", "fast", "0"]),
)
# Counters go up, down and away from one poll to the next.
counters = st.one_of(
    st.none(), st.integers(min_value=-5, max_value=10**15).map(str), st.just("N/A")
)
raw_flows = st.fixed_dictionaries(
    {
        # "N/A" and a bad port make keys with missing parts, which still identify a flow.
        "src_ip": st.sampled_from(["10.0.0.1", "2001:db8::1", "N/A"]),
        "src_port": st.sampled_from(["40000", "40001", "bad"]),
        "dest_ip": st.just("192.0.2.10"),
        "dest_port": st.just("443"),
        "ipp": st.sampled_from(["6", "17"]),
        "direction": st.sampled_from(["LAN to WAN", "WAN to LAN"]),
    },
    optional={
        "path": st.one_of(st.none(), st.sampled_from(["DC-MPLS->BR-MPLS", "DC-INET->BR-LTE"])),
        "application": st.sampled_from(["Zoom", "DNS", "", "SSH"]),
        "ip_dscp": st.sampled_from(["ef", "af21", "N/A"]),
        "service_name": st.sampled_from(["DC-Branch", "Internet"]),
        "pps": rates,
        "customer_kbps": rates,
        "bytes": counters,
        "packets": counters,
        "age": counters,
    },
)
flows = raw_flows.map(Flow.from_raw)
MAX_SNAPSHOT = 8
snapshots = st.lists(flows, max_size=MAX_SNAPSHOT)
FILTERS: tuple[str, ...] = (
    "",
    "path:*mpls*",
    "pps>10",
    "!dir:lan*",
    "kbps<=0",
    "port:40000",
    "10.0.0.1",
    "app:zoom|dns",
)
filters = st.sampled_from(FILTERS).map(compile_filter)
FLOW_SORTS: tuple[str, ...] = ("kbps", "pps", "src", "path", "bytes", "age", "app")
sorts = st.builds(SortSpec, st.sampled_from(FLOW_SORTS), st.booleans())
# A grouped view sorts by its own columns and falls back to the rate for any other.
group_sorts = st.builds(SortSpec, st.sampled_from((*FLOW_SORTS, "flows", "top")), st.booleans())


def _rate(value: float | None) -> float:
    """The sample a ring keeps: float32 (beyond its range, infinity), NaN for none."""
    return math.nan if value is None else array("f", [value])[0]


def _same(left: Sequence[float], right: Sequence[float]) -> bool:
    """Equal, with NaN (a missing sample) equal to NaN."""
    return len(left) == len(right) and all(
        (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(left, right, strict=True)
    )


def keys_of(snapshot: Sequence[Flow]) -> list[FlowKey]:
    """The keys the store must give a snapshot's flows: repeats numbered in order."""
    seen: Counter[FlowKey] = Counter()
    keys: list[FlowKey] = []
    for flow in snapshot:
        base = flow.key
        keys.append(base._replace(occurrence=seen[base]))
        seen[base] += 1
    return keys


@dataclass(slots=True)
class Expected:
    """What the model remembers of one live flow."""

    flow: Flow
    first_seen: float
    first_poll: int
    pps: deque[float]
    kbps: deque[float]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = FlowStore(history=HISTORY, max_events=MAX_EVENTS)
        self.view = FlowView()
        self.live: dict[FlowKey, Expected] = {}
        # (poll, kind, key, old path, new path) of each event the store should have logged.
        self.events: deque[tuple[int, EventKind, FlowKey, str, str]] = deque(maxlen=MAX_EVENTS)
        self.poll = 0
        self.last: list[Flow] = []

    @initialize(snapshot=snapshots, at=st.floats(0, 1e9))
    def first(self, snapshot: list[Flow], at: float) -> None:
        self.apply(snapshot, at)

    @rule(snapshot=snapshots, at=st.floats(0, 1e9))
    def poll_once(self, snapshot: list[Flow], at: float) -> None:
        self.apply(snapshot, at)

    @rule(
        shift=st.sampled_from(["DC-MPLS->BR-MPLS", "DC-INET->BR-LTE", None]),
        count=st.integers(FAILOVER_MIN_FLOWS - 1, FAILOVER_MIN_FLOWS + 2),
    )
    def move_many(self, shift: str | None, count: int) -> None:
        """Several flows on one path, then all on another: a failover, or just short of one."""
        base = [
            Flow.from_raw(
                {"src_ip": "10.0.0.9", "src_port": str(50000 + n), "path": "DC-MPLS->BR-MPLS"}
            )
            for n in range(count)
        ]
        moved = [flow.model_copy(update={"path": shift}) for flow in base]
        self.apply(base, float(self.poll))
        self.apply(moved, float(self.poll))

    @rule(times=st.integers(1, TRIM_EVERY + HISTORY + 2))
    def repeat(self, times: int) -> None:
        """The same snapshot poll after poll: histories fill up and get trimmed."""
        for _ in range(times):
            self.apply(self.last, float(self.poll), with_view=False)

    @rule()
    def clear(self) -> None:
        self.store.clear()
        self.live = {}
        self.events.clear()
        self.poll = 0

    @rule(predicate=filters, sort=sorts, group_sort=group_sorts)
    def views(self, predicate: FlowFilter, sort: SortSpec, group_sort: SortSpec) -> None:
        self.check_views(predicate, sort, group_sort)

    # -- the model -------------------------------------------------------------------

    def apply(self, snapshot: list[Flow], at: float, *, with_view: bool = True) -> None:
        previous = self.live
        self.poll += 1
        update = self.store.apply(snapshot, at)
        keys = keys_of(snapshot)
        current: dict[FlowKey, Expected] = {}
        changes: list[tuple[FlowKey, str, str]] = []
        for key, flow in zip(keys, snapshot, strict=True):
            expected = previous.get(key)
            if expected is None:
                expected = Expected(
                    flow, at, self.poll, deque(maxlen=HISTORY), deque(maxlen=HISTORY)
                )
                if self.poll > 1:
                    self.events.append((self.poll, EventKind.APPEARED, key, "", ""))
            else:
                old, new = expected.flow.path, flow.path
                if old is not None and new is not None and old != new:
                    changes.append((key, old, new))
                    self.events.append((self.poll, EventKind.PATH, key, old, new))
                expected.flow = flow
            expected.pps.append(_rate(flow.pps))
            expected.kbps.append(_rate(flow.customer_kbps))
            current[key] = expected
        removed = [key for key in previous if key not in current]
        for key in removed:
            self.events.append((self.poll, EventKind.ENDED, key, "", ""))
        self.live = current
        self.last = snapshot
        self.check_update(update, snapshot, keys, previous, removed, changes, at)
        self.check_store()
        if with_view:
            self.check_views(None, SortSpec(), SortSpec())

    # -- the checks ------------------------------------------------------------------

    def check_update(
        self,
        update: StoreUpdate,
        snapshot: list[Flow],
        keys: list[FlowKey],
        previous: dict[FlowKey, Expected],
        removed: list[FlowKey],
        changes: list[tuple[FlowKey, str, str]],
        at: float,
    ) -> None:
        assert update.poll == self.poll == self.store.poll
        assert update.at == at == self.store.last_update
        assert update.added == [key for key in keys if key not in previous]
        assert update.removed == removed
        assert update.duplicate_keys == len(snapshot) - len({flow.key for flow in snapshot})
        # A path change only for a flow in both polls whose known path differs.
        assert [(c.key, c.old, c.new) for c in update.path_changes] == changes
        assert all(change.at == at for change in update.path_changes)
        moves = Counter((old, new) for _, old, new in changes)
        expected_failovers = sorted(
            (old, new, count) for (old, new), count in moves.items() if count >= FAILOVER_MIN_FLOWS
        )
        assert sorted((f.old, f.new, f.count) for f in update.failovers) == expected_failovers
        for key, old, new in changes:
            latest = self.store.records[key].path_changes[-1]
            assert (latest.old, latest.new, latest.at) == (old, new, at)

    def check_store(self) -> None:
        store = self.store
        # Exactly the flows of the last snapshot, none hidden by a repeated key.
        assert list(store.records) == list(self.live)
        assert len(store) == len(self.last)
        assert store.flows() == self.last
        for key, record in store.records.items():
            expected = self.live[key]
            assert record.key == key
            assert record.flow is expected.flow
            # A flow that ended and came back starts afresh.
            assert (record.first_seen, record.first_poll) == (
                expected.first_seen,
                expected.first_poll,
            )
            self.check_ring(record.pps, expected.pps)
            self.check_ring(record.kbps, expected.kbps)
            assert len(record.path_changes) <= PATH_TIMELINE_LIMIT
        assert len(store.events) <= MAX_EVENTS
        logged = [(e.poll, e.kind, e.key, e.old_path, e.new_path) for e in store.events]
        assert logged == list(self.events)
        assert len(store.failovers) <= (store.failovers.maxlen or 0)

    @staticmethod
    def check_ring(ring: Ring, expected: deque[float]) -> None:
        # The history is the polls the flow has been present without a break, capped.
        assert len(ring) == len(expected) <= HISTORY
        assert len(ring.data) <= HISTORY + TRIM_EVERY
        assert _same(ring.values(), list(expected))
        assert _same(list(ring), list(expected))

    def check_views(
        self, predicate: FlowFilter | None, sort: SortSpec, group_sort: SortSpec
    ) -> None:
        records = list(self.store.records.values())
        matching = [r for r in records if predicate is None or predicate(r.flow)]
        result = self.view.compute(records, predicate, sort)
        assert result.total == len(records)
        wanted = Counter(record.key for record in matching)
        assert Counter(row.key for row in result.rows) == wanted
        assert all(len(row.cells) == len(self.view.columns) for row in result.rows)
        assert not set(result.diff.added) & set(result.diff.removed)
        for grouping in GROUPINGS.values():
            grouped = self.view.compute_groups(records, grouping, predicate, group_sort)
            assert grouped.total == len(records)
            groups = [row.group for row in grouped.rows]
            assert all(group is not None for group in groups)
            # Every matching flow in exactly one group, and each group's count its own.
            assert sum(group.count for group in groups if group is not None) == len(matching)
            members = Counter(key for group in groups if group is not None for key in group.keys)
            assert members == wanted
            assert all(
                len(row.cells) == 7 and isinstance(row.key, GroupKey) for row in grouped.rows
            )
            assert len(set(grouped.diff.added)) == len(grouped.diff.added)

    @invariant()
    def bounded(self) -> None:
        # Never more than one snapshot's flows, however many have come and gone.
        assert len(self.store.records) <= MAX_SNAPSHOT
        assert len(self.store.events) <= MAX_EVENTS


StoreMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestStoreMachine = StoreMachine.TestCase


def test_keys_of_numbers_repeats_like_the_store() -> None:
    """The model's own rule for repeated keys, against a hand-made case."""
    flow = Flow.from_raw({"src_ip": "10.0.0.1", "src_port": "1", "direction": "LAN to WAN"})
    other = Flow.from_raw({"src_ip": "10.0.0.2", "src_port": "1", "direction": "LAN to WAN"})
    keys = keys_of([flow, other, flow, flow])
    assert [key.occurrence for key in keys] == [0, 0, 1, 2]
    store = FlowStore()
    store.apply([flow, other, flow, flow], at=0.0)
    assert list(store.records) == keys
