"""FlowTopApp: bindings, the polling worker, and the wiring between core and widgets."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer

from flowtop.core import glyphs
from flowtop.core.client import MAX_STATS_CHOICES
from flowtop.core.columns import DEFAULT_COLUMNS, RATE_TITLE, Column, SortSpec, resolve_column
from flowtop.core.config import HighlightRule
from flowtop.core.errors import ANSWER_FAILURES, FlowtopError, UsageError, answer_failure
from flowtop.core.export import ExportError, export_rows
from flowtop.core.filter import MATCH_ALL, FlowFilter, compile_filter
from flowtop.core.groups import GROUP_CYCLE, Grouping, RowKey, group_columns, resolve_grouping
from flowtop.core.model import FlowKey
from flowtop.core.poller import PollPhase, PollState, clamp_interval, next_interval
from flowtop.core.recording import Recorder, ReplaySource
from flowtop.core.signals import SIGNAL_EXIT_DEADLINE, StopSignals
from flowtop.core.source import FlowSource, Snapshot
from flowtop.core.store import FlowStore, StoreUpdate
from flowtop.core.view import FlowView, Row, ViewResult
from flowtop.tui.ascii import ASCII_CLASS, AsciiFilter
from flowtop.tui.highlight import Highlighter
from flowtop.tui.screens.events import EventsScreen
from flowtop.tui.screens.export import ExportScreen
from flowtop.tui.screens.group import NO_GROUPING, GroupScreen
from flowtop.tui.screens.help import HelpScreen
from flowtop.tui.screens.sort import SortScreen
from flowtop.tui.widgets.detail import DetailPane
from flowtop.tui.widgets.filter_bar import FilterBar, use_short_escape_delay
from flowtop.tui.widgets.flow_table import FlowTable
from flowtop.tui.widgets.status import StatusBar, StatusInfo

# At this width and above the detail pane sits beside the table.
WIDE_LAYOUT_MIN_WIDTH = 150
CLOSE_TIMEOUT = 2.0
SIGNAL_CLOSE_TIMEOUT = 1.0
# The reset a terminal needs if the watchdog ends flowtop: leave the alternate screen,
# show the cursor, stop mouse and focus reports, bracketed paste; wrap lines again.
_TERMINAL_RESET = (
    "\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?1004l\x1b[?2004l"
    "\x1b[?7h\x1b[?1049l\x1b[?25h"
)
# How long the status line calls out a failover.
FAILOVER_NOTICE_SECONDS = 60.0
# Stepping back in a replay rebuilds the store from this many polls before the target.
REPLAY_REBUILD_POLLS = 60


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


class FlowTopApp(App[int]):
    """The live monitor (and the replay of a recording)."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "flowtop"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # As in top and htop (Textual's default only tells how to quit).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+z", "suspend_process", "Suspend", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "open_filter", "Filter", key_display="/"),
        Binding("escape", "escape", "Back", show=False),
        Binding("space,p", "toggle_pause", "Pause", key_display="spc"),
        Binding("r", "refresh", "Refresh"),
        Binding("s", "choose_sort", "Sort"),
        Binding("g", "choose_grouping", "Group"),
        Binding("e", "events", "Events"),
        Binding("d,enter", "toggle_detail", "Detail", key_display="d"),
        Binding("i", "invert_sort", "Invert", show=False),
        Binding("less_than_sign", "sort_left", "Sort left", show=False, key_display="<"),
        Binding("greater_than_sign", "sort_right", "Sort right", show=False, key_display=">"),
        Binding("P", "sort_by('pps')", "Sort pps", show=False),
        Binding("K", "sort_by('kbps')", "Sort rate", show=False),
        Binding("B", "sort_by('bytes')", "Sort bytes", show=False),
        Binding("A", "sort_by('age')", "Sort age", show=False),
        Binding("plus", "slower", "Slower", show=False, key_display="+"),
        Binding("minus", "faster", "Faster", show=False, key_display="-"),
        Binding("m", "cycle_max_stats", "Max", show=False),
        # ctrl+s is XOFF on terminals with flow control (it freezes them): x does the same.
        Binding("ctrl+s,x", "export", "Export", show=False),
        Binding("left_square_bracket", "replay_step(-1)", "Back", show=False, key_display="["),
        Binding("right_square_bracket", "replay_step(1)", "Forward", show=False, key_display="]"),
    ]

    def __init__(
        self,
        source: FlowSource,
        *,
        interval: float = 2.0,
        max_stats: int = 100,
        filter_text: str = "",
        sort: SortSpec | None = None,
        columns: Sequence[str] = DEFAULT_COLUMNS,
        group_by: str | None = None,
        highlights: Sequence[HighlightRule] = (),
        recorder: Recorder | None = None,
        export_directory: Path | None = None,
        clock: Callable[[], float] = time.time,
        history: int = 300,
        handle_signals: bool = True,
        on_ready: Callable[[], None] | None = None,
        ascii_only: bool = False,
    ) -> None:
        super().__init__()
        self._use_ascii(ascii_only)
        self._on_ready = on_ready
        self.source = source
        self.replay = source if isinstance(source, ReplaySource) else None
        self.clock = clock
        self.poll_state = PollState(interval=clamp_interval(interval))
        self.max_stats = max_stats
        self.sort = sort or SortSpec()
        self.flow_filter: FlowFilter = compile_filter(filter_text) if filter_text else MATCH_ALL
        self.store = FlowStore(history=history)
        self.view = FlowView(columns)
        # Columns named by the user (--columns, a profile): one that does not fit is said.
        self._columns_chosen = tuple(columns) != tuple(DEFAULT_COLUMNS)
        self.grouping: Grouping | None = resolve_grouping(group_by) if group_by else None
        # The flow sort to go back to when group mode ends.
        self._flow_sort = self.sort
        if not self._sort_applies(self.sort.column):
            self.sort = SortSpec()
        self.highlighter = Highlighter(highlights)
        self.recorder = recorder
        self.export_directory = export_directory
        self.last_result: ViewResult | None = None
        self.selected: RowKey | None = None
        self.notice = ""
        self.position = ""
        # (grouping, filter) to go back to with escape after a drill-down.
        self._drill_stack: list[tuple[Grouping | None, FlowFilter]] = []
        self._failover_notice: tuple[str, float] | None = None
        self._replay_target: int | None = None
        # (number, count) of the replayed poll shown, from its snapshot.
        self._replay_position: tuple[int, int] | None = None
        self._damage_shown = False
        self._recording_error_shown = False
        self._handle_signals = handle_signals
        self._terminal_fds: list[int] = []
        self._stop_signals: StopSignals | None = None
        self._hurry = False
        self._wake = asyncio.Event()
        self._next_poll_at: float | None = None
        self._detail_wanted: bool | None = None
        self._shutting_down = False
        # Stopped with ctrl+z (SIGTSTP) until `fg` (SIGCONT): no polling meanwhile.
        self.suspended = False
        # Completed polls, failed or not: tests and the status line wait on it.
        self.poll_attempts = 0

    def _use_ascii(self, ascii_only: bool) -> None:
        """Draw plain ASCII (a terminal that is not UTF-8, or ``--ascii``): flowtop's own
        glyphs from the ASCII set, and a filter for whatever Textual draws itself."""
        self.glyphs = glyphs.select(ascii_only)
        self.ascii_only = ascii_only
        if ascii_only:
            self._filters.append(AsciiFilter())
            self.add_class(ASCII_CLASS)

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
    def columns(self) -> tuple[Column, ...]:
        """The columns shown now: flow columns, or group columns when grouped."""
        return group_columns(self.grouping) if self.grouping else self.view.columns

    @property
    def wide(self) -> bool:
        return self.size.width >= WIDE_LAYOUT_MIN_WIDTH

    @property
    def detail_visible(self) -> bool:
        # Wide terminals show the pane unless hidden; narrow ones only when asked.
        return self.wide if self._detail_wanted is None else self._detail_wanted

    def _apply_layout(self, width: int | None = None) -> None:
        wide = (self.size.width if width is None else width) >= WIDE_LAYOUT_MIN_WIDTH
        visible = wide if self._detail_wanted is None else self._detail_wanted
        body = self.query_one("#body")
        body.set_class(wide, "-wide")
        body.set_class(not wide, "-narrow")
        body.set_class(visible, "-detail")
        if not wide and visible:
            self.detail.focus()
        elif self.focused is None or self.focused is self.detail:
            self.table.focus()

    def on_resize(self, event: events.Resize) -> None:
        # This handler runs before App._on_resize stores the new size, so self.size is
        # still the old one here: the layout must come from the event.
        self._apply_layout(event.size.width)
        # A pane the resize shows fills in once the new size is stored.
        self.call_later(self._update_detail)

    async def on_mount(self) -> None:
        use_short_escape_delay()
        self.table.set_columns(self.columns)
        self._apply_layout()
        self.table.focus()
        self._update_status()
        self.set_interval(1.0, self._update_status)
        self._replay_damage()
        if self._handle_signals:
            self._install_signal_handlers()
        self.app_suspend_signal.subscribe(self, self._on_suspend, immediate=True)
        self.app_resume_signal.subscribe(self, self._on_resume, immediate=True)
        if self._on_ready is not None:
            self._on_ready()
        self._poll_loop()

    def _install_signal_handlers(self) -> None:
        # signal.signal, not loop.add_signal_handler: the handler must run (and arm the
        # watchdog) even when the event loop is stuck and never runs a callback again.
        stops = StopSignals(
            self._on_stop_signal,
            exit_code=lambda number: 0,
            deadline=SIGNAL_EXIT_DEADLINE,
            last_words=self._last_words,
        )
        if stops.install():
            self._stop_signals = stops
        # A terminal can vanish without a hangup (a pty that was never the controlling
        # terminal): its descriptors stop being terminals, and then flowtop must go.
        self._terminal_fds = [fd for fd in (0, 1, 2) if _is_terminal(fd)]
        if self._terminal_fds:
            self.set_interval(1.0, self._check_terminal)

    def on_unmount(self) -> None:
        if self._stop_signals is not None:
            self._stop_signals.restore()

    def _on_stop_signal(self, number: int) -> None:
        # In the signal handler (the watchdog is armed by now): only schedule the quit.
        try:
            asyncio.get_running_loop().call_soon_threadsafe(self._on_signal)
        except RuntimeError:
            pass  # no loop running: the watchdog ends the process

    def _last_words(self) -> None:
        """From the watchdog thread, the event loop being stuck: finish what matters."""
        # The loop is not running, so nothing else writes the recording: end its stream
        # so that the file stays whole and can be appended to.
        if self.recorder is not None and self.replay is None:
            self.recorder.close()
        self._reset_terminal()

    def _reset_terminal(self) -> None:
        """Best effort, from the watchdog thread: the terminal out of application mode."""
        driver = self._driver
        attributes = getattr(driver, "attrs_before", None)
        fileno = getattr(driver, "fileno", None)
        if attributes is not None and isinstance(fileno, int):
            try:
                import termios

                termios.tcsetattr(fileno, termios.TCSANOW, attributes)
            except Exception:
                pass
        if _is_terminal(2):  # where Textual writes
            try:
                os.write(2, _TERMINAL_RESET.encode())
            except OSError:
                pass

    def _check_terminal(self) -> None:
        if not all(_is_terminal(fd) for fd in self._terminal_fds):
            self._on_signal()

    def _on_signal(self) -> None:
        # The terminal may be gone: log out briefly, and if leaving still hangs, a
        # watchdog ends the process, so no flowtop is left polling the appliance.
        if self._hurry:
            return
        self._hurry = True
        if self._stop_signals is not None:
            self._stop_signals.arm(0)
        else:
            StopSignals(lambda number: None, last_words=self._last_words).arm(0)
        self.call_later(self.action_quit)

    def _on_suspend(self, _app: object) -> None:
        """ctrl+z: poll no more until resumed; a request in flight is dropped (it would
        otherwise time out over the stop and show the data as stale)."""
        self.suspended = True
        self.workers.cancel_group(self, "poll")
        self.workers.cancel_group(self, "refresh")

    def _on_resume(self, _app: object) -> None:
        """Back in the foreground (SIGCONT after `fg`): poll now, then at the interval."""
        self.suspended = False
        if not self._shutting_down:
            self._poll_loop()

    # ---- polling ------------------------------------------------------------------

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def _poll_loop(self) -> None:
        """Poll forever, one request at a time; a slow answer delays the next poll."""
        while not self._shutting_down:
            started = time.monotonic()
            if self.poll_state.may_poll and not self.suspended:
                await self._poll_once()
            wait = self._next_wait(time.monotonic() - started)
            self._next_poll_at = self.clock() + wait
            self._update_status()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass
            self._wake.clear()

    def _next_wait(self, spent: float) -> float:
        state = self.poll_state
        if state.paused or state.phase is PollPhase.STOPPED:
            return 3600.0
        if self.replay is not None and state.failures == 0:
            gap = self.replay.interval_to_next()
            if gap is None:
                self._end_of_replay()
                return 3600.0
            return gap
        delay = state.delay()
        return max(delay - spent, min(0.2, delay))

    def _end_of_replay(self) -> None:
        self.poll_state.set_paused(True)
        # A damaged recording ends early: say why it ended there.
        ended = self._replay_damage() or "end of the recording"
        self.notice = f"{ended}: [ and ] step through it, q quits"

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
            self._apply_guarded(snapshot)
        self.poll_attempts += 1

    def _apply_guarded(self, snapshot: Snapshot) -> None:
        """Apply a poll; a failure to use or draw it marks the view stale with the reason."""
        try:
            self.apply_snapshot(snapshot)
        except ANSWER_FAILURES as error:
            self.log.error("answer could not be shown", error)
            self.poll_state.failed(answer_failure(error))
            try:
                self._render(stale=True)
            except ANSWER_FAILURES:
                # The same failure again: dim the rows last drawn, the status says why.
                if self.last_result is not None:
                    self.table.apply(self.last_result, self.sort, stale=True, new=())
                self._update_status()

    def _failed(self, error: FlowtopError) -> None:
        was_stale = self.poll_state.stale
        self.poll_state.failed(error)
        if not was_stale:
            self._render(stale=True)
        self._update_status()

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        recovered = self.poll_state.stale and self.poll_state.last_success_at is not None
        capped = snapshot.capped(0 if self.replay is not None else self.max_stats)
        update = self.store.apply(snapshot.flows, snapshot.received_at, capped=capped)
        self.poll_state.succeeded(snapshot.received_at, snapshot.latency)
        self._record(snapshot)
        self._note(snapshot, update)
        self._render(stale=False, new=update.added)
        if isinstance(self.screen, EventsScreen):
            self.screen.refresh_events()
        if recovered:
            self.notify("The appliance answers again.", title="Recovered", markup=False)

    def _record(self, snapshot: Snapshot) -> None:
        recorder = self.recorder
        if recorder is None or self.replay is not None:
            return
        if not recorder.write(snapshot, self.max_stats) and not self._recording_error_shown:
            self._recording_error_shown = True
            message = recorder.last_error or "recording stopped"
            self.notify(message, title="Recording", severity="error", markup=False)

    def _note(self, snapshot: Snapshot, update: StoreUpdate) -> None:
        notes = []
        if self.replay is not None and snapshot.position is not None:
            number, count = snapshot.position
            self._replay_position = snapshot.position
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snapshot.received_at))
            self.position = f"replay poll {number} of {count} at {stamp}"
        if update.duplicate_keys:
            notes.append(f"the appliance repeated {update.duplicate_keys} flow key(s)")
        if snapshot.ignored_items:
            notes.append(f"{snapshot.ignored_items} item(s) in the answer were not flows")
        if update.failovers:
            failover = update.failovers[0]
            arrow = glyphs.current().arrow
            text = f"failover: {failover.count} flows moved {failover.old}{arrow}{failover.new}"
            self._failover_notice = (text, self.clock() + FAILOVER_NOTICE_SECONDS)
        if self._failover_notice is not None:
            text, until = self._failover_notice
            if self.clock() < until or self.replay is not None:
                notes.append(text)
            else:
                self._failover_notice = None
        if self.recorder is not None and self.recorder.last_error:
            notes.append(self.recorder.last_error)
        damage = self._replay_damage()
        if damage:
            notes.append(damage)
        self.notice = "; ".join(notes)

    def _replay_damage(self) -> str:
        """The damage of the recording replayed, if any; told once as a notification
        too, since a warning on stderr stays hidden until the screen is left."""
        damage = self.replay.recording.damage if self.replay is not None else None
        if damage and not self._damage_shown:
            self._damage_shown = True
            self.notify(damage, title="Damaged recording", severity="warning", markup=False)
        return damage or ""

    def _mode(self) -> str:
        """``REPLAY 2x 15/120`` while replaying, else empty."""
        replay = self.replay
        if replay is None:
            return ""
        text = f"REPLAY {replay.speed:g}x"
        if self._replay_position is not None:
            number, count = self._replay_position
            text += f" {number}/{count}" if count > 0 else f" {number}"
        return text

    def wake(self) -> None:
        self._wake.set()

    # ---- rendering ----------------------------------------------------------------

    def _render(self, *, stale: bool | None = None, new: Iterable[FlowKey] = ()) -> None:
        if stale is None:
            stale = self.poll_state.stale
        predicate = None if self.flow_filter.is_empty else self.flow_filter
        records = self.store.records.values()
        if self.grouping is not None:
            result = self.view.compute_groups(records, self.grouping, predicate, self.sort)
            new = ()
        else:
            result = self.view.compute(records, predicate, self.sort)
        highlights = None
        if self.highlighter:
            highlights, started = self.highlighter.styles(result.rows)
            if started:
                self.bell()
        self.last_result = result
        self.table.apply(result, self.sort, stale=stale, new=new, highlights=highlights)
        self.selected = self.table.selected_key
        self._update_detail()
        self._update_status()

    def selected_row(self) -> Row | None:
        result = self.last_result
        if result is None or self.selected is None:
            return None
        index = result.index_of(self.selected)
        return None if index is None else result.rows[index]

    def _update_detail(self) -> None:
        if not self.detail_visible:
            return
        key = self.selected
        row = self.selected_row()
        if row is not None and row.group is not None:
            # A group shows its top flow.
            key = row.group.top.key if row.group.top is not None else None
        record = self.store.get(key) if isinstance(key, FlowKey) else None
        times = self.store.sample_times(record) if record is not None else ()
        self.detail.show(record, self._now(), stale=self.poll_state.stale, times=times)

    def _now(self) -> float:
        """Now, or in a replay the time of the poll shown."""
        if self.replay is not None and self.poll_state.last_success_at is not None:
            return self.poll_state.last_success_at
        return self.clock()

    def _sort_title(self) -> str:
        arrow = glyphs.current().sort_mark(self.sort.descending)
        for column in self.columns:
            if column.id == self.sort.column:
                return f"{column.title}{arrow}"
        try:
            return f"{resolve_column(self.sort.column).title}{arrow}"
        except UsageError:
            return f"{RATE_TITLE}{arrow}"

    def status_info(self) -> StatusInfo:
        state = self.poll_state
        now = self.clock()
        since = None
        if state.last_success_at is not None and self.replay is None:
            since = max(0.0, now - state.last_success_at)
        retry_in = None
        if state.phase is PollPhase.ERROR and self._next_poll_at is not None:
            retry_in = self._next_poll_at - now
        result = self.last_result
        filter_text = self.flow_filter.expression
        notice = "; ".join(
            part for part in (self.position, self.notice, self.hidden_columns_notice()) if part
        )
        return StatusInfo(
            source=self.source.description,
            interval=state.interval,
            max_stats=self.max_stats,
            phase=state.phase,
            shown=len(result.rows) if result else 0,
            total=result.total if result else 0,
            sort=self._sort_title(),
            filter=filter_text,
            since_update=since,
            latency=state.last_latency if self.replay is None else None,
            error=str(state.last_error) if state.last_error and state.stale else "",
            retry_in=retry_in,
            notice=notice,
            groups=self.grouping is not None,
            row=self.table.cursor_row + 1 if result and result.rows else None,
            capped=self.store.capped,
            mode=self._mode(),
            recording=self._recording_name(),
            recording_failed=self.recorder is not None and not self.recorder.active,
        )

    def _recording_name(self) -> str:
        recorder = self.recorder
        if recorder is None or self.replay is not None:
            return ""
        return os.path.basename(recorder.path) or recorder.path

    def hidden_columns_notice(self) -> str:
        """Names the chosen columns the width leaves out (none for the default columns,
        which narrow terminals thin out by design)."""
        if not self._columns_chosen or self.grouping is not None:
            return ""
        table = self.table
        if table.size.width <= 0:
            return ""
        shown = set(table.shown_column_ids())
        hidden = [column.id for column in table.columns if column.id not in shown]
        if not hidden:
            return ""
        return f"too narrow for column(s) {', '.join(hidden)}: widen the terminal"

    def _update_status(self) -> None:
        try:
            bar = self.query_one("#status", StatusBar)
        except NoMatches:
            return  # the app is leaving: a timer fired after its screen went
        bar.show(self.status_info())

    # ---- messages from widgets ----------------------------------------------------

    @on(FlowTable.FlowHighlighted)
    def _highlighted(self, event: FlowTable.FlowHighlighted) -> None:
        self.selected = event.key
        self._update_detail()
        self._update_status()

    @on(DetailPane.StepFlow)
    def _step_flow(self, event: DetailPane.StepFlow) -> None:
        table = self.table
        if event.step > 0:
            table.action_cursor_down()
        else:
            table.action_cursor_up()

    @on(FlowTable.SortRequested)
    def _sort_requested(self, event: FlowTable.SortRequested) -> None:
        if event.column_id == self.sort.column:
            self.set_sort(self.sort.inverted())
        else:
            self.set_sort(self._sort_for(event.column_id))

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        self.flow_filter = event.compiled
        self._render()

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        self.filter_bar.close()
        self.table.focus()

    # ---- sorting ------------------------------------------------------------------

    def _sort_for(self, column_id: str) -> SortSpec:
        """The natural sort for a shown column: numbers descending, text ascending."""
        for column in self.columns:
            if column.id == column_id:
                return SortSpec(column.id, column.numeric)
        return SortSpec.parse(column_id)

    def set_sort(self, sort: SortSpec) -> None:
        self.sort = sort
        self._render()

    def _sort_applies(self, column_id: str) -> bool:
        """Groups sort only by their own columns (no age, no endpoints)."""
        return self.grouping is None or any(c.id == column_id for c in self.columns)

    def action_sort_by(self, column: str) -> None:
        wanted = self._sort_for(column)
        if not self._sort_applies(wanted.column):
            title = resolve_column(wanted.column).title
            self.notify(f"groups have no {title} to sort by", timeout=3, markup=False)
            return
        self.set_sort(self.sort.inverted() if wanted.column == self.sort.column else wanted)

    def action_invert_sort(self) -> None:
        self.set_sort(self.sort.inverted())

    def _move_sort(self, step: int) -> None:
        # The columns on screen, as top and htop step through what they show.
        ids = self.table.shown_column_ids() or [column.id for column in self.columns]
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
                self.set_sort(self._sort_for(column_id))

        self.push_screen(SortScreen(self.columns, self.sort.column), chosen)

    # ---- grouping -----------------------------------------------------------------

    def set_grouping(self, grouping: Grouping | None) -> None:
        was_grouped = self.grouping is not None
        self.grouping = grouping
        self.view.reset()
        if grouping is not None and not was_grouped:
            self._flow_sort = self.sort
        if not self._sort_applies(self.sort.column):
            # Groups have no age or endpoints: sort them by rate meanwhile.
            self.sort = SortSpec()
        if grouping is None and self.sort.column in ("group", "flows", "top"):
            self.sort = self._flow_sort
        self.table.set_columns(self.columns)
        self._render()

    def action_cycle_grouping(self) -> None:
        current = self.grouping.id if self.grouping else None
        index = GROUP_CYCLE.index(current) if current in GROUP_CYCLE else 0
        following = GROUP_CYCLE[(index + 1) % len(GROUP_CYCLE)]
        self._drill_stack.clear()
        self.set_grouping(resolve_grouping(following) if following else None)

    def action_choose_grouping(self) -> None:
        def chosen(grouping_id: str | None) -> None:
            if grouping_id is None:
                return
            self._drill_stack.clear()
            self.set_grouping(None if grouping_id == NO_GROUPING else resolve_grouping(grouping_id))

        current = self.grouping.id if self.grouping else None
        self.push_screen(GroupScreen(current), chosen)

    def _drill_into(self, row: Row) -> None:
        group = row.group
        assert group is not None and self.grouping is not None
        self._drill_stack.append((self.grouping, self.flow_filter))
        expression = f"{self.flow_filter.expression} {group.grouping.drill_filter(group.value)}"
        self.flow_filter = compile_filter(expression.strip())
        self.set_grouping(None)

    def _drill_back(self) -> None:
        grouping, flow_filter = self._drill_stack.pop()
        self.flow_filter = flow_filter
        self.set_grouping(grouping)

    # ---- actions ------------------------------------------------------------------

    # Actions that work on the flow table; they make no sense over the events view.
    _TABLE_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "choose_sort", "invert_sort", "sort_left", "sort_right", "sort_by",
            "toggle_detail", "cycle_grouping", "choose_grouping", "open_filter", "export",
            "events",
        }
    )  # fmt: skip

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self._TABLE_ACTIONS and isinstance(self.screen, EventsScreen))

    def action_toggle_pause(self) -> None:
        self.poll_state.set_paused(not self.poll_state.paused)
        if not self.poll_state.paused and self.replay is not None and self.replay.at_end:
            self.notice = ""
        self.wake()
        self._update_status()

    def action_refresh(self) -> None:
        self.poll_state.retry_after_stop()
        if self.poll_state.paused:
            self.run_worker(self._poll_once(), group="refresh", exclusive=True)
        else:
            self.wake()

    def action_replay_step(self, delta: int) -> None:
        replay = self.replay
        if replay is None:
            self.notify("[ and ] step through a replay (--replay FILE)", markup=False)
            return
        self.poll_state.set_paused(True)
        # Keys pressed faster than polls are shown add up: count from the pending target.
        start = self._replay_target if self._replay_target is not None else replay.position
        target = max(0, min(replay.count - 1, start + delta))
        self._replay_target = target
        self.run_worker(self._replay_to(target), group="refresh", exclusive=True)

    async def _replay_to(self, target: int) -> None:
        """Show poll ``target``; going back rebuilds the store from shortly before it."""
        replay = self.replay
        assert replay is not None
        if target < replay.position:
            self.store.clear()
            self.view.reset()
            start = max(0, target - REPLAY_REBUILD_POLLS)
            replay.seek(start)
            for _ in range(target - start):
                try:
                    snapshot = await replay.fetch(self.max_stats)
                except FlowtopError:
                    continue  # a damaged poll on the way: the target is what matters
                self.store.apply(snapshot.flows, snapshot.received_at, capped=snapshot.capped())
        replay.seek(target)
        await self._poll_once()
        if self._replay_target == target:
            self._replay_target = None

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
        self.filter_bar.open(self.flow_filter.expression, self.flow_filter)

    def action_escape(self) -> None:
        """Back out of the innermost thing: filter bar, full-screen pane, drill, group
        mode, filter."""
        if self.filter_bar.is_open:
            # Cancel the edit: the filter in force when the bar opened comes back.
            self.filter_bar.close()
            self.table.focus()
            self.flow_filter = self.filter_bar.before_edit
            self._render()
        elif not self.wide and self.detail_visible:
            self._detail_wanted = False
            self._apply_layout()
        elif self._drill_stack:
            self._drill_back()
        elif self.grouping is not None:
            self.set_grouping(None)
        elif not self.flow_filter.is_empty:
            self.clear_filter()

    def clear_filter(self) -> None:
        self.flow_filter = MATCH_ALL
        self._render()

    def action_toggle_detail(self) -> None:
        row = self.selected_row()
        if row is not None and row.group is not None:
            self._drill_into(row)
            return
        self._detail_wanted = not self.detail_visible
        self._apply_layout()
        self._update_detail()

    def action_events(self) -> None:
        self.push_screen(
            EventsScreen(
                lambda: list(self.store.events),
                lambda: list(self.store.failovers),
                clock=self._now,
            )
        )

    def action_export(self) -> None:
        directory = self.export_directory or Path.cwd()
        rows = list(self.last_result.rows) if self.last_result else []
        kind = f"groups-{self.grouping.id}" if self.grouping else "flows"

        def chosen(fmt: str | None) -> None:
            if not fmt:
                return
            try:
                path = export_rows(rows, fmt, directory, now=self.clock(), kind=kind)
            except ExportError as error:
                self.notify(str(error), title="Export failed", severity="error", markup=False)
                return
            self.notify(f"{len(rows)} rows written to {path}", title="Exported", markup=False)

        self.push_screen(ExportScreen(directory), chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self._shutting_down:
            return
        self._shutting_down = True
        self.workers.cancel_group(self, "poll")
        try:
            await asyncio.wait_for(
                self.source.close(), timeout=SIGNAL_CLOSE_TIMEOUT if self._hurry else CLOSE_TIMEOUT
            )
        except (Exception, asyncio.CancelledError):
            pass  # logging out is a courtesy; leaving promptly matters more
        if self.recorder is not None:
            self.recorder.close()
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
            ("Group flows", "By application, path, service, DSCP, hosts, direction, or none",
             self.action_choose_grouping),
            ("Path and flow events", "Failovers, path changes, new and ended flows",
             self.action_events),
            ("Export the view", "Write the rows shown to CSV or JSON", self.action_export),
            ("Toggle detail pane", "Show or hide flow details", self.action_toggle_detail),
            ("Cycle max_stats", "50, 100, 1000 flows", self.action_cycle_max_stats),
            ("Show keys", "Every key flowtop knows", self.action_help),
        )  # fmt: skip
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
