"""The column chooser's state (htop's setup screen): which columns, in which order.

Every column the registry declares is listed: the shown ones first in their order,
then the others in the registry's order.  At least one column stays shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flowtop.core.columns import COLUMNS, DEFAULT_COLUMNS, FLEET_COLUMNS, Column


@dataclass(slots=True)
class ColumnEntry:
    column: Column
    shown: bool


class ColumnChoice:
    """Columns to pick and order; :meth:`chosen` gives the ids shown, in order."""

    def __init__(self, shown: Sequence[str], available: Sequence[str] | None = None) -> None:
        if available is None:
            # A fleet's column (the appliance) where it is shown: the all-flows view.
            available = [c for c in COLUMNS if c not in FLEET_COLUMNS or c in shown]
        self.available = tuple(available)
        self.entries: list[ColumnEntry] = []
        self._fill(shown)

    def _fill(self, shown: Sequence[str]) -> None:
        known = [column for column in shown if column in COLUMNS]
        self.entries = [ColumnEntry(COLUMNS[column], True) for column in known]
        self.entries += [
            ColumnEntry(COLUMNS[column], False) for column in self.available if column not in known
        ]

    def chosen(self) -> tuple[str, ...]:
        return tuple(entry.column.id for entry in self.entries if entry.shown)

    def toggle(self, index: int) -> bool:
        """Show or hide a column; False when it is the last one shown (kept)."""
        entry = self.entries[index]
        if entry.shown and len(self.chosen()) == 1:
            return False
        entry.shown = not entry.shown
        return True

    def move(self, index: int, step: int) -> int:
        """Move a column up (-1) or down (1); returns its new index."""
        target = max(0, min(len(self.entries) - 1, index + step))
        if target != index:
            entry = self.entries.pop(index)
            self.entries.insert(target, entry)
        return target

    def reset(self) -> None:
        """The default columns, in their order."""
        self._fill(DEFAULT_COLUMNS)
