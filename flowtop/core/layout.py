"""Column fitting: which columns a table shows in a given width, and how wide.

One pure function serves the live table and the one-shot ``--once`` table, so both
choose the same columns for the same width.  Their differences are parameters:
the live table keeps the sorted column (``keep``); one-shot output never cuts an
address or a number (``never_cut`` gives each column's widest cell) and may have no
width limit at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from rich.cells import cell_len, set_cell_size

from flowtop.core import glyphs
from flowtop.core.columns import Column

# Text columns (other than addresses and other key columns) may shrink down to this
# width before a column is dropped, so a narrow terminal keeps a truncated path.
SQUEEZE_FLOOR: Final = 6
# Text columns at least this wide share the room left over on a wide terminal.
GROW_MIN_WIDTH: Final = 10
SEPARATOR: Final = " "
# A host name (not an address): a letter no hex digit can be.
_NAMED: Final = re.compile(r"[g-zG-Z_-]")
_IPV4: Final = re.compile(r"[0-9.]+")


def min_width(column: Column) -> int:
    """A column's narrowest width: its own, and room for its title plus a sort mark."""
    return max(column.width, cell_len(column.title) + 1)


def squeezable(column: Column) -> bool:
    """Whether a column's cells may be cut short: numbers lose meaning when cut, and so
    do the columns that say so themselves (addresses, protocols)."""
    return not column.numeric and column.squeezable


def fit_columns(
    columns: Sequence[Column],
    width: int,
    *,
    keep: int | None = None,
    never_cut: Sequence[int] | None = None,
) -> list[tuple[int, int]]:
    """Which columns to show in ``width`` cells, and how wide: ``(index, width)`` pairs.

    Every column gets at least :func:`min_width`; extra room goes to the wide text
    columns (see :func:`_grow`).  When there is too little room, the column with the
    highest ``priority`` number (the rightmost among equals) is dropped until the
    rest fit.  If the last one dropped is a free-text column (path, application,
    ...), it is put back when squeezing the text columns towards
    :data:`SQUEEZE_FLOOR` makes room for it: a cut path beats no path.

    ``keep`` is the index of a column never dropped (the sorted one).  ``never_cut``
    gives each column's widest cell: the columns that may not be cut get all of it.
    A ``width`` of 0 or less means no limit (every column, each as wide as its
    widest cell).
    """
    widths = [min_width(column) for column in columns]
    if never_cut is not None:
        for i, (column, longest) in enumerate(zip(columns, never_cut, strict=True)):
            if width <= 0 or not squeezable(column):
                widths[i] = max(widths[i], longest)
    if width <= 0:
        return list(enumerate(widths))
    kept_natural = 0
    if keep is not None and squeezable(columns[keep]):
        # A kept free-text column (sorting by path) gives up room before others go:
        # sorting by path must not drop the rates.  It is the first to get room back.
        kept_natural = widths[keep]
        widths[keep] = min(widths[keep], SQUEEZE_FLOOR)
    shown = list(range(len(columns)))
    dropped: int | None = None
    while len(shown) > 1 and _needed(widths, shown) > width:
        candidates = [i for i in shown if i != keep] or shown
        dropped = max(candidates, key=lambda i: (columns[i].priority, i))
        shown.remove(dropped)
    if dropped is not None and squeezable(columns[dropped]):
        candidate = sorted([*shown, dropped])
        slack = _slack(columns, widths, candidate)
        deficit = _needed(widths, candidate) - width
        if deficit <= sum(slack.values()):
            shown = candidate
    need = _needed(widths, shown)
    if need > width:
        # A rescued column, or a lone column too wide (cropped beyond the squeeze).
        _squeeze(widths, _slack(columns, widths, shown), need - width)
    else:
        # Columns sized to their widest cell need no more room.
        extra = width - need
        if keep is not None and keep in shown and kept_natural > widths[keep]:
            back = min(extra, kept_natural - widths[keep])
            widths[keep] += back
            extra -= back
        grows = [i for i in shown if never_cut is None or squeezable(columns[i])]
        _grow(columns, widths, grows, extra)
    if keep is not None and keep in shown and kept_natural > widths[keep]:
        # Still short: the other free-text columns give it room, down to their floor.
        want = kept_natural - widths[keep]
        for i in shown:
            if i != keep and want > 0 and squeezable(columns[i]):
                take = min(want, widths[i] - min(widths[i], SQUEEZE_FLOOR))
                widths[i] -= take
                widths[keep] += take
                want -= take
    return [(i, widths[i]) for i in shown]


