"""Answers capped at max_stats: a missing flow left the top N, it did not end."""

from __future__ import annotations

import json

from flowtop.core.recording import RecordedPoll, Recording, ReplaySource
from flowtop.core.source import Snapshot
from flowtop.core.store import EventKind, FlowStore, capped_at
from tests.core.factories import flow, raw_flow


def test_a_flow_missing_from_a_capped_answer_left_the_top_n() -> None:
    store = FlowStore()
    store.apply([flow(1), flow(2), flow(3)], at=1.0, capped=3)
    update = store.apply([flow(2), flow(3), flow(4)], at=2.0, capped=3)
    assert update.removed == [flow(1).key] and update.capped == 3
    # Kept apart from the other events, so that top-N churn cannot push them out.
    kinds = [(event.kind, event.key, event.top) for event in store.top_changes]
    assert (EventKind.LEFT, flow(1).key, 3) in kinds
    assert not any(event.kind is EventKind.ENDED for event in store.events)
    assert store.capped == 3


def test_only_an_uncapped_answer_proves_a_flow_ended() -> None:
    store = FlowStore()
    store.apply([flow(1), flow(2)], at=1.0, capped=2)
    store.apply([flow(2)], at=2.0)
    ended = [event for event in store.events if event.kind is EventKind.ENDED]
    assert [event.key for event in ended] == [flow(1).key]
    assert store.capped is None


def test_capped_when_the_answer_fills_max_stats() -> None:
    assert capped_at(100, 100) == 100
    assert capped_at(101, 100) == 100
    assert capped_at(99, 100) is None
    assert capped_at(5, 0) is None
    flows = [flow(n) for n in range(1, 4)]
    assert Snapshot(flows, 1.0, 0.1).capped(3) == 3
    assert Snapshot(flows, 1.0, 0.1, max_stats=50).capped(3) is None
    # Items that were not flows were still answered: they count toward the cap.
    assert Snapshot(flows, 1.0, 0.1, ignored_items=2, max_stats=5).capped() == 5
    store = FlowStore()
    store.apply(flows, 1.0, capped=3)
    store.clear()
    assert store.capped is None


def test_an_old_flow_seen_first_after_a_capped_answer_entered_the_top_n() -> None:
    store = FlowStore()
    store.apply([flow(1)], at=10.0, capped=1)
    # 2 s later: flow 2 is 2 s old (not older than the gap, give or take a second): new;
    # flow 3 is 3 s old: it ran, hidden behind the cap.
    store.apply([flow(2, age="2000"), flow(3, age="3001")], at=12.0)
    kinds = {event.key: (event.kind, event.top) for event in (*store.events, *store.top_changes)}
    assert kinds[flow(2).key] == (EventKind.APPEARED, 0)
    assert kinds[flow(3).key] == (EventKind.ENTERED, 1)
    # After an uncapped answer, anything unseen is new, whatever its age.
    store.apply([flow(4, age="99000")], at=13.0)
    assert [e.kind for e in store.events if e.key == flow(4).key] == [EventKind.APPEARED]


async def test_a_replay_knows_the_max_stats_each_poll_was_recorded_with() -> None:
    body = json.dumps({"flows": [raw_flow(n) for n in range(1, 4)]}).encode()
    polls = [RecordedPoll(0, 1.0, 0.1, 3, body), RecordedPoll(1, 2.0, 0.1, 50, body)]
    replay = ReplaySource(Recording(polls, {"flowtop_recording": 1}))
    # The replay's own max_stats (here 1000) does not matter: the recorded one does.
    assert (await replay.fetch(1000)).capped() == 3
    assert (await replay.fetch(1000)).capped() is None


def test_top_n_churn_never_pushes_path_changes_out() -> None:
    """Capped answers make flows leave and enter the top N every poll: kept apart, that
    churn cannot crowd out the path changes a NOC looks for."""
    store = FlowStore(max_events=40)
    store.apply([flow(1, path="A"), flow(2)], at=1.0, capped=2)
    store.apply([flow(1, path="B"), flow(2)], at=2.0, capped=2)
    for n in range(3, 200):
        store.apply([flow(1, path="B"), flow(n)], at=float(n), capped=2)
    assert [event.kind for event in store.events if event.kind is EventKind.PATH] == [
        EventKind.PATH
    ]
    assert len(store.top_changes) == 10  # a quarter of max_events, the newest
