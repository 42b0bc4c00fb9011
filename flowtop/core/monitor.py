"""One appliance's live state, and the one poll loop every mode shares.

A :class:`Monitor` holds the store, the view settings (filter, sort, grouping, drill
stack), the poll state, the recorder and the notices.  Commands go in (``set_filter``,
``sort_by``, ``drill``, ``back``, ``pause``, ``step``...), an immutable :class:`Frame`
comes out.  :func:`run_polls` is the loop that feeds it: the TUI runs it in its
worker, headless recording and ``--once`` call it too.  Nothing here imports textual.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

from flowtop.core import glyphs, names
from flowtop.core.client import MAX_STATS_CHOICES
from flowtop.core.columns import DEFAULT_COLUMNS, RATE_TITLE, Column, SortSpec, resolve_column
from flowtop.core.config import HighlightRule
from flowtop.core.derived import CounterTracker, Totals
from flowtop.core.errors import ANSWER_FAILURES, FlowtopError, UsageError, answer_failure
from flowtop.core.filter import MATCH_ALL, FlowFilter, compile_filter
from flowtop.core.groups import GROUP_CYCLE, Grouping, group_columns, resolve_grouping
from flowtop.core.highlight import HighlightMatcher
from flowtop.core.model import Flow, FlowKey
from flowtop.core.names import HOST_GROUPINGS, NameResolver, Naming
from flowtop.core.pairs import PAIR_COLUMN_IDS, pair_columns
from flowtop.core.poller import PollPhase, PollState, clamp_interval, next_interval
from flowtop.core.source import FlowSource, Snapshot
from flowtop.core.steps import Steps, run_sliced, run_to_end
from flowtop.core.store import Failover, FlowEvent, FlowRecord, FlowStore, StoreUpdate
from flowtop.core.view import FlowRows, FlowView, Row, ViewDiff, ViewResult

if TYPE_CHECKING:
    # recording.record_headless runs a Monitor: the types only, to import no cycle.
    from flowtop.core.recording import Recorder, ReplaySource

# How long the status line calls out a failover.
FAILOVER_NOTICE_SECONDS = 60.0
# Stepping back in a replay rebuilds the store from this many polls before the target.
REPLAY_REBUILD_POLLS = 60
# Flows freed a step when the flows of a replaced view go (see Monitor._bury_steps).
BURY_STEP = 1000
# The wait while nothing can happen but a command (paused, stopped, end of a replay).
IDLE_WAIT = 3600.0
# From this many flows, a frame asked to (the TUI's) shows a new sort's mark over the
# rows shown and leaves the sort to Monitor.finish_view, in steps: sorting 50 000
# flows by a column not sorted since the last poll holds the loop for some 90 ms.
DEFER_SORT_FLOWS = 10_000


@dataclass(frozen=True, slots=True)
class Message:
    """Something to tell once (the TUI shows it as a notification)."""

    text: str
    title: str = ""
    severity: str = "information"


@dataclass(frozen=True, slots=True)
class StatusData:
    """What the status line shows, as plain data (the TUI maps it to its StatusInfo)."""

    source: str
    interval: float
    max_stats: int
    phase: PollPhase
    shown: int
    total: int
    sort: str
    filter: str
    since_update: float | None
    latency: float | None
    error: str
    retry_in: float | None
    notice: str
    groups: bool
    capped: int | None
    mode: str
    recording: str
    recording_failed: bool
    # Pair mode: rows holding both directions of a conversation (None: not paired).
    paired: int | None = None
    # Group mode: the flows in the groups shown (None: not grouped).
    grouped: int | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """One computed view of the monitor: what a screen, a table or a file shows."""

    result: ViewResult
    columns: tuple[Column, ...]
    sort: SortSpec
    grouping: Grouping | None
    stale: bool
    status: StatusData
    # Flows that appeared since the previous frame (flow rows only).
    new: tuple[FlowKey, ...] = ()
    # The index of the highlight rule each flow row matches.
    highlights: Mapping[FlowKey, int] = field(default_factory=dict)
    # A flow started matching a bell rule.
    bell: bool = False
    # Things to tell once, since the previous frame.
    messages: tuple[Message, ...] = ()
    # The totals line: the flows shown and all flows (None before a monitor computed it).
    totals: Totals | None = None

    @property
    def rows(self) -> Sequence[Row]:
        return self.result.rows


class Monitor:
    """One appliance's live state; see the module docstring."""

    def __init__(
        self,
        *,
        description: str = "",
        interval: float = 2.0,
        max_stats: int = 100,
        filter_text: str = "",
        sort: SortSpec | None = None,
        columns: Sequence[str] = DEFAULT_COLUMNS,
        group_by: str | None = None,
        highlights: Sequence[HighlightRule] = (),
        recorder: Recorder | None = None,
        replay: ReplaySource | None = None,
        clock: Callable[[], float] = time.time,
        history: int = 300,
        recording_required: bool = False,
        contain_bugs: bool = True,
        resolver: NameResolver | None = None,
        host_names: bool = False,
        port_names: bool = False,
        appliance: str | None = None,
    ) -> None:
        self.description = description
        # In a fleet, the appliance's name: its polls are recorded under it.
        self.appliance = appliance
        self.replay = replay
        self.clock = clock
        self.poll_state = PollState(interval=clamp_interval(interval))
        self.max_stats = max_stats
        self.sort = sort or SortSpec()
        self.flow_filter: FlowFilter = compile_filter(filter_text) if filter_text else MATCH_ALL
        self.store = FlowStore(history=history, appliance=appliance)
        # Counter changes, peaks and totals since start (flowtop.core.derived).
        self.counters = CounterTracker()
        # Host names (reverse DNS, looked up in the background) and port names.
        self.naming = Naming(resolver, hosts=False, ports=port_names)
        self.view = FlowView(columns, self.naming)
        # One row per conversation (both directions paired), for flows (not groups).
        self.pairs = False
        if host_names:
            self.set_host_names(True)
        # Columns named by the user (--columns, a profile): one that does not fit is said.
        self.columns_chosen = tuple(columns) != tuple(DEFAULT_COLUMNS)
        self.grouping: Grouping | None = resolve_grouping(group_by) if group_by else None
        # The groupings `g` cycles through (a fleet's all-flows view adds the appliance).
        self.group_cycle: tuple[str | None, ...] = GROUP_CYCLE
        # The flow sort to go back to when group mode ends.
        self._flow_sort = self.sort
        if not self.sort_applies(self.sort.column):
            self.sort = SortSpec()
        self.matcher = HighlightMatcher(highlights)
        self.recorder = recorder
        # Headless recording: a recording that fails ends the polls.
        self.recording_required = recording_required
        # A live view survives a bug in a poll (it says so); a one-shot run reports it.
        self.contain_bugs = contain_bugs
        self.last_result: ViewResult | None = None
        self.last_snapshot: Snapshot | None = None
        self.notice = ""
        self.position = ""
        # (grouping, filter) to go back to after a drill-down.
        self._drill_stack: list[tuple[Grouping | None, FlowFilter]] = []
        self._failover_notice: tuple[str, float] | None = None
        self._replay_target: int | None = None
        # (number, count) of the replayed poll shown, from its snapshot.
        self._replay_position: tuple[int, int] | None = None
        self._damage_shown = False
        self._recording_error_shown = False
        self._new: tuple[FlowKey, ...] = ()
        self._messages: list[Message] = []
        self.next_poll_at: float | None = None
        self.stopped = False
        # Completed polls, failed or not: tests and scenes wait on it.
        self.attempts = 0
        # Held while an answer goes into the store in steps: one at a time.
        self._applying = asyncio.Lock()
        # The flow view computed in steps after a poll, and what it was computed from.
        self._prepared: tuple[tuple[object, ...], ViewResult | Exception] | None = None
        # Flows of views replaced, freed in steps at the next poll.
        self._graveyard: list[list[Flow]] = []
        # What the flow rows last shown were computed from (None: not flow rows).
        self._shown_inputs: tuple[object, ...] | None = None
        # The last frame showed a new sort over rows not yet sorted by it: finish_view.
        self.view_pending = False

    # ---- polls --------------------------------------------------------------------

    async def poll(self, source: FlowSource) -> Snapshot | FlowtopError:
        """One poll of ``source``, applied (or its failure noted); never raises but
        for a cancellation."""
        if self._graveyard:
            await run_sliced(self._bury_steps())
        try:
            snapshot = await source.fetch(self.max_stats)
        except FlowtopError as error:
            outcome: Snapshot | FlowtopError = error
            self.failed(error)
        except asyncio.CancelledError:
            raise
        except ANSWER_FAILURES as error:
            outcome = answer_failure(error)
            self.failed(outcome)
        except Exception as error:  # a bug must not take the live view down
            if not self.contain_bugs:
                raise
            outcome = FlowtopError(f"unexpected {type(error).__name__}: {error}")
            self.failed(outcome)
        else:
            # Shielded: a poll cancelled (ctrl+z, quitting) while its answer goes into
            # the store would leave the store half updated; the steps finish instead.
            outcome = await asyncio.shield(self._apply_in_steps(snapshot))
        self.attempts += 1
        return outcome

    async def _apply_in_steps(self, snapshot: Snapshot) -> Snapshot | FlowtopError:
        """Apply a poll in steps (keys are answered meanwhile), one at a time."""
        async with self._applying:
            outcome = await run_sliced(self._apply_guarded_steps(snapshot))
            if outcome is snapshot and self.last_result is not None:
                # Frames are drawn: the next one's view, in steps too.
                await run_sliced(self._prepare_steps())
        return outcome

    def apply_guarded(self, snapshot: Snapshot) -> Snapshot | FlowtopError:
        """Apply a poll; a failure to use it marks the data stale with the reason."""
        return run_to_end(self._apply_guarded_steps(snapshot))

    def _apply_guarded_steps(self, snapshot: Snapshot) -> Steps[Snapshot | FlowtopError]:
        try:
            yield from self.apply_steps(snapshot)
        except ANSWER_FAILURES as error:
            failure = answer_failure(error)
            self.poll_state.failed(failure)
            return failure
        return snapshot

    def apply(self, snapshot: Snapshot) -> StoreUpdate:
        """A poll's answer into the store; records it and updates the notices."""
        return run_to_end(self.apply_steps(snapshot))

    def apply_steps(self, snapshot: Snapshot) -> Steps[StoreUpdate]:
        """:meth:`apply` in steps (see :mod:`flowtop.core.steps`)."""
        recovered = self.poll_state.stale and self.poll_state.last_success_at is not None
        capped = snapshot.capped(0 if self.replay is not None else self.max_stats)
        update = yield from self.store.apply_steps(
            snapshot.flows, snapshot.received_at, capped=capped
        )
        yield from self.counters.after_poll_steps(self.store)
        self.poll_state.succeeded(snapshot.received_at, snapshot.latency)
        self.last_snapshot = snapshot
        self._record(snapshot)
        self._note(snapshot, update)
        self._new = tuple(update.added)
        if recovered:
            self._tell("The appliance answers again.", "Recovered")
        return update

    def failed(self, error: FlowtopError) -> None:
        self.poll_state.failed(error)

    @property
    def done(self) -> bool:
        """Nothing more to poll: stopped, or the recording that was the point failed."""
        if self.stopped:
            return True
        return self.recording_required and self.recorder is not None and not self.recorder.active

    def stop(self) -> None:
        self.stopped = True
        self.close()

    def next_wait(self, spent: float) -> float:
        """Seconds from now to the next poll, ``spent`` seconds after the last began."""
        state = self.poll_state
        if state.paused or state.phase is PollPhase.STOPPED:
            return IDLE_WAIT
        if self.replay is not None and state.failures == 0:
            gap = self.replay.interval_to_next()
            if gap is None:
                self._end_of_replay()
                return IDLE_WAIT
            return gap
        delay = state.delay()
        return max(delay - spent, min(0.2, delay))

    def _end_of_replay(self) -> None:
        self.poll_state.set_paused(True)
        # A damaged recording ends early: say why it ended there.
        ended = self.replay_damage() or "end of the recording"
        self.notice = f"{ended}: [ and ] step through it, q quits"

    def _record(self, snapshot: Snapshot) -> None:
        recorder = self.recorder
        if recorder is None or self.replay is not None:
            return
        written = recorder.write(snapshot, self.max_stats, appliance=self.appliance)
        if not written and not self._recording_error_shown:
            self._recording_error_shown = True
            self._tell(recorder.last_error or "recording stopped", "Recording", "error")

    def _note(self, snapshot: Snapshot, update: StoreUpdate) -> None:
        notes = []
        if self.replay is not None and snapshot.position is not None:
            number, count = snapshot.position
            self._replay_position = snapshot.position
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snapshot.received_at))
            self.position = f"replay poll {number} of {count} at {stamp}"
        if update.duplicate_keys:
            notes.append(f"the appliance repeated {update.duplicate_keys} flow key(s)")
        if snapshot.ignored_items:
            notes.append(f"{snapshot.ignored_items} item(s) in the answer were not flows")
        if update.failovers:
            failover = update.failovers[0]
            arrow = glyphs.current().arrow
            text = f"failover: {failover.count} flows moved {failover.old}{arrow}{failover.new}"
            self._failover_notice = (text, self.clock() + FAILOVER_NOTICE_SECONDS)
        if self._failover_notice is not None:
            text, until = self._failover_notice
            if self.clock() < until or self.replay is not None:
                notes.append(text)
            else:
                self._failover_notice = None
        if self.recorder is not None and self.recorder.last_error:
            notes.append(self.recorder.last_error)
        damage = self.replay_damage()
        if damage:
            notes.append(damage)
        self.notice = "; ".join(notes)

    def replay_damage(self) -> str:
        """The damage of the recording replayed, if any; told once as a message too,
        since a warning on stderr stays hidden until the screen is left."""
        damage = self.replay.recording.damage if self.replay is not None else None
        if damage and not self._damage_shown:
            self._damage_shown = True
            self._tell(damage, "Damaged recording", "warning")
        return damage or ""

    def _tell(self, text: str, title: str = "", severity: str = "information") -> None:
        self._messages.append(Message(text, title, severity))

    def take_messages(self) -> tuple[Message, ...]:
        """The messages not yet told (and forget them)."""
        messages = tuple(self._messages)
        self._messages.clear()
        return messages

    # ---- the view -----------------------------------------------------------------

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns shown now: flow columns, or group columns when grouped."""
        if self.grouping:
            return group_columns(self.grouping)
        return pair_columns(self.view.columns) if self.pairs else self.view.columns

    def _keep_until_next_poll(self, result: ViewResult | None) -> None:
        """Keep the flows of the view being replaced until the next poll frees them in
        steps: freeing 50 000 flows (some 25 objects each) at once holds the loop for
        100 ms and more, wherever the last reference happens to go."""
        if result is not None and isinstance(result.rows, FlowRows):
            self._graveyard.append(result.rows.flows())

    def _bury_steps(self) -> Steps[None]:
        """Free the flows kept by :meth:`_keep_until_next_poll`, a step at a time."""
        graveyard = self._graveyard
        while graveyard:
            flows = graveyard[-1]
            while flows:
                del flows[-BURY_STEP:]
                yield
            graveyard.pop()

    def _view_inputs(self) -> tuple[object, ...]:
        """What a flow view is computed from: a view prepared from the same is current."""
        return (
            self.store,
            self.store.poll,
            self.flow_filter,
            self.sort,
            self.view.columns,
            # Names on or off change the cells.
            self.naming.hosts,
            self.naming.ports,
        )

    def _prepare_steps(self) -> Steps[None]:
        """Compute the next frame's flow view in steps, after a poll (see :meth:`frame`)."""
        self._prepared = None
        if self.grouping is not None or self.pairs:
            return
        predicate = None if self.flow_filter.is_empty else self.flow_filter
        inputs = self._view_inputs()
        try:
            result = yield from self.view.compute_steps(
                self.store.records.values(), predicate, self.sort
            )
        except Exception as error:
            # A view that cannot be computed is the frame's failure (the live view
            # marks the data stale with the reason), not the poll's.
            self._prepared = (inputs, error)
        else:
            self._prepared = (inputs, result)

    def _sort_can_wait(
        self, rows_inputs: tuple[object, ...] | None, inputs: tuple[object, ...]
    ) -> bool:
        """Rows computed from ``rows_inputs`` differ from the view wanted now only by
        their sort (or a poll is going into the store), there are many flows, and this
        sort of them is not at hand: the rows can carry the new sort's mark until it is
        computed."""
        if rows_inputs is None:
            return False
        if len(self.store.records) < DEFER_SORT_FLOWS or self.view.has_sorted(self.sort):
            return False
        same_flows = rows_inputs[:2] == inputs[:2] or self._applying.locked()
        return (
            same_flows
            and rows_inputs[2] == inputs[2]
            and rows_inputs[3] != inputs[3]
            and (rows_inputs[4:] == inputs[4:])
        )

    async def finish_view(self) -> None:
        """Sort in steps the rows a frame showed under a new sort's mark (see
        :meth:`frame`); the next frame shows them.  After a poll going into the store:
        its own view is sorted so."""
        async with self._applying:
            prepared = self._prepared
            if self.view_pending and (prepared is None or prepared[0] != self._view_inputs()):
                await run_sliced(self._prepare_steps())

    def frame(self, *, stale: bool | None = None, defer_sort: bool = False) -> Frame:
        """Compute the view now: the rows, their highlights, the status, and what
        happened since the previous frame (new flows, the bell, messages).

        ``defer_sort``: a new sort of many flows is not computed here; the frame shows
        the rows last shown under the new sort's mark and sets :attr:`view_pending`,
        and :meth:`finish_view` sorts them in steps (the TUI: a key is answered at once).
        """
        if stale is None:
            stale = self.poll_state.stale
        predicate = None if self.flow_filter.is_empty else self.flow_filter
        records = self.store.records.values()
        new = self._new
        self._new = ()
        prepared, self._prepared = self._prepared, None
        self.view_pending = False
        inputs = self._view_inputs()
        shown_inputs: tuple[object, ...] | None = inputs
        if self.grouping is not None or self.pairs:
            shown_inputs = None
        if self.grouping is not None:
            result = self.view.compute_groups(records, self.grouping, predicate, self.sort)
            new = ()
        elif self.pairs:
            result = self.view.compute_pairs(records, predicate, self.sort)
        elif prepared is not None and prepared[0] == inputs:
            if isinstance(prepared[1], Exception):
                raise prepared[1]
            result = prepared[1]
            self._keep_until_next_poll(self.last_result)
        elif (
            defer_sort
            and prepared is not None
            and not isinstance(prepared[1], Exception)
            and self._sort_can_wait(prepared[0], inputs)
        ):
            # The poll's view, prepared under the sort of before a key changed it.
            result = prepared[1]
            self._keep_until_next_poll(self.last_result)
            shown_inputs = prepared[0]
            self.view_pending = True
        elif (
            defer_sort
            and (last := self.last_result) is not None
            and isinstance(last.rows, FlowRows)
            and self._sort_can_wait(self._shown_inputs, inputs)
        ):
            result = ViewResult(last.rows, ViewDiff([], []), last.total)
            shown_inputs = self._shown_inputs
            self.view_pending = True
        else:
            result = self.view.compute(records, predicate, self.sort)
        self._shown_inputs = shown_inputs
        if self.naming.hosts and self.naming.resolver is not None:
            # The rows in their order: the top of the table is looked up first; then the
            # flows the filter hides (a filter on names needs their names).
            self.naming.resolver.request(self._row_addresses(result.rows))
            self.naming.resolver.request(self._key_addresses(self.store.records))
        highlights: dict[FlowKey, int] = {}
        bell = False
        if self.matcher:
            highlights, bell = self.matcher.match(result.rows)
        self.last_result = result
        totals = self.totals(result)
        return Frame(
            result=result,
            columns=self.columns,
            sort=self.sort,
            grouping=self.grouping,
            stale=stale,
            status=self.status(),
            new=new,
            highlights=highlights,
            bell=bell,
            messages=self.take_messages(),
            totals=totals,
        )

    def totals(self, result: ViewResult) -> Totals:
        """The totals line of a view: its flows (when a filter applies) and all."""
        if self.flow_filter.is_empty:
            return self.counters.totals(None, "")
        records = self.store.records
        shown: list[FlowRecord] = []
        for row in result.rows:
            group = row.group
            if group is None:
                key = row.key
                record = records.get(key) if isinstance(key, FlowKey) else None
                if record is not None:
                    shown.append(record)
            else:
                shown.extend(
                    record for key in group.keys if (record := records.get(key)) is not None
                )
        return self.counters.totals(shown, self.flow_filter.expression)

    def status(self) -> StatusData:
        state = self.poll_state
        now = self.clock()
        since = None
        if state.last_success_at is not None and self.replay is None:
            since = max(0.0, now - state.last_success_at)
        retry_in = None
        if state.phase is PollPhase.ERROR and self.next_poll_at is not None:
            retry_in = self.next_poll_at - now
        result = self.last_result
        recorder = self.recorder
        return StatusData(
            source=self.description,
            interval=state.interval,
            max_stats=self.max_stats,
            phase=state.phase,
            shown=len(result.rows) if result else 0,
            total=result.total if result else 0,
            sort=self.sort_title(),
            filter=self.flow_filter.expression,
            since_update=since,
            latency=state.last_latency if self.replay is None else None,
            error=str(state.last_error) if state.last_error and state.stale else "",
            retry_in=retry_in,
            notice="; ".join(part for part in (self.position, self.notice) if part),
            groups=self.grouping is not None,
            capped=self.store.capped,
            mode=self.mode(),
            recording=self.recording_name(),
            recording_failed=recorder is not None and not recorder.active,
            paired=result.paired if result is not None and self.grouping is None else None,
            grouped=_grouped_flows(result) if self.grouping is not None else None,
        )

    def recording_name(self) -> str:
        recorder = self.recorder
        if recorder is None or self.replay is not None:
            return ""
        return os.path.basename(recorder.path) or recorder.path

    def mode(self) -> str:
        """``REPLAY 2x 15/120`` while replaying, else empty."""
        replay = self.replay
        if replay is None:
            return ""
        text = f"REPLAY {replay.speed:g}x"
        if self._replay_position is not None:
            number, count = self._replay_position
            text += f" {number}/{count}" if count > 0 else f" {number}"
        return text

    def sort_title(self) -> str:
        arrow = glyphs.current().sort_mark(self.sort.descending)
        for column in self.columns:
            if column.id == self.sort.column:
                return f"{column.title}{arrow}"
        try:
            return f"{resolve_column(self.sort.column).title}{arrow}"
        except UsageError:
            return f"{RATE_TITLE}{arrow}"

    def now(self) -> float:
        """Now, or in a replay the time of the poll shown."""
        if self.replay is not None and self.poll_state.last_success_at is not None:
            return self.poll_state.last_success_at
        return self.clock()

    def events(self) -> list[FlowEvent]:
        """Every kept event in poll order: the store keeps top-N changes apart."""
        store = self.store
        return list(heapq.merge(store.events, store.top_changes, key=attrgetter("poll")))

    def failovers(self) -> list[Failover]:
        return list(self.store.failovers)

    def sample_times(self, record: FlowRecord) -> list[float]:
        """When each of ``record``'s history samples was taken (its sparklines' times)."""
        return self.store.sample_times(record)

    # ---- commands: columns ----------------------------------------------------------

    def set_columns(self, columns: Sequence[str]) -> None:
        """Show these flow columns (ids, in order): the column chooser."""
        self.view.set_columns(columns)
        self.columns_chosen = tuple(columns) != tuple(DEFAULT_COLUMNS)

    # ---- commands: pairs ------------------------------------------------------------

    def set_pairs(self, on: bool) -> None:
        """One row per conversation (both directions), or one per flow."""
        self.pairs = on
        self.view.reset()
        if not on and self.sort.column in PAIR_COLUMN_IDS:
            self.sort = SortSpec()

    def toggle_pairs(self) -> bool:
        self.set_pairs(not self.pairs)
        return self.pairs

    # ---- commands: names ------------------------------------------------------------

    def set_host_names(self, on: bool) -> None:
        """Show host names (reverse DNS) instead of addresses, or not."""
        naming = self.naming
        if on and naming.resolver is None:
            naming.resolver = NameResolver()
        naming.hosts = on
        names.activate(naming.resolver)

    def toggle_host_names(self) -> bool:
        self.set_host_names(not self.naming.hosts)
        return self.naming.hosts

    def toggle_port_names(self) -> bool:
        self.naming.ports = not self.naming.ports
        return self.naming.ports

    @property
    def names_generation(self) -> int:
        """Moves when a name arrives: a view showing names redraws then."""
        resolver = self.naming.resolver
        return resolver.generation if resolver is not None and self.naming.hosts else 0

    def resolve_shown(self, timeout: float | None = None) -> bool:
        """Look up the addresses of the rows last computed and wait for them, at most
        ``timeout`` seconds (the resolver's time limit): ``--once --resolve``."""
        resolver = self.naming.resolver
        result = self.last_result
        if resolver is None or not self.naming.hosts or result is None:
            return True
        # The rows shown first, then every flow's: a filter on names needs them all.
        resolver.request(self._row_addresses(result.rows))
        resolver.request(self._key_addresses(self.store.records))
        return resolver.wait(resolver.timeout if timeout is None else timeout)

    @staticmethod
    def _key_addresses(keys: Iterable[FlowKey]) -> list[str]:
        seen: dict[str, None] = {}
        for key in keys:
            seen[key.src_ip] = None
            seen[key.dest_ip] = None
        seen.pop("", None)
        return list(seen)

    @staticmethod
    def _row_addresses(rows: Sequence[Row]) -> list[str]:
        """The addresses of flow rows, in order, once each (a key holds them as text)."""
        seen: dict[str, None] = {}
        for row in rows:
            key = row.key
            if isinstance(key, FlowKey):
                seen[key.src_ip] = None
                seen[key.dest_ip] = None
            elif key.grouping in HOST_GROUPINGS:
                seen[key.value] = None
        seen.pop("", None)
        return list(seen)

    def close(self) -> None:
        """Stop the background lookups."""
        resolver = self.naming.resolver
        if resolver is not None:
            resolver.close()
            if names.active() is resolver:
                names.activate(None)

    # ---- commands: filter, sort, grouping, drill ------------------------------------

    def set_filter(self, flow_filter: FlowFilter) -> None:
        self.flow_filter = flow_filter

    def clear_filter(self) -> None:
        self.flow_filter = MATCH_ALL

    def sort_for(self, column_id: str) -> SortSpec:
        """The natural sort for a shown column: numbers descending, text ascending."""
        for column in self.columns:
            if column.id == column_id:
                return SortSpec(column.id, column.numeric)
        return SortSpec.parse(column_id)

    def sort_applies(self, column_id: str) -> bool:
        """Groups sort only by their own columns (no age, no endpoints)."""
        return self.grouping is None or any(c.id == column_id for c in self.columns)

    def set_sort(self, sort: SortSpec) -> None:
        self.sort = sort

    def sort_by(self, column_id: str) -> str | None:
        """Sort by a column (again: the other way round); the reason when it cannot."""
        wanted = self.sort_for(column_id)
        if not self.sort_applies(wanted.column):
            return f"groups have no {resolve_column(wanted.column).title} to sort by"
        self.sort = self.sort.inverted() if wanted.column == self.sort.column else wanted
        self._show_sorted_column()
        return None

    def _show_sorted_column(self) -> None:
        """Sorting by a flow column that is not among the chosen ones (``--columns``)
        adds it at the end: rows in an order nobody can see read as disorder."""
        if self.grouping is not None or self.sort.column in PAIR_COLUMN_IDS:
            return
        ids = [column.id for column in self.view.columns]
        if self.sort.column not in ids:
            self.set_columns([*ids, self.sort.column])

    def invert_sort(self) -> None:
        self.sort = self.sort.inverted()

    def set_grouping(self, grouping: Grouping | None) -> None:
        """Group the flows (None: show flows); keeps the drill stack."""
        was_grouped = self.grouping is not None
        self.grouping = grouping
        self.view.reset()
        if grouping is not None and not was_grouped:
            self._flow_sort = self.sort
        if not self.sort_applies(self.sort.column):
            # Groups have no age or endpoints: sort them by rate meanwhile.
            self.sort = SortSpec()
        if grouping is None and self.sort.column in ("group", "flows", "top"):
            self.sort = self._flow_sort

    def group_by(self, grouping: Grouping | None) -> None:
        """A grouping chosen by the user: drill-downs are forgotten."""
        self._drill_stack.clear()
        self.set_grouping(grouping)

    def cycle_grouping(self) -> None:
        current = self.grouping.id if self.grouping else None
        cycle = self.group_cycle
        index = cycle.index(current) if current in cycle else 0
        following = cycle[(index + 1) % len(cycle)]
        self.group_by(resolve_grouping(following) if following else None)

    @property
    def drilled(self) -> bool:
        return bool(self._drill_stack)

    def drill(self, row: Row) -> bool:
        """Into a group row: its flows, filtered by the group's value.  False for a flow."""
        group = row.group
        if group is None or self.grouping is None:
            return False
        self._drill_stack.append((self.grouping, self.flow_filter))
        expression = f"{self.flow_filter.expression} {group.grouping.drill_filter(group.value)}"
        self.flow_filter = compile_filter(expression.strip())
        self.set_grouping(None)
        return True

    def back(self) -> bool:
        """Back out of a drill-down, else group mode, else the filter; False if none."""
        if self._drill_stack:
            grouping, flow_filter = self._drill_stack.pop()
            self.flow_filter = flow_filter
            self.set_grouping(grouping)
        elif self.grouping is not None:
            self.set_grouping(None)
        elif not self.flow_filter.is_empty:
            self.clear_filter()
        else:
            return False
        return True

    # ---- commands: polling ---------------------------------------------------------

    def pause(self) -> None:
        self.poll_state.set_paused(True)

    def resume(self) -> None:
        self.poll_state.set_paused(False)
        if self.replay is not None and self.replay.at_end:
            self.notice = ""

    def toggle_pause(self) -> None:
        if self.poll_state.paused:
            self.resume()
        else:
            self.pause()

    def retry(self) -> None:
        """Poll again after an authentication stop (the user asked for it)."""
        self.poll_state.retry_after_stop()

    def set_interval(self, seconds: float) -> None:
        self.poll_state.interval = clamp_interval(seconds)

    def slower(self) -> None:
        self.set_interval(next_interval(self.poll_state.interval, faster=False))

    def faster(self) -> None:
        self.set_interval(next_interval(self.poll_state.interval, faster=True))

    def cycle_max_stats(self) -> None:
        choices = list(MAX_STATS_CHOICES)
        index = choices.index(self.max_stats) if self.max_stats in choices else -1
        self.max_stats = choices[(index + 1) % len(choices)]

    # ---- replay stepping -------------------------------------------------------------

    def step_target(self, delta: int) -> int:
        """Pause, and the poll ``delta`` away from the one shown (or from the one a
        step still under way goes to: keys pressed faster than polls add up)."""
        replay = self.replay
        if replay is None:
            raise UsageError("[ and ] step through a replay (--replay FILE)")
        self.pause()
        start = self._replay_target if self._replay_target is not None else replay.position
        target = max(0, min(replay.count - 1, start + delta))
        self._replay_target = target
        return target

    async def step(self, delta: int) -> None:
        await self.replay_to(self.step_target(delta))

    async def replay_to(self, target: int) -> None:
        """Show poll ``target``; going back rebuilds the store from shortly before it."""
        replay = self.replay
        assert replay is not None
        if target < replay.position:
            async with self._applying:
                await self._rebuild(replay, target)
        replay.seek(target)
        await self.poll(replay)
        if self._replay_target == target:
            self._replay_target = None

    async def _rebuild(self, replay: ReplaySource, target: int) -> None:
        """The store as it was just before poll ``target``, from shortly before it."""
        self.store.clear()
        self.view.reset()
        start = max(0, target - REPLAY_REBUILD_POLLS)
        replay.seek(start)
        for _ in range(target - start):
            try:
                snapshot = await replay.fetch(self.max_stats)
            except FlowtopError:
                continue  # a damaged poll on the way: the target is what matters
            self.store.apply(snapshot.flows, snapshot.received_at, capped=snapshot.capped())
            self.counters.after_poll(self.store)