def _grow(columns: Sequence[Column], widths: list[int], shown: list[int], extra: int) -> None:
    """Share spare cells: free text (path, application, service) is the likeliest to be
    cut, so it first gets up to half its width again; then all wide text columns
    (addresses too, for IPv6) share the rest."""
    wide = [i for i in shown if _grows(columns[i])]
    free = [i for i in wide if squeezable(columns[i])]
    first = min(extra, sum(widths[i] // 2 for i in free))
    _share(widths, free, first)
    _share(widths, wide, extra - first)


def _needed(widths: list[int], shown: list[int]) -> int:
    return sum(widths[i] for i in shown) + len(SEPARATOR) * (len(shown) - 1)


def _slack(columns: Sequence[Column], widths: list[int], shown: list[int]) -> dict[int, int]:
    """How much each shown free-text column could give up."""
    return {i: widths[i] - min(widths[i], SQUEEZE_FLOOR) for i in shown if squeezable(columns[i])}


def _grows(column: Column) -> bool:
    return not column.numeric and min_width(column) >= GROW_MIN_WIDTH


def _share(widths: list[int], indexes: list[int], extra: int) -> None:
    """Add ``extra`` cells to ``indexes`` in proportion to their widths."""
    total = sum(widths[i] for i in indexes)
    if not total or extra <= 0:
        return
    given = 0
    for i in indexes:
        add = extra * widths[i] // total
        widths[i] += add
        given += add
    for i in indexes[: extra - given]:
        widths[i] += 1


def _squeeze(widths: list[int], slack: dict[int, int], deficit: int) -> None:
    """Take up to ``deficit`` cells from the columns in ``slack``, in proportion to it."""
    total = sum(slack.values())
    if not total or deficit <= 0:
        return
    deficit = min(deficit, total)
    taken = 0
    for i, room in slack.items():
        cut = deficit * room // total
        widths[i] -= cut
        slack[i] = room - cut
        taken += cut
    for i, room in slack.items():
        if taken >= deficit:
            break
        if room:
            widths[i] -= 1
            taken += 1


def fit_cell(text: str, width: int, right: bool, middle: bool = False) -> str:
    """``text`` padded to exactly ``width`` cells, or cut with an ellipsis; never wrapped.

    ``middle`` cuts from the middle instead, so the end survives: the port of a long
    IPv6 endpoint matters more than its middle hextets.
    """
    length = cell_len(text)
    if length > width:
        ellipsis = glyphs.current().ellipsis
        if width <= 1:
            return ellipsis[:width]
        if middle and width >= 7 and text.isascii():
            host, colon, port = text.rpartition(":")
            if colon and _IPV4.fullmatch(host) and len(host) + 3 <= width:
                # An IPv4 address stays whole: the port's name gives way.
                return host + colon + port[: width - len(host) - 2] + ellipsis
            if colon and host[-1:] not in "]" and _NAMED.search(host) and len(port) < width // 2:
                # A host name: its first labels say the most, and the port stays whole.
                return host[: width - len(port) - 2] + ellipsis + colon + port
            tail = (width - 1) // 2
            head = width - 1 - tail
            return text[:head] + ellipsis + text[-tail:]
        return set_cell_size(text, width - 1) + ellipsis
    padding = " " * (width - length)
    return padding + text if right else text + padding
