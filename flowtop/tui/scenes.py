"""Deterministic scenes of the app: the screenshots and the snapshot tests draw these.

Each scene is an app on the pinned demo source plus the steps that bring it to
the state shown (polls, keys), so a scene looks the same on every machine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from textual.pilot import Pilot

from flowtop.core.demo.faults import Faults
from flowtop.core.demo.pinned import ManualClock, PinnedDemoSource
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
        target = app.poll_attempts + 1
        await pilot.press("r")
        await settle(pilot, lambda: app.poll_attempts >= target)  # noqa: B023
    await pilot.pause()


@dataclass(frozen=True)
class Scene:
    name: str
    title: str
    size: tuple[int, int]
    make: Callable[[], FlowTopApp]
    prepare: Callable[[Pilot[Any]], Awaitable[None]]


def _app(*, faults: Faults | None = None, **options: Any) -> FlowTopApp:
    clock = ManualClock()
    source = PinnedDemoSource(clock, faults=faults)
    options.setdefault("interval", 60.0)
    return FlowTopApp(source, clock=clock, handle_signals=False, **options)


def _source(app: FlowTopApp) -> PinnedDemoSource:
    source = app.source
    assert isinstance(source, PinnedDemoSource)
    return source


async def _loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await settle(pilot, lambda: app.table.row_count > 0)
    await poll(pilot, app, 3)


async def _filtered(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("slash", *"app:zoom|teams dir:lan", "enter")
    await pilot.pause()


async def _detail(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FlowTopApp)
    await settle(pilot, lambda: app.table.row_count > 0)
    # Forty simulated seconds: the demo's first WAN failover happens in them.
    await poll(pilot, app, 40)
    moved = [
        row.key
        for row in (app.last_result.rows if app.last_result else [])
        if (record := app.store.get(row.key)) is not None and record.path_changes
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


async def _groups(pilot: Pilot[Any]) -> None:
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
    odd = [row.key for row in rows if row.key.src_ip == "10.66.0.7"]
    if odd:
        app.table.select_key(odd[0])
    await pilot.pause()


async def _help(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


SCENES: dict[str, Scene] = {
    scene.name: scene
    for scene in (
        Scene("main-80x24", "The main view at 80x24", (80, 24), _app, _loaded),
        Scene("main-160x45", "The main view at 160x45", (160, 45), _app, _loaded),
        Scene("filtered", "Filtered: app:zoom|teams dir:lan", (160, 45), _app, _filtered),
        Scene("detail", "The detail pane with sparklines", (200, 50), _app, _detail),
        Scene("groups", "Grouped by application", (120, 32), _app, _groups),
        Scene(
            "events",
            "Failovers, path changes, flows appearing and ending",
            (140, 36),
            _app,
            _events,
        ),
        Scene("error", "The appliance answers 503: data kept, stale", (120, 30), _app, _error),
        Scene("help", "Every key", (100, 40), _app, _help),
        Scene(
            "odd-values",
            "Values that cannot be represented: shown unreadable, never a crash",
            (160, 45),
            _app,
            _odd_values,
        ),
    )
}
