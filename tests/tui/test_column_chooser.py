"""o: the column chooser; w saves columns and theme to the profile in use."""

from __future__ import annotations

from pathlib import Path

from flowtop.core.columns import DEFAULT_COLUMNS
from flowtop.core.config import load_config, select_profile
from flowtop.core.config.save import SaveTarget
from flowtop.tui.screens.columns import ColumnScreen
from tests.core.factories import flow
from tests.tui.helpers import Clock, ScriptedSource, make_app, wait_until

CONFIG = """\
# mine
[profiles.lab]
url = "https://10.0.0.1"  # the lab
user = "admin"
"""


def _ids(app: object) -> list[str]:
    return [column.id for column in app.table.columns]  # type: ignore[attr-defined]


async def test_the_chooser_picks_orders_resets_and_saves(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    clock = Clock()
    app = make_app(
        ScriptedSource(clock, [[flow(1), flow(2)]]),
        clock,
        save_target=SaveTarget(path, "lab"),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ColumnScreen)
        # space hides the first column (src), at once.
        await pilot.press("space")
        await pilot.pause()
        assert _ids(app) == list(DEFAULT_COLUMNS[1:])
        await pilot.press("enter")
        await pilot.pause()
        assert _ids(app) == list(DEFAULT_COLUMNS)
        # J moves it down one place.
        await pilot.press("J")
        await pilot.pause()
        assert _ids(app)[:3] == ["dst", "src", "proto"]
        assert app.table.cell_text(app.table.row_keys()[0], "src") == "10.1.0.3:40002"
        # A column that was not shown: the last in the list, shown.
        await pilot.press("end", "space")
        await pilot.pause()
        last = app.screen.choice.entries[-1].column.id  # type: ignore[attr-defined]
        assert _ids(app)[-1] == last and last not in DEFAULT_COLUMNS
        app.theme = "nord"
        await pilot.press("w")
        await pilot.pause()
        profile = select_profile(load_config(path, {}, explicit=True), "lab")
        assert profile.columns == _ids(app)
        assert profile.theme == "nord"
        assert path.read_text().startswith(CONFIG)
        await pilot.press("r")
        await pilot.pause()
        assert _ids(app) == list(DEFAULT_COLUMNS)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ColumnScreen)
        assert _ids(app) == list(DEFAULT_COLUMNS)


async def test_saving_with_no_config_file_says_so() -> None:
    clock = Clock()
    app = make_app(ScriptedSource(clock, [[flow(1)]]), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 1)
        await pilot.press("o", "w")
        await pilot.pause()
        assert any("nowhere to save" in n.message for n in app._notifications)


async def test_the_saved_theme_is_used_and_an_unknown_one_said() -> None:
    clock = Clock()
    app = make_app(ScriptedSource(clock, [[flow(1)]]), clock, theme="nord")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "nord"
    other = make_app(ScriptedSource(clock, [[flow(1)]]), clock, theme="no-such-theme")
    async with other.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert other.theme != "no-such-theme"
        assert any("no-such-theme" in n.message for n in other._notifications)
