"""The footer's fit to the terminal's width, the same on every screen."""

from __future__ import annotations

from typing import Final

from textual.widgets import Footer

# Below this many columns the footer's keys do not fit with their padding, nor beside the
# palette's key (ctrl+p still opens it, and help lists it): the footer is compact.
COMPACT_FOOTER_BELOW: Final = 100


def fit_footer(footer: Footer, width: int) -> None:
    """Compact, without the palette's key, below :data:`COMPACT_FOOTER_BELOW` columns."""
    compact = width < COMPACT_FOOTER_BELOW
    if footer.compact != compact:
        footer.compact = compact
        footer.show_command_palette = not compact
        # The palette key is composed, not drawn: it comes and goes with a recompose.
        footer.refresh(recompose=True)
