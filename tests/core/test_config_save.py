"""Saving columns and theme into the config file with tomlkit: comments and layout kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flowtop.core.column_choice import ColumnChoice
from flowtop.core.columns import COLUMNS, DEFAULT_COLUMNS
from flowtop.core.config import load_config, select_profile
from flowtop.core.config.save import SaveTarget, save_to_profile
from flowtop.core.errors import UsageError

WRITTEN = """\
# flowtop at the NOC
default_profile = "lab"   # the usual one

[defaults]
interval = 2  # seconds
columns = ["src", "dst"]  # the few that matter

# The lab appliance.
[profiles.lab]
url = "https://10.0.0.1"
user = "admin"   # read-only account

[profiles.dc]
url = "https://10.9.0.1"
"""


def test_saving_into_a_profile_keeps_comments_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(WRITTEN)
    os.chmod(path, 0o640)
    save_to_profile(SaveTarget(path, "lab"), {"columns": ["src", "app", "kbps"], "theme": "nord"})
    text = path.read_text()
    assert text == WRITTEN.replace(
        'user = "admin"   # read-only account\n',
        'user = "admin"   # read-only account\ncolumns = ["src", "app", "kbps"]\ntheme = "nord"\n',
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    config = load_config(path, {}, explicit=True)
    lab = select_profile(config, "lab")
    assert lab.columns == ["src", "app", "kbps"] and lab.theme == "nord"
    # Saved again: the key keeps its place and nothing else moves.
    save_to_profile(SaveTarget(path, "lab"), {"columns": ["dst"]})
    assert path.read_text() == text.replace('["src", "app", "kbps"]', '["dst"]')


def test_saving_without_a_profile_goes_to_defaults_keeping_the_line_comment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(WRITTEN)
    save_to_profile(SaveTarget(path, None), {"columns": ["src", "kbps"]})
    assert path.read_text() == WRITTEN.replace(
        'columns = ["src", "dst"]  # the few that matter',
        'columns = ["src", "kbps"]  # the few that matter',
    )


def test_a_new_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "flowtop" / "config.toml"
    save_to_profile(SaveTarget(path, "lab"), {"columns": ["src"], "theme": "textual-light"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("# flowtop configuration")
    assert "[profiles.lab]" in text
    config = load_config(path, {}, explicit=True)
    assert select_profile(config, "lab").theme == "textual-light"


def test_what_would_not_load_back_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(WRITTEN)
    with pytest.raises(UsageError, match="columns"):
        save_to_profile(SaveTarget(path, "lab"), {"columns": ["nonsense"]})
    assert path.read_text() == WRITTEN
    path.write_text("this is [not toml")
    with pytest.raises(UsageError, match="does not parse"):
        save_to_profile(SaveTarget(path, "lab"), {"columns": ["src"]})
    assert path.read_text() == "this is [not toml"


def test_the_column_choice_picks_orders_and_resets() -> None:
    choice = ColumnChoice(["dst", "src", "kbps"])
    ids = [entry.column.id for entry in choice.entries]
    assert ids[:3] == ["dst", "src", "kbps"]
    # Every column but the appliance's, which only a fleet's all-flows view offers.
    assert sorted(ids) == sorted(column for column in COLUMNS if column != "appliance")
    assert "appliance" in [e.column.id for e in ColumnChoice(["appliance", "src"]).entries]
    assert choice.chosen() == ("dst", "src", "kbps")
    assert choice.move(1, -1) == 0
    assert choice.chosen() == ("src", "dst", "kbps")
    assert choice.move(0, -1) == 0
    gw = ids.index("gw")
    assert choice.toggle(gw)
    assert choice.chosen() == ("src", "dst", "kbps", "gw")
    for column in ("src", "dst", "kbps"):
        index = [entry.column.id for entry in choice.entries].index(column)
        assert choice.toggle(index)
    # The last shown column stays.
    index = [entry.column.id for entry in choice.entries].index("gw")
    assert not choice.toggle(index)
    assert choice.chosen() == ("gw",)
    choice.reset()
    assert choice.chosen() == DEFAULT_COLUMNS


@pytest.mark.parametrize(
    "written",
    [
        '[profiles]\nlab.url = "https://10.0.0.1"  # dotted keys\n',
        'profiles = { lab = { url = "https://10.0.0.1" } }\n',
        '[profiles.other]\nurl = "https://10.0.0.2"\n',
    ],
)
def test_profiles_written_any_way_get_the_keys(tmp_path: Path, written: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(written)
    save_to_profile(SaveTarget(path, "lab"), {"columns": ["src", "kbps"]})
    text = path.read_text()
    assert "https://10.0.0." in text and ("# dotted keys" in text) == ("#" in written)
    assert select_profile(load_config(path, {}, explicit=True), "lab").columns == ["src", "kbps"]
