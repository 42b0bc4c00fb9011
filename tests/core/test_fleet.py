"""The fleet core: appliances polled side by side, each on its own, within one bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import pytest

from flowtop.core.errors import AuthenticationError, ConnectError
from flowtop.core.fleet import (
    BoundedSource,
    Fleet,
    FleetPolicy,
    Member,
    asymmetric,
    conversation_key,
    fleet_of,
    state_of,
)
from flowtop.core.model import Flow
from flowtop.core.monitor import Monitor
from flowtop.core.source import Snapshot
from tests.core.factories import flow


class Scripted:
    """A source answering ``flows`` each fetch, after ``delay`` seconds, or raising."""

    def __init__(
        self,
        name: str,
        flows: Sequence[Flow] = (),
        *,
        delay: float = 0.0,
        error: Exception | None = None,
        gauge: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self.flows = list(flows)
        self.delay = delay
        self.error = error
        self.gauge = gauge
        self.asked: list[int] = []
        self.closed = False

    @property
    def description(self) -> str:
        return f"viewer@{self.name}"

    async def fetch(self, max_stats: int) -> Snapshot:
        self.asked.append(max_stats)
        if self.gauge is not None:
            self.gauge(+1)
        try:
            await asyncio.sleep(self.delay)
        finally:
            if self.gauge is not None:
                self.gauge(-1)
        if self.error is not None:
            raise self.error
        return Snapshot(
            flows=list(self.flows), received_at=time.time(), latency=0.01, max_stats=max_stats
        )

    async def close(self) -> None:
        self.closed = True


def _monitor(interval: float = 1.0, max_stats: int = 1000) -> Monitor:
    return Monitor(interval=interval, max_stats=max_stats)


def _fleet(*sources: Scripted, policy: FleetPolicy | None = None) -> Fleet:
    return fleet_of(((source.name, source, _monitor()) for source in sources), policy)


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


async def test_a_refused_password_stops_that_appliance_alone() -> None:
    good = Scripted("dc", [flow(1), flow(2)])
    refused = Scripted("austin", error=AuthenticationError("authentication failed: refused"))
    fleet = _fleet(good, refused)
    attempts = await fleet.run(live=False, count=3, sleep=_no_wait)
    # The refused one tried once and stopped (no account lockout by retries).
    assert attempts == {"dc": 3, "austin": 1}
    states = {summary.name: summary.state for summary in fleet.summaries()}
    assert states == {"dc": "LIVE", "austin": "STOPPED"}
    reasons = {summary.name: summary.reason for summary in fleet.summaries()}
    assert "refused" in reasons["austin"] and reasons["dc"] == ""


async def test_a_slow_appliance_does_not_delay_the_others() -> None:
    slow = Scripted("slow", [flow(1)], delay=30.0)
    fast = Scripted("fast", [flow(2)])
    fleet = _fleet(slow, fast)
    task = asyncio.create_task(fleet.run(live=False, count=5, sleep=_no_wait))
    for _ in range(200):
        await asyncio.sleep(0)
        if fleet["fast"].polls == 5:
            break
    assert fleet["fast"].polls == 5 and fleet["slow"].polls == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_requests_in_flight_stay_within_the_bound() -> None:
    flying = 0
    most = 0

    def gauge(change: int) -> None:
        nonlocal flying, most
        flying += change
        most = max(most, flying)

    sources = [Scripted(f"b{n}", [flow(n)], delay=0.01, gauge=gauge) for n in range(12)]
    fleet = _fleet(*sources, policy=FleetPolicy(concurrency=3))
    attempts = await fleet.run(live=False, count=2, sleep=_no_wait)
    assert set(attempts.values()) == {2}
    assert most == 3


async def test_the_open_appliance_polls_at_its_rate_the_others_in_the_background() -> None:
    dc, austin = Scripted("dc", [flow(1)]), Scripted("austin", [flow(2)])
    fleet = _fleet(dc, austin, policy=FleetPolicy(background_interval=10, background_max_stats=100))
    for member in fleet.members:
        assert (member.monitor.poll_state.interval, member.monitor.max_stats) == (10.0, 100)
        assert not member.foreground
    fleet.open("austin")
    assert fleet["austin"].wake.is_set()
    assert (fleet["austin"].monitor.poll_state.interval, fleet["austin"].monitor.max_stats) == (
        1.0,
        1000,
    )
    await fleet.run(live=False, count=1, sleep=_no_wait)
    assert austin.asked == [1000] and dc.asked == [100]
    fleet.open("dc")
    assert fleet["austin"].monitor.max_stats == 100 and fleet["dc"].monitor.max_stats == 1000
    summaries = {summary.name: summary for summary in fleet.summaries()}
    assert summaries["dc"].foreground and not summaries["austin"].foreground
    fleet.open(None)
    assert not any(member.foreground for member in fleet.members)
    with pytest.raises(KeyError):
        fleet.open("nowhere")


async def test_a_summary_adds_up_the_appliances_flows() -> None:
    flows = [
        flow(1, customer_kbps="100", pps="10", application="Zoom", path="A->B"),
        flow(2, customer_kbps="300", pps="20", application="SAP", path="A->C"),
        flow(
            3,
            customer_kbps="50",
            pps="5",
            application="Zoom",
            path="A->B",
            direction="WAN to LAN",
        ),
    ]
    fleet = _fleet(Scripted("dc", flows))
    await fleet.run(live=False, count=2, sleep=_no_wait)
    (summary,) = fleet.summaries()
    assert summary.flows == 3 and summary.kbps == 450 and summary.pps == 35
    assert (summary.lan_to_wan_kbps, summary.wan_to_lan_kbps) == (400, 50)
    assert summary.top_application == "SAP" and summary.busiest_path == "A->C"
    assert summary.rates == (450.0, 450.0) and summary.source == "viewer@dc"
    assert summary.latency == pytest.approx(0.01)


async def test_a_failing_appliance_is_stale_with_its_reason_and_keeps_its_flows() -> None:
    source = Scripted("dc", [flow(1)])
    fleet = _fleet(source)
    await fleet.run(live=False, count=1, sleep=_no_wait)
    source.error = ConnectError("cannot connect to dc: connection refused")
    await fleet.run(live=False, count=1, sleep=_no_wait)
    state, reason = state_of(fleet["dc"].monitor)
    assert state == "STALE" and "connection refused" in reason
    assert fleet.summaries()[0].flows == 1


async def test_the_other_end_of_a_conversation_is_found_with_re_marking() -> None:
    dc_side = flow(
        2,
        src_ip="10.1.0.9",
        src_port="443",
        dest_ip="10.40.0.5",
        dest_port="50000",
        ip_dscp="default",
        path="DC-MPLS->Austin-MPLS",
    )
    branch_side = flow(
        1,
        src_ip="10.40.0.5",
        src_port="50000",
        dest_ip="10.1.0.9",
        dest_port="443",
        ip_dscp="af21",
        path="Austin-MPLS->DC-MPLS",
    )
    unrelated = flow(3)
    fleet = _fleet(Scripted("dc", [dc_side, unrelated]), Scripted("austin", [branch_side]))
    await fleet.run(live=False, count=1, sleep=_no_wait)
    assert conversation_key(dc_side) == conversation_key(branch_side)
    (other,) = fleet.other_ends("austin", branch_side)
    assert other.appliance == "dc" and other.path == "DC-MPLS->Austin-MPLS"
    assert other.dscp_differs
    # Each end names the path from its side: the same two links.
    assert other.asymmetric is False
    assert fleet.other_ends("dc", unrelated) == []


async def test_closing_the_fleet_closes_every_source() -> None:
    sources = [Scripted("dc"), Scripted("austin")]
    fleet = _fleet(*sources)
    await fleet.close()
    assert all(source.closed for source in sources)


def test_a_fleet_needs_distinct_names() -> None:
    with pytest.raises(ValueError):
        Fleet([])
    with pytest.raises(ValueError):
        _fleet(Scripted("dc"), Scripted("dc"))


async def test_a_bounded_source_is_its_inner_source_with_a_turn() -> None:
    inner = Scripted("dc", [flow(1)])
    bounded = BoundedSource(inner, asyncio.Semaphore(1))
    assert bounded.description == "viewer@dc"
    snapshot = await bounded.fetch(50)
    assert len(snapshot.flows) == 1 and inner.asked == [50]
    member = Member("dc", bounded, _monitor())
    member.polled(snapshot)
    assert member.rates[-1] == pytest.approx(8.0)


def test_paths_are_asymmetric_when_not_each_others_reverse() -> None:
    assert asymmetric("DC-MPLS->Austin-MPLS", "Austin-MPLS->DC-MPLS") is False
    # Named in the direction of the traffic at both ends: the same links.
    assert asymmetric("DC-MPLS->Austin-MPLS", "DC-MPLS->Austin-MPLS") is False
    assert asymmetric("DC-MPLS->Austin-MPLS", "Austin-INET->DC-INET") is True
    assert asymmetric("DC-INET", "Austin-INET->DC-INET") is None
    assert asymmetric(None, "A->B") is None
