"""Work in steps: long per-poll work that gives the event loop a turn every few ms.

A 50 000-flow answer costs the better part of a second to decode, store and sort.
Done in one go on the event loop, a key pressed meanwhile waits for all of it.
Threads would not help (the work holds the interpreter lock), and a worker process
would have to send the flows back (pickling and unpickling them costs more than parsing
them) or own the store, so the work is cut into steps instead: a *step function* is
a generator that yields between bounded pieces of work and returns its result.
:func:`run_to_end` runs one at once (library and tests: the same code, no event
loop); :func:`run_sliced` runs it on the event loop, giving other tasks (keys,
screen updates) a turn once every :data:`SLICE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import Final, TypeVar

T = TypeVar("T")

# Steps = generators that yield nothing between pieces of work and return a result.
Steps = Generator[None, None, T]

# The longest the event loop is held before other tasks get a turn.  A step is a
# few ms of work; steps run back to back until this much time has passed.
SLICE_SECONDS: Final = 0.008
# The pause between slices.  Not 0: a key goes through several callbacks of the loop
# (driver, app, screen, action, refresh) before the screen changes, and with a
# pause of 0 the steps would take a slice between each two of them.
PAUSE_SECONDS: Final = 0.001


def run_to_end(steps: Steps[T]) -> T:
    """Run every step now and return the result."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result: T = stop.value
            return result


async def run_sliced(steps: Steps[T], slice_seconds: float = SLICE_SECONDS) -> T:
    """Run the steps on the event loop, yielding to other tasks every ``slice_seconds``.

    Work that fits in one slice (a small answer) never yields, so it behaves as a
    plain call.  A cancellation lands between steps and closes the generator.
    """
    clock = time.perf_counter
    deadline = clock() + slice_seconds
    try:
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                result: T = stop.value
                return result
            if clock() >= deadline:
                await asyncio.sleep(PAUSE_SECONDS if slice_seconds > 0 else 0)
                deadline = clock() + slice_seconds
    finally:
        steps.close()
