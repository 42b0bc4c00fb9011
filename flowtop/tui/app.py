"""FlowTopApp: bindings, the polling worker, and the wiring between core and widgets."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from flowtop.core.client import MAX_STATS_CHOICES
from flowtop.core.columns import SortSpec, resolve_column
from flowtop.core.errors import FlowtopError
from flowtop.core.filter import MATCH_ALL, FlowFilter, compile_filter
from flowtop.core.model import FlowKey
from flowtop.core.poller import PollPhase, PollState, clamp_interval, next_interval
from flowtop.core.settings import Settings
from flowtop.core.source import FlowSource, Snapshot, build_source
from flowtop.core.store import FlowStore
from flowtop.core.view import FlowView, ViewResult
from flowtop.tui.screens.help import HelpScreen
from flowtop.tui.screens.sort import SortScreen
from flowtop.tui.widgets.detail import DetailPane
from flowtop.tui.widgets.filter_bar import FilterBar
from flowtop.tui.widgets.flow_table import FlowTable
from flowtop.tui.widgets.status import StatusBar, StatusInfo

# At this width and above the detail pane sits beside the table.
WIDE_LAYOUT_MIN_WIDTH = 150
CLOSE_TIMEOUT = 2.0


class FlowTopApp(App[int]):
    """The live monitor."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "flowtop"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "open_filter", "Filter", key_display="/"),
        Binding("escape", "escape", "Clear", show=False),
        Binding("space,p", "toggle_pause", "Pause", key_display="spc"),
        Binding("r", "refresh", "Refresh"),
        Binding("s", "choose_sort", "Sort"),
        Binding("i", "invert_sort", "Invert", show=False),
        Binding("less_than_sign", "sort_left", "Sort left", show=False, key_display="<"),
        Binding("greater_than_sign", "sort_right", "Sort right", show=False, key_display=">"),
        Binding("P", "sort_by('pps')", "Sort pps", show=False),
        Binding("K", "sort_by('kbps')", "Sort rate", show=False),
        Binding("B", "sort_by('bytes')", "Sort bytes", show=False),
        Binding("A", "sort_by('age')", "Sort age", show=False),
        Binding("plus", "slower", "Slower", show=False, key_display="+"),
        Binding("minus", "faster", "Faster", show=False, key_display="-"),
        Binding("m", "cycle_max_stats", "Max", key_display="m"),
        Binding("d,enter", "toggle_detail", "Detail", key_display="d"),
    ]

    def __init__(
        self,
        source: FlowSource,
        *,
        interval: float = 2.0,
        max_stats: int = 100,
        filter_text: str = "",
        sort: SortSpec | None = None,
        clock: Callable[[], float] = time.time,
        history: int = 300,
        handle_signals: bool = True,
    ) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.poll_state = PollState(interval=clamp_interval(interval))
        self.max_stats = max_stats
        self.sort = sort or SortSpec()
        self.flow_filter: FlowFilter = compile_filter(filter_text) if filter_text else MATCH_ALL
        self.store = FlowStore(history=history)
        self.view = FlowView()
        self.last_result: ViewResult | None = None
        self.selected: FlowKey | None = None
        self.notice = ""
        self._handle_signals = handle_signals
        self._wake = asyncio.Event()
        self._next_poll_at: float | None = None
        self._detail_wanted: bool | None = None
        self._shutting_down = False
        # Completed polls, failed or not: tests and the status line wait on it.
        self.poll_attempts = 0

    # ---- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            yield FlowTable(id="flows")
            yield DetailPane(id="detail")
        yield FilterBar(id="filter-bar")
        yield Footer()

    @property
    def table(self) -> FlowTable:
        return self.query_one("#flows", FlowTable)

    @property
    def detail(self) -> DetailPane:
        return self.query_one("#detail", DetailPane)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter-bar", FilterBar)

    @property
    def wide(self) -> bool:
        return self.size.width >= WIDE_LAYOUT_MIN_WIDTH

    @property
    def detail_visible(self) -> bool:
        # Wide terminals show the pane unless hidden; narrow ones only when asked.
        return self.wide if self._detail_wanted is None else self._detail_wanted

    def _apply_layout(self) -> None:
        body = self.query_one("#body")
        body.set_class(self.wide, "-wide")
        body.set_class(not self.wide, "-narrow")
        body.set_class(self.detail_visible, "-detail")
        if not self.wide and self.detail_visible:
            self.detail.focus()
        elif self.focused is None or self.focused is self.detail:
            self.table.focus()

    def on_resize(self) -> None:
        self._apply_layout()

    async def on_mount(self) -> None:
        self.table.set_columns(self.view.columns)
        self._apply_layout()
        self.table.focus()
        self._update_status()
        self.set_interval(1.0, self._update_status)
        if self._handle_signals:
            self._install_signal_handlers()
        self._poll_loop()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(number, self._on_signal)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _on_signal(self) -> None:
        self.call_later(self.action_quit)

    # ---- polling ------------------------------------------------------------------

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def _poll_loop(self) -> None:
        """Poll forever, one request at a time; a slow answer delays the next poll."""
        while not self._shutting_down:
            started = time.monotonic()
            if self.poll_state.may_poll:
                await self._poll_once()
            delay = self.poll_state.delay()
            wait = max(delay - (time.monotonic() - started), min(0.2, delay))
            if self.poll_state.paused or self.poll_state.phase is PollPhase.STOPPED:
                wait = 3600.0
            self._next_poll_at = self.clock() + wait
            self._update_status()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _poll_once(self) -> None:
        try:
            snapshot = await self.source.fetch(self.max_stats)
        except FlowtopError as error:
            self._failed(error)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug must not take the live view down
            self.log.error("poll failed", error)
            self._failed(FlowtopError(f"unexpected {type(error).__name__}: {error}"))
        else:
            self.apply_snapshot(snapshot)
        self.poll_attempts += 1

    def _failed(self, error: FlowtopError) -> None:
        was_stale = self.poll_state.stale
        self.poll_state.failed(error)
        if not was_stale:
            self._render(stale=True)
        self._update_status()

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        recovered = self.poll_state.stale and self.poll_state.last_success_at is not None
        update = self.store.apply(snapshot.flows, snapshot.received_at)
        self.poll_state.succeeded(snapshot.received_at, snapshot.latency)
        notes = []
        if update.duplicate_keys:
            notes.append(f"the appliance repeated {update.duplicate_keys} flow key(s)")
        if snapshot.ignored_items:
            notes.append(f"{snapshot.ignored_items} item(s) in the answer were not flows")
        for failover in update.failovers[:1]:
            notes.append(f"{failover.count} flows moved {failover.old} → {failover.new}")
        self.notice = "; ".join(notes)
        self._render(stale=False)
        if recovered:
            self.notify("The appliance answers again.", title="Recovered", markup=False)

    def wake(self) -> None:
        self._wake.set()

    # ---- rendering ----------------------------------------------------------------

    def _render(self, *, stale: bool | None = None) -> None:
        if stale is None:
            stale = self.poll_state.stale
        predicate = None if self.flow_filter.is_empty else self.flow_filter
        result = self.view.compute(self.store.records.values(), predicate, self.sort)
        self.last_result = result
        self.table.apply(result, self.sort, stale=stale)
        self.selected = self.table.selected_key
        self._update_detail()
        self._update_status()

    def _update_detail(self) -> None:
        if not self.detail_visible:
            return
        record = self.store.get(self.selected) if self.selected is not None else None
        self.detail.show(record, self.clock(), stale=self.poll_state.stale)

    def status_info(self) -> StatusInfo:
        state = self.poll_state
        now = self.clock()
        since = None if state.last_success_at is None else max(0.0, now - state.last_success_at)
        retry_in = None
        if state.phase is PollPhase.ERROR and self._next_poll_at is not None:
            retry_in = self._next_poll_at - now
        result = self.last_result
        return StatusInfo(
            source=self.source.description,
            interval=state.interval,
            max_stats=self.max_stats,
            phase=state.phase,
            shown=len(result.rows) if result else 0,
            total=result.total if result else 0,
            sort=f"{resolve_column(self.sort.column).title}{'▼' if self.sort.descending else '▲'}",
            filter=self.flow_filter.expression,
            since_update=since,
            latency=state.last_latency,
            error=str(state.last_error) if state.last_error and state.stale else "",
            retry_in=retry_in,
            notice=self.notice,
        )

    def _update_status(self) -> None:
        self.query_one("#status", StatusBar).show(self.status_info())

    # ---- messages from widgets ----------------------------------------------------

    @on(FlowTable.FlowHighlighted)
    def _highlighted(self, event: FlowTable.FlowHighlighted) -> None:
        self.selected = event.key
        self._update_detail()

    @on(FlowTable.SortRequested)
    def _sort_requested(self, event: FlowTable.SortRequested) -> None:
        if event.column_id == self.sort.column:
            self.set_sort(self.sort.inverted())
        else:
            self.set_sort(SortSpec.parse(event.column_id))

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        self.flow_filter = event.compiled
        self._render()

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        self.filter_bar.close()
        self.table.focus()

    # ---- actions ------------------------------------------------------------------

    def set_sort(self, sort: SortSpec) -> None:
        self.sort = sort
        self._render()

    def action_sort_by(self, column: str) -> None:
        wanted = SortSpec.parse(column)
        self.set_sort(self.sort.inverted() if wanted.column == self.sort.column else wanted)

    def action_invert_sort(self) -> None:
        self.set_sort(self.sort.inverted())

    def _move_sort(self, step: int) -> None:
        ids = [column.id for column in self.view.columns]
        index = ids.index(self.sort.column) if self.sort.column in ids else 0
        target = ids[(index + step) % len(ids)]
        self.set_sort(SortSpec(target, self.sort.descending))

    def action_sort_left(self) -> None:
        self._move_sort(-1)

    def action_sort_right(self) -> None:
        self._move_sort(1)

    def action_choose_sort(self) -> None:
        def chosen(column_id: str | None) -> None:
            if column_id:
                self.set_sort(SortSpec.parse(column_id))

        self.push_screen(SortScreen(self.view.columns, self.sort.column), chosen)

    def action_toggle_pause(self) -> None:
        self.poll_state.set_paused(not self.poll_state.paused)
        self.wake()
        self._update_status()

    def action_refresh(self) -> None:
        self.poll_state.retry_after_stop()
        if self.poll_state.paused:
            self.run_worker(self._poll_once(), group="refresh", exclusive=True)
        else:
            self.wake()

    def _set_interval(self, seconds: float) -> None:
        self.poll_state.interval = clamp_interval(seconds)
        self.wake()
        self._update_status()

    def action_slower(self) -> None:
        self._set_interval(next_interval(self.poll_state.interval, faster=False))

    def action_faster(self) -> None:
        self._set_interval(next_interval(self.poll_state.interval, faster=True))

    def action_cycle_max_stats(self) -> None:
        choices = list(MAX_STATS_CHOICES)
        index = choices.index(self.max_stats) if self.max_stats in choices else -1
        self.max_stats = choices[(index + 1) % len(choices)]
        self.action_refresh()
        self._update_status()

    def action_open_filter(self) -> None:
        self.filter_bar.open(self.flow_filter.expression)

    def action_escape(self) -> None:
        if self.filter_bar.is_open:
            self.filter_bar.close()
            self.table.focus()
            self.clear_filter()
        elif not self.wide and self.detail_visible:
            self._detail_wanted = False
            self._apply_layout()
        elif not self.flow_filter.is_empty:
            self.clear_filter()

    def clear_filter(self) -> None:
        self.flow_filter = MATCH_ALL
        self._render()

    def action_toggle_detail(self) -> None:
        self._detail_wanted = not self.detail_visible
        self._apply_layout()
        self._update_detail()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self._shutting_down:
            return
        self._shutting_down = True
        self.workers.cancel_group(self, "poll")
        try:
            await asyncio.wait_for(self.source.close(), timeout=CLOSE_TIMEOUT)
        except (Exception, asyncio.CancelledError):
            pass  # logging out is a courtesy; leaving promptly matters more
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        yield from super().get_system_commands(screen)
        commands = (
            ("Pause or resume polling", "Stop or restart polling", self.action_toggle_pause),
            ("Refresh now", "Poll the appliance now", self.action_refresh),
            ("Filter flows", "Open the filter bar", self.action_open_filter),
            ("Clear the filter", "Show every flow", self.clear_filter),
            ("Choose sort column", "Sort by a column", self.action_choose_sort),
            ("Invert sort", "Ascending / descending", self.action_invert_sort),
            ("Toggle detail pane", "Show or hide flow details", self.action_toggle_detail),
            ("Cycle max_stats", "50, 100, 1000 flows", self.action_cycle_max_stats),
            ("Show keys", "Every key flowtop knows", self.action_help),
        )
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)


def run_app(settings: Settings) -> int:
    """Run the live monitor until the user quits; the exit code for the CLI."""
    source = build_source(settings)
    app = FlowTopApp(
        source,
        interval=settings.interval,
        max_stats=settings.max_stats,
        filter_text=settings.filter,
        sort=SortSpec.parse(settings.sort),
    )
    app.run()
    return app.return_code or 0
