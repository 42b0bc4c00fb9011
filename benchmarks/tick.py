"""Step benchmark: the steps of a partial refresh tick (parse, store, view, table).

This is not what users run: it is headless (no terminal output), has the table
alone on screen (no detail pane, status line or footer) and no HTTP.  What users
run, the whole app against the floor, is ``python -m benchmarks.app_cost``; this
benchmark is kept so a regression points at its step.

Run from the repository root::

    python -m benchmarks.tick            # full run (about a minute and a half)
    python -m benchmarks.tick --quick    # two ticks per size: a smoke run, not a measure
    python -m benchmarks.tick --check    # exit 1 if the 1000-flow targets are missed

Each size gets a synthetic appliance: a JSON body of that many flows with every
value a string, as the appliance sends them, rates and counters moving every
poll and about 2% of the flows ending and as many starting (give or take a few,
so the row count moves).  The same seeded sequence of bodies is fed to each
table variant, headless inside ``App.run_test()`` at 200x50, sorted by rate:

* ``flowtable``: :class:`flowtop.tui.widgets.flow_table.FlowTable` applying the view.
* ``rebuild``: the baseline, a plain ``DataTable`` cleared and refilled each tick
  (cells as ``rich.text.Text`` so appliance text is not parsed as markup).
* ``dt-diff``: a ``DataTable`` applying the view's diff (``remove_row``,
  ``add_row``, ``update_cell(update_width=False)``, reorder), the alternative
  design, measured up to 1000 flows to back the choice.

The cursor is parked ten rows down, so following the selected flow (and
scrolling to keep its place on screen) is part of every tick.

How the table step is made fair: it is the update call *plus* ``await
pilot.pause()``, which returns once the app is idle, after Textual has run the
widget's idle work (a DataTable measures new rows there), laid out the screen and
rendered every dirty line through the compositor.  Steps are timed in CPU time of
this process (``time.process_time``), so the pause's sleeps and time given to
other processes on a busy machine do not count, but all rendering work does.  The
CPU cost of a pause when nothing changed ("idle pause") is printed; it is part of
every table step.  The headless driver writes nothing to a terminal, for every
variant alike.

Two more steps make the tick's memory costs explicit instead of leaving them to
land in whichever step drops a last reference or crosses a collector threshold:
"free" drops the previous tick's flows and rows; "gc" is the time the collector
ran during the tick, measured with ``gc.callbacks`` and taken out of the step it
interrupted.  The collector runs automatically, with the settings the app uses
(``flowtop.core.memory.tune_garbage_collector``), for every variant alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, Protocol

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets._data_table import RowKey

from benchmarks.synthetic import POLL_SECONDS, SyntheticAppliance
from flowtop.core.columns import Column, SortSpec
from flowtop.core.groups import RowKey as ViewKey
from flowtop.core.memory import tune_garbage_collector
from flowtop.core.model import FlowKey, ParsedFlows, parse_flows
from flowtop.core.store import FlowStore
from flowtop.core.view import FlowView, Row, ViewResult
from flowtop.tui.widgets.flow_table import FlowTable

SIZES: Final = (100, 1000, 10_000)
SCREEN: Final = (200, 50)
TARGET_SIZE: Final = 1000
TARGET_TICK_MS: Final = 20.0
TARGET_SPEEDUP: Final = 5.0
STEPS: Final = ("parse", "store", "view", "table", "free", "gc")
DEFAULT_GC_THRESHOLDS: Final = gc.get_threshold()


class Variant(Protocol):
    """A table under test: a widget and how it takes one tick."""

    def widget(self) -> Widget: ...

    def apply(self, result: ViewResult, sort: SortSpec) -> None: ...


class FlowTableVariant:
    def __init__(self, columns: Sequence[Column]) -> None:
        self.table = FlowTable(columns)

    def widget(self) -> Widget:
        return self.table

    def apply(self, result: ViewResult, sort: SortSpec) -> None:
        self.table.apply(result, sort)


def _cells(columns: Sequence[Column], cells: Sequence[str]) -> list[Text]:
    return [
        Text(text, justify="right" if column.numeric else "left", no_wrap=True, end="")
        for column, text in zip(columns, cells, strict=True)
    ]


class _BenchTable(DataTable[Text]):
    def __init__(self, columns: Sequence[Column]) -> None:
        super().__init__(cursor_type="row")
        self.flow_columns = tuple(columns)

    def on_mount(self) -> None:
        for column in self.flow_columns:
            self.add_column(column.title, width=column.width, key=column.id)


class RebuildVariant:
    """The baseline: clear the DataTable and add every row again, then restore the cursor."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.table = _BenchTable(columns)
        self.keys: list[ViewKey] = []

    def widget(self) -> Widget:
        return self.table

    def apply(self, result: ViewResult, sort: SortSpec) -> None:
        table = self.table
        columns = table.flow_columns
        cursor = table.cursor_row
        selected = self.keys[cursor] if cursor < len(self.keys) else None
        table.clear()
        table.add_rows(_cells(columns, row.cells) for row in result.rows)
        self.keys = [row.key for row in result.rows]
        index = result.index_of(selected) if selected is not None else None
        table.move_cursor(row=cursor if index is None else index, animate=False)


