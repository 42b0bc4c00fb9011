"""The help screen: every key, from the bindings, and every field name, from the registry.

The keys come from the bindings of the app, its widgets and its screens, so a key added
or changed is listed as it is bound.  :data:`LAYOUT` only says in which section an action
goes and, where the binding's own description says too little, what to say instead.  A
bound action that the layout does not place still gets a line, under "Other keys".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from flowtop.core.fields import ALL_FIELDS, DERIVED_FIELDS, EITHER_END_TERMS
from flowtop.core.groups import FLEET_GROUPINGS, GROUPINGS


def _shown(title: str) -> str:
    return title if title.isupper() else title.lower()


@dataclass(frozen=True, slots=True)
class Line:
    """One help line: the keys of ``actions`` (joined by " / " when several do the two
    halves of one thing), and what they do.

    ``meaning`` None uses the bindings' own descriptions.  ``keys`` set writes keys that
    are no binding (a mouse click, a key of an input field).
    """

    actions: tuple[str, ...]
    meaning: str | None = None
    keys: str | None = None
    # Several actions, each a single key, read better side by side: "P K B A".
    joiner: str = " / "


def _line(*actions: str, meaning: str | None = None, joiner: str = " / ") -> Line:
    return Line(actions, meaning, joiner=joiner)


def _extra(keys: str, meaning: str) -> Line:
    return Line((), meaning, keys)


# Where each bound action goes: (owner, section title, lines).  The owner names whose
# bindings the actions are (see _bindings).
LAYOUT: tuple[tuple[str, tuple[Line, ...]], ...] = (
    (
        "Polling",
        (
            _line("app.toggle_pause", meaning="pause or resume polling"),
            _line("app.refresh", meaning="refresh now (also retries after an authentication stop)"),
            _line("app.slower", "app.faster", meaning="poll slower / faster (0.5 to 60 s)"),
            _line("app.cycle_max_stats", meaning="cycle max_stats: 50, 100, 1000"),
        ),
    ),
    (
        "Sorting",
        (
            _line("app.choose_sort", meaning="choose the sort column (groups: their own columns)"),
            _line(
                "app.sort_left",
                "app.sort_right",
                meaning="sort by the column on screen to the left / right",
            ),
            _line("app.invert_sort", meaning="invert the sort order"),
            _line(
                "app.sort_by('pps')",
                "app.sort_by('kbps')",
                "app.sort_by('bytes')",
                "app.sort_by('age')",
                meaning="sort by (and show) pps, rate, bytes, age (not for groups)",
                joiner=" ",
            ),
            _extra("click header", "sort by that column (again to invert)"),
        ),
    ),
    (
        "Filtering",
        (
            _line("app.open_filter", meaning="filter, applied as you type"),
            _extra("enter", "keep the filter and close the bar"),
            _extra("esc", "in the bar: cancel the edit; again: clear the filter"),
        ),
    ),
    (
        "Moving and detail",
        (
            _line("table.cursor_up", "table.cursor_down", meaning="move the cursor"),
            _line(
                "table.page_up",
                "table.page_down",
                "table.first",
                "table.last",
                meaning="page up / down, first, last",
                joiner=" ",
            ),
            _line(
                "app.toggle_detail",
                meaning="show or hide the detail pane; on a group, drill into it",
            ),
            _line(
                "detail.step_flow(1)",
                "detail.step_flow(-1)",
                meaning="full-screen pane: next / previous flow; pgup/pgdn scroll",
            ),
            _line(
                "app.escape",
                meaning="back: filter bar, full-screen pane, drill-down, "
                "in group mode to flows, then the filter, then (a fleet) the fleet screen",
            ),
        ),
    ),
    (
        "Views",
        (
            _line(
                "app.choose_grouping",
                meaning="pick a grouping: "
                + ", ".join(
                    _shown(g.title) for g in GROUPINGS.values() if g.id not in FLEET_GROUPINGS
                )
                + " (a fleet's all flows: appliance too)",
            ),
            _line(
                "app.toggle_pairs",
                meaning="one row per conversation (both directions, => and <= rates)",
            ),
            _line(
                "app.choose_columns",
                meaning="columns: pick, order, reset, save to the profile (with the theme)",
            ),
            _line(
                "app.copy_row",
                meaning="copy the row as a filter (src:... dport:... proto:...) to the "
                "clipboard (OSC 52)",
            ),
            _line("app.toggle_host_names", meaning="host names (reverse DNS) for addresses"),
            _line("app.toggle_port_names", meaning="service names for ports (443 as https)"),
            _line("app.events", meaning="events: failovers, path changes, new and ended flows"),
            _line("app.export", meaning="export the view as shown to CSV or JSON"),
            _line(
                "app.replay_step(-1)",
                "app.replay_step(1)",
                meaning="replay: step back / forward one poll",
            ),
        ),
    ),
    (
        "In the events view",
        (
            _line("events.focus_filter", meaning="filter the events (flow filter and kind:)"),
            _line("events_list.scroll_up", "events_list.scroll_down", meaning="scroll"),
            _line("events.back", "events.close", meaning="close", joiner=", "),
        ),
    ),
    (
        "In the column chooser",
        (
            _line("columns.toggle_column", meaning="show or hide the column (also enter)"),
            _line("columns.move(-1)", "columns.move(1)", meaning="move it up / down"),
            _line("columns.reset", meaning="back to the default columns"),
            _line("columns.save", meaning="save columns and theme to the profile in use"),
            _line("columns.close", meaning="close (changes apply as they are made)"),
        ),
    ),
    (
        "In the export dialog",
        (
            _line("export.choose('csv')", "export.choose('json')", meaning="CSV / JSON"),
            _line("export.cancel", meaning="cancel (also in the sort and group lists)"),
        ),
    ),
    (
        "A fleet (--fleet, --profile twice)",
        (
            _line(
                *(f"app.appliance({number})" for number in range(1, 10)),
                meaning="the flow view of appliance 1 to 9, from anywhere",
                joiner=" ",
            ),
            _line("fleet.open_selected", meaning="fleet screen: open the appliance's flow view"),
            _line(
                "fleet.open_all",
                "app.appliance(0)",
                meaning="every appliance's flows in one table (0 from anywhere)",
            ),
            _line(
                "fleet.sort_step(-1)",
                "fleet.sort_step(1)",
                meaning="fleet screen: sort by the column to the left / right",
            ),
            _line("fleet.invert", meaning="fleet screen: invert the sort"),
            _line("fleet.filter", meaning="fleet screen: filter by any text of a row"),
            _line("fleet.clear_filter", meaning="fleet screen: clear the filter"),
        ),
    ),
    (
        "General",
        (
            _line("app.help", meaning="this help"),
            _extra("ctrl+p", "command palette"),
            _line("app.quit", meaning="quit (logs out)"),
            _line("app.suspend_process", meaning="suspend, no polling until fg"),
        ),
    ),
)

# How Textual names keys, and how a person writes them.
KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "plus": "+",
    "minus": "-",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "pageup": "pgup",
    "pagedown": "pgdn",
    "escape": "esc",
}


def _bindings() -> dict[str, Sequence[BindingType]]:
    """Every binding flowtop declares, by owner: the app, its widgets and its screens."""
    # Imported here: the app imports this screen.
    from flowtop.tui.app import FlowTopApp
    from flowtop.tui.screens.columns import ColumnScreen
    from flowtop.tui.screens.events import EventList, EventsScreen
    from flowtop.tui.screens.export import ExportScreen
    from flowtop.tui.screens.fleet import FleetScreen
    from flowtop.tui.widgets.detail import DetailPane
    from flowtop.tui.widgets.flow_table import FlowTable

    # The app's own bindings in their order, then those it inherits (ctrl+q).
    own = list(FlowTopApp.BINDINGS)
    own_keys = {
        key.strip()
        for item in own
        for key in (item.key if isinstance(item, Binding) else item[0]).split(",")
    }
    inherited = [
        binding
        for bindings in FlowTopApp._merge_bindings().key_to_bindings.values()
        for binding in bindings
        if not binding.system  # Textual's own, such as the command palette's
        and binding.key not in own_keys
    ]
    app = [*own, *inherited]
    return {
        "app": app,
        "table": FlowTable.BINDINGS,
        "detail": DetailPane.BINDINGS,
        "events": EventsScreen.BINDINGS,
        "events_list": EventList.BINDINGS,
        "export": ExportScreen.BINDINGS,
        "columns": ColumnScreen.BINDINGS,
        "fleet": FleetScreen.BINDINGS,
    }


def _keys_by_action() -> dict[str, list[str]]:
    """``owner.action`` to the keys bound to it, in the order they are declared."""
    keys: dict[str, list[str]] = {}
    for owner, bindings in _bindings().items():
        for item in bindings:
            binding = item if isinstance(item, Binding) else Binding(*item)
            bound = keys.setdefault(f"{owner}.{binding.action}", [])
            for key in binding.key.split(","):
                shown = KEY_NAMES.get(key.strip(), key.strip())
                if shown not in bound:
                    bound.append(shown)
    return keys


def _descriptions() -> dict[str, str]:
    found: dict[str, str] = {}
    for owner, bindings in _bindings().items():
        for item in bindings:
            binding = item if isinstance(item, Binding) else Binding(*item)
            found.setdefault(f"{owner}.{binding.action}", binding.description)
    return found


def key_groups() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(section, ((keys, meaning), ...)) for every bound key, as the help shows them."""
    keys = _keys_by_action()
    descriptions = _descriptions()
    placed: set[str] = set()
    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for title, lines in LAYOUT:
        rows: list[tuple[str, str]] = []
        for line in lines:
            bound = [action for action in line.actions if keys.get(action)]
            placed.update(line.actions)
            if line.keys is not None:
                rows.append((line.keys, line.meaning or ""))
                continue
            if not bound:
                continue  # an action no longer bound: nothing to tell
            shown = line.joiner.join(", ".join(keys[action]) for action in bound)
            meaning = line.meaning or " / ".join(descriptions[action].lower() for action in bound)
            rows.append((shown, meaning))
        groups.append((title, tuple(rows)))
    others = tuple(
        (", ".join(bound), descriptions[action].lower())
        for action, bound in keys.items()
        if action not in placed and bound
    )
    if others:
        groups.append(("Other keys", others))
    return tuple(groups)


