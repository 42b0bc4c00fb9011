"""Deterministic sources and clocks for driving the real app with the pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from flowtop.core.errors import FlowtopError
from flowtop.core.model import Flow
from flowtop.core.source import Snapshot
from flowtop.demo.pinned import ManualClock, PinnedDemoSource
from flowtop.tui.app import FlowTopApp

Clock = ManualClock
DemoSource = PinnedDemoSource


Step = list[Flow] | FlowtopError


class ScriptedSource:
    """Answers from a script: a list of flows, or an error to raise; the last repeats."""

    def __init__(self, clock: Clock, script: list[Step], description: str = "ops@lab") -> None:
        self.clock = clock
        self.script = list(script)
        self.fetches = 0
        self.closed = False
        self._description = description

    @property
    def description(self) -> str:
        return self._description

    async def fetch(self, max_stats: int) -> Snapshot:
        step = self.script[min(self.fetches, len(self.script) - 1)]
        self.fetches += 1
        self.clock.advance(1.0)
        if isinstance(step, FlowtopError):
            raise step
        return Snapshot(flows=step, received_at=self.clock(), latency=0.02)

    async def close(self) -> None:
        self.closed = True


def make_app(source: Any, clock: Clock, **options: Any) -> FlowTopApp:
    options.setdefault("interval", 60.0)
    return FlowTopApp(source, clock=clock, handle_signals=False, **options)


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 15.0
) -> None:
    """Let the app run until ``condition`` holds; fail the test if it never does.

    The bound is generous: on a loaded 2-core machine one poll over loopback has taken
    more than five seconds, and a state that is reached must not fail for being late."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.02)


async def poll_now(pilot: Pilot[Any], app: FlowTopApp, source: Any) -> None:
    """Ask for a poll (the `r` key) and wait until it has been applied."""
    attempts = app.monitor.attempts
    await pilot.press("r")
    await wait_until(pilot, lambda: app.monitor.attempts > attempts)
    await pilot.pause()


RunBefore = Callable[[Pilot[Any]], Awaitable[None]]
