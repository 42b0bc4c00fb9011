"""The filter bar: an input for the filter language, applied live as you type."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from flowtop.core.errors import FilterError
from flowtop.core.filter import FlowFilter, compile_filter


class FilterBar(Vertical):
    """Posts :class:`FilterBar.Applied` for each valid expression; shows errors inline.

    An invalid expression keeps the last valid filter in force.
    """

    DEFAULT_CSS = """
    FilterBar { height: auto; display: none; }
    FilterBar.-open { display: block; }
    FilterBar > Input { border: none; height: 1; padding: 0 1; }
    FilterBar > #filter-error { color: $error; height: auto; padding: 0 1; }
    """

    class Applied(Message):
        def __init__(self, compiled: FlowFilter) -> None:
            super().__init__()
            self.compiled = compiled

    class Closed(Message):
        """The bar closed; ``cleared`` when the user asked to drop the filter."""

        def __init__(self, cleared: bool) -> None:
            super().__init__()
            self.cleared = cleared

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: app:zoom  pps>1k  ip:10.1.0.0/16  !dscp:default   (esc clears)",
            id="filter-input",
        )
        yield Static("", id="filter-error")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def open(self, expression: str) -> None:
        self.add_class("-open")
        self.input.value = expression
        self.input.cursor_position = len(expression)
        self.input.focus()

    def close(self) -> None:
        self.remove_class("-open")
        self.query_one("#filter-error", Static).update("")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        error_line = self.query_one("#filter-error", Static)
        try:
            compiled = compile_filter(event.value)
        except FilterError as error:
            error_line.update(Text(f"{error} (the last valid filter stays)"))
            return
        error_line.update("")
        self.post_message(self.Applied(compiled))

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Closed(cleared=False))
