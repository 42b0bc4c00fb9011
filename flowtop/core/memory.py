"""Garbage-collector settings for a process that replaces thousands of objects a poll.

Every poll allocates a few objects per flow (the model, its dicts) that live for one
poll and are then freed by reference counting.  With CPython's default threshold of
700 allocations, several young collections run inside every poll and scan objects
that are about to die anyway.  A higher threshold lets most of them die unscanned;
freezing the objects of start-up (modules, classes, the widget tree) keeps them out
of every later collection.  Reference cycles are rare here and are still collected.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 50_000
MIDDLE_THRESHOLD: Final = 20
OLD_THRESHOLD: Final = 50


def tune_garbage_collector() -> None:
    """Call once, after start-up: raise the thresholds and freeze what exists now."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
