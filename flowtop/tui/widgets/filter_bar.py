"""The filter bar: an input for the filter language, applied live as you type.

While typing, each valid expression is applied at once and an invalid one shows its
error under the input while the last valid filter stays.  ``enter`` on an invalid
expression does not close the bar and applies nothing of it: the filter in force when
the bar opened comes back, and the bar stays open with the text and the error until
the expression is fixed or ``esc`` cancels the edit.
"""

from __future__ import annotations

import os

from rich.text import Text
from textual import constants, events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from flowtop.core.errors import FilterError
from flowtop.core.filter import MATCH_ALL, FlowFilter, compile_filter

# Seconds Textual waits after ESC for the rest of an escape sequence.  Its default
# (100 ms) turns "esc" followed quickly by a key into alt+key; terminals send a whole
# sequence at once, so a short wait is enough.  ESCDELAY (milliseconds, as in curses)
# set by the user wins.
SHORT_ESCAPE_DELAY = 0.025


def use_short_escape_delay() -> None:
    """Shorten Textual's escape delay unless the user set ``ESCDELAY``."""
    if "ESCDELAY" not in os.environ:
        # Textual's parser reads the constant on every ESC, so this takes effect at once.
        setattr(constants, "ESCAPE_DELAY", SHORT_ESCAPE_DELAY)  # noqa: B010 (a Final)


class FilterInput(Input):
    """The bar's input.  An alt+key is "esc then key" typed quickly: it is replayed so.

    Textual reports ESC followed within its escape delay by a printable key as alt+key,
    which the input would take as the plain character.
    """

    async def _on_key(self, event: events.Key) -> None:
        character = event.character
        if not event.key.startswith("alt+") or character is None or not event.is_printable:
            return  # Input's own handler runs next
        event.stop()
        event.prevent_default()
        name = character if character.isalnum() else event.key.removeprefix("alt+")
        # The app's escape now (it closes the bar and queues the focus change), then the
        # key through the app as the terminal's keys come, so it reaches the widget
        # focused by then.  An escape key event would reach this input too late.
        await self.run_action("app.escape")
        self.app.post_message(events.Key(name, character))


class FilterBar(Vertical):
    """Posts :class:`FilterBar.Applied` for each valid expression; shows errors inline.

    An invalid expression keeps the last valid filter in force, and ``enter`` on it
    keeps the bar open.
    """

    DEFAULT_CSS = """
    FilterBar { height: auto; display: none; }
    FilterBar.-open { display: block; }
    FilterBar > #filter-input { border: none; height: 1; padding: 0 1; }
    FilterBar > #filter-input.-invalid { background-tint: $error 20%; }
    FilterBar > #filter-error { color: $error; height: auto; padding: 0 1; }
    """

    class Applied(Message):
        def __init__(self, compiled: FlowFilter) -> None:
            super().__init__()
            self.compiled = compiled

    class Closed(Message):
        """The bar closed."""

    # The filter in force when the bar opened: what esc goes back to.
    before_edit: FlowFilter = MATCH_ALL

    def compose(self) -> ComposeResult:
        # Compact: the focused Input's border rule must not take the bar's only line.
        yield FilterInput(
            placeholder=(
                "filter: app:zoom  path:*INET*  pps>1k  ip:10.1.0.0/16  !dscp:default"
                "   (enter keeps, esc cancels)"
            ),
            id="filter-input",
            compact=True,
            # A re-opened bar continues the expression: cursor at the end, nothing selected.
            select_on_focus=False,
        )
        yield Static("", id="filter-error")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    @property
    def error_text(self) -> str:
        """The error shown under the input, or ``""``."""
        return str(self.query_one("#filter-error", Static).render())

    def open(self, expression: str, before_edit: FlowFilter | None = None) -> None:
        """Show the bar with ``expression``; esc will restore ``before_edit``."""
        self.before_edit = before_edit if before_edit is not None else compile_filter(expression)
        self.add_class("-open")
        self.input.value = expression
        self.input.cursor_position = len(expression)
        self.input.focus()

    def close(self) -> None:
        self.remove_class("-open")
        self._show_error(None)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def _show_error(self, message: str | None) -> None:
        self.query_one("#filter-error", Static).update(Text(message or ""))
        self.input.set_class(message is not None, "-invalid")

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        try:
            compiled = compile_filter(event.value)
        except FilterError as error:
            self._show_error(f"{error} (the last valid filter stays)")
            return
        self._show_error(None)
        self.post_message(self.Applied(compiled))

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            compiled = compile_filter(event.value)
        except FilterError as error:
            # Nothing of an invalid expression is applied, not even a prefix of it that
            # was valid while typing: the filter from before the edit is back in force.
            self._show_error(f"{error}: fix it, or esc cancels")
            self.post_message(self.Applied(self.before_edit))
            return
        self.post_message(self.Applied(compiled))
        self.post_message(self.Closed())
