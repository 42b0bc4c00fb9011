"""Choose the sort column from a list (the ``s`` key), as htop's F6."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from flowtop.core.columns import Column


class SortScreen(ModalScreen[str | None]):
    """Dismisses with the chosen column id, or None."""

    DEFAULT_CSS = """
    SortScreen { align: center middle; }
    SortScreen > Vertical {
        width: 40; height: auto; max-height: 90%;
        border: round $accent; background: $surface;
    }
    SortScreen OptionList, SortScreen OptionList:focus {
        height: auto; max-height: 20; border: none;
    }
    """
    BINDINGS = [Binding("escape,q", "cancel", "Cancel", show=False)]

    def __init__(self, columns: Sequence[Column], current: str) -> None:
        super().__init__()
        self._columns = list(columns)
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(" Sort by (enter chooses, esc cancels)", "bold"))
            yield OptionList(
                *(Option(Text(column.title), id=column.id) for column in self._columns),
                id="sort-options",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for index, column in enumerate(self._columns):
            if column.id == self._current:
                options.highlighted = index
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
