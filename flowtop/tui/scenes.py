"""Deterministic scenes of the app: the screenshots and the snapshot tests draw these.

Each scene is an app on the pinned demo source plus the steps that bring it to
the state shown (polls, keys), so a scene looks the same on every machine.
"""

from __future__ import annotations

import asyncio
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


def _ascii_app() -> FlowTopApp:
    return _app(ascii_only=True)


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
            "ascii",
            "A terminal that is not UTF-8 (LANG=C): plain ASCII, detail pane included",
            (200, 50),
            _ascii_app,
            _detail,
        ),
    )
}
