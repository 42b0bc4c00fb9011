"""A fleet's all-flows view: every appliance's flows in one table.

:class:`AllFlows` is a :class:`~flowtop.core.monitor.Monitor` (filter, sort, grouping,
drill-down, pairs, names, frames: all as for one appliance) whose store holds no flows
of its own: :meth:`AllFlows.refresh` takes in the records every appliance's store
holds, as they are.  A record is one object in both views, so its history, counters,
averages and peaks are the appliance's, and the view costs a dict of references.

Each flow is marked with its appliance when its store takes it (``Flow.appliance``),
and so is its key: two appliances reporting the same 5-tuple and direction (both ends
of a conversation, the same private addresses at two branches) are two rows.  The
``appliance`` column comes first; ``appliance:austin`` filters, ``g`` groups by it.

It polls nothing: the appliances poll on their own timers (the background rate, none
of them being open), and the view takes in what they hold when one of them has
answered since.  Nothing here imports textual.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from operator import attrgetter
from typing import Final

from flowtop.core.columns import DEFAULT_COLUMNS
from flowtop.core.errors import FlowtopError
from flowtop.core.fleet import Fleet, state_of
from flowtop.core.groups import ALL_FLOWS_GROUP_CYCLE
from flowtop.core.model import FlowKey
from flowtop.core.monitor import Monitor, StatusData
from flowtop.core.store import LIVE_STORES, Failover, FlowEvent, FlowRecord

APPLIANCE_COLUMN: Final = "appliance"
# The appliances not LIVE that the status line names before it says "and N more".
NAMED_NOT_LIVE: Final = 3


def with_appliance_column(columns: Sequence[str]) -> tuple[str, ...]:
    """The columns of the all-flows view: the appliance first, then the others."""
    return (APPLIANCE_COLUMN, *(column for column in columns if column != APPLIANCE_COLUMN))


class AllFlowsMonitor(Monitor):
    """Every appliance's flows in one view; see the module docstring."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        columns: Sequence[str] = DEFAULT_COLUMNS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        policy = fleet.policy
        super().__init__(
            description=f"all {len(fleet)} appliances",
            interval=policy.background_interval,
            max_stats=policy.background_max_stats,
            columns=with_appliance_column(columns),
            clock=clock,
            history=1,
        )
        self.fleet = fleet
        self.group_cycle = ALL_FLOWS_GROUP_CYCLE
        # The appliance column is the view's, not the user's choice: a default column
        # that does not fit drops quietly, as in an appliance's view.
        self.columns_chosen = _chosen(columns)
        # Its records are the appliances' own: their derived values (averages, peaks,
        # measured rates) come from the appliances' stores, never from this one.
        LIVE_STORES.discard(self.store)
        # The appliances' poll counts when their flows were last taken in.
        self._taken: tuple[int, ...] | None = None

    def set_columns(self, columns: Sequence[str]) -> None:
        """The columns chosen, the appliance's always first (rows of many appliances)."""
        super().set_columns(with_appliance_column(columns))
        self.columns_chosen = _chosen(columns)

    def refresh(self) -> bool:
        """Take in the flows every appliance holds now; False when none has answered
        since the last time (or the view is paused: it keeps what it shows)."""
        if self.poll_state.paused:
            return False
        monitors = [member.monitor for member in self.fleet.members]
        polls = tuple(monitor.store.poll for monitor in monitors)
        if polls == self._taken:
            self._note_states()
            return False
        self._taken = polls
        store = self.store
        before = store.records
        records: dict[FlowKey, FlowRecord] = {}
        for monitor in monitors:
            records.update(monitor.store.records)
        store.records = records
        store.poll += 1
        updates = [monitor.store.last_update for monitor in monitors]
        known = [at for at in updates if at is not None]
        store.last_update = max(known) if known else None
        # One capped appliance makes the total "at least" (the mark says so).
        capped = [monitor.store.capped for monitor in monitors if monitor.store.capped]
        store.capped = sum(capped) if capped else None
        self.counters.take_sums([monitor.counters for monitor in monitors])
        # The first fill marks nothing as new.
        self._new = tuple(key for key in records if key not in before) if before else ()
        self._note_states()
        return True

    def release(self) -> None:
        """Let go of the appliances' records while the view is not shown (they end and
        are replaced meanwhile); the next :meth:`refresh` takes them in afresh."""
        self.store.records = {}
        self._taken = None
        self.last_result = None
        self.view.reset()

    def _note_states(self) -> None:
        """LIVE while any appliance is; the status line names those that are not."""
        not_live = []
        answered: list[float] = []
        for member in self.fleet.members:
            state, _ = state_of(member.monitor)
            if state not in ("LIVE", "REPLAY", "PAUSED"):
                not_live.append(f"{member.name} {state}")
            elif member.monitor.poll_state.last_success_at is not None:
                answered.append(member.monitor.poll_state.last_success_at)
        poll_state = self.poll_state
        if answered:
            poll_state.succeeded(max(answered), 0.0)
            # The appliances' latencies differ: the fleet screen shows each.
            poll_state.last_latency = None
        elif not_live and (poll_state.last_error is None or not poll_state.stale):
            poll_state.failed(FlowtopError("no appliance of the fleet answers"))
        shown = ", ".join(not_live[:NAMED_NOT_LIVE])
        if len(not_live) > NAMED_NOT_LIVE:
            shown += f" and {len(not_live) - NAMED_NOT_LIVE} more"
        self.notice = f"not live: {shown}" if shown else ""

    @property
    def replaying(self) -> bool:
        """The appliances' flows come from a recording (a fleet's --replay)."""
        return any(member.monitor.replay is not None for member in self.fleet.members)

    def mode(self) -> str:
        return "REPLAY" if self.replaying else ""

    def status(self) -> StatusData:
        data = super().status()
        if self.replaying:
            # The polls' times are the recording's: no "ago" from the wall clock.
            return replace(data, since_update=None)
        return data

    def now(self) -> float:
        """Now, or in a replay the time of the newest poll shown."""
        if self.replaying and self.store.last_update is not None:
            return self.store.last_update
        return self.clock()

    def events(self) -> list[FlowEvent]:
        """Every appliance's kept events, in time order (each key names its appliance)."""
        return list(
            heapq.merge(*(member.monitor.events() for member in self.fleet.members), key=_at)
        )

    def failovers(self) -> list[Failover]:
        return list(
            heapq.merge(*(member.monitor.failovers() for member in self.fleet.members), key=_at)
        )

    def sample_times(self, record: FlowRecord) -> list[float]:
        """The times of the appliance's polls: the record's history is its store's."""
        name = record.key.appliance
        if name in self.fleet.names:
            return self.fleet[name].monitor.store.sample_times(record)
        return []


_at: Final = attrgetter("at")


def _chosen(columns: Sequence[str]) -> bool:
    """Columns other than the defaults (the appliance's aside) were asked for."""
    return tuple(c for c in columns if c != APPLIANCE_COLUMN) != tuple(DEFAULT_COLUMNS)
