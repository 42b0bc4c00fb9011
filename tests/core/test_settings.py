"""Layered settings: command line > environment > profile > [defaults] > built-in."""

from __future__ import annotations

import getpass
import json
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from flowtop.core.columns import DEFAULT_COLUMNS
from flowtop.core.errors import UsageError
from flowtop.core.settings import Resolution, Settings, resolve_settings


def python_command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


PASSWORD_COMMAND = python_command("print('from-command')")
# Run it and the test fails: proves a password source was never consulted.
FAILING_COMMAND = python_command("import sys; print('never-shown'); sys.exit(3)")


def toml(value: str) -> str:
    # A JSON string is a valid TOML basic string.
    return json.dumps(value)


def lab_with_command(command: str) -> str:
    return f'[profiles.lab]\nurl = "h.example"\nuser = "u"\npassword_command = {toml(command)}\n'


@pytest.fixture
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose default config path is an empty temporary directory.

    platformdirs reads the process environment, so that is set as well.
    """
    (tmp_path / "xdg").mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}


def write_config(tmp_path: Path, text: str, mode: int = 0o600, name: str = "cfg.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(mode)
    return path


def resolve(
    cli: dict[str, Any],
    environ: dict[str, str],
    config: Path | None = None,
    profile: str | None = None,
) -> Resolution:
    return resolve_settings(
        cli,
        environ,
        config_path=str(config) if config else None,
        profile_name=profile,
        interactive=False,
    )


LAYERED = f"""\
[defaults]
interval = 5
max_stats = 1000
timeout = 3
sort = "bytes"
columns = ["src", "dst", "rate"]

