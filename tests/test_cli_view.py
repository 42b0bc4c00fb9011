"""Where the live view saves its columns and theme, and the profile keys it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowtop.cli import build_parser, save_target_for, settings_from_arguments

pytestmark = pytest.mark.usefixtures("isolated_environment")


def test_the_save_target_is_the_profile_in_use(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('default_profile = "lab"\n[profiles.lab]\n[profiles.dc]\n')
    parse = build_parser().parse_args
    target = save_target_for(parse(["--config", str(path)]), {})
    assert (target.path, target.profile) == (path, "lab")
    target = save_target_for(parse(["--config", str(path), "--profile", "dc"]), {})
    assert target.profile == "dc" and target.table_name == "profiles.dc"
    plain = tmp_path / "plain.toml"
    plain.write_text("[defaults]\n")
    target = save_target_for(parse(["--config", str(plain)]), {})
    assert target.profile is None and target.table_name == "defaults"


def test_the_profile_keys_of_names_clipboard_and_theme(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[defaults]\nresolve = true\nport_names = true\nclipboard = false\ntheme = "nord"\n'
    )
    settings = settings_from_arguments(build_parser().parse_args(["--demo", "--config", str(path)]))
    assert settings.resolve and settings.port_names
    assert settings.clipboard is False and settings.theme == "nord"
    path.write_text('[defaults]\ntheme = ""\n')
    with pytest.raises(Exception, match="theme"):
        settings_from_arguments(build_parser().parse_args(["--demo", "--config", str(path)]))
