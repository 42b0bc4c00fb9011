"""FlowTopApp: bindings, the polling worker, and the wiring between core and widgets."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer

from flowtop.core import glyphs
from flowtop.core.all_flows import AllFlowsMonitor
from flowtop.core.columns import DEFAULT_COLUMNS, FLEET_COLUMNS, Column, SortSpec
from flowtop.core.config import HighlightRule
from flowtop.core.config.save import SaveTarget, save_to_profile
from flowtop.core.copying import clipboard_refusal, row_expression
from flowtop.core.errors import ANSWER_FAILURES, FlowtopError, answer_failure
from flowtop.core.export import ExportError, export_rows
from flowtop.core.filter import FlowFilter
from flowtop.core.fleet import Fleet, Member, OtherEnd, state_of
from flowtop.core.groups import GROUPINGS, Grouping, RowKey, resolve_grouping
from flowtop.core.model import Flow, FlowKey
from flowtop.core.monitor import (
    FAILOVER_NOTICE_SECONDS,
    REPLAY_REBUILD_POLLS,
    Frame,
    Message,
    Monitor,
    run_polls,
)
from flowtop.core.names import NameResolver
from flowtop.core.pairs import other_direction_rows, pair_heading
from flowtop.core.poller import PollState, next_interval
from flowtop.core.recording import Recorder, ReplaySource
from flowtop.core.signals import SIGNAL_EXIT_DEADLINE, StopSignals
from flowtop.core.source import FlowSource, Snapshot
from flowtop.core.store import FlowRecord, FlowStore
from flowtop.core.units import format_count, format_rate
from flowtop.core.view import FlowView, Row, ViewResult
from flowtop.tui.ascii import ASCII_CLASS, AsciiFilter
from flowtop.tui.footer import fit_footer
from flowtop.tui.highlight import rule_styles, styles_by_key
from flowtop.tui.screens.columns import ColumnScreen
from flowtop.tui.screens.events import EventsScreen
from flowtop.tui.screens.export import ExportScreen
from flowtop.tui.screens.fleet import FleetScreen
from flowtop.tui.screens.group import NO_GROUPING, GroupScreen
from flowtop.tui.screens.help import HelpScreen
from flowtop.tui.screens.sort import SortScreen
from flowtop.tui.widgets.detail import DetailPane
from flowtop.tui.widgets.filter_bar import FilterBar, use_short_escape_delay
from flowtop.tui.widgets.flow_table import FlowTable
from flowtop.tui.widgets.status import StatusBar, StatusInfo
from flowtop.tui.widgets.totals import TotalsBar

# At this width and above the detail pane sits beside the table.
WIDE_LAYOUT_MIN_WIDTH = 150
CLOSE_TIMEOUT = 2.0
# How often the app looks whether names arrived (never waiting for them).
NAMES_CHECK_INTERVAL = 0.5
SIGNAL_CLOSE_TIMEOUT = 1.0
__all__ = ["REPLAY_REBUILD_POLLS", "FlowTopApp"]

# The reset a terminal needs if the watchdog ends flowtop: leave the alternate screen,
# show the cursor, stop mouse and focus reports, bracketed paste; wrap lines again.
_TERMINAL_RESET = (
    "\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?1004l\x1b[?2004l"
    "\x1b[?7h\x1b[?1049l\x1b[?25h"
)


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


# The name the fleet screen is installed under.
FLEET_SCREEN = "fleet"
# The all-flows view takes in the appliances' answers at most this often (seconds).
ALL_FLOWS_EVERY = 1.0
# Terminals narrower than this get the compact footer, so that every main key shows.


def other_end_rows(flow: Flow, end: OtherEnd) -> list[tuple[str, str]]:
    """The detail pane's rows of the same conversation at another appliance: its path,
    service, DSCP and rates, with re-marking and path asymmetry called out."""
    other = end.flow
    none = glyphs.current().missing
    path = end.path or "(none)"
    if end.asymmetric:
        path += "  (asymmetric: other links than here)"
    dscp = other.ip_dscp or none
    if end.dscp_differs:
        dscp += f"  (re-marked: {flow.ip_dscp} here)"
    return [
        ("Path", path),
        ("Service", other.service_name or none),
        ("DSCP", dscp),
        ("Direction", other.direction or none),
        ("Rate", format_rate(other.customer_kbps)),
        ("pps", format_count(other.pps)),
    ]


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
        Binding("o,f2", "choose_columns", "Columns", show=False),
        Binding("y", "copy_row", "Copy filter", show=False),
        Binding("c", "toggle_pairs", "Pairs", show=False),
        Binding("n", "toggle_host_names", "Names", show=False),
        Binding("N", "toggle_port_names", "Port names", show=False),
        Binding("left_square_bracket", "replay_step(-1)", "Back", show=False, key_display="["),
        Binding("right_square_bracket", "replay_step(1)", "Forward", show=False, key_display="]"),
        # A fleet: the flow view of its first nine appliances, from anywhere, and 0 for
        # every appliance's flows in one table (k9s: 0 is all namespaces).
        *(
            Binding(str(number), f"appliance({number})", f"Appliance {number}", show=False)
            for number in range(1, 10)
        ),
        Binding("0", "appliance(0)", "All appliances' flows", show=False),
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
        wait_for_wake: Callable[[asyncio.Event, float], Awaitable[object]] | None = None,
        resolver: NameResolver | None = None,
        host_names: bool = False,
        port_names: bool = False,
        clipboard: bool | None = None,
        save_target: SaveTarget | None = None,
        theme: str | None = None,
        fleet: Fleet | None = None,
        fleet_title: str = "",
    ) -> None:
        super().__init__()
        # A fleet: several appliances, the fleet screen first (None: one appliance).
        self.fleet = fleet
        self._fleet_title = fleet_title
        self._failovers_seen: dict[str, int] = {}
        self._fleet_notice = ""
        # When the fleet's notice (a failover) is old news (monotonic seconds).
        self._fleet_notice_until = 0.0
        self._fleet_states: dict[str, str] = {}
        # The fleet's all-flows view (made when first opened), and when it last took in
        # the appliances' flows (monotonic; a fleet of 100 answers ten times a second).
        self.all_flows: AllFlowsMonitor | None = None
        self._all_flows_taken = -math.inf
        self._all_flows_due = False
        # Where the column chooser saves columns and theme (None: nowhere).
        self.save_target = save_target
        self._theme_warning = ""
        if theme is not None:
            if theme in self.available_themes:
                self.theme = theme
            else:
                self._theme_warning = f'no theme named "{theme}": the default is used'
        # Why `y` does not write to the terminal's clipboard (None: it does, OSC 52).
        self.clipboard_refusal = clipboard_refusal(os.environ, clipboard)
        # How the poll loop waits for the next poll (None: the interval, or a command).
        self._wait_for_wake = wait_for_wake
        self._use_ascii(ascii_only)
        self._on_ready = on_ready
        self.source = source
        self.replay = source if isinstance(source, ReplaySource) else None
        self.clock = clock
        # The controller: store, view settings, drill stack, poll state, notices.
        # In a fleet, the monitor of the appliance whose flow view is open.
        self.monitor = (
            fleet.members[0].monitor
            if fleet is not None
            else Monitor(
                description=source.description,
                interval=interval,
                max_stats=max_stats,
                filter_text=filter_text,
                sort=sort,
                columns=columns,
                group_by=group_by,
                highlights=highlights,
                recorder=recorder,
                replay=self.replay,
                clock=clock,
                history=history,
                resolver=resolver,
                host_names=host_names,
                port_names=port_names,
            )
        )
        self._names_drawn = 0
        self.highlight_styles = rule_styles(highlights)
        self.export_directory = export_directory
        self.selected: RowKey | None = None
        self._handle_signals = handle_signals
        self._terminal_fds: list[int] = []
        self._stop_signals: StopSignals | None = None
        self._hurry = False
        self._wake = asyncio.Event()
        self._detail_wanted: bool | None = None
        self._shutting_down = False
        # Stopped with ctrl+z (SIGTSTP) until `fg` (SIGCONT): no polling meanwhile.
        self.suspended = False

    # ---- the monitor's state, as the widgets and tests know it -----------------------

    @property
    def store(self) -> FlowStore:
        return self.monitor.store

    @store.setter
    def store(self, store: FlowStore) -> None:
        self.monitor.store = store

    @property
    def view(self) -> FlowView:
        return self.monitor.view

    @property
    def poll_state(self) -> PollState:
        return self.monitor.poll_state

    @property
    def flow_filter(self) -> FlowFilter:
        return self.monitor.flow_filter

    @flow_filter.setter
    def flow_filter(self, flow_filter: FlowFilter) -> None:
        self.monitor.set_filter(flow_filter)

    @property
    def sort(self) -> SortSpec:
        return self.monitor.sort

    @property
    def grouping(self) -> Grouping | None:
        return self.monitor.grouping

    @property
    def max_stats(self) -> int:
        return self.monitor.max_stats

    @property
    def recorder(self) -> Recorder | None:
        return self.monitor.recorder

    @property
    def last_result(self) -> ViewResult | None:
        return self.monitor.last_result

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
        yield TotalsBar(id="totals")
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
        return self.monitor.columns

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
        fit_footer(self.query_one(Footer), self.size.width if width is None else width)
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
        if self.fleet is not None:
            self.set_interval(1.0, self._refresh_fleet)
        self.set_interval(NAMES_CHECK_INTERVAL, self._check_names)
        self.monitor.replay_damage()
        self._tell(self.monitor.take_messages())
        if self._theme_warning:
            self.notify(self._theme_warning, severity="warning", markup=False)
        if self._handle_signals:
            self._install_signal_handlers()
        self.app_suspend_signal.subscribe(self, self._on_suspend, immediate=True)
        self.app_resume_signal.subscribe(self, self._on_resume, immediate=True)
        if self._on_ready is not None:
            self._on_ready()
        if self.fleet is not None:
            # Installed: it keeps its sort, filter and cursor while an appliance is open.
            self.install_screen(FleetScreen(self._fleet_title), FLEET_SCREEN)
            self.push_screen(FLEET_SCREEN)
            self._refresh_fleet()
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
        """Poll until quit, one request at a time (see :func:`run_polls`)."""
        if self._shutting_down:
            return
        if self.fleet is not None:
            await self.fleet.run(on_poll=self._fleet_polled, wait_for_wake=self._wait_for_wake)
            return
        await run_polls(
            self.source,
            self.monitor,
            wake=self._wake,
            on_poll=self._polled,
            wait_for_wake=self._wait_for_wake,
        )

    def _polled(self, outcome: Snapshot | FlowtopError) -> None:
        if isinstance(outcome, FlowtopError) and str(outcome).startswith("unexpected "):
            self.log.error("poll failed", outcome)
        self._render()

    def _fleet_polled(self, member: Member, outcome: Snapshot | FlowtopError) -> None:
        """A poll of one appliance of the fleet: its flow view is drawn if open, its
        failovers are announced with its name, the fleet screen follows."""
        failovers = member.monitor.failovers()
        seen = self._failovers_seen.get(member.name)
        self._failovers_seen[member.name] = len(failovers)
        for failover in failovers[seen:] if seen is not None else ():
            arrow = glyphs.current().arrow
            moved = f"{failover.old}{arrow}{failover.new}"
            text = f"{member.name}: failover, {failover.count} flows {moved}"
            self._fleet_notice = text
            self._fleet_notice_until = time.monotonic() + FAILOVER_NOTICE_SECONDS
            if isinstance(self.screen, FleetScreen) or self.showing_all_flows:
                self.notify(text, title="Failover", severity="warning", markup=False)
        if member.monitor is self.monitor and not isinstance(self.screen, FleetScreen):
            self._polled(outcome)
        elif self.showing_all_flows:
            self._refresh_all_flows()
        state = state_of(member.monitor)[0]
        if self._fleet_states.get(member.name) != state:
            # A first answer or a change of state shows at once (an appliance that stops
            # answering is called out at its next poll); the rest each second.
            self._fleet_states[member.name] = state
            self._refresh_fleet()

    @property
    def showing_all_flows(self) -> bool:
        """The fleet's all-flows view is open (and not under the fleet screen)."""
        return (
            self.all_flows is not None
            and self.monitor is self.all_flows
            and not isinstance(self.screen, FleetScreen)
        )

    def _refresh_all_flows(self, *, due: bool = False) -> None:
        """Take in the appliances' flows and draw them, at most once a second; an
        answer within the second is taken in by the fleet's one-second timer."""
        if not self.showing_all_flows or self.all_flows is None:
            return
        now = time.monotonic()
        if now - self._all_flows_taken < ALL_FLOWS_EVERY and not due:
            self._all_flows_due = True
            return
        self._all_flows_due = False
        self._all_flows_taken = now
        changed = self.all_flows.refresh()
        if changed or due:
            self._render()
        else:
            self._update_status()

    def _refresh_fleet(self) -> None:
        if self.fleet is None:
            return
        if self._all_flows_due:
            self._refresh_all_flows(due=True)
        screen = self.screen
        if isinstance(screen, FleetScreen):
            fresh = time.monotonic() < self._fleet_notice_until
            screen.show(self.fleet.summaries(self._now()), self._fleet_notice if fresh else "")

    def open_appliance(self, name: str) -> None:
        """Show this appliance's flow view; it polls at its own rate from now on."""
        assert self.fleet is not None
        self.fleet.open(name)
        member = self.fleet[name]
        self.source = member.source
        self._show_monitor(member.monitor)

    def open_all_flows(self) -> None:
        """Show every appliance's flows in one table; they all poll in the background."""
        assert self.fleet is not None
        self.fleet.open(None)
        if self.all_flows is None:
            columns = [column.id for column in self.fleet.members[0].monitor.view.columns]
            self.all_flows = AllFlowsMonitor(self.fleet, columns=columns, clock=self.clock)
        self.all_flows.refresh()
        self._all_flows_taken = time.monotonic()
        self._show_monitor(self.all_flows)

    def _show_monitor(self, monitor: Monitor) -> None:
        """Show this monitor's flow view (an appliance's, or the all-flows one)."""
        if self.all_flows is not None and monitor is not self.all_flows:
            self.all_flows.release()
        self.monitor = monitor
        self.selected = None
        if isinstance(self.screen, FleetScreen):
            self.pop_screen()
        self.table.reset()
        self.table.set_columns(self.columns)
        self._render()

    def show_fleet(self) -> None:
        """Back to the fleet screen: every appliance polls at the background rate."""
        assert self.fleet is not None
        self.fleet.open(None)
        if self.all_flows is not None:
            self.all_flows.release()
        if not isinstance(self.screen, FleetScreen):
            self.push_screen(FLEET_SCREEN)
        self._refresh_fleet()

    @on(FleetScreen.Opened)
    def _fleet_opened(self, event: FleetScreen.Opened) -> None:
        if event.name is None:
            self.open_all_flows()
        else:
            self.open_appliance(event.name)

    def action_appliance(self, number: int) -> None:
        if self.fleet is None:
            self.notify(
                "0-9 open a fleet's flows and its appliances (--fleet)", timeout=3, markup=False
            )
            return
        if number == 0:
            self.open_all_flows()
            return
        if not 1 <= number <= len(self.fleet):
            self.notify(f"no appliance {number}: the fleet has {len(self.fleet)}", markup=False)
            return
        self.open_appliance(self.fleet.names[number - 1])

    async def _poll_once(self) -> None:
        await self.monitor.poll(self.source)
        self._render()

    def wake(self) -> None:
        if self.fleet is not None and self.fleet.open_name is not None:
            self.fleet[self.fleet.open_name].wake.set()
            return
        if self.showing_all_flows and self.fleet is not None:
            for member in self.fleet.members:
                member.wake.set()
            return
        self._wake.set()

    # ---- rendering ----------------------------------------------------------------

    def _render(self) -> None:
        """Compute and draw a frame, after a poll or a command (a changed filter, sort
        or grouping); a failure to compute or draw it marks the view stale with the
        reason."""
        try:
            self._draw(self.monitor.frame(defer_sort=True))
            if self.monitor.view_pending:
                self.run_worker(self._finish_view(), group="sort", exclusive=True)
        except ANSWER_FAILURES as error:
            self.log.error("answer could not be shown", error)
            self.monitor.failed(answer_failure(error))
            try:
                self._draw(self.monitor.frame(stale=True))
            except ANSWER_FAILURES:
                # The same failure again: dim the rows last drawn, the status says why.
                if self.last_result is not None:
                    self.table.apply(self.last_result, self.sort, stale=True, new=())
                self._update_status()

    async def _finish_view(self) -> None:
        """The rows of a new sort shown under its mark before it was computed (many
        flows: a key is answered at once), sorted in steps and drawn."""
        monitor = self.monitor
        await monitor.finish_view()
        if monitor is self.monitor and monitor.view_pending:
            self._render()

    def _tell(self, messages: Iterable[Message]) -> None:
        for message in messages:
            severity: SeverityLevel = "information"
            if message.severity in ("warning", "error"):
                severity = "warning" if message.severity == "warning" else "error"
            self.notify(message.text, title=message.title, severity=severity, markup=False)

    def _draw(self, frame: Frame) -> None:
        self._tell(frame.messages)
        highlights = None
        if self.highlight_styles:
            highlights = styles_by_key(frame.highlights, self.highlight_styles)
        if frame.bell:
            self.bell()
        self.table.apply(
            frame.result, frame.sort, stale=frame.stale, new=frame.new, highlights=highlights
        )
        self.selected = self.table.selected_key
        self._update_detail()
        self._update_status()
        self._update_totals(frame)
        if isinstance(self.screen, EventsScreen):
            self.screen.refresh_events()

    def _update_totals(self, frame: Frame) -> None:
        try:
            bar = self.query_one("#totals", TotalsBar)
        except NoMatches:
            return
        bar.show(frame.totals, stale=frame.stale)

    def selected_row(self) -> Row | None:
        # The table's cursor, not its last FlowHighlighted message: "down enter" typed
        # together must act on the row the cursor moved to.
        selected = self.table.selected_key
        result = self.last_result
        if result is None or selected is None:
            return None
        index = result.index_of(selected)
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
        times = self.monitor.sample_times(record) if record is not None else ()
        heading, extra = self._detail_extra(record, row)
        self.detail.show(
            record, self._now(), stale=self.poll_state.stale, times=times,
            named=heading, extra=extra,
        )  # fmt: skip

    def _detail_extra(
        self, record: FlowRecord | None, row: Row | None
    ) -> tuple[str | None, list[tuple[str, list[tuple[str, str]]]]]:
        """The detail pane's title with names, and its sections for names (and the other
        direction of a conversation)."""
        if record is None:
            return None, []
        naming = self.monitor.naming
        heading = naming.heading(record.flow, self.glyphs.arrow)
        extra: list[tuple[str, list[tuple[str, str]]]] = []
        names_rows = naming.detail_rows(record.flow)
        if names_rows:
            extra.append(("Names", names_rows))
        partner = row.partner if row is not None and row.group is None else None
        if partner is not None:
            extra.append(("Other direction", other_direction_rows(record.flow, partner.flow)))
            heading = pair_heading(record.flow, heading, self.glyphs.arrow)
        appliance = record.flow.appliance
        if self.fleet is not None and appliance is not None:
            for end in self.fleet.other_ends(appliance, record.flow):
                extra.append((f"Also seen at {end.appliance}", other_end_rows(record.flow, end)))
        return heading, extra

    def _now(self) -> float:
        """Now, or in a replay the time of the poll shown."""
        return self.monitor.now()

    def status_info(self) -> StatusInfo:
        data = self.monitor.status()
        result = self.last_result
        notice = "; ".join(part for part in (data.notice, self.hidden_columns_notice()) if part)
        return StatusInfo(
            source=data.source,
            interval=data.interval,
            max_stats=data.max_stats,
            phase=data.phase,
            shown=data.shown,
            total=data.total,
            sort=data.sort,
            filter=data.filter,
            since_update=data.since_update,
            latency=data.latency,
            error=data.error,
            retry_in=data.retry_in,
            notice=notice,
            groups=data.groups,
            row=self.table.cursor_row + 1 if result and result.rows else None,
            capped=data.capped,
            mode=data.mode,
            recording=data.recording,
            recording_failed=data.recording_failed,
            paired=data.paired,
            grouped=data.grouped,
        )

    def hidden_columns_notice(self) -> str:
        """Names the chosen columns the width leaves out (none for the default columns,
        which narrow terminals thin out by design)."""
        if not self.monitor.columns_chosen or self.grouping is not None:
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
        # The pane keeps to the flow stepped to, on the first row too.
        table.follow_selected()

    @on(FlowTable.SortRequested)
    def _sort_requested(self, event: FlowTable.SortRequested) -> None:
        if event.column_id == self.sort.column:
            self.set_sort(self.sort.inverted())
        else:
            self.set_sort(self._sort_for(event.column_id))

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        self.monitor.set_filter(event.compiled)
        self._render()

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        self.filter_bar.close()
        self.table.focus()

    # ---- sorting ------------------------------------------------------------------

    def _sort_for(self, column_id: str) -> SortSpec:
        """The natural sort for a shown column: numbers descending, text ascending."""
        return self.monitor.sort_for(column_id)

    def set_sort(self, sort: SortSpec) -> None:
        self.monitor.set_sort(sort)
        self._render()

    def action_sort_by(self, column: str) -> None:
        columns = self.columns
        refused = self.monitor.sort_by(column)
        if refused:
            self.notify(refused, timeout=3, markup=False)
            return
        if self.columns != columns:
            # The sorted column was not shown: it is now.
            self.table.set_columns(self.columns)
        self._render()

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
        self.monitor.set_grouping(grouping)
        self._grouping_changed()

    def _grouping_changed(self) -> None:
        self.table.set_columns(self.columns)
        self._render()

    def action_cycle_grouping(self) -> None:
        self.monitor.cycle_grouping()
        self._grouping_changed()

    def action_choose_grouping(self) -> None:
        def chosen(grouping_id: str | None) -> None:
            if grouping_id is None:
                return
            grouping = None if grouping_id == NO_GROUPING else resolve_grouping(grouping_id)
            self.monitor.group_by(grouping)
            self._grouping_changed()

        current = self.grouping.id if self.grouping else None
        offered = [GROUPINGS[grouping] for grouping in self.monitor.group_cycle if grouping]
        self.push_screen(GroupScreen(current, offered), chosen)

    # ---- actions ------------------------------------------------------------------

    # Actions that work on the flow table; they make no sense over the events view.
    _TABLE_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "choose_sort", "invert_sort", "sort_left", "sort_right", "sort_by",
            "toggle_detail", "cycle_grouping", "choose_grouping", "open_filter", "export",
            "events",
        }
    )  # fmt: skip

    # What works on the fleet screen: leaving, help, the palette, opening an appliance.
    _FLEET_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "quit", "help", "appliance", "command_palette", "suspend_process",
            "toggle_pause", "refresh",
        }
    )  # fmt: skip
    # The keys of names, conversations, columns and copying: the table's too.
    _VIEW_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"copy_row", "toggle_pairs", "choose_columns", "toggle_host_names", "toggle_port_names"}
    )

    def flow_view_key(self, key: str) -> str | None:
        """What a key of the flow view (not of the fleet screen) does, for the fleet
        screen to say where it works; None for any other key."""
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding):
                continue
            action = binding.action.split("(")[0]
            keys = [part.strip() for part in binding.key.split(",")]
            if key in keys and action not in self._FLEET_ACTIONS:
                return binding.description or action
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.screen, FleetScreen):
            return action in self._FLEET_ACTIONS
        if action in self._VIEW_ACTIONS and isinstance(self.screen, EventsScreen):
            return False
        return not (action in self._TABLE_ACTIONS and isinstance(self.screen, EventsScreen))

    def action_toggle_pause(self) -> None:
        if self.fleet is not None and (
            isinstance(self.screen, FleetScreen) or self.showing_all_flows
        ):
            # The whole fleet: every appliance (PAUSED on the fleet screen), the view too.
            pause = not all(member.monitor.poll_state.paused for member in self.fleet.members)
            for member in self.fleet.members:
                if pause:
                    member.monitor.pause()
                else:
                    member.monitor.resume()
                member.wake.set()
            if self.all_flows is not None:
                if pause:
                    self.all_flows.pause()
                else:
                    self.all_flows.resume()
                    self._refresh_all_flows(due=True)
            self.notify(
                "every appliance paused" if pause else "every appliance polls again",
                timeout=2,
                markup=False,
            )
            self._refresh_fleet()
            self._update_status()
            return
        self.monitor.toggle_pause()
        self.wake()
        self._update_status()

    def action_refresh(self) -> None:
        if self.fleet is not None and (
            isinstance(self.screen, FleetScreen) or self.showing_all_flows
        ):
            # Every appliance, now (after an authentication stop too).
            for member in self.fleet.members:
                member.monitor.retry()
            self.wake()
            return
        self.monitor.retry()
        if self.poll_state.paused:
            self.run_worker(self._poll_once(), group="refresh", exclusive=True)
        else:
            self.wake()

    def action_replay_step(self, delta: int) -> None:
        if self.replay is None:
            self.notify("[ and ] step through a replay (--replay FILE)", markup=False)
            return
        target = self.monitor.step_target(delta)
        self.run_worker(self._replay_to(target), group="refresh", exclusive=True)

    async def _replay_to(self, target: int) -> None:
        """Show poll ``target``; going back rebuilds the store from shortly before it."""
        await self.monitor.replay_to(target)
        self._render()

    def _per_appliance(self) -> bool:
        """The all-flows view has no rate of its own: say so; True when it is open."""
        if self.showing_all_flows:
            self.notify(
                "the interval and max_stats are each appliance's: open one (1-9) to change them",
                timeout=4,
                markup=False,
            )
            return True
        return False

    def _set_interval(self, seconds: float) -> None:
        if self._per_appliance():
            return
        self.monitor.set_interval(seconds)
        self.wake()
        self._update_status()

    def action_slower(self) -> None:
        self._set_interval(next_interval(self.poll_state.interval, faster=False))

    def action_faster(self) -> None:
        self._set_interval(next_interval(self.poll_state.interval, faster=True))

    def action_cycle_max_stats(self) -> None:
        if self._per_appliance():
            return
        self.monitor.cycle_max_stats()
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
            self.monitor.set_filter(self.filter_bar.before_edit)
            self._render()
        elif not self.wide and self.detail_visible:
            self._detail_wanted = False
            self._apply_layout()
        else:
            grouping = self.grouping
            if self.monitor.back():
                if self.grouping is not grouping:
                    self.table.set_columns(self.columns)
                self._render()
            elif self.fleet is not None:
                # Nothing left to back out of: the fleet screen.
                self.show_fleet()

    def clear_filter(self) -> None:
        self.monitor.clear_filter()
        self._render()

    def action_toggle_detail(self) -> None:
        row = self.selected_row()
        if row is not None and self.monitor.drill(row):
            self._grouping_changed()
            return
        self._detail_wanted = not self.detail_visible
        if self._detail_wanted:
            # The pane shows one flow: the cursor keeps to it, not to whichever flow
            # is the top talker on row 1 by the next poll.
            self.table.follow_selected()
        self._apply_layout()
        self._update_detail()

    def action_events(self) -> None:
        self.push_screen(
            EventsScreen(
                lambda: self.monitor.events(),
                lambda: self.monitor.failovers(),
                clock=self._now,
            )
        )

    def action_export(self) -> None:
        directory = self.export_directory or Path.cwd()
        rows_shown = list(self.last_result.rows) if self.last_result else []
        # A pair row holds two flows: both are written.
        rows = [item for row in rows_shown for item in (row, row.partner) if item is not None]
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

    # ---- names ----------------------------------------------------------------------

    def _check_names(self) -> None:
        """Redraw when names arrived since the last frame (looked up in the background)."""
        generation = self.monitor.names_generation
        if generation != self._names_drawn:
            self._names_drawn = generation
            self._render()

    def action_choose_columns(self) -> None:
        """o: pick, order and save the flow columns."""
        shown = [column.id for column in self.view.columns]
        self.push_screen(ColumnScreen(shown, self.set_columns, self.save_view))

    def set_columns(self, columns: Sequence[str]) -> None:
        self.monitor.set_columns(columns)
        self.table.set_columns(self.columns)
        self._render()

    def save_view(self, columns: Sequence[str]) -> tuple[str, bool]:
        """Columns and theme into the profile in use; what to tell, and whether saved."""
        target = self.save_target
        if target is None:
            return "nowhere to save: no config file is in use", False
        # Not the appliance column of the all-flows view: one appliance has no such value.
        kept = [column for column in columns if column not in FLEET_COLUMNS]
        try:
            save_to_profile(target, {"columns": kept, "theme": self.theme})
        except FlowtopError as error:
            return str(error), False
        return f"columns and theme saved to [{target.table_name}] in {target.path}", True

    def action_copy_row(self) -> None:
        """y: the selected row as a filter expression, to the clipboard (OSC 52)."""
        row = self.selected_row()
        expression = row_expression(row) if row is not None else None
        if not expression:
            self.notify("no row selected", timeout=2, markup=False)
            return
        if self.clipboard_refusal is not None:
            self.notify(
                f"{expression}\n(not copied: {self.clipboard_refusal})",
                title="Filter", timeout=8, markup=False,
            )  # fmt: skip
            return
        self.copy_to_clipboard(expression)
        # A conversation's row: the expression is of the direction it shows.
        one_way = " (this direction)" if row is not None and row.partner is not None else ""
        self.notify(expression, title=f"Copied as a filter{one_way}", timeout=4, markup=False)

    def action_toggle_pairs(self) -> None:
        """One row per conversation (both directions), or one per flow."""
        on = self.monitor.toggle_pairs()
        if self.grouping is not None:
            self.notify(
                f"pairs {'on' if on else 'off'}: shown when the flows are (not in group mode)",
                timeout=3, markup=False,
            )  # fmt: skip
        self._grouping_changed()

    def action_toggle_host_names(self) -> None:
        on = self.monitor.toggle_host_names()
        self._names_drawn = self.monitor.names_generation
        self.notify(
            "host names: on (looked up in the background)" if on else "host names: off",
            timeout=2,
            markup=False,
        )
        self._render()

    def action_toggle_port_names(self) -> None:
        on = self.monitor.toggle_port_names()
        self.notify(f"port names: {'on' if on else 'off'}", timeout=2, markup=False)
        self._render()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self._shutting_down:
            return
        self._shutting_down = True
        self.monitor.stop()
        for member in self.fleet.members if self.fleet is not None else ():
            member.monitor.stop()
        polling = [worker for worker in self.workers if worker.group == "poll"]
        self.workers.cancel_group(self, "poll")
        if self.fleet is not None:
            # Every appliance's loop ends before the app does (a loop left pending
            # breaks the exit on older Textual).
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(
                    asyncio.gather(*(worker.wait() for worker in polling)),
                    timeout=SIGNAL_CLOSE_TIMEOUT,
                )
        closing = self.fleet.close() if self.fleet is not None else self.source.close()
        try:
            await asyncio.wait_for(
                closing, timeout=SIGNAL_CLOSE_TIMEOUT if self._hurry else CLOSE_TIMEOUT
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
        yield from self._view_commands()

    def _view_commands(self) -> Iterable[SystemCommand]:
        """The palette's entries for names, conversations, columns and copying."""
        commands = (
            ("Host names", "Show names (reverse DNS) or addresses", self.action_toggle_host_names),
            ("Port names", "Show service names or port numbers", self.action_toggle_port_names),
            ("Conversations", "One row per conversation, or per flow", self.action_toggle_pairs),
            ("Choose columns", "Pick, order and save the columns", self.action_choose_columns),
            ("Copy as a filter", "The selected row's filter to the clipboard",
             self.action_copy_row),
        )  # fmt: skip
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
