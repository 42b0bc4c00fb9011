"""Memory per flow: a parsed flow, and a flow in the store with its full rate history.

Run from the repository root::

    python -m benchmarks.memory                 # 10 000 flows, 300 samples of history
    python -m benchmarks.memory --flows 50000
    python -m benchmarks.memory --soak 600     # RSS over 600 polls of churning flows

Traced with ``tracemalloc`` (Python allocations, which is what grows with flows):

* *parsed*: the flows of one answer, as :func:`flowtop.core.model.parse_flows` returns
  them (the answer's body not counted);
* *stored*: what the store keeps per live flow once its history is full (record,
  key, two rate rings of ``history`` float32 samples), the flows not counted;
* *per flow* = parsed + stored: what one live flow costs between two polls.  During a
  poll the previous answer's flows are alive too, so the peak holds two answers.

Soak (``--soak POLLS``): a monitor polls a churning synthetic appliance (2% of the
flows end and as many start every poll, new addresses keep coming) with the app's
collector settings (:func:`flowtop.core.memory.tune_garbage_collector`), sorting by
another column every poll; the process's RSS, the objects the collector tracks and
the collections of each generation so far are printed every ``--every`` polls.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.synthetic import SyntheticAppliance
from flowtop.core import memory
from flowtop.core.model import parse_flows
from flowtop.core.store import DEFAULT_HISTORY, FlowStore


@dataclass(frozen=True)
class FlowMemory:
    flows: int
    history: int
    parsed: float  # bytes a parsed flow
    stored: float  # bytes a stored flow with its full history

    @property
    def per_flow(self) -> float:
        return self.parsed + self.stored


def measure(flows: int, history: int = DEFAULT_HISTORY) -> FlowMemory:
    """Bytes per flow, parsed and stored with ``history`` samples."""
    appliance = SyntheticAppliance(flows, seed=5)
    bodies = [appliance.body() for _ in range(2)]
    # Warm the caches a running app has warm (addresses, validators).
    parse_flows(bodies[0])
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        parsed = parse_flows(bodies[1]).flows
        after_parse = tracemalloc.get_traced_memory()[0]
        store = FlowStore(history=history)
        # The same flows every poll: the history fills, no flow ends, nothing new parsed.
        for poll in range(history + 1):
            store.apply(parsed, float(poll))
        gc.collect()
        after_store = tracemalloc.get_traced_memory()[0]
    finally:
        if not tracing:
            tracemalloc.stop()
    count = len(parsed)
    return FlowMemory(
        flows=count,
        history=history,
        parsed=(after_parse - before) / count,
        stored=(after_store - after_parse) / count,
    )


def rss_mib() -> float:
    """This process's resident set size now, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class SoakPoint:
    poll: int
    rss_mib: float
    tracked: int  # objects the collector tracks (frozen ones too)
    collections: tuple[int, ...]  # collections of each generation so far


def soak(flows: int, polls: int, every: int, history: int = DEFAULT_HISTORY) -> list[SoakPoint]:
    """RSS over ``polls`` polls of churning flows, as the TUI polls (see the docstring)."""
    from flowtop.core.monitor import Monitor
    from flowtop.core.source import Snapshot
    from flowtop.core.steps import run_to_end

    appliance = SyntheticAppliance(flows, seed=7)
    monitor = Monitor(history=history)
    memory.tune_garbage_collector()
    start = [generation["collections"] for generation in gc.get_stats()]
    points: list[SoakPoint] = []
    for poll in range(1, polls + 1):
        run_to_end(monitor._bury_steps())
        parsed = parse_flows(appliance.body())
        monitor.apply(Snapshot(parsed.flows, float(poll), 0.01))
        del parsed
        monitor.frame()
        monitor.sort_by(("bytes", "pps", "kbps")[poll % 3])
        monitor.frame()
        if poll % every == 0 or poll == 1:
            collections = tuple(
                generation["collections"] - before
                for generation, before in zip(gc.get_stats(), start, strict=True)
            )
            tracked = len(gc.get_objects()) + gc.get_freeze_count()
            points.append(SoakPoint(poll, rss_mib(), tracked, collections))
    return points


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=DEFAULT_HISTORY)
    parser.add_argument("--soak", type=int, default=0, help="polls of churning flows: RSS")
    parser.add_argument("--every", type=int, default=50, help="polls between soak lines")
    args = parser.parse_args(argv)
    if args.soak:
        print(f"{args.flows} flows churning, {args.history} samples of history:")
        for point in soak(args.flows, args.soak, args.every, args.history):
            print(
                f"poll {point.poll:5}: RSS {point.rss_mib:6.0f} MiB, "
                f"{point.tracked:8} objects tracked, collections by generation "
                f"{'/'.join(map(str, point.collections))}"
            )
        return 0
    result = measure(args.flows, args.history)
    print(
        f"{result.flows} flows, {result.history} samples of history: "
        f"parsed {result.parsed / 1024:.2f} KiB + stored {result.stored / 1024:.2f} KiB "
        f"= {result.per_flow / 1024:.2f} KiB a flow "
        f"({result.per_flow * result.flows / 2**20:.0f} MiB for all)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