def alias_rows() -> tuple[tuple[str, str], ...]:
    """(aliases, what they name) for every field that has aliases, then the filter-only
    terms: exactly the names the registry declares."""
    rows = [(" ".join(field.aliases), field.name) for field in ALL_FIELDS if field.aliases]
    rows.extend(
        (term.name, f"{' or '.join(term.fields)} (filter only)") for term in EITHER_END_TERMS
    )
    return tuple(rows)


FILTER_HELP = (
    "Filter language: words match within any text field; field:value matches the whole "
    "value; * is a wildcard: app:micro* path:*INET* ip:10.1.*; ip:10.1.0.0/16 (CIDR); "
    'app:zoom|teams; pps>1k bytes>=10M; app~regex; !term or -term negates; "quoted words".'
)
FIELDS_HELP = (
    "Fields: any API name, or an alias below. An alias means the same field in the filter, "
    "--sort, --columns and --group-by."
)


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    return table


def help_table() -> Table:
    table = _grid()
    for title, keys in key_groups():
        table.add_row(Text(title, "bold yellow"), Text(""))
        for key, meaning in keys:
            table.add_row(Text(key), Text(meaning))
        table.add_row(Text(""), Text(""))
    return table


def keys_markdown() -> str:
    """The README's keys table: the help screen's sections, from the same bindings."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| key | does |", "|---|---|"]
    for section, rows in key_groups():
        lines.append(f"| **{section}** | |")
        for keys, meaning in rows:
            lines.append(f"| `{cell(keys)}` | {cell(meaning)} |")
    return "\n".join(lines)


DERIVED_HELP = (
    "Derived fields (flowtop computes them; filter, sort and --columns take them; rates in "
    "kbps as customer_kbps). * marks an average over less history than its window, ! a "
    "measured rate that disagrees with the reported one."
)


def derived_table() -> Table:
    """Every derived field of the registry and what it is."""
    table = _grid()
    for field in DERIVED_FIELDS:
        table.add_row(Text(field.name), Text(field.description))
    return table


def alias_table() -> Table:
    table = _grid()
    for aliases, field in alias_rows():
        table.add_row(Text(aliases), Text(field))
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
            yield Static(Text(FIELDS_HELP, "dim"))
            yield Static(alias_table(), id="help-aliases")
            yield Static(Text(DERIVED_HELP, "dim"))
            yield Static(derived_table(), id="help-derived")
            yield Static(Text("esc or ? closes this help", "dim italic"))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
