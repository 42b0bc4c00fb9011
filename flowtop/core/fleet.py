"""A fleet: several appliances in one flowtop, each its own :class:`Monitor`.

Every appliance keeps its own login, cookie, backoff and authentication stop (its
source and its monitor are its own), so a refused password, a dead appliance or a slow
one never delays the others.  They share one event loop and a bound on the requests in
flight (:class:`FleetPolicy.concurrency`), each polling on its own timer.

Adaptive rates: the appliance whose flow view is open polls at the interval and
``max_stats`` it was given; the others at the fleet's background interval and
``max_stats`` (10 s and 100 by default), so a hundred branches cost little while one is
looked at closely.

Headless, one-shot and live modes all run :meth:`Fleet.run`, which runs the one poll
loop of a single appliance (:func:`flowtop.core.monitor.run_polls`) for each member.
Nothing here imports textual.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from flowtop.core.errors import FlowtopError
from flowtop.core.model import Flow
from flowtop.core.monitor import Monitor, run_polls
from flowtop.core.pairs import asymmetric
from flowtop.core.poller import PollPhase
from flowtop.core.source import FlowSource, Snapshot

DEFAULT_BACKGROUND_INTERVAL: Final = 10.0
DEFAULT_BACKGROUND_MAX_STATS: Final = 100
DEFAULT_CONCURRENCY: Final = 16
# Total rates kept per appliance for the fleet screen's sparkline.
RATE_SAMPLES: Final = 60

LAN_TO_WAN: Final = "LAN to WAN"
WAN_TO_LAN: Final = "WAN to LAN"


@dataclass(frozen=True, slots=True)
class FleetPolicy:
    """How a fleet polls the appliances whose flow view is not open."""

    background_interval: float = DEFAULT_BACKGROUND_INTERVAL
    background_max_stats: int = DEFAULT_BACKGROUND_MAX_STATS
    concurrency: int = DEFAULT_CONCURRENCY


class BoundedSource:
    """A source whose fetches wait their turn: at most N requests in flight per fleet."""

    def __init__(self, inner: FlowSource, slots: asyncio.Semaphore) -> None:
        self.inner = inner
        self._slots = slots

    @property
    def description(self) -> str:
        return self.inner.description

    async def fetch(self, max_stats: int) -> Snapshot:
        async with self._slots:
            return await self.inner.fetch(max_stats)

    async def close(self) -> None:
        await self.inner.close()


class Member:
    """One appliance of the fleet: its name (the profile's), source and monitor."""

    def __init__(self, name: str, source: FlowSource, monitor: Monitor) -> None:
        self.name = name
        self.source = source
        self.monitor = monitor
        # Its flows, their keys and its recorded polls carry its name.
        monitor.appliance = monitor.store.appliance = name
        # Its own rates, for when its flow view is open.
        self.interval = monitor.poll_state.interval
        self.max_stats = monitor.max_stats
        self.foreground = False
        # Set to poll now (a command, a change of rate): cuts the wait short.
        self.wake = asyncio.Event()
        self.rates: deque[float] = deque(maxlen=RATE_SAMPLES)
        self.polls = 0

    @property
    def description(self) -> str:
        return self.source.description

    def polled(self, outcome: Snapshot | FlowtopError) -> None:
        self.polls += 1
        if isinstance(outcome, Snapshot):
            self.rates.append(sum(flow.customer_kbps or 0.0 for flow in outcome.flows))


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """One row of the fleet screen: an appliance at a glance."""

    name: str
    source: str
    state: str
    reason: str
    flows: int
    capped: int | None
    pps: float
    kbps: float
    lan_to_wan_kbps: float
    wan_to_lan_kbps: float
    top_application: str
    busiest_path: str
    since_failover: float | None
    latency: float | None
    rates: tuple[float, ...]
    foreground: bool
    interval: float
    max_stats: int
    # It has answered at least once: its figures are data, not zeros for want of any.
    answered: bool = True


@dataclass(frozen=True, slots=True)
class OtherEnd:
    """The same conversation seen by another appliance of the fleet."""

    appliance: str
    flow: Flow
    # The other end marks it with another DSCP (re-marking on the way).
    dscp_differs: bool
    # The other end's path, as it names it.
    path: str
    # True when the two ends' paths use different WAN links: asymmetric routing.
    # None when either path is not of the form "A->B".
    asymmetric: bool | None


def conversation_key(flow: Flow) -> tuple[object, ...] | None:
    """The same for both directions of a conversation and at both of its ends."""
    if flow.src_ip is None or flow.dest_ip is None:
        return None
    ends = sorted(
        ((str(flow.src_ip), flow.src_port or 0), (str(flow.dest_ip), flow.dest_port or 0))
    )
    return (*ends[0], *ends[1], (flow.protocol or "").upper())


def state_of(monitor: Monitor) -> tuple[str, str]:
    """The state word of an appliance (LIVE, STALE, STOPPED, PAUSED, CONNECTING, and
    REPLAY for a recording's), and why."""
    poll = monitor.poll_state
    reason = str(poll.last_error) if poll.last_error is not None else ""
    if poll.phase is PollPhase.STOPPED:
        return "STOPPED", reason
    if poll.paused or poll.phase is PollPhase.PAUSED:
        return "PAUSED", ""
    if monitor.replay is not None and poll.last_success_at is not None:
        return "REPLAY", ""
    if poll.phase is PollPhase.CONNECTING and poll.last_success_at is None:
        return ("STALE", reason) if reason else ("CONNECTING", "")
    if poll.stale:
        return "STALE", reason
    return "LIVE", ""


def summarize(member: Member, now: float) -> MemberSummary:
    """What the fleet screen shows of one appliance, from its store."""
    monitor = member.monitor
    flows = monitor.store.flows()
    pps = kbps = out_kbps = in_kbps = 0.0
    by_application: dict[str, float] = {}
    by_path: dict[str, float] = {}
    for flow in flows:
        rate = flow.customer_kbps or 0.0
        pps += flow.pps or 0.0
        kbps += rate
        if flow.direction == LAN_TO_WAN:
            out_kbps += rate
        elif flow.direction == WAN_TO_LAN:
            in_kbps += rate
        if flow.application:
            by_application[flow.application] = by_application.get(flow.application, 0.0) + rate
        if flow.path:
            by_path[flow.path] = by_path.get(flow.path, 0.0) + rate
    failovers = monitor.failovers()
    state, reason = state_of(monitor)
    return MemberSummary(
        name=member.name,
        source=member.description,
        state=state,
        reason=reason,
        flows=len(flows),
        capped=monitor.store.capped,
        pps=pps,
        kbps=kbps,
        lan_to_wan_kbps=out_kbps,
        wan_to_lan_kbps=in_kbps,
        top_application=_top(by_application),
        busiest_path=_top(by_path),
        since_failover=max(0.0, now - failovers[-1].at) if failovers else None,
        latency=monitor.poll_state.last_latency,
        rates=tuple(member.rates),
        foreground=member.foreground,
        interval=monitor.poll_state.interval,
        max_stats=monitor.max_stats,
        answered=monitor.poll_state.last_success_at is not None,
    )


def _top(totals: dict[str, float]) -> str:
    return max(totals, key=totals.__getitem__) if totals else ""


PollListener = Callable[[Member, Snapshot | FlowtopError], None]


class Fleet:
    """The appliances of one flowtop session, in profile order."""

    def __init__(self, members: Sequence[Member], policy: FleetPolicy | None = None) -> None:
        if not members:
            raise ValueError("a fleet needs at least one appliance")
        names = [member.name for member in members]
        if len(set(names)) != len(names):
            raise ValueError(f"two appliances of a fleet share a name: {names}")
        self.members = list(members)
        self.policy = policy or FleetPolicy()
        self._by_name = {member.name: member for member in self.members}
        self.open_name: str | None = None
        # Conversation key -> (appliance, flow), rebuilt after polls (see other_ends).
        self._conversations: dict[tuple[object, ...], list[tuple[str, Flow]]] | None = None
        self._generation = -1
        for member in self.members:
            self._set_rates(member, foreground=False)

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, name: str) -> Member:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [member.name for member in self.members]

    def open(self, name: str | None) -> None:
        """Open ``name``'s flow view (None: back to the fleet screen): it polls at its own
        rate from now on, the one open before goes back to the background rate."""
        if name is not None and name not in self._by_name:
            raise KeyError(name)
        if name == self.open_name:
            return
        before = self._by_name.get(self.open_name) if self.open_name is not None else None
        self.open_name = name
        if before is not None:
            self._set_rates(before, foreground=False)
        if name is not None:
            member = self._by_name[name]
            self._set_rates(member, foreground=True)
            # Its flows at full detail now, not at the next background poll.
            member.wake.set()

    def full_detail(self) -> None:
        """Every appliance at its own interval and max_stats: a one-shot run or a stream
        looks at all of them at once, none in the background."""
        for member in self.members:
            self._set_rates(member, foreground=True)

    def _set_rates(self, member: Member, *, foreground: bool) -> None:
        member.foreground = foreground
        monitor = member.monitor
        if foreground:
            monitor.set_interval(member.interval)
            monitor.max_stats = member.max_stats
        else:
            monitor.set_interval(max(member.interval, self.policy.background_interval))
            monitor.max_stats = min(member.max_stats, self.policy.background_max_stats)

    def summaries(self, now: float | None = None) -> list[MemberSummary]:
        at = time.time() if now is None else now
        return [summarize(member, at) for member in self.members]

    def other_ends(self, name: str, flow: Flow) -> list[OtherEnd]:
        """The same conversation as ``flow`` (of appliance ``name``) at the others."""
        key = conversation_key(flow)
        if key is None:
            return []
        found = []
        for appliance, other in self._conversation_index().get(key, ()):
            if appliance == name:
                continue
            found.append(
                OtherEnd(
                    appliance=appliance,
                    flow=other,
                    dscp_differs=bool(flow.ip_dscp and other.ip_dscp)
                    and flow.ip_dscp != other.ip_dscp,
                    path=other.path or "",
                    asymmetric=asymmetric(flow.path, other.path),
                )
            )
        return found

    def _conversation_index(self) -> dict[tuple[object, ...], list[tuple[str, Flow]]]:
        # Rebuilt when any appliance has polled since: polls are far rarer than lookups.
        generation = sum(member.polls for member in self.members)
        if self._conversations is None or generation != self._generation:
            index: dict[tuple[object, ...], list[tuple[str, Flow]]] = {}
            for member in self.members:
                for flow in member.monitor.store.flows():
                    key = conversation_key(flow)
                    if key is not None:
                        index.setdefault(key, []).append((member.name, flow))
            self._conversations = index
            self._generation = generation
        return self._conversations

    async def run(
        self,
        *,
        live: bool = True,
        count: int | None = None,
        duration: float | None = None,
        on_poll: PollListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        wait_for_wake: Callable[[asyncio.Event, float], Awaitable[object]] | None = None,
    ) -> dict[str, int]:
        """Poll every appliance, each on its own timer, at most ``concurrency`` requests
        in flight; returns the attempts per appliance.

        ``live``: a command may wake an appliance (its :attr:`Member.wake`); otherwise
        an appliance's loop ends when it may not poll any more (refused credentials).
        ``count`` and ``duration`` bound each appliance's loop as in ``run_polls``.
        """
        slots = asyncio.Semaphore(max(1, self.policy.concurrency))

        async def one(member: Member) -> int:
            def heard(outcome: Snapshot | FlowtopError) -> None:
                member.polled(outcome)
                if on_poll is not None:
                    on_poll(member, outcome)

            return await run_polls(
                BoundedSource(member.source, slots),
                member.monitor,
                clock=clock,
                sleep=sleep,
                wake=member.wake if live else None,
                count=count,
                duration=duration,
                on_poll=heard,
                wait_for_wake=wait_for_wake,
            )

        # A task group, not gather: cancelled (the app quits), it cancels every
        # appliance's loop and waits for them, so none is left pending.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(member)) for member in self.members]
        return {
            member.name: task.result() for member, task in zip(self.members, tasks, strict=True)
        }

    async def close(self) -> None:
        """Close every source (each logs out), at once: a slow one does not hold the rest."""
        await asyncio.gather(
            *(member.source.close() for member in self.members), return_exceptions=True
        )


def fleet_of(
    members: Iterable[tuple[str, FlowSource, Monitor]], policy: FleetPolicy | None = None
) -> Fleet:
    return Fleet([Member(name, source, monitor) for name, source, monitor in members], policy)
