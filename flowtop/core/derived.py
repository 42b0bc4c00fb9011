"""Numbers flowtop derives from what it keeps between polls, and the totals line.

The appliance reports each flow's ``pps`` and ``customer_kbps`` "over the period since
refresh", and its ``bytes`` and ``packets`` over the flow's life.  From the store's
history rings and from the counters of two polls flowtop derives (fields of the
registry, :data:`flowtop.core.fields.DERIVED_FIELDS`):

* ``rate_2s``, ``rate_10s``, ``rate_40s`` (and ``pps_...``): the reported rate averaged
  over iftop's three windows ending at the last poll.  Each sample stands for the
  period since the poll before it and weighs by how much of that period lies in the
  window.  A window longer than the history known so far (a flow seen for 6 s has
  no 10 s average yet; the first poll's period is unknown) gives the average of
  what there is and says so (:attr:`Derived.partial`; the cell carries
  :data:`PARTIAL_MARK`).  Computed when asked (visible cells, a sort, a filter),
  once per poll and flow.
* ``rate_peak``, ``pps_peak``: the highest rate reported since flowtop first saw
  the flow, kept by :class:`CounterTracker` (two comparisons a flow a poll).
* ``rate_measured``, ``pps_measured``: Δbytes·8/Δt and Δpackets/Δt between the
  last two polls.  A counter that went backwards is a reset: no rate for that
  interval, never a negative one.  ``rate_mismatch`` is 1 when the reported rate or
  pps, at both ends of the interval, disagrees with the measured one beyond
  :data:`MISMATCH_RATIO` and
  :data:`MISMATCH_FLOOR_KBPS` / :data:`MISMATCH_FLOOR_PPS` (the appliance's
  statistics are stale).

Columns and filters see a :class:`~flowtop.core.model.Flow`; its record (history,
counters) is found by identity in the live stores (:meth:`FlowStore.record_of`), so a
flow of an older poll has no derived values rather than wrong ones.

:class:`CounterTracker` runs once a poll (from the monitor): per flow it takes the
counters' change, and in total the rates and bytes moved since start per direction,
which :func:`totals` turns into the :class:`Totals` of a frame.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Final

from flowtop.core import glyphs
from flowtop.core.fastpaths import model_values
from flowtop.core.fields import BY_NAME, DERIVED_NAMES
from flowtop.core.model import Flow
from flowtop.core.steps import Steps, run_to_end
from flowtop.core.store import LIVE_STORES, FlowRecord, FlowStore, Ring
from flowtop.core.units import format_bytes, format_count, format_rate, format_seconds

# A cell whose window is longer than the history so far: the average of what there is.
PARTIAL_MARK: Final = "*"
# A measured rate that disagrees with the reported one.
MISMATCH_MARK: Final = "!"
# The reported rate disagrees with the counters when they differ by more than this
# share of the larger of the two (the appliance's period and ours never quite align,
# and a burst inside an interval moves the two apart by up to a third)...
MISMATCH_RATIO: Final = 0.5
# ...and by more than this many kbps (1 kB/s): tiny flows round too coarsely.
MISMATCH_FLOOR_KBPS: Final = 8.0
MISMATCH_FLOOR_PPS: Final = 2.0
# A window counts as covered when the history reaches this close to its start.
COVERED_SLACK: Final = 0.02

WINDOWS: Final[dict[str, float]] = {"2s": 2.0, "10s": 10.0, "40s": 40.0}

# Direction classes.
LAN_TO_WAN: Final = 0
WAN_TO_LAN: Final = 1
OTHER_DIRECTION: Final = 2
_DIRECTIONS: dict[str | None, int] = {}


def direction_class(direction: str | None) -> int:
    """:data:`LAN_TO_WAN`, :data:`WAN_TO_LAN` or :data:`OTHER_DIRECTION` of an API
    direction ("LAN to WAN", "lan-to-wan", "WAN2LAN"...)."""
    known = _DIRECTIONS.get(direction)
    if known is not None:
        return known
    folded = "" if direction is None else direction.casefold()
    folded = "".join(char for char in folded if char.isalnum()).replace("2", "to")
    value = OTHER_DIRECTION
    if folded in ("lantowan", "lanwan"):
        value = LAN_TO_WAN
    elif folded in ("wantolan", "wanlan"):
        value = WAN_TO_LAN
    if len(_DIRECTIONS) < 256:
        _DIRECTIONS[direction] = value
    return value


@dataclass(frozen=True, slots=True)
class Derived:
    """One derived value of a flow: None when unknown; ``partial`` when the window is
    longer than the history it was averaged over; ``mismatch`` when a measured rate
    disagrees with the reported one."""

    value: float | None
    partial: bool = False
    mismatch: bool = False


_UNKNOWN: Final = Derived(None)
# Flows counted per step after a poll (see CounterTracker.after_poll_steps).
COUNT_STEP: Final = 2000


def window_weights(times: Iterable[float], window: float) -> list[float]:
    """How much of each poll's period lies in the ``window`` seconds up to the last
    poll, newest poll first.  A poll's period runs from the poll before it; the oldest
    poll kept has no known period (weight 0).  Stops at the window's start."""
    stamps = list(times)
    weights: list[float] = []
    if not stamps:
        return weights
    end = stamps[-1]
    start = end - window
    for index in range(len(stamps) - 1, -1, -1):
        at = stamps[index]
        if at <= start:
            break
        if index == 0:
            weights.append(0.0)
            break
        before = stamps[index - 1]
        weights.append(at - max(before, start))
        if before <= start:
            break
    return weights


