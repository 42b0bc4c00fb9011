"""Lines of text drawn with Textual's line API, repainting only the lines that changed.

A ``Static`` renders all of its content again on any change, through Textual's
content pipeline, and its region is repainted whole.  The detail pane changes a few
figures per poll among some forty lines: here each line's strip is cached by what it
shows, only the lines that differ are repainted, and the screen is laid out again
only when the number of lines changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from flowtop.tui.widgets.quiet import text_key

# A pane's usual width, for lines set before the first layout gives the real one.
DEFAULT_WIDTH = 60


class TextLines(Widget):
    """Lines of ``Text`` (never markup), one screen line each, or folded to the width.

    ``wrap``: a line wider than the widget folds onto the next lines (words kept
    whole where they can be); without it, the line is cut with an ellipsis.
    """

    DEFAULT_CSS = """
    TextLines { height: auto; }
    """

    def __init__(self, *, wrap: bool = False, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self._wrap = wrap
        self._texts: list[Text] = []
        # Makes the texts for a width (set_layout), or None for texts as given.
        self._layout: Callable[[int], Sequence[Text]] | None = None
        # The lines as drawn (folded to the width), what each shows, and its strip.
        self._width = 0
        self._lines: list[Text] = []
        self._keys: list[tuple[Any, ...]] = []
        self._strips: list[Strip | None] = []
        # The widget's own style, taken once a frame: it is costly to compute per line.
        self._base: Style | None = None

    @property
    def lines(self) -> list[str]:
        """The plain text of each screen line, as drawn."""
        return [line.plain for line in self._lines]

    @property
    def text(self) -> str:
        """The plain text as drawn, a line each."""
        return "\n".join(self.lines)

    def set_texts(self, texts: Sequence[Text]) -> None:
        """Show these texts; only the screen lines that change are repainted."""
        self._texts = list(texts)
        self._layout = None
        self._reflow()

    def set_layout(self, layout: Callable[[int], Sequence[Text]]) -> None:
        """Show the lines ``layout`` makes for the widget's width, made again whenever
        the width changes (a scrollbar coming or going, a resize)."""
        self._layout = layout
        self._reflow()

    def _reflow(self) -> None:
        width = self.content_region.width or DEFAULT_WIDTH
        if self._layout is not None:
            self._texts = list(self._layout(width))
        lines = self._fold(self._texts, width)
        keys = [text_key(line) for line in lines]
        if width != self._width or len(keys) != len(self._keys):
            height_changed = len(keys) != len(self._keys)
            self._width = width
            self._lines = lines
            self._keys = keys
            self._strips = [None] * len(lines)
            self.refresh(layout=height_changed)
            return
        old = self._keys
        self._lines = lines
        self._keys = keys
        strips = self._strips
        changed = [y for y, key in enumerate(keys) if key != old[y]]
        for y in changed:
            strips[y] = None
        for top, bottom in _runs(changed):
            self.refresh(Region(0, top, self.size.width, bottom - top + 1))

    def _fold(self, texts: Sequence[Text], width: int) -> list[Text]:
        lines: list[Text] = []
        for text in texts:
            for part in text.split("\n", allow_blank=True):
                if part.cell_len <= width:
                    lines.append(part)
                elif self._wrap:
                    lines.extend(part.wrap(self.app.console, width, overflow="fold"))
                else:
                    cut = part.copy()
                    cut.truncate(width, overflow="ellipsis")
                    lines.append(cut)
        return lines

    def on_resize(self) -> None:
        if self.content_region.width != self._width:
            self._reflow()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # A theme or focus change restyles every line.
        self._strips = [None] * len(self._lines)
        self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width and width > 0:
            texts = self._layout(width) if self._layout is not None else self._texts
            return len(self._fold(texts, width))
        return len(self._lines)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._base if self._base is not None else self.rich_style
        if not 0 <= y < len(self._lines):
            return Strip.blank(width, base)
        strip = self._strips[y]
        if strip is None or strip.cell_length != width:
            segments = Segment.apply_style(self._lines[y].render(self.app.console), base)
            strip = Strip(list(segments)).crop_extend(0, width, base)
            self._strips[y] = strip
        return strip


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive numbers as (first, last) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs
