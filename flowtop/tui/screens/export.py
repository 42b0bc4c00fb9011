"""Ask for the export format (the ``ctrl+s`` key): ``c`` for CSV, ``j`` for JSON."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class ExportScreen(ModalScreen[str | None]):
    """Dismisses with ``"csv"``, ``"json"`` or None (cancelled).

    The directory is shown so nobody has to guess where the file went.
    """

    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ExportScreen OptionList, ExportScreen OptionList:focus {
        height: auto; border: none; padding: 0; margin: 1 0;
    }
    ExportScreen .export-hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("c", "choose('csv')", "CSV", show=False),
        Binding("j", "choose('json')", "JSON", show=False),
        Binding("escape,q", "cancel", "Cancel", show=False),
    ]

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Export the current view", "bold"), id="export-title")
            yield Static(
                Text("as shown: filter, sort and grouping applied", "dim"),
                classes="export-hint",
            )
            # The path is data: a Text renderable is never parsed as markup.
            yield Static(Text.assemble(("to ", "dim"), str(self.directory)), id="export-directory")
            yield OptionList(
                Option(Text.assemble(("c", "bold"), "  CSV"), id="csv"),
                Option(Text.assemble(("j", "bold"), "  JSON"), id="json"),
                id="export-options",
            )
            yield Static(Text("c or j writes the file; esc cancels", "dim italic"))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_choose(self, fmt: str) -> None:
        self.dismiss(fmt)

    def action_cancel(self) -> None:
        self.dismiss(None)
