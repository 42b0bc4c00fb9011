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

After every poll, what survived it is frozen too (:func:`after_poll`): the flows of
the answer, their records and rows live for a poll or longer, and at 50 000 flows an
old-generation collection that scans their million objects holds the event loop for
100 ms and more.  Freezing is a list splice; frozen objects are still freed by
reference counting when their last reference goes (the polls of the core make no
reference cycles).  Only garbage in a cycle among frozen objects waits, for a full
collection: when the frozen objects have grown by a quarter over the fewest seen since
the last one (flows of an answer grew, or cycles piled up), and at the latest every
:data:`FULL_COLLECTION_POLLS` polls.
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

# A full collection (every frozen object unfrozen and scanned) at least this many polls
# apart, and sooner when the frozen objects grew by FROZEN_GROWTH, plus FROZEN_SLACK so
# that a small app does not collect for a few hundred objects.
FULL_COLLECTION_POLLS: Final = 600
FROZEN_GROWTH: Final = 0.25
FROZEN_SLACK: Final = 50_000

_tuned = False
# Polls since the last full collection, and the fewest frozen objects after a poll since.
_polls = 0
_fewest_frozen = 0


def tune_garbage_collector() -> None:
    """Call once, after start-up: raise the thresholds and freeze what exists now."""
    global _tuned
    full_collection()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    _tuned = True


def full_collection() -> None:
    """Unfreeze everything, collect every generation, and freeze what is left."""
    global _polls, _fewest_frozen
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _polls = 0
    _fewest_frozen = gc.get_freeze_count()


def after_poll() -> bool:
    """Call when a poll's answer is in the store: freeze what is alive now, or run a
    full collection when it is due (see the module docstring); True when one ran.

    Does nothing unless :func:`tune_garbage_collector` ran.
    """
    global _polls, _fewest_frozen
    if not _tuned:
        return False
    gc.freeze()
    frozen = gc.get_freeze_count()
    _polls += 1
    grown = frozen > _fewest_frozen * (1 + FROZEN_GROWTH) + FROZEN_SLACK
    if grown or _polls >= FULL_COLLECTION_POLLS:
        full_collection()
        return True
    _fewest_frozen = min(_fewest_frozen, frozen)
    return False


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