def window_average(
    ring: Ring, weights: list[float], window: float, newest: float | None = None
) -> Derived:
    """The time-weighted average of the newest samples of ``ring`` over ``window``
    (see :func:`window_weights`); missing samples (NaN) are left out.

    ``newest`` is the newest sample exactly as reported (the ring keeps float32), so
    that an average of one sample reads as the rate beside it."""
    data = ring.data
    count = min(len(ring), len(weights))
    total = 0.0
    covered = 0.0
    for index in range(count):
        value = data[-1 - index] if index or newest is None else newest
        if value != value:  # NaN: no rate that poll
            continue
        weight = weights[index]
        total += value * weight
        covered += weight
    if covered > 0.0:
        return Derived(total / covered, covered < window * (1.0 - COVERED_SLACK))
    # Nothing of known length: the newest sample, if any, for what it is.
    for index in range(min(len(ring), max(1, len(weights)))):
        value = data[-1 - index] if index or newest is None else newest
        if value == value:
            return Derived(float(value), True)
    return _UNKNOWN


def mismatch(
    reported: float | None, measured: float | None, floor: float = MISMATCH_FLOOR_KBPS
) -> bool | None:
    """Whether a reported rate (kbps; pps with ``floor`` :data:`MISMATCH_FLOOR_PPS`)
    disagrees with the one measured from counters; None when either is unknown."""
    if reported is None or measured is None:
        return None
    difference = abs(reported - measured)
    return difference > floor and difference > MISMATCH_RATIO * max(reported, measured)


