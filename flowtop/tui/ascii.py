"""Plain ASCII output for terminals whose locale is not UTF-8.

flowtop's own drawers take their characters from :mod:`flowtop.core.glyphs`;
this module covers the rest of the screen: :class:`AsciiFilter` is a Textual line
filter that turns whatever is still not ASCII (Textual's borders, scrollbar ends,
text-overflow ellipses, the palette's icon, appliance text) into ASCII of the same
width, and :class:`GlyphSparkline` draws sparklines from the glyph set's levels.
"""

from __future__ import annotations

from typing import Final

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from textual.app import RenderResult as WidgetRenderResult
from textual.color import Color
from textual.filter import LineFilter
from textual.renderables.sparkline import Sparkline as SparklineRenderable
from textual.widgets import Sparkline

from flowtop.core import glyphs
from flowtop.core.glyphs import asciify

ASCII_CLASS: Final = "-ascii"


class AsciiFilter(LineFilter):
    """Every segment's text in ASCII, cell for cell."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if all(segment.text.isascii() for segment in segments):
            return segments
        return [
            segment
            if segment.text.isascii() or segment.control
            else Segment(asciify(segment.text), segment.style)
            for segment in segments
        ]


class _Translated:
    """A renderable's segments with some characters swapped."""

    def __init__(self, renderable: RenderableType, table: dict[int, int]) -> None:
        self.renderable = renderable
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self.table
        for segment in console.render(self.renderable, options):
            if segment.control:
                yield segment
            else:
                yield Segment(segment.text.translate(table), segment.style)


_BARS: Final = SparklineRenderable.BARS


class GlyphSparkline(Sparkline):
    """Textual's sparkline, its bars taken from the glyph set (ASCII levels if chosen)."""

    def render(self) -> WidgetRenderResult:
        renderable = super().render()
        levels = glyphs.current().spark
        if levels == _BARS or not isinstance(renderable, SparklineRenderable):
            return renderable
        return _Translated(renderable, str.maketrans(_BARS, levels))
