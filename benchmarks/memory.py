"""Memory per flow: a parsed flow, and a flow in the store with its full rate history.

Run from the repository root::

    python -m benchmarks.memory                 # 10 000 flows, 300 samples of history
    python -m benchmarks.memory --flows 50000

Traced with ``tracemalloc`` (Python allocations, which is what grows with flows):

* *parsed*: the flows of one answer, as :func:`flowtop.core.model.parse_flows` returns
  them (the answer's body not counted);
* *stored*: what the store keeps per live flow once its history is full (record,
  key, two rate rings of ``history`` float32 samples), the flows not counted;
* *per flow* = parsed + stored: what one live flow costs between two polls.  During a
  poll the previous answer's flows are alive too, so the peak holds two answers.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.synthetic import SyntheticAppliance
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=DEFAULT_HISTORY)
    args = parser.parse_args(argv)
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