class _Numbers:
    """Per store: the derived values of the current poll, computed when first asked."""

    def __init__(self, store: FlowStore) -> None:
        # Weak: this object is the value of a WeakKeyDictionary keyed by the store.
        self._store = weakref.ref(store)
        self._token: tuple[int, float | None] = (-1, None)
        self._weights: dict[float, list[float]] = {}
        # Per field: the values of this poll by id of the record (alive all poll long).
        self._values: dict[str, dict[int, Derived]] = {}

    @property
    def store(self) -> FlowStore:
        store = self._store()
        if store is None:  # pragma: no cover - only reached through a live store
            raise RuntimeError("the store is gone")
        return store

    def _check(self) -> None:
        store = self.store
        token = (store.poll, store.last_update)
        if token != self._token:
            self._token = token
            self._weights.clear()
            self._values.clear()

    def weights(self, window: float) -> list[float]:
        weights = self._weights.get(window)
        if weights is None:
            weights = self._weights[window] = window_weights(self.store.poll_times, window)
        return weights

    def get(self, record: FlowRecord, name: str) -> Derived:
        self._check()
        values = self._values.get(name)
        if values is None:
            values = self._values[name] = {}
        found = values.get(id(record))
        if found is None:
            found = values[id(record)] = self._compute(record, name)
        return found

    def _compute(self, record: FlowRecord, name: str) -> Derived:
        quantity, _, what = name.partition("_")
        if what in WINDOWS:
            window = WINDOWS[what]
            flow = record.flow
            if quantity == "rate":
                ring, newest = record.kbps, flow.customer_kbps
            else:
                ring, newest = record.pps, flow.pps
            return window_average(
                ring, self.weights(window), window, math.nan if newest is None else newest
            )
        if what == "peak":
            return Derived(self._peak(record, quantity))
        if name == "rate_mismatch":
            rate = self._disagrees(record, "rate")
            pps = self._disagrees(record, "pps")
            if rate is None and pps is None:
                return _UNKNOWN
            flag = bool(rate) or bool(pps)
            return Derived(1.0 if flag else 0.0, mismatch=flag)
        if what == "measured":
            return Derived(
                self._measured(record, quantity),
                mismatch=bool(self._disagrees(record, quantity)),
            )
        raise KeyError(name)

    def _peak(self, record: FlowRecord, quantity: str) -> float | None:
        kept = record.peak_kbps if quantity == "rate" else record.peak_pps
        counted = record.counters
        if counted is not None and counted[0] == self.store.poll and kept is not None:
            return kept
        # Not tracked (a store used without a monitor): the history kept.
        ring = record.kbps if quantity == "rate" else record.pps
        present = [value for value in ring.values() if value == value]
        candidates = present + ([kept] if kept is not None else [])
        return max(candidates) if candidates else None

    def _disagrees(self, record: FlowRecord, quantity: str) -> bool | None:
        """Whether the counters' rate over the last interval is far from every rate the
        appliance reported at its ends: a flow that burst or calmed down within the
        interval moved between the two, stale statistics do not track the counters."""
        measured = self._measured(record, quantity)
        if quantity == "rate":
            reported, ring, floor = record.flow.customer_kbps, record.kbps, MISMATCH_FLOOR_KBPS
        else:
            reported, ring, floor = record.flow.pps, record.pps, MISMATCH_FLOOR_PPS
        if reported is None or measured is None:
            return None
        nearest = reported
        if len(ring) >= 2:
            before = ring.data[-2]
            if before == before:  # not NaN
                low, high = min(before, reported), max(before, reported)
                nearest = low if measured < low else high if measured > high else measured
        return mismatch(nearest, measured, floor)

    def _measured(self, record: FlowRecord, quantity: str) -> float | None:
        """Δcounter/Δt between the last two polls (rates in kbps); None when unknown:
        not counted at both, a counter missing, or reset in between."""
        store = self.store
        now, last = record.counters, record.last_counters
        if now is None or last is None or now[0] != store.poll or last[0] != store.poll - 1:
            return None
        times = store.poll_times
        if len(times) < 2:
            return None
        seconds = times[-1] - times[-2]
        index = 1 if quantity == "rate" else 2
        current, previous = now[index], last[index]
        if seconds <= 0.0 or current is None or previous is None or current < previous:
            return None
        delta = current - previous
        return delta * 0.008 / seconds if quantity == "rate" else delta / seconds


# The attribute of a store that holds its _Numbers (which holds the store weakly).
_NUMBERS_ATTRIBUTE: Final = "_flowtop_derived_numbers"
# The store the last lookup found a flow in: asked first next time.
_last_store: weakref.ref[FlowStore] | None = None


