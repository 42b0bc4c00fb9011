"""y: a flow as a filter expression that parses back to exactly that flow."""

from __future__ import annotations

import asyncio

from flowtop.core.copying import clipboard_refusal, flow_expression, row_expression
from flowtop.core.filter import compile_filter
from flowtop.core.groups import resolve_grouping
from flowtop.core.monitor import Monitor, run_polls
from flowtop.demo.faults import Faults
from flowtop.demo.pinned import ManualClock, PinnedDemoSource
from tests.core.factories import flow


def _key(flow_key: object) -> tuple[object, ...]:
    return tuple(flow_key)[:6]  # type: ignore[arg-type]


def test_the_expression_of_a_flow() -> None:
    assert flow_expression(flow(1)) == (
        'src:10.1.0.2 sport:40001 dst:192.0.2.10 dport:443 proto:tcp dir:"LAN to WAN"'
    )
    odd = flow(1, src_port="N/A", dest_ip="2001:db8::5", ipp="250", direction="")
    text = flow_expression(odd)
    assert text == "src:10.1.0.2 !sport~. dst:2001:db8::5 dport:443 proto:250 !dir~."
    assert compile_filter(text)(odd)
    assert not compile_filter(text)(flow(1))


def _demo_flows(faults: Faults | None = None) -> list:  # type: ignore[type-arg]
    async def run() -> list:  # type: ignore[type-arg]
        monitor = Monitor(max_stats=1000)
        source = PinnedDemoSource(ManualClock(), flows=1000, faults=faults, reverse_every=4)
        await run_polls(source, monitor, count=1)
        return [record.flow for record in monitor.store.records.values()]

    return asyncio.run(run())


def test_every_demo_flow_round_trips_to_exactly_its_key() -> None:
    flows = _demo_flows()
    assert len(flows) > 1000
    for one in flows[::7]:
        matcher = compile_filter(flow_expression(one))
        matched = {_key(other.key) for other in flows if matcher(other)}
        assert matched == {_key(one.key)}, flow_expression(one)


def test_hostile_text_round_trips_too() -> None:
    flows = _demo_flows(Faults(hostile_text=True))
    for one in flows[::5]:
        matcher = compile_filter(flow_expression(one))
        assert matcher(one), flow_expression(one)
        matched = {_key(other.key) for other in flows if matcher(other)}
        assert matched == {_key(one.key)}


def test_a_group_row_copies_its_drill_down() -> None:
    monitor = Monitor(group_by="application")
    monitor.store.apply([flow(1), flow(2)], 1.0)
    (row,) = monitor.frame().rows
    assert row_expression(row) == "app:Office365"
    assert resolve_grouping("app").id == "application"


def test_when_the_clipboard_is_not_tried() -> None:
    assert clipboard_refusal({"TERM": "xterm-256color"}) is None
    in_tmux = {"TERM": "screen", "TMUX": "/tmp/x"}
    assert clipboard_refusal(in_tmux, tmux_option=lambda: "on") is None
    # tmux's default (external) ignores the sequence from programs: say so, not "copied".
    refusal = clipboard_refusal(in_tmux, tmux_option=lambda: "external") or ""
    assert "set-clipboard external" in refusal and "set -g set-clipboard on" in refusal
    # tmux does not answer (not found, too slow): try.
    assert clipboard_refusal(in_tmux, tmux_option=lambda: None) is None
    assert clipboard_refusal(in_tmux, True, tmux_option=lambda: "off") is None
    assert "linux" in (clipboard_refusal({"TERM": "linux"}) or "")
    assert clipboard_refusal({"TERM": "dumb"}) is not None
    assert clipboard_refusal({}) is not None
    assert clipboard_refusal({"TERM": "screen.xterm-256color"}) is not None
    assert clipboard_refusal({"TERM": "xterm", "TERM_PROGRAM": "Apple_Terminal"}) is not None
    assert clipboard_refusal({"TERM": "xterm"}, False) is not None
    assert clipboard_refusal({"TERM": "linux"}, True) is None


def test_a_fleet_flow_copies_its_appliance_and_matches_it_alone() -> None:
    """The same 5-tuple at two appliances (the all-flows view): the copy names which."""
    from flowtop.core.filter import compile_filter
    from flowtop.core.store import FlowStore

    austin, boston = flow(1), flow(1)
    FlowStore(appliance="austin").apply([austin], 1.0)
    FlowStore(appliance="boston").apply([boston], 1.0)
    expression = flow_expression(austin)
    assert expression.startswith("appliance:austin ")
    matcher = compile_filter(expression)
    assert matcher.matches(austin) and not matcher.matches(boston)
