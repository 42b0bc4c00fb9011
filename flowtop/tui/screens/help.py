"""The help screen: every key, grouped as the README documents them."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Polling",
        (
            ("space, p", "pause or resume polling"),
            ("r", "refresh now (also retries after an authentication stop)"),
            ("+ / -", "poll slower / faster (0.5 to 60 s)"),
            ("m", "cycle max_stats: 50, 100, 1000"),
        ),
    ),
    (
        "Sorting",
        (
            ("s", "choose the sort column (groups: their own columns)"),
            ("< / >", "sort by the column on screen to the left / right"),
            ("i", "invert the sort order"),
            ("P K B A", "sort by (and show) pps, rate, bytes, age (not for groups)"),
            ("click header", "sort by that column (again to invert)"),
        ),
    ),
    (
        "Filtering",
        (
            ("/", "filter, applied as you type"),
            ("enter", "keep the filter and close the bar"),
            ("esc", "clear the filter"),
        ),
    ),
    (
        "Moving and detail",
        (
            ("up/down, j/k", "move the cursor"),
            ("pgup/pgdn, home/end", "page, first, last"),
            ("enter, d", "show or hide the detail pane; on a group, drill into it"),
            ("up/down, j/k", "full-screen pane: next / previous flow; pgup/pgdn scroll"),
            ("esc", "back: filter bar, full-screen pane, drill-down, filter"),
        ),
    ),
    (
        "Views",
        (
            ("g", "pick a grouping: app, path, service, DSCP, hosts, direction"),
            ("esc", "in group mode: back to flows"),
            ("e", "events: failovers, path changes, new and ended flows"),
            ("x, ctrl+s", "export the view as shown to CSV or JSON"),
            ("[ / ]", "replay: step back / forward one poll"),
        ),
    ),
    (
        "General",
        (
            ("?", "this help"),
            ("ctrl+p", "command palette"),
            ("q, ctrl+c, ctrl+q", "quit (logs out)"),
            ("ctrl+z", "suspend, no polling until fg"),
        ),
    ),
)

FILTER_HELP = (
    "Filter language: words match within any text field; field:value matches the whole "
    "value (app src dst sport dport port ip proto dir svc dscp class path rule or any API "
    "field); * is a wildcard: app:micro* path:*INET* ip:10.1.*; ip:10.1.0.0/16 (CIDR); "
    'app:zoom|teams; pps>1k bytes>=10M; app~regex; !term or -term negates; "quoted words".'
)


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for title, keys in KEY_GROUPS:
        table.add_row(Text(title, "bold yellow"), Text(""))
        for key, meaning in keys:
            table.add_row(Text(key), Text(meaning))
        table.add_row(Text(""), Text(""))
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("flowtop keys", "bold"))
            yield Static(help_table())
            yield Static(Text(FILTER_HELP, "dim"))
            yield Static(Text("esc or ? closes this help", "dim italic"))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