def numbers_of(store: FlowStore) -> _Numbers:
    numbers: _Numbers | None = getattr(store, _NUMBERS_ATTRIBUTE, None)
    if numbers is None:
        numbers = _Numbers(store)
        setattr(store, _NUMBERS_ATTRIBUTE, numbers)
    return numbers


def find_record(flow: Flow) -> tuple[FlowStore, FlowRecord] | None:
    """The live store and record that hold exactly this flow object."""
    global _last_store
    last = _last_store() if _last_store is not None else None
    if last is not None:
        record = last.record_of(flow)
        if record is not None:
            return last, record
    for store in list(LIVE_STORES):
        if store is last:
            continue
        record = store.record_of(flow)
        if record is not None:
            _last_store = weakref.ref(store)
            return store, record
    return None


def derived(flow: Flow, name: str) -> Derived:
    """The derived field ``name`` of ``flow`` (unknown for a flow no store holds now)."""
    found = find_record(flow)
    if found is None:
        return _UNKNOWN
    store, record = found
    return numbers_of(store).get(record, name)


def getter(name: str) -> Callable[[Flow], float | None]:
    """A flow's value of the derived field ``name`` (for the filter and sorting)."""
    if name not in DERIVED_NAMES:
        raise KeyError(name)

    def value(flow: Flow) -> float | None:
        return derived(flow, name).value

    return value


def cell_text(name: str) -> Callable[[Flow], str]:
    """A table cell of the derived field ``name``: the value as its unit reads, with
    :data:`PARTIAL_MARK` for a window not yet covered and :data:`MISMATCH_MARK` for a
    measured rate that disagrees with the reported one."""
    field = BY_NAME[name]
    formatter = field.formatter
    is_flag = name == "rate_mismatch"

    def text(flow: Flow) -> str:
        found = derived(flow, name)
        value = found.value
        if value is None:
            return ""
        if is_flag:
            return MISMATCH_MARK if found.mismatch else ""
        shown = formatter(value) if formatter is not None else f"{value:g}"
        if found.partial:
            return shown + PARTIAL_MARK
        if found.mismatch:
            return shown + MISMATCH_MARK
        return shown

    return text


# ---- counters, peaks and totals -------------------------------------------------------

_COUNTERS = itemgetter("bytes", "packets", "pps", "customer_kbps", "direction", "age")


@dataclass(frozen=True, slots=True)
class DirectionSums:
    """Rates now and bytes moved since start, of one direction or of all."""

    flows: int = 0
    pps: float = 0.0
    kbps: float = 0.0
    moved_bytes: int = 0
    moved_packets: int = 0


@dataclass(frozen=True, slots=True)
class Sums:
    """The sums of a set of flows: in total and per direction."""

    total: DirectionSums = DirectionSums()
    lan_to_wan: DirectionSums = DirectionSums()
    wan_to_lan: DirectionSums = DirectionSums()


@dataclass(frozen=True, slots=True)
class Totals:
    """The totals line: the flows shown (filter applied) and all of them.

    ``shown`` is ``everything`` when no filter applies.  Bytes moved are since
    flowtop started (counter deltas, so traffic between polls counts): ``everything``
    includes flows that have ended since, ``shown`` counts the flows shown now.
    Peaks are the highest total rate since start (for ``shown``: since the filter
    was last changed).
    """

    shown: Sums
    everything: Sums
    filtered: bool
    peak_kbps: float
    peak_pps: float
    shown_peak_kbps: float
    shown_peak_pps: float
    # When the totals started (the first poll counted), or None before any poll.
    since: float | None
    at: float | None


