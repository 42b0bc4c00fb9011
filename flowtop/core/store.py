"""The flow store: the single owner of state between polls.

It keeps the current flows by key, a bounded rate history per live flow, each
flow's path timeline and a bounded log of events (flows appearing, ending and
changing path).  A flow that ends is forgotten with its history.

An answer cut at ``max_stats`` flows (a *capped* answer) holds only the top N: a
flow missing from it may still run, so it "left the top N" rather than ended.
Only an uncapped answer proves that a flow ended.
"""

from __future__ import annotations

import math
import weakref
from array import array
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from flowtop.core.fastpaths import mark_appliance
from flowtop.core.memory import fit_to_flows
from flowtop.core.model import Flow, FlowKey
from flowtop.core.steps import Steps, run_to_end

DEFAULT_HISTORY: Final = 300
# The rate history of all flows together is bounded: samples per series over every
# flow (two float32 series a flow).  Up to HISTORY_BUDGET / history flows (16 666 at
# 300) each keeps its whole history; more flows keep fewer samples each, never fewer
# than MIN_HISTORY (the 40 s average and a sparkline's width at 1 s).  At 50 000 flows
# 300 samples a series were some 146 MB of the process's 590 MB.
HISTORY_BUDGET: Final = 5_000_000
MIN_HISTORY: Final = 60
DEFAULT_MAX_EVENTS: Final = 2000
PATH_TIMELINE_LIMIT: Final = 32
TRIM_EVERY: Final = 16
# Flows a step of FlowStore.apply_steps takes (a few ms; see flowtop.core.steps).
STEP_FLOWS: Final = 500
# A failover is "many flows moving from one path to the same other path in one poll".
FAILOVER_MIN_FLOWS: Final = 5


class Ring:
    """The last ``capacity`` samples of a series, in one compact float32 array.

    Four bytes a sample: seven significant digits are plenty for a rate, and every
    rate the model accepts (up to 2**64) is in range.

    A deque of Python floats costs about 32 bytes a sample: at 10,000 flows with two
    series of 300 samples that is 190 MB instead of about 25.  Appends go straight to
    the array (a C call, no Python frame); :meth:`trim` drops the overflow, and the
    store calls it every :data:`TRIM_EVERY` polls, so the array holds at most
    ``capacity + TRIM_EVERY`` samples.
    """

    __slots__ = ("capacity", "data")

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.data = array("f")

    def __len__(self) -> int:
        return min(len(self.data), self.capacity)

    def append(self, value: float) -> None:
        self.data.append(value)
        if len(self.data) > self.capacity + TRIM_EVERY:
            self.trim()

    def trim(self) -> None:
        if len(self.data) > self.capacity:
            del self.data[: len(self.data) - self.capacity]

    def values(self) -> list[float]:
        """Oldest first; missing samples are NaN."""
        return self.data[-self.capacity :].tolist()

    def __iter__(self) -> Iterator[float]:
        return iter(self.values())


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """Current, min, max and mean of a series, ignoring missing samples."""

    current: float | None
    minimum: float | None
    maximum: float | None
    mean: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> SeriesStats:
        present = [v for v in values if not math.isnan(v)]
        if not present:
            return cls(None, None, None, None)
        current = values[-1] if not math.isnan(values[-1]) else None
        return cls(current, min(present), max(present), sum(present) / len(present))


@dataclass(frozen=True, slots=True)
class PathChange:
    at: float
    key: FlowKey
    old: str
    new: str


class EventKind(Enum):
    APPEARED = "new"
    ENDED = "ended"
    PATH = "path"
    # Missing from a capped answer: out of the top N, perhaps still running.
    LEFT = "left"
    # Back from behind a capped answer: older than the last poll, so not new.
    ENTERED = "entered"


@dataclass(frozen=True, slots=True)
class FlowEvent:
    at: float
    poll: int
    kind: EventKind
    key: FlowKey
    flow: Flow
    old_path: str = ""
    new_path: str = ""
    # For LEFT and ENTERED: the N of the top N the flow left or entered.
    top: int = 0


@dataclass(frozen=True, slots=True)
class Failover:
    """Many flows moved from one path to another in the same poll."""

    at: float
    old: str
    new: str
    count: int


