"""Choose how to group the flows from a list (the ``g`` key), like the sort picker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from flowtop.core.groups import GROUPINGS, Grouping

# The option that ends group mode.
NO_GROUPING: Final = "none"


class GroupScreen(ModalScreen[str | None]):
    """Dismisses with a grouping id, :data:`NO_GROUPING`, or None (cancelled)."""

    DEFAULT_CSS = """
    GroupScreen { align: center middle; }
    GroupScreen > Vertical {
        width: 44; height: auto; max-height: 90%;
        border: round $accent; background: $surface;
    }
    GroupScreen OptionList, GroupScreen OptionList:focus {
        height: auto; max-height: 20; border: none;
    }
    """
    BINDINGS = [Binding("escape,q", "cancel", "Cancel", show=False)]

    def __init__(
        self, current: str | None, groupings: Sequence[Grouping] = tuple(GROUPINGS.values())
    ) -> None:
        super().__init__()
        self._current = current
        self._groupings = list(groupings)

    def compose(self) -> ComposeResult:
        choices = [(NO_GROUPING, "none: every flow")]
        choices += [(grouping.id, grouping.title) for grouping in self._groupings]
        current = self._current or NO_GROUPING
        with Vertical():
            yield Static(Text(" Group by (enter chooses, esc cancels)", "bold"))
            yield OptionList(
                *(
                    Option(Text(f"{'•' if id_ == current else ' '} {title}"), id=id_)
                    for id_, title in choices
                ),
                id="group-options",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        # Ungrouped, the first grouping is the likely wish: g then enter.
        wanted = self._current or (self._groupings[0].id if self._groupings else NO_GROUPING)
        index = options.get_option_index(wanted) if wanted in self._ids() else 0
        options.highlighted = index
        options.focus()

    def _ids(self) -> set[str]:
        return {NO_GROUPING, *(grouping.id for grouping in self._groupings)}

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
