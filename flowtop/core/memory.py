"""Garbage-collector settings for a process that replaces thousands of objects a poll.

Every poll allocates a few objects per flow (the model, its dicts) that live for one
poll and are then freed by reference counting.  With CPython's default threshold of
700 allocations, several young collections run inside every poll and scan objects
that are about to die anyway.  A higher threshold lets most of them die unscanned;
freezing the objects of start-up (modules, classes, the widget tree) keeps them out
of every later collection.  Reference cycles are rare here and are still collected.

The young threshold follows the flow count (:func:`fit_to_flows`): a threshold sized
for 1000 flows runs a dozen young collections inside one 50 000-flow poll, each
promoting the poll's live flows so that middle collections scan them again.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 50_000
MIDDLE_THRESHOLD: Final = 20
OLD_THRESHOLD: Final = 50
# Tracked objects a poll allocates per flow, with room: the young threshold is at
# least this many per flow of the last answer, so one poll fits in one generation.
OBJECTS_PER_FLOW: Final = 10

_tuned = False


def tune_garbage_collector() -> None:
    """Call once, after start-up: raise the thresholds and freeze what exists now."""
    global _tuned
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    _tuned = True


def young_threshold_for(flow_count: int) -> int:
    """The young-generation threshold for answers of ``flow_count`` flows."""
    return max(YOUNG_THRESHOLD, OBJECTS_PER_FLOW * flow_count)


def fit_to_flows(flow_count: int) -> None:
    """Size the young generation to answers of ``flow_count`` flows.

    Does nothing unless :func:`tune_garbage_collector` ran: a library user's
    collector settings are theirs.
    """
    if not _tuned:
        return
    young = young_threshold_for(flow_count)
    if gc.get_threshold()[0] != young:
        gc.set_threshold(young, MIDDLE_THRESHOLD, OLD_THRESHOLD)
