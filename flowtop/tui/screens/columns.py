"""Choose, order and save the table's columns (the ``o`` key), as htop's setup screen.

Changes apply as they are made; ``w`` writes the columns and the theme to the profile
in use, keeping the config file's comments and layout (flowtop.core.config.save).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from flowtop.core.column_choice import ColumnChoice

HINT = " space shows/hides  K/J moves  r resets  w saves  esc closes"


class ColumnScreen(ModalScreen[None]):
    """The column chooser; calls ``apply`` with the chosen ids after each change and
    ``save`` (which returns what to tell, and whether it saved) on ``w``."""

    DEFAULT_CSS = """
    ColumnScreen { align: center middle; }
    ColumnScreen > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface;
    }
    ColumnScreen OptionList, ColumnScreen OptionList:focus {
        height: auto; max-height: 24; border: none;
    }
    ColumnScreen .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_column", "Show/hide", show=False),
        Binding("K,shift+up", "move(-1)", "Move up", show=False),
        Binding("J,shift+down", "move(1)", "Move down", show=False),
        Binding("r", "reset", "Reset", show=False),
        Binding("w", "save", "Save", show=False),
        Binding("escape,q,o", "close", "Close", show=False),
    ]

    def __init__(
        self,
        shown: Sequence[str],
        apply: Callable[[tuple[str, ...]], None],
        save: Callable[[tuple[str, ...]], tuple[str, bool]],
    ) -> None:
        super().__init__()
        self.choice = ColumnChoice(shown)
        self._apply = apply
        self._save = save

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(" Columns (shown first, in their order)", "bold"))
            yield OptionList(*self._options(), id="column-options")
            yield Static(Text(HINT), classes="hint")

    def _options(self) -> list[Option]:
        options = []
        for entry in self.choice.entries:
            column = entry.column
            mark = "[x]" if entry.shown else "[ ]"
            line = Text(f"{mark} ")
            line.append(f"{column.title:<14}", "bold" if entry.shown else "dim")
            line.append(f" {column.id}", "dim")
            options.append(Option(line, id=column.id))
        return options

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def _redraw(self, highlighted: int) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = highlighted

    def _changed(self, highlighted: int) -> None:
        self._redraw(highlighted)
        self._apply(self.choice.chosen())

    @property
    def _index(self) -> int:
        return self.query_one(OptionList).highlighted or 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_toggle_column()

    def action_toggle_column(self) -> None:
        index = self._index
        if not self.choice.toggle(index):
            self.notify("at least one column stays shown", timeout=2, markup=False)
            return
        self._changed(index)

    def action_move(self, step: int) -> None:
        self._changed(self.choice.move(self._index, step))

    def action_reset(self) -> None:
        self.choice.reset()
        self._changed(0)

    def action_save(self) -> None:
        message, saved = self._save(self.choice.chosen())
        self.notify(message, timeout=6, markup=False, severity="information" if saved else "error")

    def action_close(self) -> None:
        self.dismiss(None)
