"""The live flow table: applies one view result per poll and draws only what is on screen.

A Line API widget (``render_line``) that scrolls itself, chosen by measurement
(``python -m benchmarks.tick``; one tick at 1000 flows, 200x50, on a slow 2-core
machine, table step including Textual's render of the screen):

* a ``DataTable`` cleared and refilled: ~210 ms;
* a ``DataTable`` applying the view's diff (``remove_row``/``add_row``/
  ``update_cell``/reorder): ~120 ms.  Every call bumps the one counter that keys
  all its caches, so each visible cell is rendered through Rich again, and the
  per-row bookkeeping is linear (``remove_row`` rebuilds the row index);
* a ``ScrollView`` with ``render_line`` (measured the same way while choosing,
  not kept in the benchmark): ~8.5 ms, half of it spent on the scrollbar, redrawn
  whenever the view follows the selected flow, and on the screen layout that
  every change of ``virtual_size`` (the row count) triggers;
* this widget, a plain ``Widget`` keeping its own first visible row: ~3.5 ms,
  of which ~0.7 ms is the benchmark's own pause.  It stays flat up to 10,000 flows.

A tick adopts the view's row list as it is (the view already filtered, sorted and
formatted), so the rows cost nothing to update; the diff says which cached lines
and "new" marks to drop.  Rendering makes one plain-text segment per visible line,
cached per flow key with the cells and state it was drawn from.

Cell text goes straight into segments: it is never parsed as markup, so appliance
text such as ``[bold]x[/]`` is shown as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from flowtop.core import glyphs
from flowtop.core.columns import Column, SortSpec
from flowtop.core.groups import RowKey
from flowtop.core.layout import SEPARATOR, fit_cell, fit_columns
from flowtop.core.model import strip_control
from flowtop.core.view import FlowRows, Row, ViewResult

# A flow stays marked as new for this many applied polls (the one adding it included).
NEW_TICKS: Final = 3

_row_key: Final = attrgetter("key")

# Row state bits: part of the line cache key.
_CURSOR: Final = 1
_NEW: Final = 2
_STALE: Final = 4


class FlowTable(Widget, can_focus=True):
    """A table of flows that applies :class:`ViewResult` ticks in place.

    The header is the first line and stays put; rows scroll beneath it.  The
    cursor follows its row's key (a flow's or a group's) across ticks and keeps its
    place on screen.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "flow-table--header",
        "flow-table--cursor",
        "flow-table--new",
        "flow-table--stale",
    }

    DEFAULT_CSS = """
    FlowTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .flow-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .flow-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .flow-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .flow-table--new {
            color: $text-success;
            text-style: bold;
        }
        & > .flow-table--stale {
            color: $text-muted;
            text-style: dim;
        }
    }
    """

    # Rows moved by one notch of the mouse wheel.
    WHEEL_ROWS: ClassVar[int] = 3
    # A drag would select the text of whole screen lines, not cells.
    ALLOW_SELECT: ClassVar[bool] = False

    class SortRequested(Message):
        """A column header was clicked: the user wants to sort by ``column_id``."""

        def __init__(self, table: FlowTable, column_id: str) -> None:
            self.table = table
            self.column_id = column_id
            super().__init__()

        @property
        def control(self) -> FlowTable:
            return self.table

    class FlowHighlighted(Message):
        """The cursor now rests on another flow (``None``: the table is empty)."""

        def __init__(self, table: FlowTable, key: RowKey | None) -> None:
            self.table = table
            self.key = key
            super().__init__()

        @property
        def control(self) -> FlowTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._columns: tuple[Column, ...] = tuple(columns)
        self._rows: Sequence[Row] = []
        self._sort: SortSpec | None = None
        self._stale = False
        self._cursor = 0
        self._selected: RowKey | None = None
        # Whether the cursor follows its flow as the order changes.  On the first row it
        # does not, as in htop: the top talkers stay in view until the user picks a flow.
        self._following = False
        # The index of the first row on screen (the table scrolls itself; see render_line).
        self._top = 0
        self._tick = 0
        # Key -> the first tick at which it is no longer shown as new.
        self._new_until: dict[RowKey, int] = {}
        # Layout for one width: (column index, width, right-aligned) per shown column.
        self._layout_width = -1
        self._slots: list[tuple[int, int, bool]] = []
        self._padding = ""
        self._header: Strip | None = None
        # Styles by row state bits, rebuilt when the CSS gives different ones.
        self._styles: dict[int, Style] = {}
        self._style_signature: tuple[Style, ...] = ()
        self._header_style = Style()
        self._base_style = Style()
        # Rendered lines by key, valid for the cells, state and highlight drawn from.
        # Bounded: rows scrolled past would otherwise stay until their flows end.
        self._lines: LRUCache[RowKey, tuple[tuple[str, ...], int, Style | None, Strip]]
        self._lines = LRUCache(256)
        # Highlight rules' styles by key, given by the app with each tick.
        self._highlights: Mapping[RowKey, Style] = {}

    # Public API

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def selected_key(self) -> RowKey | None:
        return self._selected

    @property
    def cursor_row(self) -> int:
        """The index of the highlighted row (0 when the table is empty)."""
        return self._cursor

    @property
    def top_row(self) -> int:
        """The index of the first row on screen."""
        return self._top

    @property
    def stale(self) -> bool:
        return self._stale

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show these columns; the next :meth:`apply` must carry cells in the same order."""
        self._columns = tuple(columns)
        self._invalidate_layout()

    def apply(
        self,
        result: ViewResult,
        sort: SortSpec,
        *,
        stale: bool = False,
        new: Iterable[RowKey] | None = None,
        highlights: Mapping[RowKey, Style] | None = None,
    ) -> None:
        """Show one tick of the view.

        The rows are taken in the view's order; the diff says which cached lines
        and marks to drop.  ``stale`` dims every row (the data is kept, visibly
        old).  ``new`` names the keys to mark as new for :data:`NEW_TICKS` ticks;
        by default they are the rows the diff added, unless it added them all (the
        first fill, or a view reset).  A caller that knows better, say after a filter
        change that brings in rows of old flows, passes ``StoreUpdate.added``.
        """
        self._tick += 1
        was_empty = not self._rows
        old_key = self._selected
        old_offset = self._cursor - self._top
        cursor_was_visible = not was_empty and 0 <= old_offset < self._page_height()

        diff = result.diff
        lines = self._lines
        marked = self._new_until
        for key in diff.removed:
            lines.discard(key)
            marked.pop(key, None)
        if was_empty:
            # The first fill (or the first after a reset): nothing in it is news.
            new = ()
        elif new is None:
            # When every row is "added" this is a view reset (new columns): no news.
            new = () if len(diff.added) >= len(result.rows) else diff.added
        until = self._tick + NEW_TICKS
        for key in new:
            marked[key] = until
        if marked:
            tick = self._tick
            self._new_until = {key: end for key, end in marked.items() if end > tick}
        resorted = self._sort is not None and sort != self._sort
        if sort != self._sort:
            if self._sort is None or sort.column != self._sort.column:
                # The sorted column is always shown: another one may have to make room.
                self._layout_width = -1
            self._sort = sort
            self._header = None
        self._stale = stale
        self._highlights = highlights or {}

        rows = result.rows
        self._rows = rows
        index = self._find(old_key, self._cursor) if self._following else None
        if index is None:
            # Not following, or the selected flow is gone: stay at the same place.
            index = max(0, min(self._cursor, len(rows) - 1))
        self._cursor = index
        self._selected = rows[index].key if rows else None
        if resorted or not cursor_was_visible:
            # A new order: the rows on screen stay put while the cursor's flow is among
            # them, else the view moves just enough to show it.
            self._show_from(self._top)
        else:
            # A tick: the cursor keeps its place on screen as its flow moves.
            self._show_from(index - old_offset)
        # Every visible line may have changed (ages move every poll); Textual only
        # repaints the lines on screen, and unchanged rows come from the line cache.
        self.refresh()
        if self._selected != old_key:
            self.post_message(self.FlowHighlighted(self, self._selected))

    def follow_selected(self) -> None:
        """Keep the cursor on its flow across refreshes, even on the first row (which
        otherwise stays on whichever flow is the top talker)."""
        self._following = True

    def reset(self) -> None:
        """Forget the rows shown (another appliance's flows are coming): the next
        :meth:`apply` is a first fill, the cursor back on the first row."""
        self._rows = []
        self._lines.clear()
        self._new_until = {}
        self._cursor = 0
        self._top = 0
        self._selected = None
        self._following = False
        self.refresh()

    def select_key(self, key: RowKey) -> None:
        """Move the cursor to this flow, if it is shown."""
        index = self._find(key, self._cursor)
        if index is not None:
            self._move_cursor(index)

    def row_keys(self) -> list[RowKey]:
        """The keys in display order."""
        return [row.key for row in self._rows]

    def cell_text(self, key: RowKey, column_id: str) -> str:
        """The full text of one cell (before any truncation to the column width)."""
        index = self._find(key, 0)
        if index is None:
            raise KeyError(key)
        for position, column in enumerate(self._columns):
            if column.id == column_id:
                cells = self._rows[index].cells
                return cells[position] if position < len(cells) else ""
        raise KeyError(column_id)

    def shown_column_ids(self) -> list[str]:
        """The ids of the columns that fit the current width, left to right."""
        self._ensure_layout()
        return [self._columns[i].id for i, _, _ in self._slots]

    # Cursor and scrolling

    def _find(self, key: RowKey | None, hint: int) -> int | None:
        """The index of ``key``; ``hint`` is tried first, as rows seldom move far."""
        rows = self._rows
        if key is None or not rows:
            return None
        if 0 <= hint < len(rows) and rows[hint].key == key:
            return hint
        try:
            # C-level scan: about half the time of a Python loop at 10,000 rows.
            keys = rows.keys() if isinstance(rows, FlowRows) else list(map(_row_key, rows))
            return keys.index(key)  # type: ignore[arg-type]
        except ValueError:
            return None

    def _page_height(self) -> int:
        """How many rows fit under the header."""
        return max(1, self.size.height - 1)

    def _show_from(self, top: int) -> None:
        """Make ``top`` the first row on screen, within bounds and keeping the cursor shown."""
        if not self.size.height:
            # Hidden (behind the full-screen detail pane): the next resize places the rows.
            return
        page = self._page_height()
        top = max(self._cursor - page + 1, min(top, self._cursor))
        top = max(0, min(top, len(self._rows) - page))
        if top != self._top:
            self._top = top
            self.refresh()

    def _scroll_by(self, rows: int) -> None:
        """Move the view without moving the cursor (which may leave the screen)."""
        top = max(0, min(self._top + rows, len(self._rows) - self._page_height()))
        if top != self._top:
            self._top = top
            self.refresh()

    def _move_cursor(self, index: int) -> None:
        rows = self._rows
        if not rows:
            return
        index = max(0, min(index, len(rows) - 1))
        old = self._cursor
        self._cursor = index
        self._following = index > 0
        self._refresh_row(old)
        self._refresh_row(index)
        self._show_from(self._top)
        key = rows[index].key
        if key != self._selected:
            self._selected = key
            self.post_message(self.FlowHighlighted(self, key))

    def _refresh_row(self, index: int) -> None:
        y = index - self._top + 1
        if 0 < y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def action_cursor_up(self) -> None:
        self._move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self._cursor - self._page_height())

    def action_page_down(self) -> None:
        self._move_cursor(self._cursor + self._page_height())

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(len(self._rows) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None:
                self.post_message(self.SortRequested(self, column.id))
        else:
            index = self._top + offset.y - 1
            if index < len(self._rows):
                self._move_cursor(index)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_by(self.WHEEL_ROWS)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_by(-self.WHEEL_ROWS)

    def _column_at(self, x: int) -> Column | None:
        self._ensure_layout()
        left = 0
        for index, width, _ in self._slots:
            if left <= x < left + width + len(SEPARATOR):
                return self._columns[index]
            left += width + len(SEPARATOR)
        return None

    # Layout and rendering

    def on_resize(self, event: events.Resize) -> None:
        self._invalidate_layout()
        self._show_from(self._top)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_signature = ()
        self.refresh()

    def _invalidate_layout(self) -> None:
        self._layout_width = -1
        self.refresh()

    def _ensure_layout(self) -> None:
        width = self.size.width
        if width == self._layout_width:
            return
        self._layout_width = width
        columns = self._columns
        slots = []
        left = width
        keep = self._sorted_index()
        for index, size in fit_columns(columns, width, keep=keep):
            # Only a lone column can be wider than the table: cut it to fit.
            size = min(size, left)
            if size <= 0:
                break
            slots.append((index, size, columns[index].numeric))
            left -= size + len(SEPARATOR)
        self._slots = slots
        used = sum(size for _, size, _ in slots) + len(SEPARATOR) * max(0, len(slots) - 1)
        self._padding = " " * max(0, width - used)
        self._header = None
        self._lines.clear()

    def _sorted_index(self) -> int | None:
        sort = self._sort
        if sort is None:
            return None
        for index, column in enumerate(self._columns):
            if column.id == sort.column:
                return index
        return None

    def _ensure_styles(self) -> None:
        """Take the row styles from the CSS; drop rendered lines when they changed."""
        signature = (
            self.rich_style,
            self.get_component_rich_style("flow-table--header"),
            self.get_component_rich_style("flow-table--cursor", partial=True),
            self.get_component_rich_style("flow-table--new", partial=True),
            self.get_component_rich_style("flow-table--stale", partial=True),
        )
        if signature == self._style_signature:
            return
        self._style_signature = signature
        base, header, cursor, new, stale = signature
        styles: dict[int, Style] = {}
        for state in range(8):
            style = base
            if state & _NEW:
                style += new
            if state & _STALE:
                style += stale
            if state & _CURSOR:
                style += cursor
            styles[state] = style
        self._styles = styles
        self._base_style = base
        self._header_style = header
        self._header = None
        self._lines.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        # Once per frame rather than per line: focus and theme changes restyle rows.
        self._ensure_styles()
        self._ensure_layout()
        # Room for the rows on screen and some scrolled past.
        self._lines.grow(4 * self._page_height() + 64)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if not self._styles:
            self._ensure_styles()
        self._ensure_layout()
        if y == 0:
            if self._header is None:
                self._header = self._render_header()
            return self._header
        index = self._top + y - 1
        rows = self._rows
        if index >= len(rows):
            return Strip.blank(self._layout_width, self._base_style)
        row = rows[index]
        key, cells = row.key, row.cells
        state = _STALE if self._stale else 0
        if index == self._cursor:
            state |= _CURSOR
        if key in self._new_until:
            state |= _NEW
        # A highlight colours the row, except under the cursor, which must stay legible.
        highlight = None if state & _CURSOR else self._highlights.get(key)
        cached = self._lines.get(key)
        if (
            cached is not None
            and cached[1] == state
            and cached[2] == highlight
            and cached[0] == cells
        ):
            return cached[3]
        style = self._styles[state]
        strip = self._render_row(cells, style + highlight if highlight else style)
        self._lines.set(key, (cells, state, highlight, strip))
        return strip

    def _render_row(self, cells: tuple[str, ...], style: Style) -> Strip:
        count = len(cells)
        columns = self._columns
        parts = [
            fit_cell(
                strip_control(cells[index]) if index < count else "",
                size,
                right,
                not columns[index].squeezable,
            )
            for index, size, right in self._slots
        ]
        return self._strip(SEPARATOR.join(parts) + self._padding, style)

    def _render_header(self) -> Strip:
        sort = self._sort
        parts = []
        for index, size, right in self._slots:
            column = self._columns[index]
            title = column.title
            if sort is not None and sort.column == column.id:
                mark = glyphs.current().sort_mark(sort.descending)
                if cell_len(title) + cell_len(mark) > size:
                    # A cut title keeps its sort mark: "Applic~v", not "Applicat~".
                    title = fit_cell(title, max(0, size - cell_len(mark)), False).rstrip()
                title += mark
            parts.append(fit_cell(title, size, right))
        return self._strip(SEPARATOR.join(parts) + self._padding, self._header_style)

    def _strip(self, text: str, style: Style) -> Strip:
        """One line of exactly the layout's width.

        Runs of plain text become one segment each.  The ellipsis gets its own
        segment because Rich measures any text holding it character by character,
        and Textual measures each line's segments several times on its way out.
        """
        if not text:
            return Strip([], 0)
        mark = glyphs.current().ellipsis
        if mark.isascii() or mark not in text:
            return Strip([Segment(text, style)], self._layout_width)
        segments = []
        ellipsis = Segment(mark, style)
        for number, part in enumerate(text.split(mark)):
            if number:
                segments.append(ellipsis)
            if part:
                segments.append(Segment(part, style))
        return Strip(segments, self._layout_width)
