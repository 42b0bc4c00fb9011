"""Deterministic scenes of the app: the screenshots and the snapshot tests draw these.

Each scene is an app on the pinned demo source plus the steps that bring it to
the state shown (polls, keys), so a scene looks the same on every machine.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any

from textual.pilot import Pilot

from flowtop.core.fleet import Fleet, FleetPolicy, Member
from flowtop.core.model import FlowKey
from flowtop.core.monitor import Monitor
from flowtop.core.names import NameResolver
from flowtop.core.recording import RecordedPoll, Recorder, Recording, ReplaySource
from flowtop.demo.faults import Faults
from flowtop.demo.fleet import demo_fleet
from flowtop.demo.names import demo_lookup
from flowtop.demo.pinned import ManualClock, PinnedDemoSource
from flowtop.demo.world import DemoWorld
from flowtop.tui.app import FlowTopApp


async def settle(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("the scene never reached its state")
        await pilot.pause(0.02)


async def poll(pilot: Pilot[Any], app: FlowTopApp, times: int = 1) -> None:
    """Poll now (the `r` key), ``times`` times, waiting for each to be applied."""
    for _ in range(times):
        target = app.monitor.attempts + 1
        await pilot.press("r")
        await settle(pilot, lambda: app.monitor.attempts >= target)  # noqa: B023
    await pilot.pause()


@dataclass(frozen=True)
class Scene:
    name: str
    title: str
    size: tuple[int, int]
    make: Callable[[], FlowTopApp]
    prepare: Callable[[Pilot[Any]], Awaitable[None]]


async def _commands_only(wake: asyncio.Event, seconds: float) -> None:
    """A scene polls when its steps say (the `r` key), never because time passed: the
    app keeps its default interval, as users see it, and every run draws the same."""
    await wake.wait()


def _app(*, faults: Faults | None = None, **options: Any) -> FlowTopApp:
    clock = ManualClock()
    source = PinnedDemoSource(clock, faults=faults)
    return FlowTopApp(
        source, clock=clock, handle_signals=False, wait_for_wake=_commands_only, **options
    )


def _source(app: FlowTopApp) -> PinnedDemoSource:
    source = app.source
    assert isinstance(source, PinnedDemoSource)
    return source


def _ascii_app() -> FlowTopApp:
    return _app(ascii_only=True)


async def _loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await settle(pilot, lambda: app.table.row_count > 0)
    await poll(pilot, app, 3)


async def _filtered(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("slash", *"app:zoom|*teams dir:lan*", "enter")
    await pilot.pause()


def _filter_bar(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """The filter bar left open after typing ``keys`` (and pressing them)."""

    async def prepare(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("slash", *keys)
        await pilot.pause()

    return prepare


async def _detail(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await settle(pilot, lambda: app.table.row_count > 0)
    # Forty simulated seconds: the demo's first WAN failover happens in them.
    await poll(pilot, app, 40)
    moved = [
        row.key
        for row in (app.last_result.rows if app.last_result else [])
        if isinstance(row.key, FlowKey)
        and (record := app.store.get(row.key)) is not None
        and record.path_changes
    ]
    if moved:
        app.table.select_key(moved[0])
    await pilot.pause()


async def _error(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await _loaded(pilot)
    _source(app).appliance.faults.status = 503
    await poll(pilot, app)


async def _refused(pilot: Pilot[Any]) -> None:
    """The password was changed on the appliance: the next log-in is refused."""
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await _loaded(pilot)
    appliance = _source(app).appliance
    appliance.password = "changed-on-the-appliance"
    appliance.expire_sessions()
    await poll(pilot, app)


async def _groups(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("g", "enter")
    await pilot.pause()


async def _group_picker(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("g")
    await pilot.pause()


async def _events(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await settle(pilot, lambda: app.table.row_count > 0)
    await poll(pilot, app, 40)
    await pilot.press("e")
    await pilot.pause()


# A flow whose values cannot be represented: each is shown as unreadable, not a number.
_ODD_FLOW = {
    "src_ip": "10.66.0.7",
    "src_port": 70000,
    "dest_ip": "192.0.2.80",
    "dest_port": 443,
    "ipp": 6,
    "direction": "LAN to WAN",
    "application": "video call \ud83d",
    "path": "\u202eDC-MPLS->Branch-LTE",
    "bytes": "1234567890" * 40 + "9",
    "packets": -3,
    "pps": 12.5,
    "customer_kbps": 96.0,
    "deep": [[[["..."]]]],
}


async def _odd_values(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await _loaded(pilot)
    appliance = _source(app).appliance
    document = json.loads(appliance.world.encode(20))
    document["flows"].append(_ODD_FLOW)
    appliance.faults.body = json.dumps(document).encode()
    await poll(pilot, app)
    rows = app.last_result.rows if app.last_result else []
    odd = [
        row.key for row in rows if isinstance(row.key, FlowKey) and row.key.src_ip == "10.66.0.7"
    ]
    if odd:
        app.table.select_key(odd[0])
    await pilot.pause()


async def _help(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


# ---- derived numbers: averages, measured rates, stale statistics, totals --------------

# iftop's windows, the peak and the rate measured from the counters beside the reported one.
NUMBERS_COLUMNS = (
    "src", "dst", "app", "kbps", "rate_2s", "rate_10s", "rate_40s", "rate_peak", "measured",
    "mismatch",
)  # fmt: skip


def _numbers_app() -> FlowTopApp:
    return _app(columns=NUMBERS_COLUMNS)


def _narrow_numbers_app() -> FlowTopApp:
    return _app(columns=("src", "dst", "rate", "rate_10s", "rate_40s", "measured"))


async def _numbers(pilot: Pilot[Any]) -> None:
    """Twelve polls a second apart: the 2 s and 10 s windows are covered, 40 s not yet."""
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await settle(pilot, lambda: app.table.row_count > 0)
    await poll(pilot, app, 12)


async def _stale_stats(pilot: Pilot[Any]) -> None:
    """The top flow's counters stop while the appliance keeps reporting its rate."""
    await _numbers(pilot)
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    source = _source(app)
    rows = app.last_result.rows if app.last_result else []
    key = rows[0].key if rows else None
    record = app.store.get(key) if isinstance(key, FlowKey) else None
    if isinstance(key, FlowKey) and record is not None:
        world = source.appliance.world
        world.advance_to(source.clock() + source.step)
        document = json.loads(world.encode(app.max_stats))
        for item in document["flows"]:
            if item.get("src_ip") == key.src_ip and item.get("src_port") == str(key.src_port):
                item["bytes"] = str(record.flow.bytes)
                item["packets"] = str(record.flow.packets)
        source.appliance.faults.body = json.dumps(document).encode()
        await poll(pilot, app)
        app.table.select_key(key)
    await pilot.pause()


