"""The few non-letter characters flowtop draws, in a Unicode and a plain ASCII set.

A terminal whose locale is not UTF-8 (``LANG=C`` on a jump host is common) shows
``▼``, ``…`` or ``→`` as ``_`` or worse, and ascending then looks like descending.
So the set is chosen once at start-up (:func:`select`, from ``--ascii`` / the
profile's ``ascii`` key, else :func:`locale_is_utf8`) and every drawer asks
:func:`current` for its characters instead of writing them itself.

:func:`asciify` turns any other text (appliance strings, Textual's own borders and
scrollbars) into ASCII of the same width in terminal cells, so columns stay aligned.
"""

from __future__ import annotations

import codecs
import locale
import os
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rich.cells import cell_len


@dataclass(frozen=True, slots=True)
class Glyphs:
    """One set of drawing characters."""

    ascii: bool
    # Marks a cut cell or line; one cell wide.
    ellipsis: str
    descending: str
    ascending: str
    # Between the old and new path of a flow, or source and destination: with spaces.
    arrow: str
    # A value the flow does not have.
    missing: str
    # Separates parts of a line.
    dot: str
    # Eight levels of a sparkline, lowest first: Textual's bars and their ASCII stand-ins.
    spark: str
    # A horizontal bar's partial cells, an eighth to a whole cell (the last is full).
    bar: str = "########"
    # The rest of a bar's width.
    bar_empty: str = " "

    def bar_text(self, share: float, width: int) -> str:
        """A bar ``width`` cells wide filled to ``share`` (0 to 1), as iftop draws them."""
        if width <= 0:
            return ""
        share = min(1.0, max(0.0, share)) if share == share else 0.0
        eighths = round(share * width * 8)
        if share > 0 and eighths == 0:
            eighths = 1  # something is there: show it
        full, part = divmod(eighths, 8)
        text = self.bar[-1] * full
        if part:
            text += self.bar[part - 1]
        return text + self.bar_empty * (width - len(text))

    def sort_mark(self, descending: bool) -> str:
        return self.descending if descending else self.ascending


UNICODE: Final = Glyphs(
    ascii=False,
    ellipsis="…",
    descending="▼",
    ascending="▲",
    arrow=" → ",
    missing="—",
    dot="·",
    spark="▁▂▃▄▅▆▇█",
    bar="▏▎▍▌▋▊▉█",
)

ASCII: Final = Glyphs(
    ascii=True,
    ellipsis="~",
    descending="v",
    ascending="^",
    arrow=" -> ",
    missing="-",
    dot=".",
    spark="_.:-=+*#",
    bar="||||####",
)

_current: Glyphs = UNICODE


def current() -> Glyphs:
    """The set chosen at start-up (Unicode until :func:`select` says otherwise)."""
    return _current


def select(ascii_only: bool) -> Glyphs:
    """Choose the set for this run; returns it."""
    global _current
    _current = ASCII if ascii_only else UNICODE
    return _current


# Python's own stand-ins when a C/POSIX locale is coerced (PEP 538).
_COERCED: Final = frozenset({"c.utf-8", "c.utf8", "utf-8"})


def _says_utf8(name: str) -> bool:
    folded = name.lower().replace("-", "").replace("_", "")
    return "utf8" in folded


def locale_is_utf8(environ: Mapping[str, str] | None = None, utf8_mode: bool | None = None) -> bool:
    """Whether the terminal's character set, as the locale names it, is UTF-8.

    Python hides a C/POSIX locale: it coerces it to ``C.UTF-8`` (setting ``LC_CTYPE``
    in the environment) and turns on its UTF-8 mode, so ``sys.stdout.encoding`` and
    :func:`locale.getpreferredencoding` say UTF-8 while the terminal does not, and
    Textual writes UTF-8 regardless.  In UTF-8 mode the locale variables the user
    set decide; otherwise the locale Python started with does.
    """
    env = os.environ if environ is None else environ
    if utf8_mode is None:
        utf8_mode = bool(sys.flags.utf8_mode)
    if not utf8_mode:
        try:
            return codecs.lookup(locale.getpreferredencoding(False)).name == "utf-8"
        except LookupError:
            return False
    for variable in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(variable, "")
        if not value:
            continue
        if variable == "LC_CTYPE" and value.lower() in _COERCED and not env.get("PYTHONUTF8"):
            continue  # put there by Python's coercion of a C locale, not by the user
        return _says_utf8(value)
    return False  # no locale at all is the C locale


def encoding_is_utf(encoding: str | None) -> bool:
    """Whether a stream with this encoding can write any text."""
    if not encoding:
        return False
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


# Characters with an obvious ASCII look-alike of the same width.
_LOOKALIKES: Final[dict[str, str]] = {
    "…": "~",
    "→": ">",
    "←": "<",
    "↑": "^",
    "↓": "v",
    "▼": "v",
    "▲": "^",
    "▶": ">",
    "◀": "<",
    "·": ".",
    "•": "*",
    "—": "-",
    "\u2013": "-",
    "\u2018": "'",
    "\u2019": "'",
    "“": '"',
    "”": '"',
    "«": "<",
    "»": ">",
    "\u00d7": "x",
    "█": "#",
    "▀": "-",
    "▄": "-",
    "▔": "-",
    "░": ":",
    "▒": "%",
    "▓": "#",
    "\u00a0": " ",
}


@lru_cache(maxsize=4096)
def _ascii_char(char: str) -> str:
    width = cell_len(char)
    if width == 0:
        return ""
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    code = ord(char)
    if 0x2500 <= code <= 0x257F:  # box drawing
        name = unicodedata.name(char, "")
        horizontal = "HORIZONTAL" in name
        vertical = "VERTICAL" in name
        if horizontal and not vertical:
            return "-"
        if vertical and not horizontal:
            return "|"
        return "+"
    if 0x2580 <= code <= 0x259F:  # block elements: scrollbar ends, half-block borders
        name = unicodedata.name(char, "")
        if "LEFT" in name or "RIGHT" in name:
            return "|"
        return " " if "LOWER" in name else "#"
    decomposed = unicodedata.normalize("NFKD", char)
    plain = "".join(c for c in decomposed if c.isascii() and c.isprintable())
    if plain and cell_len(plain) <= width:
        return plain + " " * (width - cell_len(plain))  # a full-width letter: letter, space
    return "?" * width


def asciify(text: str) -> str:
    """``text`` in printable ASCII, as many terminal cells wide as before.

    Look-alikes where there are some (``é`` is ``e``, a box-drawing line ``-``),
    ``?`` for each cell of anything else.
    """
    if text.isascii():
        return text
    return "".join(c if c.isascii() else _ascii_char(c) for c in text)