@dataclass(slots=True)
class FlowRecord:
    """One live flow: its latest report and what the store remembers of it."""

    key: FlowKey
    flow: Flow
    first_seen: float
    first_poll: int
    pps: Ring
    kbps: Ring
    # Most flows never change path: no deque (600 bytes) until one does.
    path_changes: deque[PathChange] | tuple[()] = ()
    # The view's row of this flow, kept for the next view (see FlowView.compute).
    row: object = field(default=None, repr=False, compare=False)
    # Kept by flowtop.core.derived.CounterTracker after each poll: (poll, bytes,
    # packets) of the last poll counted and of the one before, what the flow moved
    # since flowtop first saw it, and its peak rates.
    counters: tuple[int, int | None, int | None] | None = None
    last_counters: tuple[int, int | None, int | None] | None = None
    moved_bytes: int = 0
    moved_packets: int = 0
    peak_kbps: float | None = None
    peak_pps: float | None = None


@dataclass(slots=True)
class StoreUpdate:
    """What one snapshot changed."""

    poll: int
    at: float
    added: list[FlowKey] = field(default_factory=list)
    removed: list[FlowKey] = field(default_factory=list)
    path_changes: list[PathChange] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)
    duplicate_keys: int = 0
    # The N of a capped answer (it held only the top N flows), else None.
    capped: int | None = None