def _row_key(key: ViewKey) -> str:
    return "|".join(map(str, key)) if isinstance(key, FlowKey) else repr(key)


class DiffVariant:
    """The alternative design: a DataTable that applies the view's diff in place."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.table = _BenchTable(columns)
        # The rows shown last, by key and in order: what a cell diff compares against.
        self._previous: dict[ViewKey, Row] = {}

    def widget(self) -> Widget:
        return self.table

    def _changes(self, result: ViewResult) -> tuple[dict[ViewKey, list[int]], bool]:
        """The cells of kept rows that show new text, and whether the order changed."""
        previous = self._previous
        current = {row.key: row for row in result.rows}
        changed: dict[ViewKey, list[int]] = {}
        for row in result.rows:
            old = previous.get(row.key)
            if old is not None and old is not row and old.cells != row.cells:
                pairs = enumerate(zip(old.cells, row.cells, strict=True))
                changed[row.key] = [i for i, (a, b) in pairs if a != b]
        # A table that drops the removed rows and appends the added ones ends up in
        # this order; only when it differs must the table reorder.
        kept_before = [key for key in previous if key in current]
        order = [row.key for row in result.rows]
        order_changed = kept_before + result.diff.added != order
        self._previous = current
        return changed, order_changed

    def apply(self, result: ViewResult, sort: SortSpec) -> None:
        changes, order_changed = self._changes(result)
        table = self.table
        columns = table.flow_columns
        ids = [column.id for column in columns]
        diff = result.diff
        cursor = table.cursor_row
        selected = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            if table.row_count
            else None
        )
        for key in diff.removed:
            table.remove_row(_row_key(key))
        by_key = {row.key: row for row in result.rows}
        for key in diff.added:
            table.add_row(*_cells(columns, by_key[key].cells), key=_row_key(key))
        for key, changed in changes.items():
            cells = by_key[key].cells
            for index in changed:
                column = columns[index]
                text = Text(cells[index], justify="right" if column.numeric else "left", end="")
                table.update_cell(_row_key(key), ids[index], text)
        if order_changed:
            # DataTable.sort() can only order by cell values; the view's order is
            # imposed through the private row map, as a subclass would have to.
            table._row_locations = TwoWayDict(
                {RowKey(_row_key(row.key)): i for i, row in enumerate(result.rows)}
            )
            table._update_count += 1
            table.refresh()
        if selected is not None and selected in table._row_locations:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        elif table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)


VARIANTS: Final[dict[str, Callable[[Sequence[Column]], Variant]]] = {
    "flowtable": FlowTableVariant,
    "rebuild": RebuildVariant,
    "dt-diff": DiffVariant,
}


class _BenchApp(App[None]):
    CSS: ClassVar[str] = "Screen { layout: vertical; } #table { height: 1fr; }"

    def __init__(self, table: Widget) -> None:
        super().__init__()
        self._table = table

    def compose(self) -> ComposeResult:
        self._table.id = "table"
        yield self._table


@dataclass
class Timings:
    """CPU milliseconds per tick, by step."""

    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    idle_pause: list[float] = field(default_factory=list)

    def median(self, step: str) -> float:
        return statistics.median(self.steps[step])

    def tick(self) -> float:
        per_step = [self.steps[step] for step in STEPS]
        totals: list[float] = [sum(values) for values in zip(*per_step, strict=True)]
        return statistics.median(totals)


async def _measure(variant_name: str, size: int, ticks: int, warmup: int, seed: int) -> Timings:
    view = FlowView()
    variant = VARIANTS[variant_name](view.columns)
    store = FlowStore()
    appliance = SyntheticAppliance(size, seed)
    sort = SortSpec("kbps", descending=True)
    timings = Timings()
    clock = time.process_time
    # The last two ticks' flows stay referenced here, so the previous tick's objects
    # are freed at one place for every variant (the "free" step) rather than inside
    # whichever step happens to drop the last reference.
    history: deque[tuple[ParsedFlows, ViewResult]] = deque(maxlen=2)
    app = _BenchApp(variant.widget())
    collecting = _CollectorClock(clock)
    gc.callbacks.append(collecting.callback)
    try:
        async with app.run_test(size=SCREEN) as pilot:
            await pilot.pause()
            tune_garbage_collector()
            for tick in range(warmup + ticks):
                body = appliance.body()
                marks = [(clock(), collecting.total)]
                parsed = parse_flows(body)
                marks.append((clock(), collecting.total))
                store.apply(parsed.flows, tick * POLL_SECONDS)
                marks.append((clock(), collecting.total))
                result = view.compute(store.records.values(), None, sort)
                marks.append((clock(), collecting.total))
                variant.apply(result, sort)
                await pilot.pause()
                marks.append((clock(), collecting.total))
                history.append((parsed, result))
                del parsed, result
                marks.append((clock(), collecting.total))
                if tick == 0:
                    await _park_cursor(pilot, variant)
                if tick < warmup:
                    continue
                spent_collecting = marks[-1][1] - marks[0][1]
                for step, (start, gc_start), (end, gc_end) in zip(
                    STEPS[:-1], marks[:-1], marks[1:], strict=True
                ):
                    timings.steps[step].append((end - start - (gc_end - gc_start)) * 1000)
                timings.steps["gc"].append(spent_collecting * 1000)
                idle_start = clock()
                await pilot.pause()
                timings.idle_pause.append((clock() - idle_start) * 1000)
    finally:
        gc.callbacks.remove(collecting.callback)
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    return timings


class _CollectorClock:
    """CPU seconds spent in the garbage collector, from ``gc.callbacks``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._started = 0.0
        self.total = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = self._clock()
        else:
            self.total += self._clock() - self._started


