"""Plain ASCII output for terminals whose locale is not UTF-8.

flowtop's own drawers take their characters from :mod:`flowtop.core.glyphs`;
this module covers the rest of the screen: :class:`AsciiFilter` is a Textual line
filter that turns whatever is still not ASCII (Textual's borders, scrollbar ends,
text-overflow ellipses, the palette's icon, appliance text) into ASCII of the same
width, and :class:`GlyphSparkline` draws sparklines from the glyph set's levels.
"""

from __future__ import annotations

from typing import Final

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

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