[profiles.lab]
url = "https://profile.example"
user = "profile-user"
password_command = {toml(PASSWORD_COMMAND)}
max_stats = 50
timeout = 7
"""


# --- built-in defaults ---------------------------------------------------------------


def test_built_in_defaults(environ: dict[str, str]) -> None:
    resolution = resolve({"demo": True}, environ)
    settings = resolution.settings
    assert settings.demo is True
    assert settings.interval == 2.0
    assert settings.max_stats == 100
    assert settings.timeout == 10.0
    assert settings.sort == "kbps"
    assert settings.filter == ""
    assert settings.columns == DEFAULT_COLUMNS
    assert settings.insecure is False and settings.ca_bundle is None
    assert settings.password is None
    assert resolution.warnings == ()
    assert resolution.config is not None and not resolution.config.loaded


# --- precedence ------------------------------------------------------------------------


def test_each_setting_comes_from_the_highest_layer_that_sets_it(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(tmp_path, LAYERED)
    environ["FLOWTOP_URL"] = "https://env.example"
    settings = resolve({"max_stats": 1000}, environ, config, "lab").settings
    assert settings.max_stats == 1000  # command line over profile (50) and defaults
    assert settings.url == "https://env.example"  # environment over profile
    assert settings.user == "profile-user"  # profile, nothing higher sets it
    assert settings.timeout == 7.0  # profile over [defaults]
    assert settings.interval == 5.0  # [defaults] over built-in
    assert settings.sort == "bytes"  # [defaults]
    assert settings.filter == ""  # built-in
    assert settings.password is not None
    assert settings.password.get_secret_value() == "from-command"


def test_profile_beats_defaults(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, LAYERED)
    settings = resolve({}, environ, config, "lab").settings
    assert settings.max_stats == 50
    assert settings.url == "https://profile.example"


def test_defaults_apply_without_a_profile(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, LAYERED)
    settings = resolve({"demo": True}, environ, config).settings
    assert settings.max_stats == 1000
    assert settings.timeout == 3.0
    assert settings.columns == ("src", "dst", "kbps")


def test_none_on_the_command_line_means_not_given(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, LAYERED)
    cli = {"url": None, "user": None, "max_stats": None, "timeout": None, "interval": None}
    settings = resolve(cli, environ, config, "lab").settings
    assert (settings.url, settings.user) == ("https://profile.example", "profile-user")
    assert (settings.max_stats, settings.timeout, settings.interval) == (50, 7.0, 5.0)


def test_environment_user_beats_the_profile(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, LAYERED)
    environ["FLOWTOP_USER"] = "env-user"
    settings = resolve({}, environ, config, "lab").settings
    assert settings.user == "env-user"
    assert settings.url == "https://profile.example"


def test_command_line_beats_the_environment(environ: dict[str, str]) -> None:
    environ.update(
        FLOWTOP_URL="https://env.example", FLOWTOP_USER="env-user", FLOWTOP_PASSWORD="pw"
    )
    settings = resolve({"url": "https://cli.example", "user": "cli-user"}, environ).settings
    assert (settings.url, settings.user) == ("https://cli.example", "cli-user")


def test_empty_environment_values_count_as_unset(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, LAYERED)
    environ.update(FLOWTOP_URL="", FLOWTOP_USER="")
    settings = resolve({}, environ, config, "lab").settings
    assert (settings.url, settings.user) == ("https://profile.example", "profile-user")


def test_lists_are_replaced_whole(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(
        tmp_path,
        """\
        [defaults]
        columns = ["src", "dst", "rate"]

        [profiles.narrow]
        columns = ["app"]
        """,
    )
    assert resolve({"demo": True}, environ, config).settings.columns == ("src", "dst", "kbps")
    assert resolve({"demo": True}, environ, config, "narrow").settings.columns == ("app",)
    from_cli = resolve({"demo": True, "columns": ("pps",)}, environ, config, "narrow")
    assert from_cli.settings.columns == ("pps",)


def test_insecure_on_the_command_line_drops_the_profiles_ca_bundle(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(tmp_path, '[profiles.tls]\nca_bundle = "/etc/ca.pem"\n')
    settings = resolve({"demo": True, "insecure": True}, environ, config, "tls").settings
    assert settings.insecure is True and settings.ca_bundle is None


def test_ca_bundle_on_the_command_line_drops_the_profiles_insecure(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(tmp_path, "[profiles.lax]\ninsecure = true\n")
    settings = resolve({"demo": True, "ca_bundle": "mine.pem"}, environ, config, "lax").settings
    assert settings.insecure is False and settings.ca_bundle == "mine.pem"


def test_profile_ca_bundle_drops_insecure_of_the_defaults(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(
        tmp_path, '[defaults]\ninsecure = true\n\n[profiles.tls]\nca_bundle = "/etc/ca.pem"\n'
    )
    settings = resolve({"demo": True}, environ, config, "tls").settings
    assert settings.insecure is False and settings.ca_bundle == "/etc/ca.pem"


# --- which file, which profile ----------------------------------------------------------


def test_default_profile_is_used_when_none_is_named(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(tmp_path, 'default_profile = "lab"\n\n' + LAYERED)
    settings = resolve({}, environ, config).settings
    assert settings.url == "https://profile.example" and settings.max_stats == 50


def test_named_profile_beats_default_profile(tmp_path: Path, environ: dict[str, str]) -> None:
    text = 'default_profile = "lab"\n\n' + LAYERED + "\n[profiles.other]\nmax_stats = 100\n"
    config = write_config(tmp_path, text)
    settings = resolve({"demo": True}, environ, config, "other").settings
    assert settings.max_stats == 100


def test_unknown_profile_is_a_usage_error(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, LAYERED)
    with pytest.raises(UsageError, match='unknown profile "nope"') as caught:
        resolve({"demo": True}, environ, config, "nope")
    assert "lab" in str(caught.value)


def test_flowtop_config_names_the_file(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, LAYERED)
    environ["FLOWTOP_CONFIG"] = str(config)
    resolution = resolve({}, environ, profile="lab")
    assert resolution.config is not None and resolution.config.path == config
    assert resolution.settings.max_stats == 50


def test_file_at_the_xdg_path_is_read(tmp_path: Path, environ: dict[str, str]) -> None:
    directory = tmp_path / "xdg" / "flowtop"
    directory.mkdir()
    write_config(directory, 'default_profile = "lab"\n\n' + LAYERED, name="config.toml")
    settings = resolve({}, environ).settings
    assert settings.url == "https://profile.example" and settings.max_stats == 50


def test_invalid_file_names_file_and_key(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path, "[profiles.lab]\nuser = 'x'\nmax_stats = 200\n")
    with pytest.raises(UsageError) as caught:
        resolve({"demo": True}, environ, config)
    message = str(caught.value)
    assert message.startswith(f"{config}: profiles.lab.max_stats: ")
    assert "200" in message


# --- the password ------------------------------------------------------------------------


def test_password_from_the_environment_beats_the_profiles_command(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(
        tmp_path,
        lab_with_command(FAILING_COMMAND),
    )
    environ["FLOWTOP_PASSWORD"] = "from-env"
    settings = resolve({}, environ, config, "lab").settings
    assert settings.password is not None
    assert settings.password.get_secret_value() == "from-env"


def test_password_command_of_the_defaults_is_used_without_a_profile_one(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(
        tmp_path,
        f"[defaults]\npassword_command = {toml(PASSWORD_COMMAND)}\n\n"
        '[profiles.lab]\nurl = "h.example"\nuser = "u"\n',
    )
    settings = resolve({}, environ, config, "lab").settings
    assert settings.password is not None
    assert settings.password.get_secret_value() == "from-command"


def test_profile_password_beats_the_defaults_command(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(
        tmp_path,
        f"[defaults]\npassword_command = {toml(FAILING_COMMAND)}\n\n"
        '[profiles.lab]\nurl = "h.example"\nuser = "u"\npassword = "in-profile"\n',
    )
    settings = resolve({}, environ, config, "lab").settings
    assert settings.password is not None
    assert settings.password.get_secret_value() == "in-profile"


def test_password_is_never_shown(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["FLOWTOP_PASSWORD"] = "hunter2-secret"
    resolution = resolve({"url": "h.example", "user": "u"}, environ)
    for text in (repr(resolution), str(resolution.settings), repr(resolution.settings)):
        assert "hunter2-secret" not in text
    assert resolution.settings.model_dump_json().count("hunter2-secret") == 0


def test_failing_password_command_is_a_usage_error_without_its_output(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(
        tmp_path,
        lab_with_command(FAILING_COMMAND),
    )
    with pytest.raises(UsageError, match="exit status 3") as caught:
        resolve({}, environ, config, "lab")
    assert "never-shown" not in str(caught.value)


def test_demo_and_replay_need_no_password(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(
        tmp_path,
        'default_profile = "lab"\n\n' + lab_with_command(FAILING_COMMAND),
    )
    assert resolve({"demo": True}, environ, config).settings.password is None
    replay = resolve({"replay": "polls.jsonl"}, environ, config).settings
    assert replay.password is None and replay.replay == "polls.jsonl"


def test_no_password_without_a_terminal_says_how_to_give_one(environ: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="FLOWTOP_PASSWORD") as caught:
        resolve({"url": "h.example", "user": "u"}, environ)
    assert "command line" in str(caught.value)


def test_hidden_prompt_on_a_terminal(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
        prompts.append(prompt)
        return "typed-secret"

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    resolution = resolve_settings({"url": "h.example", "user": "alice"}, environ, interactive=True)
    assert resolution.settings.password is not None
    assert resolution.settings.password.get_secret_value() == "typed-secret"
    assert len(prompts) == 1 and "alice" in prompts[0]


def test_prompt_follows_whether_stdin_is_a_terminal(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: "typed")
    settings = resolve_settings({"url": "h.example", "user": "u"}, environ).settings
    assert settings.password is not None and settings.password.get_secret_value() == "typed"


# --- checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"demo": True, "interval": 0.4}, "--interval"),
        ({"demo": True, "interval": 61.0}, "--interval"),
        ({"demo": True, "max_stats": 200}, "--max-stats"),
        ({"demo": True, "timeout": 0.0}, "--timeout"),
        ({"user": "u"}, "--url"),
        ({"url": "h.example"}, "--user"),
        ({"url": "ftp://h.example", "user": "u"}, "scheme"),
    ],
)
def test_settings_a_person_must_fix(
    cli: dict[str, Any], message: str, environ: dict[str, str]
) -> None:
    environ["FLOWTOP_PASSWORD"] = "pw"
    with pytest.raises(UsageError, match=message):
        resolve(cli, environ)


def test_no_url_names_option_and_environment(environ: dict[str, str]) -> None:
    with pytest.raises(UsageError) as caught:
        resolve({"user": "u"}, environ)
    assert "FLOWTOP_URL" in str(caught.value) and "--demo" in str(caught.value)


@pytest.mark.parametrize("interval", [0.5, 60.0])
def test_interval_bounds_are_inclusive(interval: float, environ: dict[str, str]) -> None:
    assert resolve({"demo": True, "interval": interval}, environ).settings.interval == interval


@pytest.mark.parametrize("max_stats", [50, 100, 1000])
def test_every_max_stats_choice_is_accepted(max_stats: int, environ: dict[str, str]) -> None:
    assert resolve({"demo": True, "max_stats": max_stats}, environ).settings.max_stats == max_stats


def test_settings_are_frozen() -> None:
    settings = Settings(demo=True)
    with pytest.raises(ValueError):
        settings.max_stats = 50  # type: ignore[misc]


# --- warnings ---------------------------------------------------------------------------


def test_readable_file_holding_a_password_is_warned_about(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(
        tmp_path,
        '[profiles.lab]\nurl = "h.example"\nuser = "u"\npassword = "file-secret"\n',
        mode=0o644,
    )
    resolution = resolve({}, environ, config, "lab")
    assert len(resolution.warnings) == 1
    warning = resolution.warnings[0]
    assert str(config) in warning and "chmod 600" in warning
    assert "file-secret" not in warning


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ('[profiles.lab]\nurl = "h.example"\nuser = "u"\npassword = "file-secret"\n', 0o600),
        (
            lab_with_command(PASSWORD_COMMAND),
            0o644,
        ),
    ],
)
def test_no_warning_for_a_private_file_or_one_without_a_password(
    text: str, mode: int, tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(tmp_path, text, mode=mode)
    assert resolve({}, environ, config, "lab").warnings == ()


# --- proxies ----------------------------------------------------------------------------


def test_proxy_settings_from_the_command_line_and_the_profile(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    config = write_config(tmp_path, '[profiles.jump]\nproxy = "socks5h://127.0.0.1:1080"\n')
    settings = resolve({"demo": True}, environ, config, "jump").settings
    assert (settings.proxy, settings.no_proxy) == ("socks5h://127.0.0.1:1080", False)
    # --no-proxy on the command line beats the profile's proxy, and the reverse.
    settings = resolve({"demo": True, "no_proxy": True}, environ, config, "jump").settings
    assert (settings.proxy, settings.no_proxy) == (None, True)
    config = write_config(tmp_path, "[profiles.direct]\nno_proxy = true\n")
    settings = resolve({"demo": True, "proxy": "http://p:3128"}, environ, config, "direct")
    assert (settings.settings.proxy, settings.settings.no_proxy) == ("http://p:3128", False)


def test_contradictory_or_unusable_proxy_options(environ: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="--proxy and --no-proxy contradict"):
        Settings(demo=True, proxy="http://p:1", no_proxy=True).check()
    with pytest.raises(UsageError, match="socks4:// proxies are not supported"):
        Settings(demo=True, proxy="socks4://p:1").check()


# --- one model: bounds declared once, view settings parsed once ---------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interval", 0.4, "--interval: must be between 0.5 and 60 seconds (got 0.4)"),
        ("interval", float("nan"), "--interval: must be between 0.5 and 60 seconds (got nan)"),
        ("max_stats", 10, "--max-stats: must be one of 50, 100, 1000 (got 10)"),
        ("timeout", 0.0, "--timeout: must be more than 0 and at most 600 seconds (got 0)"),
        ("speed", 2000.0, "--speed: must be more than 0 and at most 1000 (got 2000)"),
        ("speed", 0.0, "--speed: must be more than 0 and at most 1000 (got 0)"),
    ],
)
def test_settings_refuse_values_out_of_bounds_as_usage_errors(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        Settings.model_validate({"demo": True, field: value})
    assert str(caught.value) == message
    # A chained ValidationError would print the inputs in a traceback.
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_settings_carry_filter_sort_and_grouping_parsed() -> None:
    settings = Settings(demo=True, filter="app:zoom", sort="bytes:asc", group_by="application")
    assert settings.flow_filter.expression == "app:zoom"
    assert (settings.sort_spec.column, settings.sort_spec.descending) == ("bytes", False)
    assert settings.grouping is not None and settings.grouping.id == "application"
    plain = Settings(demo=True)
    assert plain.flow_filter.is_empty and plain.grouping is None
    assert plain.sort_spec.column == "kbps"
    # The password is added by copying: the parsed values come along.
    assert plain.model_copy(update={"demo": False}).sort_spec == plain.sort_spec


def test_group_by_is_resolved_to_its_id_once() -> None:
    settings = Settings(demo=True, group_by="App")
    assert settings.group_by == "application" and settings.grouping is not None
    with pytest.raises(UsageError, match='cannot group by "nope"') as caught:
        Settings(demo=True, group_by="nope")
    assert caught.value.__context__ is None


def test_a_bad_filter_or_sort_is_refused_before_the_password_is_asked(
    environ: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def prompt(text: str) -> str:
        raise AssertionError("the password was asked for")

    monkeypatch.setattr(getpass, "getpass", prompt)
    config = write_config(tmp_path, '[profiles.lab]\nurl = "h.example"\nuser = "u"\n')
    for cli, wanted in (({"filter": "pps>>"}, "pps"), ({"sort": "nope"}, "unknown column")):
        with pytest.raises(UsageError, match=wanted):
            resolve_settings(
                cli, environ, config_path=str(config), profile_name="lab", interactive=True
            )


def test_columns_are_resolved_to_ids_once() -> None:
    assert Settings(demo=True, columns=("src", "rate", "application")).columns == (
        "src",
        "kbps",
        "app",
    )
    with pytest.raises(UsageError, match='unknown column "nope"'):
        Settings(demo=True, columns=("src", "nope"))