async def _park_cursor(pilot: Pilot[None], variant: Variant) -> None:
    widget = variant.widget()
    widget.focus()
    for _ in range(10):
        await pilot.press("down")
    await pilot.pause()


@dataclass
class Plan:
    sizes: tuple[int, ...]
    ticks: dict[int, int]
    warmup: int
    variants: dict[int, tuple[str, ...]]


# The DataTable-diff variant only backs the design choice; beyond this it takes minutes.
DT_DIFF_MAX_SIZE: Final = 1000


def make_plan(quick: bool, sizes: Sequence[int], skip_diff: bool) -> Plan:
    ticks = {size: 2 if quick else (30 if size <= 1000 else 6) for size in sizes}
    variants = {
        size: tuple(
            name
            for name in VARIANTS
            if name != "dt-diff" or (not skip_diff and size <= DT_DIFF_MAX_SIZE)
        )
        for size in sizes
    }
    return Plan(tuple(sizes), ticks, 1 if quick else 2, variants)


def _format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def report(results: dict[tuple[int, str], Timings], plan: Plan) -> bool:
    """Print the tables; True when the 1000-flow targets are met (or not measured)."""
    print(
        "\nStep benchmark (a partial tick: headless, table alone, no HTTP; "
        "the whole app is benchmarks.app_cost)\n"
        f"Median CPU ms per step, {SCREEN[0]}x{SCREEN[1]}, sorted by kbps desc"
    )
    print("(free: dropping the previous tick's objects; gc: collector time, tuned as in the app)")
    widths = [20, 7, 7, 7, 7, 7, 7, 7, 10]
    print(_format_row(["flows variant", *STEPS, "tick", "idle pause"], widths))
    for size in plan.sizes:
        for variant in plan.variants[size]:
            timings = results[(size, variant)]
            cells = [f"{size} {variant}"]
            cells += [f"{timings.median(step):.2f}" for step in STEPS]
            cells += [f"{timings.tick():.2f}", f"{statistics.median(timings.idle_pause):.2f}"]
            print(_format_row(cells, widths))

    print("\nRatios (less machine-dependent than the times)")
    widths = [6, 18, 18, 12]
    print(_format_row(["flows", "table vs rebuild", "table vs dt-diff", "table/tick"], widths))
    for size in plan.sizes:
        ours = results[(size, "flowtable")].median("table")
        rebuild = results[(size, "rebuild")].median("table") / ours
        if (size, "dt-diff") in results:
            diff = f"{results[(size, 'dt-diff')].median('table') / ours:.1f}x faster"
        else:
            diff = "-"
        share = ours / results[(size, "flowtable")].tick()
        print(_format_row([str(size), f"{rebuild:.1f}x faster", diff, f"{share:.0%}"], widths))
    if len(plan.sizes) > 1:
        low, high = min(plan.sizes), max(plan.sizes)
        print(f"\nTable step growth from {low} to {high} flows ({high // low}x the rows):")
        for variant in ("flowtable", "rebuild"):
            grow = results[(high, variant)].median("table") / results[(low, variant)].median(
                "table"
            )
            print(f"  {variant}: {grow:.1f}x")

    if TARGET_SIZE not in plan.sizes:
        return True
    ours_timings = results[(TARGET_SIZE, "flowtable")]
    tick = ours_timings.tick()
    speedup = results[(TARGET_SIZE, "rebuild")].median("table") / ours_timings.median("table")
    tick_ok = tick <= TARGET_TICK_MS
    speed_ok = speedup >= TARGET_SPEEDUP
    print(
        f"\nTargets at {TARGET_SIZE} flows: tick {tick:.2f} ms "
        f"(<= {TARGET_TICK_MS:.0f} ms: {'met' if tick_ok else 'MISSED'}), "
        f"table step {speedup:.1f}x faster than the rebuild "
        f"(>= {TARGET_SPEEDUP:.0f}x: {'met' if speed_ok else 'MISSED'})"
    )
    return tick_ok and speed_ok


async def run(plan: Plan, seed: int) -> dict[tuple[int, str], Timings]:
    results: dict[tuple[int, str], Timings] = {}
    for size in plan.sizes:
        for variant in plan.variants[size]:
            print(f"measuring {size} flows with {variant} ...", file=sys.stderr, flush=True)
            results[(size, variant)] = await _measure(
                variant, size, plan.ticks[size], plan.warmup, seed
            )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tick", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two ticks per size (smoke run)")
    parser.add_argument("--check", action="store_true", help="exit 1 if targets are missed")
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        default=SIZES,
        help="comma-separated flow counts (default: 100,1000,10000)",
    )
    parser.add_argument("--no-dt-diff", action="store_true", help="skip the DataTable-diff variant")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    plan = make_plan(args.quick, args.sizes, args.no_dt_diff)
    results = asyncio.run(run(plan, args.seed))
    met = report(results, plan)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