def _grouped_flows(result: ViewResult | None) -> int | None:
    """The flows in the groups of a grouped view."""
    if result is None:
        return None
    return sum(row.group.count for row in result.rows if row.group is not None)


async def run_polls(
    source: FlowSource,
    monitor: Monitor,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    wake: asyncio.Event | None = None,
    count: int | None = None,
    duration: float | None = None,
    on_poll: Callable[[Snapshot | FlowtopError], None] | None = None,
    on_frame: Callable[[Frame], None] | None = None,
    wait_for_wake: Callable[[asyncio.Event, float], Awaitable[object]] | None = None,
) -> int:
    """Poll ``source`` into ``monitor``, one request at a time; returns the attempts.

    After each attempt ``on_poll`` hears its outcome and ``on_frame`` gets a fresh
    frame.  The next poll follows at the interval (a slow answer delays it), after
    failures with the poller's backoff (and an appliance's Retry-After), in a replay
    at the recorded pace.  ``wake`` (set by a command) cuts a wait short.  The loop
    ends after ``count`` attempts, after ``duration`` seconds, when the monitor is
    :attr:`~Monitor.done`, or (without ``wake``, so nothing can resume it) when it
    may not poll any more: paused, or stopped by refused credentials.
    """
    start = clock()
    deadline = None if duration is None else start + duration
    attempts = 0
    while not monitor.done and (count is None or attempts < count):
        began = clock()
        if deadline is not None and began >= deadline:
            break
        outcome: Snapshot | FlowtopError | None = None
        if monitor.poll_state.may_poll:
            attempts += 1
            outcome = await monitor.poll(source)
        elif wake is None:
            break
        last = monitor.done or (count is not None and attempts >= count)
        wait = 0.0
        if not last:
            # Before the frame, so that it tells when the next try is due.
            wait = monitor.next_wait(clock() - began)
            monitor.next_poll_at = monitor.clock() + wait
        if outcome is not None:
            if on_poll is not None:
                on_poll(outcome)
            if on_frame is not None:
                on_frame(monitor.frame())
            else:
                monitor.take_messages()  # nobody to tell: do not keep them
        if last:
            break
        if wake is None:
            if not monitor.poll_state.may_poll:
                break
            if deadline is not None and clock() + wait >= deadline:
                break
            await sleep(wait)
            continue
        await (wait_for_wake or _wait_or_wake)(wake, wait)
        wake.clear()
    return attempts


async def _wait_or_wake(wake: asyncio.Event, seconds: float) -> None:
    """Until ``wake`` is set, or ``seconds`` have passed."""
    try:
        await asyncio.wait_for(wake.wait(), timeout=seconds)
    except TimeoutError:
        pass