class _Accumulator:
    """Mutable sums per direction class (index 0, 1, 2), then frozen into :class:`Sums`."""

    __slots__ = ("flows", "kbps", "moved_bytes", "moved_packets", "pps")

    def __init__(self) -> None:
        self.flows = [0, 0, 0]
        self.pps = [0.0, 0.0, 0.0]
        self.kbps = [0.0, 0.0, 0.0]
        self.moved_bytes = [0, 0, 0]
        self.moved_packets = [0, 0, 0]

    def add(self, record: FlowRecord) -> None:
        flow = record.flow
        index = direction_class(flow.direction)
        self.flows[index] += 1
        self.pps[index] += flow.pps or 0.0
        self.kbps[index] += flow.customer_kbps or 0.0
        self.moved_bytes[index] += record.moved_bytes
        self.moved_packets[index] += record.moved_packets

    def one(self, index: int) -> DirectionSums:
        return DirectionSums(
            self.flows[index],
            self.pps[index],
            self.kbps[index],
            self.moved_bytes[index],
            self.moved_packets[index],
        )

    def frozen(self) -> Sums:
        total = DirectionSums(
            sum(self.flows),
            math.fsum(self.pps),
            math.fsum(self.kbps),
            sum(self.moved_bytes),
            sum(self.moved_packets),
        )
        return Sums(total, self.one(LAN_TO_WAN), self.one(WAN_TO_LAN))