def history_for(flow_count: int, history: int = DEFAULT_HISTORY) -> int:
    """The samples each series keeps at ``flow_count`` flows (see :data:`HISTORY_BUDGET`)."""
    if flow_count <= 0:
        return history
    return min(history, max(MIN_HISTORY, HISTORY_BUDGET // flow_count))


def capped_at(answered: int, max_stats: int) -> int | None:
    """``max_stats`` if an answer of ``answered`` items filled it (the appliance may
    have cut the list there), else None.  Items that were not flows count too."""
    return max_stats if max_stats > 0 and answered >= max_stats else None


# Every store alive: flowtop.core.derived finds the record of a flow among them.
LIVE_STORES: Final[weakref.WeakSet[FlowStore]] = weakref.WeakSet()


class FlowStore:
    """Applies snapshots in order and keeps bounded state about live flows."""

    def __init__(
        self,
        *,
        history: int = DEFAULT_HISTORY,
        max_events: int = DEFAULT_MAX_EVENTS,
        appliance: str | None = None,
    ) -> None:
        LIVE_STORES.add(self)
        self.history = history
        # The samples a series keeps at the last answer's flow count (see history_for).
        self.depth = history
        # In a fleet, the appliance whose flows these are: each flow taken in is marked
        # with it (Flow.appliance), so that its key differs from another appliance's.
        self.appliance = appliance
        self.records: dict[FlowKey, FlowRecord] = {}
        self.events: deque[FlowEvent] = deque(maxlen=max_events)
        # Flows leaving and entering the top N of capped answers, kept apart: with
        # max_stats below the appliance's flow count they come every poll, and among
        # the other events they would push path changes out within minutes.
        self.top_changes: deque[FlowEvent] = deque(maxlen=max(1, max_events // 4))
        self.failovers: deque[Failover] = deque(maxlen=64)
        self.poll = 0
        self.last_update: float | None = None
        # When each of the last polls was taken: the times of the history samples.
        self.poll_times: deque[float] = deque(maxlen=max(1, history))
        # The N of the last answer if it was capped at max_stats, else None.
        self.capped: int | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, key: object) -> bool:
        return key in self.records

    def get(self, key: FlowKey) -> FlowRecord | None:
        return self.records.get(key)

    def sample_times(self, record: FlowRecord) -> list[float]:
        """When each of ``record``'s history samples was taken, oldest first.

        A live flow has one sample per poll since it appeared (a flow missing from a
        poll ends and is forgotten), so its samples are the last polls'.
        """
        count = len(record.pps)
        times = self.poll_times
        if count > len(times):
            return []
        return list(times)[len(times) - count :]

    def flows(self) -> list[Flow]:
        return [record.flow for record in self.records.values()]

    def record_of(self, flow: Flow) -> FlowRecord | None:
        """The live record that holds exactly this flow object (None: not one of ours).

        A repeated key is stored under its occurrence: those are tried in turn.
        """
        records = self.records
        key = flow.key
        record = records.get(key)
        occurrence = 0
        while record is not None:
            if record.flow is flow:
                return record
            occurrence += 1
            record = records.get(key._replace(occurrence=occurrence))
        return None

    def apply(self, flows: Sequence[Flow], at: float, *, capped: int | None = None) -> StoreUpdate:
        """Take one snapshot (the whole current flow list) observed at wall time ``at``.

        ``capped`` is N when the answer was cut at max_stats = N (see
        :func:`capped_at`): flows missing from it left the top N, they did not end.
        """
        return run_to_end(self.apply_steps(flows, at, capped=capped))

    def apply_steps(
        self, flows: Sequence[Flow], at: float, *, capped: int | None = None
    ) -> Steps[StoreUpdate]:
        """:meth:`apply` in steps of :data:`STEP_FLOWS` flows (see :mod:`flowtop.core.steps`).

        Until the last step :attr:`records` is still the previous answer's dict, though
        its flows are updated on the way: a frame computed between steps shows each
        flow as of one answer or the other.  Only one apply may be under way at a time.
        """
        fit_to_flows(len(flows))
        # The samples a series keeps now: fewer each when there are very many flows.
        depth = history_for(len(flows), self.history)
        self.depth = depth
        self.poll += 1
        self.poll_times.append(at)
        update = StoreUpdate(poll=self.poll, at=at, capped=capped)
        previous = self.records
        # What is left of it at the end is the flows gone (a copy: previous is still
        # the records a frame between steps sees).  A dict copy keeps the keys'
        # hashes, so nothing hashes a FlowKey again.
        left = dict(previous)
        current: dict[FlowKey, FlowRecord] = {}
        first_poll = self.poll == 1
        # After a capped answer a flow seen for the first time may be an old one that
        # rose into the top N: its age tells (the appliance counts it in milliseconds).
        hidden_before = self.capped
        gap_ms = 0.0 if self.last_update is None else (at - self.last_update) * 1000.0
        nan = math.nan
        step = STEP_FLOWS
        appliance = self.appliance
        for done, flow in enumerate(flows, 1):
            if done % step == 0:
                yield
            if appliance is not None:
                mark_appliance(flow, appliance)
            key = flow.key
            if key in current:
                # The appliance repeated a key: keep both, told apart by occurrence.
                update.duplicate_keys += 1
                occurrence = 1
                while key._replace(occurrence=occurrence) in current:
                    occurrence += 1
                key = key._replace(occurrence=occurrence)
            record = left.pop(key, None)
            if record is None:
                record = FlowRecord(
                    key=key,
                    flow=flow,
                    first_seen=at,
                    first_poll=self.poll,
                    pps=Ring(depth),
                    kbps=Ring(depth),
                )
                update.added.append(key)
                if not first_poll:
                    age = flow.age
                    if hidden_before is not None and age is not None and age > gap_ms + 1000:
                        self.top_changes.append(
                            FlowEvent(
                                at, self.poll, EventKind.ENTERED, key, flow, top=hidden_before
                            )
                        )
                    else:
                        self.events.append(FlowEvent(at, self.poll, EventKind.APPEARED, key, flow))
            else:
                old_path = record.flow.path
                if old_path != flow.path and old_path is not None and flow.path is not None:
                    change = PathChange(at, key, old_path, flow.path)
                    changes = record.path_changes
                    if not isinstance(changes, deque):
                        changes = record.path_changes = deque(maxlen=PATH_TIMELINE_LIMIT)
                    changes.append(change)
                    update.path_changes.append(change)
                    self.events.append(
                        FlowEvent(at, self.poll, EventKind.PATH, key, flow, old_path, flow.path)
                    )
                record.flow = flow
            # The hot loop: straight to the arrays; rings are trimmed every TRIM_EVERY polls.
            pps, kbps = flow.pps, flow.customer_kbps
            record.pps.data.append(nan if pps is None else pps)
            record.kbps.data.append(nan if kbps is None else kbps)
            current[key] = record
        yield
        for key, record in left.items():
            update.removed.append(key)
            if capped is None:
                self.events.append(FlowEvent(at, self.poll, EventKind.ENDED, key, record.flow))
            else:
                self.top_changes.append(
                    FlowEvent(at, self.poll, EventKind.LEFT, key, record.flow, top=capped)
                )
        self.records = current
        self.last_update = at
        self.capped = capped
        if self.poll % TRIM_EVERY == 0:
            for done, record in enumerate(current.values(), 1):
                pps_ring, kbps_ring = record.pps, record.kbps
                pps_ring.capacity = kbps_ring.capacity = depth
                pps_ring.trim()
                kbps_ring.trim()
                if done % step == 0:
                    yield
        update.failovers = self._failovers(update.path_changes, at)
        self.failovers.extend(update.failovers)
        return update

    @staticmethod
    def _failovers(changes: list[PathChange], at: float) -> list[Failover]:
        moves = Counter((change.old, change.new) for change in changes)
        return [
            Failover(at, old, new, count)
            for (old, new), count in moves.most_common()
            if count >= FAILOVER_MIN_FLOWS
        ]

    def clear(self) -> None:
        """Forget everything (a new appliance or a replay restart)."""
        self.records = {}
        self.events.clear()
        self.top_changes.clear()
        self.failovers.clear()
        self.poll = 0
        self.last_update = None
        self.poll_times.clear()
        self.capped = None
