"""The export format question: c, j, enter and escape."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Static

from flowtop.tui.screens.export import ExportScreen

UNSET = "unset"


class ExportApp(App[None]):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.answers: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(ExportScreen(self.directory), self.answers.append)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("c",), "csv"),
        (("j",), "json"),
        (("escape",), None),
        (("q",), None),
        (("enter",), "csv"),
        (("down", "enter"), "json"),
    ],
)
async def test_keys_choose_the_format_or_cancel(
    tmp_path: Path, keys: tuple[str, ...], expected: str | None
) -> None:
    app = ExportApp(tmp_path)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        await pilot.press(*keys)
        await pilot.pause()
        assert app.answers == [expected]
        assert not isinstance(app.screen, ExportScreen)


async def test_shows_where_literally(tmp_path: Path) -> None:
    directory = tmp_path / "[bold red]noc[/]"
    app = ExportApp(directory)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert str(screen.query_one("#export-directory", Static).render()) == f"to {directory}"
        assert str(screen.query_one("#export-title", Static).render()) == "Export the current view"
        # Other keys do nothing: the question stays until answered.
        await pilot.press("x", "s")
        assert isinstance(app.screen, ExportScreen) and app.answers == []