async def _totals_filtered(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("slash", *"dir:wan*", "enter")


# ---- names, pairs, columns, copying -------------------------------------------------


def _named_app() -> FlowTopApp:
    return _app(resolver=NameResolver(demo_lookup))


async def _names(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await _loaded(pilot)
    await pilot.press("n", "N")
    resolver = app.monitor.naming.resolver
    assert resolver is not None
    await settle(pilot, lambda: resolver.wait(0))
    app._check_names()
    # The notices of the two keys are not what the scene shows.
    app.clear_notifications()
    await pilot.pause()


def _paired_app() -> FlowTopApp:
    clock = ManualClock()
    source = PinnedDemoSource(clock, reverse_every=3)
    return FlowTopApp(source, clock=clock, handle_signals=False, wait_for_wake=_commands_only)


async def _pairs(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await _loaded(pilot)
    await pilot.press("c")
    await pilot.pause()
    rows = app.last_result.rows if app.last_result else []
    # A conversation whose directions take different paths.
    uneven = [
        row.key
        for row in rows
        if row.partner is not None and row.partner.flow.path != row.flow.path
    ]
    if uneven:
        app.table.select_key(uneven[0])
    await pilot.pause()


async def _chooser(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("o", "down", "J", "end", "space")
    await pilot.pause()


async def _copied(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await _loaded(pilot)
    # The scene does not depend on the terminal the tests run in.
    app.clipboard_refusal = None
    await pilot.press("down", "y")
    await pilot.pause()


# ---- a fleet ------------------------------------------------------------------------


def fleet_app(refused: str = "boston", *, everything: bool = False) -> FlowTopApp:
    """The demo fleet's data centre and two branches, pinned on one manual clock;
    ``refused`` has had its password changed, so its log-in is refused.  ``everything``:
    the background polls fetch every flow (1000), so both ends of a conversation show."""
    clock = ManualClock()
    members = []
    for name, appliance in demo_fleet(7, clock, branches=2):
        # Time moves only when a scene moves it: the sites poll concurrently, and a
        # fetch that moved the shared clock would make their order show.
        source = PinnedDemoSource(clock, appliance=appliance, name=name, step=0.0)
        if name == refused:
            source.appliance.password = "changed-on-the-appliance"
        monitor = Monitor(description=name, clock=clock)
        members.append(Member(name, source, monitor))
    policy = FleetPolicy(background_max_stats=1000) if everything else None
    if everything:
        for member in members:
            member.max_stats = 1000
    return FlowTopApp(
        members[0].source,
        fleet=Fleet(members, policy),
        fleet_title="lab",
        clock=clock,
        handle_signals=False,
        wait_for_wake=_commands_only,
    )


def _fleet_both_ends_app() -> FlowTopApp:
    return fleet_app(refused="", everything=True)


async def _fleet_loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp) and app.fleet is not None
    fleet = app.fleet
    await settle(pilot, lambda: all(member.polls >= 1 for member in fleet.members))
    await pilot.pause(1.1)  # the fleet screen follows each second


async def _fleet_both_ends(pilot: Pilot[Any]) -> None:
    """austin's flow view, on a flow the data centre carries too."""
    await _fleet_opened(pilot)
    app = pilot.app
    assert isinstance(app, FlowTopApp) and app.fleet is not None
    fleet = app.fleet
    shared = [
        row.key
        for row in (app.last_result.rows if app.last_result else [])
        if isinstance(row.key, FlowKey)
        and (record := app.store.get(row.key)) is not None
        and any(
            end.dscp_differs or end.asymmetric for end in fleet.other_ends("austin", record.flow)
        )
    ]
    if not shared:
        shared = [
            row.key
            for row in (app.last_result.rows if app.last_result else [])
            if isinstance(row.key, FlowKey)
            and (record := app.store.get(row.key)) is not None
            and fleet.other_ends("austin", record.flow)
        ]
    if shared:
        app.table.select_key(shared[0])
    await pilot.pause()


async def _fleet_opened(pilot: Pilot[Any]) -> None:
    await _fleet_loaded(pilot)
    app = pilot.app
    assert isinstance(app, FlowTopApp) and app.fleet is not None
    # A second later austin's flow view opens, and it polls again.
    source = app.fleet["austin"].source
    assert isinstance(source, PinnedDemoSource)
    source.clock.advance(1.0)
    await pilot.press("2")
    member = app.fleet["austin"]
    await settle(pilot, lambda: app.table.row_count > 0 and member.polls >= 2)
    await pilot.pause()


async def _fleet_all_flows(pilot: Pilot[Any]) -> None:
    """a on the fleet screen: every appliance's flows, boston's log-in refused."""
    await _fleet_loaded(pilot)
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await pilot.press("a")
    await settle(pilot, lambda: app.table.row_count > 0)
    await pilot.pause()


async def _fleet_all_grouped(pilot: Pilot[Any]) -> None:
    """The all-flows view grouped by appliance (the first grouping g offers there)."""
    await _fleet_all_flows(pilot)
    await pilot.press("g", "enter")
    await pilot.pause()


# ---- modes: replay and recording ----------------------------------------------------


def _recording(polls: int, damage: str | None = None) -> Recording:
    """A recording of the pinned demo world, made in memory (no file)."""
    clock = ManualClock()
    world = DemoWorld(seed=7, flows=150, clock=clock)
    recorded = []
    for index in range(polls):
        # Polls 30 s apart: a replay at 2x shows each for 15 s, longer than a snapshot takes.
        clock.advance(30.0)
        world.advance_to(clock())
        recorded.append(RecordedPoll(index, clock(), 0.012, 100, world.encode(100)))
    header = {"flowtop_recording": 1, "source": "admin@branch-7", "max_stats": 100}
    return Recording(recorded, header, damage=damage, path="branch-7.jsonl.gz")


def _replay_app(start: int, damage: str | None = None) -> FlowTopApp:
    source = ReplaySource(_recording(20, damage), speed=2.0)
    source.seek(start)
    return FlowTopApp(
        source, clock=ManualClock(), handle_signals=False, wait_for_wake=_commands_only
    )


async def _replaying(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await settle(pilot, lambda: app.table.row_count > 0 and app.monitor.attempts >= 1)
    await pilot.pause()


class _MemoryRecorder(Recorder):
    """Records as the real one does, into memory: a scene leaves no file behind."""

    def _open(self) -> IO[bytes]:
        return io.BytesIO()


def _recording_app() -> FlowTopApp:
    return _app(recorder=_MemoryRecorder("branch-7-polls.jsonl.gz", source="admin@demo"))


SCENES: dict[str, Scene] = {
    scene.name: scene
    for scene in (
        Scene("main-80x24", "The main view at 80x24", (80, 24), _app, _loaded),
        Scene("main-160x45", "The main view at 160x45", (160, 45), _app, _loaded),
        Scene("filtered", "Filtered: app:zoom|*teams dir:lan*", (160, 45), _app, _filtered),
        Scene("filter-bar-empty", "The filter bar, open", (100, 30), _app, _filter_bar()),
        Scene(
            "filter-bar-valid",
            "The filter bar applying path:*INET* as typed",
            (100, 30),
            _app,
            _filter_bar(*"path:*INET* pps>10"),
        ),
        Scene(
            "filter-bar-invalid",
            "Enter on an invalid filter: the bar stays open with the error",
            (100, 30),
            _app,
            _filter_bar(*"app~(", "enter"),
        ),
        Scene("detail", "The detail pane with sparklines", (200, 50), _app, _detail),
        Scene("groups", "Grouped by application", (120, 32), _app, _groups),
        Scene("group-picker", "g: choose a grouping", (100, 30), _app, _group_picker),
        Scene(
            "events",
            "Failovers, path changes, flows appearing and ending",
            (140, 36),
            _app,
            _events,
        ),
        Scene("error", "The appliance answers 503: data kept, stale", (120, 30), _app, _error),
        Scene(
            "refused-80x24",
            "Log-in refused at 80x24: polling stops, the reason is kept",
            (80, 24),
            _app,
            _refused,
        ),
        Scene("help", "Every key", (100, 40), _app, _help),
        Scene(
            "fleet",
            "A fleet: one row per appliance, one refusing the log-in",
            (160, 20),
            fleet_app,
            _fleet_loaded,
        ),
        Scene(
            "fleet-80x24",
            "The fleet screen at 80x24: state, flows, rate and why",
            (80, 24),
            fleet_app,
            _fleet_loaded,
        ),
        Scene(
            "fleet-flows",
            "2 on the fleet screen: austin's flow view",
            (160, 30),
            fleet_app,
            _fleet_opened,
        ),
        Scene(
            "fleet-both-ends",
            "A conversation austin and the data centre both carry: the other end",
            (200, 55),
            _fleet_both_ends_app,
            _fleet_both_ends,
        ),
        Scene(
            "fleet-all-flows",
            "a on the fleet screen: every appliance's flows in one table",
            (160, 30),
            fleet_app,
            _fleet_all_flows,
        ),
        Scene(
            "fleet-all-grouped",
            "The fleet's flows grouped by appliance",
            (120, 24),
            fleet_app,
            _fleet_all_grouped,
        ),
        Scene(
            "replay",
            "Replaying a recording at 2x, poll 15 of 20",
            (120, 32),
            lambda: _replay_app(14),
            _replaying,
        ),
        Scene(
            "replay-damaged",
            "A damaged recording: told in the app, replay stops at the damage",
            (120, 32),
            lambda: _replay_app(
                19, "recording damaged at line 23: truncated line; replay stops after 20 polls"
            ),
            _replaying,
        ),
        Scene("recording", "Watching live while recording", (120, 32), _recording_app, _loaded),
        Scene(
            "odd-values",
            "Values that cannot be represented: shown unreadable, never a crash",
            (160, 45),
            _app,
            _odd_values,
        ),
        Scene(
            "numbers",
            "Averages over 2, 10 and 40 s (* not yet covered), peak, measured rate; totals",
            (200, 50),
            _numbers_app,
            _numbers,
        ),
        Scene(
            "numbers-80x24",
            "--columns src,dst,rate,rate_10s,rate_40s,measured at 80x24, and the totals line",
            (80, 24),
            _narrow_numbers_app,
            _numbers,
        ),
        Scene(
            "stale-stats",
            "A flow whose counters stopped while its reported rate did not: marked stale",
            (200, 50),
            _numbers_app,
            _stale_stats,
        ),
        Scene(
            "totals-filtered",
            "Totals of the flows shown and of all, at 80x24",
            (80, 24),
            _app,
            _totals_filtered,
        ),
        Scene(
            "groups-ascii",
            "Group rows with their share bars in ASCII",
            (120, 32),
            _ascii_app,
            _groups,
        ),
        Scene(
            "ascii",
            "A terminal that is not UTF-8 (LANG=C): plain ASCII, detail pane included",
            (200, 50),
            _ascii_app,
            _detail,
        ),
        Scene("names", "n and N: host and port names", (160, 45), _named_app, _names),
        Scene(
            "pairs",
            "c: one row per conversation, the other direction in the detail pane",
            (200, 50),
            _paired_app,
            _pairs,
        ),
        Scene("column-chooser", "o: pick, order and save columns", (100, 40), _app, _chooser),
        Scene("copied", "y: the selected flow copied as a filter", (120, 32), _app, _copied),
    )
}