class CounterTracker:
    """Per poll: each flow's counter change and peaks; in total the rates now and the
    bytes moved since start per direction (ended flows' bytes stay counted)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.poll = 0
        self.since: float | None = None
        self.at: float | None = None
        self.moved_bytes = [0, 0, 0]
        self.moved_packets = [0, 0, 0]
        self.everything = Sums()
        self.peak_kbps = 0.0
        self.peak_pps = 0.0
        self._shown_peak: tuple[object, float, float] | None = None

    def after_poll(self, store: FlowStore) -> None:
        """Count the poll ``store`` just applied (call once after each apply)."""
        run_to_end(self.after_poll_steps(store))

    def after_poll_steps(self, store: FlowStore) -> Steps[None]:
        """:meth:`after_poll` in steps of :data:`COUNT_STEP` flows (a 50 000-flow answer
        must not hold the event loop; see :mod:`flowtop.core.steps`)."""
        poll = store.poll
        at = store.last_update
        if at is None:
            return  # nothing applied yet
        if poll != self.poll + 1:
            # A cleared store (a replay stepping back) or a poll not seen: start again.
            self.reset()
        first = self.poll == 0
        previous_at = self.at
        gap = 0.0 if previous_at is None or first else at - previous_at
        gap_ms = gap * 1000.0
        flows = [0, 0, 0]
        pps_sums = [0.0, 0.0, 0.0]
        kbps_sums = [0.0, 0.0, 0.0]
        moved_bytes = self.moved_bytes
        moved_packets = self.moved_packets
        classify = _DIRECTIONS.get
        counters_of = _COUNTERS
        values_of = model_values
        before = poll - 1
        # Per flow per poll: keep this loop lean (one C call for the values, few writes).
        for number, record in enumerate(store.records.values(), 1):
            if not number % COUNT_STEP:
                yield
            nbytes, npackets, pps, kbps, direction, age = counters_of(values_of(record.flow))
            index = classify(direction)
            if index is None:
                index = direction_class(direction)
            flows[index] += 1
            if pps is not None:
                pps_sums[index] += pps
                if record.peak_pps is None or pps > record.peak_pps:
                    record.peak_pps = pps
            if kbps is not None:
                kbps_sums[index] += kbps
                if record.peak_kbps is None or kbps > record.peak_kbps:
                    record.peak_kbps = kbps
            last = record.counters
            record.last_counters = last
            record.counters = (poll, nbytes, npackets)
            if last is not None and last[0] == before:
                # A counter that went backwards was reset: what it holds now moved
                # since the reset.
                counted = last[1]
                if nbytes is not None and counted is not None and nbytes != counted:
                    delta = nbytes - counted if nbytes > counted else nbytes
                    record.moved_bytes += delta
                    moved_bytes[index] += delta
                counted = last[2]
                if npackets is not None and counted is not None and npackets != counted:
                    delta = npackets - counted if npackets > counted else npackets
                    record.moved_packets += delta
                    moved_packets[index] += delta
            elif not first and (age is None or age <= gap_ms + 1000.0):
                # New since the last poll, and its age says it began since (or it has
                # no age): all it moved, it moved since.  An older flow newly seen (from
                # behind a capped answer) moved an unknown amount before: from here on.
                if nbytes:
                    record.moved_bytes += nbytes
                    moved_bytes[index] += nbytes
                if npackets:
                    record.moved_packets += npackets
                    moved_packets[index] += npackets
        self.poll = poll
        if self.since is None:
            self.since = at
        self.at = at
        total_kbps = math.fsum(kbps_sums)
        total_pps = math.fsum(pps_sums)
        self.peak_kbps = max(self.peak_kbps, total_kbps)
        self.peak_pps = max(self.peak_pps, total_pps)

        def one(index: int) -> DirectionSums:
            return DirectionSums(
                flows[index],
                pps_sums[index],
                kbps_sums[index],
                moved_bytes[index],
                moved_packets[index],
            )

        self.everything = Sums(
            DirectionSums(sum(flows), total_pps, total_kbps, sum(moved_bytes), sum(moved_packets)),
            one(LAN_TO_WAN),
            one(WAN_TO_LAN),
        )

    def take_sums(self, trackers: Sequence[CounterTracker]) -> None:
        """Hold the sums of other trackers (a fleet's appliances, for its all-flows view),
        with the peak of their total since this one started."""
        sums = [tracker.everything for tracker in trackers]
        self.everything = Sums(
            *(
                DirectionSums(
                    sum(part.flows for part in parts),
                    math.fsum(part.pps for part in parts),
                    math.fsum(part.kbps for part in parts),
                    sum(part.moved_bytes for part in parts),
                    sum(part.moved_packets for part in parts),
                )
                for parts in (
                    [one.total for one in sums],
                    [one.lan_to_wan for one in sums],
                    [one.wan_to_lan for one in sums],
                )
            )
        )
        self.peak_kbps = max(self.peak_kbps, self.everything.total.kbps)
        self.peak_pps = max(self.peak_pps, self.everything.total.pps)
        started = [tracker.since for tracker in trackers if tracker.since is not None]
        counted = [tracker.at for tracker in trackers if tracker.at is not None]
        self.since = min(started) if started else None
        self.at = max(counted) if counted else None

    def totals(self, shown: Iterable[FlowRecord] | None, view_id: object) -> Totals:
        """The totals of a frame: ``shown`` the records shown (None: all of them, no
        filter); ``view_id`` names the filter, whose change restarts the shown peak."""
        everything = self.everything
        if shown is None:
            shown_sums = everything
        else:
            accumulator = _Accumulator()
            for record in shown:
                accumulator.add(record)
            shown_sums = accumulator.frozen()
        kept = self._shown_peak
        peak_kbps, peak_pps = shown_sums.total.kbps, shown_sums.total.pps
        if kept is not None and kept[0] == view_id:
            peak_kbps = max(peak_kbps, kept[1])
            peak_pps = max(peak_pps, kept[2])
        self._shown_peak = (view_id, peak_kbps, peak_pps)
        if shown is None:
            peak_kbps, peak_pps = self.peak_kbps, self.peak_pps
        return Totals(
            shown=shown_sums,
            everything=everything,
            filtered=shown is not None,
            peak_kbps=self.peak_kbps,
            peak_pps=self.peak_pps,
            shown_peak_kbps=peak_kbps,
            shown_peak_pps=peak_pps,
            since=self.since,
            at=self.at,
        )


def counter_reset(record: FlowRecord) -> bool:
    """Whether a counter of the flow went backwards at the last poll counted."""
    now, last = record.counters, record.last_counters
    if now is None or last is None or last[0] != now[0] - 1:
        return False
    return any(
        current is not None and previous is not None and current < previous
        for current, previous in ((now[1], last[1]), (now[2], last[2]))
    )


__all__ = [
    "MISMATCH_MARK",
    "PARTIAL_MARK",
    "CounterTracker",
    "Derived",
    "Totals",
    "cell_text",
    "derived",
    "getter",
    "mismatch",
    "window_average",
    "window_weights",
]


# ---- the totals line --------------------------------------------------------------------

# (priority, label, value): the highest priority number gives way first on a narrow
# terminal; 0 always stays.
TotalsPart = tuple[int, str, str]


def _rate(kbps: float) -> str:
    return format_rate(kbps).replace(" ", "") or "0b/s"


def _moved(sums: DirectionSums) -> str:
    return f"{format_bytes(sums.moved_bytes)}B"


def totals_parts(totals: Totals) -> list[TotalsPart]:
    """The parts of the totals line, in order, with how readily each gives way.

    ``Total 45.3Mb/s 3.20k pps  L>W 30.1Mb/s  W>L 15.2Mb/s  peak 60.0Mb/s  moved
    1.23GB in 5m02s``; with a filter the shown flows first (``Shown``), then ``all``.
    """
    if totals.since is None:
        # Nothing counted yet (no answer): no zeros passed off as traffic.
        return [(0, "Total", f"{glyphs.current().missing} (no answer yet)")]
    shown = totals.shown
    span = ""
    if totals.at is not None and totals.at > totals.since:
        # Over one poll and more: the bytes of a single poll moved in no time at all.
        span = format_seconds(round(totals.at - totals.since))
    filtered = totals.filtered
    parts: list[TotalsPart] = [
        (0, "Shown" if filtered else "Total", _rate(shown.total.kbps)),
        (3, "", f"{format_count(shown.total.pps) or '0'} pps"),
        (1, "L>W", _rate(shown.lan_to_wan.kbps)),
        (1, "W>L", _rate(shown.wan_to_lan.kbps)),
    ]
    other = shown.total.flows - shown.lan_to_wan.flows - shown.wan_to_lan.flows
    if other > 0:
        # Flows of no known direction: their rate, so that the parts add up.
        rest = shown.total.kbps - shown.lan_to_wan.kbps - shown.wan_to_lan.kbps
        parts.append((1, "other", _rate(max(0.0, rest))))
    parts += [
        (2, "peak", _rate(totals.shown_peak_kbps)),
        (2, "moved", _moved(shown.total)),
    ]
    if span and not filtered:
        parts.append((4, "in", span))
    if filtered:
        everything = totals.everything
        parts += [
            (1, "| all", _rate(everything.total.kbps)),
            (4, "peak", _rate(totals.peak_kbps)),
            (3, "moved", _moved(everything.total)),
        ]
        if span:
            parts.append((5, "in", span))
    return parts


def fit_totals(parts: list[TotalsPart], width: int) -> list[TotalsPart]:
    """The parts that fit ``width`` cells (two spaces between parts, one before an
    ``in``), in their order: taken by priority (the lowest number first, the leftmost
    among equals) while they fit, so a short part may take the room a long one left.
    The parts of priority 0 are always kept."""
    chosen: set[int] = {index for index, part in enumerate(parts) if part[0] == 0}
    order = sorted(range(len(parts)), key=lambda i: (parts[i][0], i))
    # Twice: an "in 5m" considered before its "moved" gets its turn after it.
    for index in order + order:
        if index in chosen:
            continue
        if parts[index][1] == "in" and index - 1 not in chosen:
            continue  # "in 5m" belongs to the "moved" before it
        trial = chosen | {index}
        if totals_width([parts[i] for i in sorted(trial)]) <= width:
            chosen = trial
    return [parts[i] for i in sorted(chosen)]


def totals_width(parts: list[TotalsPart]) -> int:
    width = 0
    for index, (_, label, value) in enumerate(parts):
        if index:
            width += 1 if label == "in" else 2
        width += len(label) + (1 if label else 0) + len(value)
    return width
