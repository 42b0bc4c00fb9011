"""Column fitting, one function for the live table and one-shot output."""

from __future__ import annotations

from flowtop.core.columns import COLUMNS, DEFAULT_COLUMNS, resolve_column
from flowtop.core.layout import fit_columns, min_width

DEFAULT = [COLUMNS[name] for name in DEFAULT_COLUMNS]


def test_columns_fit_any_width() -> None:
    columns = [COLUMNS[name] for name in DEFAULT_COLUMNS]
    for width in (60, 80, 100, 120, 146, 200, 300):
        layout = fit_columns(columns, width)
        used = sum(size for _, size in layout) + len(layout) - 1
        assert used <= width
        shown = [columns[i] for i, _ in layout]
        if len(shown) == len(columns):
            # Wider than needed: the room goes to text columns, numbers keep their width.
            assert used == width
            assert all(size == min_width(columns[i]) for i, size in layout if columns[i].numeric)
        dropped = [column for column in columns if column not in shown]
        if dropped:
            # Nothing is dropped before a column of a higher priority number.
            assert min(c.priority for c in dropped) >= max(c.priority for c in shown)


def test_keep_holds_the_sorted_column_on_screen() -> None:
    dropped_first = max(range(len(DEFAULT)), key=lambda i: (DEFAULT[i].priority, i))
    narrow = [i for i, _ in fit_columns(DEFAULT, 60)]
    assert dropped_first not in narrow
    kept = [i for i, _ in fit_columns(DEFAULT, 60, keep=dropped_first)]
    assert dropped_first in kept
    assert sum(size for _, size in fit_columns(DEFAULT, 60, keep=dropped_first)) <= 60


def test_never_cut_gives_addresses_their_widest_cell_and_zero_means_no_limit() -> None:
    src = DEFAULT_COLUMNS.index("src")
    app = DEFAULT_COLUMNS.index("app")
    longest = [0] * len(DEFAULT)
    longest[src], longest[app] = 46, 40
    layout = dict(fit_columns(DEFAULT, 100, never_cut=longest))
    assert layout[src] >= 46  # an address is never cut
    assert app not in layout or layout[app] < 40  # free text may be
    unlimited = dict(fit_columns(DEFAULT, 0, never_cut=longest))
    assert len(unlimited) == len(DEFAULT)
    assert unlimited[src] == 46 and unlimited[app] == 40


def test_sorting_by_a_free_text_column_keeps_the_rates_at_80_columns() -> None:
    """Sorting by path at 80 columns dropped pps and rate to show the path in full:
    the kept text column is squeezed first, and the rates stay."""
    columns = [resolve_column(name) for name in DEFAULT_COLUMNS]
    ids = [column.id for column in columns]
    for kept in ("path", "app"):
        plain = {ids[i]: width for i, width in fit_columns(columns, 80)}
        fitted = {ids[i]: width for i, width in fit_columns(columns, 80, keep=ids.index(kept))}
        assert {"pps", "kbps", kept} <= fitted.keys()
        assert fitted.keys() == plain.keys()
        # The sorted column gets the room the other text column gives up.
        assert fitted[kept] >= plain[kept]
        assert sum(fitted.values()) <= 80
