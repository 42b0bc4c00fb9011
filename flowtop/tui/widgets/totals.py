"""The totals line (iftop's footer): the rate of the flows shown and of all, per
direction, the peak and the bytes moved since start.  The numbers come from the core
(:class:`flowtop.core.derived.Totals` in each frame); this widget only fits and draws."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from flowtop.core.derived import Totals, fit_totals, totals_parts
from flowtop.tui.widgets.quiet import text_key, update_quietly


def totals_text(totals: Totals | None, width: int, *, stale: bool = False) -> Text:
    """The line for ``width`` cells: labels plain, figures bold (dim when stale)."""
    text = Text(no_wrap=True, overflow="crop")
    if totals is None:
        return text
    figure = "dim" if stale else "bold"
    for index, (_, label, value) in enumerate(fit_totals(totals_parts(totals), width)):
        if index:
            text.append(" " if label == "in" else "  ")
        if label:
            text.append(label + " ", "dim" if label in ("in", "| all") else "")
        text.append(value, figure)
    return text


class TotalsBar(Static):
    """One line under the table; kept quiet when nothing changed."""

    DEFAULT_CSS = """
    TotalsBar {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.totals: Totals | None = None
        self.stale = False

    def show(self, totals: Totals | None, *, stale: bool = False) -> None:
        self.totals = totals
        self.stale = stale
        self._draw()

    def on_resize(self, event: events.Resize) -> None:
        self._draw()

    def _draw(self) -> None:
        width = max(0, self.size.width - 2) if self.size.width else 78
        text = totals_text(self.totals, width, stale=self.stale)
        update_quietly(self, text, text_key(text), 1)
