"""Updating a Static without a full screen layout when its height cannot have changed.

``Static.update()`` lays the whole screen out again by default; done for every widget
on every poll, that layout is most of the TUI's cost at a thousand flows.  Here an
update is skipped when the content is what is shown, and asks for a layout only when
the content's height may differ from the one shown.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static


def text_key(text: Text) -> tuple[Any, ...]:
    """What a Text shows: equal keys draw the same cells."""
    return (
        text.plain,
        str(text.style),
        tuple(text.spans),
        text.no_wrap,
        text.overflow,
        text.justify,
        text.end,
    )


def single_lines(text: Text, width: int) -> int | None:
    """The number of lines of ``text`` when none is wider than ``width`` (so none wraps),
    else None: its height then depends on the wrapping."""
    if width <= 0:
        return None
    lines = text.plain.split("\n")
    if any(cell_len(line) > width for line in lines):
        return None
    return len(lines)


def update_quietly(static: Static, content: Any, key: Any, height: int | None) -> None:
    """Show ``content`` in ``static``; ``key`` says what it shows (same key: nothing
    to do), ``height`` its height in lines where it is known (None: unknown), so that
    a layout is asked for only when the height may change."""
    state = static.__dict__
    if state.get("_quiet_key") == key and key is not None:
        return
    known = state.get("_quiet_height")
    layout = height is None or known is None or known != height
    state["_quiet_key"] = key
    state["_quiet_height"] = height
    static.update(content, layout=layout)
