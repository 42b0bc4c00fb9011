"""Configuration file, profiles, layering and the password command."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flowtop.core.config import (
    ConfigFile,
    HighlightRule,
    Profile,
    default_config_path,
    load_config,
    merge_layers,
    permission_warning,
    run_password_command,
    select_profile,
)
from flowtop.core.errors import UsageError

SAMPLE = """\
# flowtop settings
default_profile = "lab"

[defaults]
interval = 5
columns = ["src", "dst", "rate"]

[profiles.lab]
url = "https://10.0.0.1"
user = "admin"
password_command = "pass show lab"
max_stats = 1000
highlight = [
  "app:zoom",
  { expr = "kbps>10M", color = "red", bell = true },
]

[profiles.edge]
url = "edge.example"
user = "viewer"
insecure = true
sort = "bytes:asc"
filter = "port:443"
timeout = 3
"""


def write(directory: Path, text: str, name: str = "config.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(directory: Path, text: str) -> tuple[Path, str]:
    path = write(directory, text)
    with pytest.raises(UsageError) as caught:
        load_config(path, {}, explicit=True)
    return path, str(caught.value)


def python_command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


# --- where the file is --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_config_of_the_developer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """platformdirs reads the process environment: point it at an empty place."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nowhere"))


def test_default_path_follows_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_path() == tmp_path / "xdg" / "flowtop" / "config.toml"


@pytest.mark.parametrize("xdg", [None, ""])
def test_default_path_falls_back_to_home_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME")
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert default_config_path() == tmp_path / ".config" / "flowtop" / "config.toml"


def test_file_at_the_default_path_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "flowtop").mkdir()
    path = write(tmp_path / "flowtop", SAMPLE)
    config = load_config(None, {})
    assert config.loaded and config.path == path
    assert sorted(config.profiles) == ["edge", "lab"]


def test_missing_file_at_the_default_path_means_no_profiles(tmp_path: Path) -> None:
    config = load_config(None, {}, explicit=False)
    assert config == ConfigFile(path=tmp_path / "nowhere" / "flowtop" / "config.toml")
    assert not config.loaded and config.profiles == {}
    assert select_profile(config, None) == Profile()


def test_flowtop_config_overrides_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "flowtop").mkdir()
    write(tmp_path / "flowtop", "[profiles.default_place]\n")
    other = write(tmp_path, "[profiles.named]\n", "other.toml")
    config = load_config(None, {"FLOWTOP_CONFIG": str(other)})
    assert config.path == other and list(config.profiles) == ["named"]


def test_config_option_overrides_flowtop_config(tmp_path: Path) -> None:
    by_env = write(tmp_path, "[profiles.env]\n", "env.toml")
    by_option = write(tmp_path, "[profiles.option]\n", "option.toml")
    config = load_config(by_option, {"FLOWTOP_CONFIG": str(by_env)}, explicit=True)
    assert list(config.profiles) == ["option"]


def test_missing_file_named_with_config_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(UsageError, match="does not exist") as caught:
        load_config(missing, {"HOME": str(tmp_path)}, explicit=True)
    assert str(missing) in str(caught.value)


def test_missing_file_named_by_flowtop_config_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(UsageError, match="does not exist") as caught:
        load_config(None, {"HOME": str(tmp_path), "FLOWTOP_CONFIG": str(missing)})
    assert str(missing) in str(caught.value)


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        load_config(tmp_path, {}, explicit=True)


# --- profiles -----------------------------------------------------------------------------


def test_sample_file_loads_every_setting(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SAMPLE), {}, explicit=True)
    assert config.default_profile == "lab"
    # Aliases become column ids.
    assert config.defaults == Profile(interval=5.0, columns=["src", "dst", "kbps"])
    lab = config.profiles["lab"]
    assert (lab.url, lab.user, lab.password_command, lab.max_stats) == (
        "https://10.0.0.1",
        "admin",
        "pass show lab",
        1000,
    )
    edge = config.profiles["edge"]
    assert (edge.insecure, edge.sort, edge.filter, edge.timeout) == (
        True,
        "bytes:asc",
        "port:443",
        3.0,
    )
    assert edge.password is None and edge.columns is None


def test_highlight_rules_in_both_forms(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SAMPLE), {}, explicit=True)
    assert config.profiles["lab"].highlight == [
        HighlightRule(expr="app:zoom", color="yellow", bell=False),
        HighlightRule(expr="kbps>10M", color="red", bell=True),
    ]


def test_no_profile_name_selects_the_default_profile(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SAMPLE), {}, explicit=True)
    assert select_profile(config, None) is config.profiles["lab"]


def test_no_profile_name_and_no_default_profile_selects_nothing(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[profiles.lab]\nuser = 'a'\n"), {}, explicit=True)
    assert select_profile(config, None) == Profile()


def test_profile_option_selects_a_profile_over_the_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SAMPLE), {}, explicit=True)
    assert select_profile(config, "edge").user == "viewer"


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SAMPLE), {}, explicit=True)
    with pytest.raises(UsageError) as caught:
        select_profile(config, "lba")
    message = str(caught.value)
    assert '"lba"' in message and "edge, lab" in message and str(config.path) in message


def test_unknown_profile_without_a_file_says_there_is_no_file(tmp_path: Path) -> None:
    config = load_config(None, {"HOME": str(tmp_path)})
    with pytest.raises(UsageError, match="no config file at"):
        select_profile(config, "lab")


def test_default_profile_must_exist(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, 'default_profile = "lba"\n[profiles.lab]\n')
    assert message.startswith(f"{path}: default_profile: ")
    assert '"lba"' in message and "lab" in message


def test_relative_ca_bundle_is_relative_to_the_file(tmp_path: Path) -> None:
    text = '[profiles.lab]\nca_bundle = "certs/lab.pem"\n[profiles.abs]\nca_bundle = "/etc/x.pem"\n'
    config = load_config(write(tmp_path, text), {}, explicit=True)
    assert config.profiles["lab"].ca_bundle == str(tmp_path / "certs" / "lab.pem")
    assert config.profiles["abs"].ca_bundle == "/etc/x.pem"


def test_password_in_the_file_is_secret(tmp_path: Path) -> None:
    text = '[profiles.lab]\npassword = "hunter2"\n'
    config = load_config(write(tmp_path, text), {}, explicit=True)
    password = config.profiles["lab"].password
    assert password is not None and password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(config) and "hunter2" not in str(config)


def test_errors_never_show_the_password(tmp_path: Path) -> None:
    text = '[profiles.lab]\npassword = "hunter2"\npasword = "hunter2"\n'
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        load_config(path, {}, explicit=True)
    assert "hunter2" not in str(caught.value) and "profiles.lab.pasword" in str(caught.value)
    # A chained ValidationError would print the inputs in a traceback.
    assert caught.value.__context__ is None and caught.value.__cause__ is None


# --- layers -------------------------------------------------------------------------------


def test_first_layer_that_sets_a_key_wins() -> None:
    cli = {"url": "cli.example", "user": None, "interval": None, "sort": None}
    env = {"url": "env.example", "user": "env-user", "interval": None}
    profile = {"url": "profile.example", "user": "profile-user", "interval": 5.0}
    defaults = {"interval": 1.0, "sort": "pps", "max_stats": 50}
    assert merge_layers(cli, env, profile, defaults) == {
        "url": "cli.example",
        "user": "env-user",
        "interval": 5.0,
        "sort": "pps",
        "max_stats": 50,
    }


def test_falsy_values_other_than_none_are_set() -> None:
    assert merge_layers({"insecure": False, "filter": ""}, {"insecure": True, "filter": "x"}) == {
        "insecure": False,
        "filter": "",
    }


def test_lists_are_replaced_whole() -> None:
    assert merge_layers({"columns": ["app"]}, {"columns": ["src", "dst"]}) == {"columns": ["app"]}


def test_profile_layers_merge_over_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SAMPLE), {}, explicit=True)
    profile = select_profile(config, "lab")
    merged = merge_layers(
        {"max_stats": 50}, {"user": "env-user"}, profile.as_layer(), config.defaults.as_layer()
    )
    assert merged["max_stats"] == 50
    assert merged["user"] == "env-user"
    assert merged["url"] == "https://10.0.0.1"
    assert merged["interval"] == 5.0
    assert merged["columns"] == ("src", "dst", "kbps")
    assert "password" not in merged and "password_command" not in merged
    assert "sort" not in merged


# --- error messages -----------------------------------------------------------------------

ERRORS = [
    pytest.param(
        """\
        [profiles.lab]
        url = "x"
        max_stats = 200
        """,
        "profiles.lab.max_stats",
        "must be one of 50, 100, 1000 (got 200)",
        id="max_stats",
    ),
    pytest.param(
        """\
        [defaults]
        user = "a"

        [profiles.lab]
        interval = 0.1
        """,
        "profiles.lab.interval",
        "must be between 0.5 and 60 seconds (got 0.1)",
        id="interval",
    ),
    pytest.param(
        """\
        [profiles.lab]
        interval = "fast"
        """,
        "profiles.lab.interval",
        "must be a number (got a string)",
        id="wrong-type",
    ),
    pytest.param(
        """\
        [profiles.lab]
        insecure = "yes"
        """,
        "profiles.lab.insecure",
        "must be true or false (got a string)",
        id="wrong-type-bool",
    ),
    pytest.param(
        """\
        [profiles.lab]
        url = "x"
        max-stats = 100
        """,
        "profiles.lab.max-stats",
        'unknown key; did you mean "max_stats"?',
        id="unknown-key",
    ),
    pytest.param(
        """\
        url = "x"
        """,
        "url",
        "unknown key at the top level: put settings under [defaults] or [profiles.NAME]",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """\
        [profiles.lab]
        highlight = [
          "app:zoom",
          "pps>>3",
        ]
        """,
        "profiles.lab.highlight[1]",
        "(at position",
        id="highlight-expr-string",
    ),
    pytest.param(
        """\
        [profiles.lab]
        highlight = [{ expr = "app:zoom", colour = "red" }]
        """,
        "profiles.lab.highlight[0].colour",
        'did you mean "color"?',
        id="highlight-unknown-key",
    ),
    pytest.param(
        """\
        [profiles.lab]
        highlight = [
          { expr = "nosuchfield:1" },
        ]
        """,
        "profiles.lab.highlight[0].expr",
        "nosuchfield",
        id="highlight-expr-table",
    ),
    pytest.param(
        """\
        [profiles.lab]
        highlight = [
          "app:zoom",
          { expr = "app:teams", color = "reddish" },
        ]
        """,
        "profiles.lab.highlight[1].color",
        '"reddish" is not a color',
        id="colour",
    ),
    pytest.param(
        """\
        [profiles.lab]
        highlight = [{ color = "red" }]
        """,
        "profiles.lab.highlight[0]",
        'missing key "expr"',
        id="highlight-missing-expr",
    ),
    pytest.param(
        """\
        [profiles.lab]
        highlight = [3]
        """,
        "profiles.lab.highlight[0]",
        "must be a filter expression or a table",
        id="highlight-not-a-rule",
    ),
    pytest.param(
        """\
        [defaults]
        columns = [
          "src",
          "nosuch",
        ]
        """,
        "defaults.columns[1]",
        'unknown column "nosuch"',
        id="column",
    ),
    pytest.param(
        """\
        [defaults]
        columns = ["src", "source"]
        """,
        "defaults.columns",
        'column "src" is named twice',
        id="column-twice",
    ),
    pytest.param(
        """\
        [profiles.lab]
        sort = "bytes:up"
        """,
        "profiles.lab.sort",
        'sort direction must be "asc" or "desc"',
        id="sort",
    ),
    pytest.param(
        """\
        [profiles.lab]
        filter = 'app:"zoom'
        """,
        "profiles.lab.filter",
        "(at position",
        id="filter",
    ),
    pytest.param(
        """\
        [profiles.lab]
        timeout = 0
        """,
        "profiles.lab.timeout",
        "must be more than 0",
        id="timeout",
    ),
    pytest.param(
        """\
        [profiles.lab]
        password_command = "pass show 'lab"
        """,
        "profiles.lab.password_command",
        "not a valid command",
        id="password-command",
    ),
    pytest.param(
        """\
        [profiles.lab]
        url = "ftp://host"
        """,
        "profiles.lab.url",
        "",
        id="url",
    ),
    pytest.param(
        """\
        [profiles.lab]
        user = "a"

        [profiles.edge]
        insecure = true
        ca_bundle = "ca.pem"
        """,
        "profiles.edge",
        "contradict",
        id="insecure-and-ca-bundle",
    ),
    pytest.param(
        """\
        [profiles]
        lab = 3
        """,
        "profiles.lab",
        "must be a table (got a whole number)",
        id="profile-not-a-table",
    ),
    pytest.param(
        """\
        [profiles."my lab"]
        max_stats = 10
        """,
        'profiles."my lab".max_stats',
        "must be one of",
        id="quoted-profile-name",
    ),
    pytest.param(
        """\
        [profiles.lab]
        user = '''
        max_stats = 7
        [profiles.edge]'''
        max_stats = 10
        """,
        "profiles.lab.max_stats",
        "must be one of",
        id="multiline-literal-string",
    ),
    pytest.param(
        r'''
        [profiles.lab]
        user = """
        max_stats = 7 \""" [x]
        [profiles.edge]"""""
        max_stats = 10
        ''',
        "profiles.lab.max_stats",
        "must be one of",
        id="multiline-basic-string-with-quotes",
    ),
    pytest.param(
        """\
        [profiles.lab]
        user = "a"
        [[profiles.lab.highlight]]
        expr = "app:zoom"
        [[profiles.lab.highlight]]
        expr = "app:teams"
        color = "nocolor"
        """,
        "profiles.lab.highlight[1].color",
        '"nocolor" is not a color',
        id="array-of-tables",
    ),
    pytest.param(
        """\
        [profiles.lab] # the lab
        user = "a"
        [profiles.edge]
        user = { name = "b" }
        """,
        "profiles.edge.user",
        "must be a string (got a table)",
        id="inline-table",
    ),
]


@pytest.mark.parametrize(("text", "key", "reason"), ERRORS)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path, message = load_error(tmp_path, text)
    assert message.startswith(f"{path}: {key}: "), message
    assert reason in message


def test_dotted_keys_are_named_in_full(tmp_path: Path) -> None:
    text = """\
    [profiles]
    lab.user = "a"
    lab.max_stats = 10
    """
    path, message = load_error(tmp_path, text)
    assert message.startswith(f"{path}: profiles.lab.max_stats: ")


def test_the_first_problem_in_the_file_is_reported(tmp_path: Path) -> None:
    text = """\
    [profiles.b]
    interval = 100
    [profiles.a]
    max_stats = 7
    """
    path, message = load_error(tmp_path, text)
    assert message.startswith(f"{path}: profiles.b.interval: ")
    assert message.endswith("(and 1 more problem)")


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, '[profiles.lab]\nurl = "x"\nuser = = "a"\n')
    assert message == f"{path} line 3, column 8: invalid TOML: invalid value"


def test_duplicate_key_is_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, '[profiles.lab]\nuser = "a"\nuser = "b"\n')
    assert message.startswith(f"{path} line 3, column ")


def test_unclosed_array_is_reported(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "[defaults]\ncolumns = [\n")
    assert message.startswith(f"{path}") and "invalid TOML" in message


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 10_000 + "]" * 10_000 + "\n",
        "[defaults]\nhighlight = " + "[" * 900 + "]" * 900 + "\n",
        "[profiles.lab]\nsort = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n",
    ],
    ids=["arrays", "highlight", "inline-tables"],
)
def test_deeply_nested_toml_is_a_config_error(tmp_path: Path, text: str) -> None:
    path, message = load_error(tmp_path, text)
    assert message == f"{path}: invalid TOML: arrays or inline tables nested too deeply"


def test_deeply_nested_toml_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "a = " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert permission_warning(path) is None
    from flowtop.cli import main

    assert main(["--config", str(path), "--demo", "--once"]) == 2


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[defaults]\nuser = "\xff"\n')
    with pytest.raises(UsageError, match="line 2: not UTF-8"):
        load_config(path, {}, explicit=True)


# --- password command ---------------------------------------------------------------------


def test_password_command_gives_its_first_line() -> None:
    command = python_command("print('s3cret'); print('second line')")
    assert run_password_command(command).get_secret_value() == "s3cret"


def test_password_command_may_use_the_shell() -> None:
    producer = python_command("print('s3cret')")
    upper = python_command("import sys; print(sys.stdin.read().upper())")
    assert run_password_command(f"{producer} | {upper}").get_secret_value() == "S3CRET"


def test_failing_password_command_shows_neither_its_output_nor_much_stderr() -> None:
    code = (
        "import sys; print('s3cret'); print('more stdout');"
        " sys.stderr.write('vault locked' + 'x' * 300 + '\\nsecond stderr line\\n'); sys.exit(3)"
    )
    with pytest.raises(UsageError) as caught:
        run_password_command(python_command(code))
    message = str(caught.value)
    name = Path(sys.executable).name
    assert message.startswith(f'password command "{name}" failed with exit status 3: vault locked')
    assert "s3cret" not in message and "more stdout" not in message
    assert "second stderr line" not in message and len(message) < 250
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_stderr_repeating_the_secret_is_not_shown() -> None:
    code = "import sys; print('s3cret'); sys.stderr.write('bad s3cret\\n'); sys.exit(1)"
    with pytest.raises(UsageError) as caught:
        run_password_command(python_command(code))
    assert "s3cret" not in str(caught.value) and "exit status 1" in str(caught.value)


def test_password_command_program_not_found() -> None:
    with pytest.raises(UsageError, match='"no-such-program-x1": program not found'):
        run_password_command("no-such-program-x1 --secret-arg hunter2")


def test_password_command_name_skips_environment_assignments() -> None:
    with pytest.raises(UsageError) as caught:
        run_password_command("TOKEN=hunter2 no-such-program-x1")
    assert "hunter2" not in str(caught.value) and "no-such-program-x1" in str(caught.value)


def test_password_command_timeout() -> None:
    command = python_command("import time; time.sleep(30)")
    with pytest.raises(UsageError, match=r"did not finish within 0\.5 seconds") as caught:
        run_password_command(command, timeout=0.5)
    assert caught.value.__context__ is None


def process_gone(pid: int) -> bool:
    """No such process, or only its zombie (killed, waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.02)
    return process_gone(pid)


def read_pid(path: Path) -> int:
    deadline = time.monotonic() + 3.0
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, "the command never wrote its pid"
        time.sleep(0.02)
    return int(path.read_text())


def test_password_command_leaving_a_child_on_stdout_is_not_waited_for(tmp_path: Path) -> None:
    # Like ssh's ControlPersist master: the command exits, a child keeps stdout open.
    pid_file = tmp_path / "pid"
    command = f"sh -c 'echo s3cret; sleep 30 & echo $! > {pid_file}'"
    started = time.monotonic()
    assert run_password_command(command, timeout=20).get_secret_value() == "s3cret"
    assert time.monotonic() - started < 5
    pid = read_pid(pid_file)
    # The command's own background process is its business: left running.
    assert not process_gone(pid)
    os.kill(pid, signal.SIGKILL)


def test_password_command_still_running_after_its_line_is_ended(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    command = f"(echo s3cret; sh -c 'echo $$ > {pid_file}; exec sleep 60') | cat"
    started = time.monotonic()
    assert run_password_command(command, timeout=20).get_secret_value() == "s3cret"
    assert time.monotonic() - started < 5
    assert wait_gone(read_pid(pid_file))


def test_password_command_timeout_kills_the_whole_pipeline(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    command = f"sh -c 'echo $$ > {pid_file}; exec sleep 60' | cat"
    started = time.monotonic()
    with pytest.raises(UsageError, match="did not finish within 1 seconds"):
        run_password_command(command, timeout=1)
    assert time.monotonic() - started < 4
    assert wait_gone(read_pid(pid_file))


def test_password_command_failing_after_its_line_is_a_failure() -> None:
    code = "import sys, time; print('s3cret', flush=True); time.sleep(0.2); sys.exit(4)"
    with pytest.raises(UsageError, match="exit status 4") as caught:
        run_password_command(python_command(code))
    assert "s3cret" not in str(caught.value)


def test_password_command_with_empty_output() -> None:
    with pytest.raises(UsageError, match="printed no password"):
        run_password_command(python_command("print(); print('second')"))


@pytest.mark.parametrize("command", ["", "   ", "pass show 'lab"])
def test_unusable_password_command(command: str) -> None:
    with pytest.raises(UsageError, match="password command is"):
        run_password_command(command)


# --- permissions --------------------------------------------------------------------------


def test_readable_file_with_a_password_gets_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.lab]\npassword = "hunter2"\n')
    path.chmod(0o644)
    warning = permission_warning(path)
    assert warning is not None
    assert str(path) in warning and "chmod 600" in warning and "hunter2" not in warning


def test_password_in_defaults_counts_too(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\npassword = "hunter2"\n')
    path.chmod(0o640)
    assert permission_warning(path) is not None


def test_private_file_with_a_password_gets_no_warning(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.lab]\npassword = "hunter2"\n')
    path.chmod(0o600)
    assert permission_warning(path) is None


def test_readable_file_without_a_password_gets_no_warning(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.lab]\npassword_command = "pass show lab"\n')
    path.chmod(0o644)
    assert permission_warning(path) is None


def test_missing_file_gets_no_warning(tmp_path: Path) -> None:
    assert permission_warning(tmp_path / "nope.toml") is None


# --- proxies ------------------------------------------------------------------------------


def test_profile_proxy_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [profiles.jump]
        proxy = "socks5h://127.0.0.1:1080"

        [profiles.direct]
        no_proxy = true
        """,
    )
    config = load_config(path, {}, explicit=True)
    assert config.profiles["jump"].proxy == "socks5h://127.0.0.1:1080"
    assert config.profiles["direct"].no_proxy is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('proxy = "socks4://u:secret@h:1"', "socks4:// proxies are not supported"),
        ('proxy = "gopher://h:1"', "unsupported scheme gopher://"),
        ('proxy = "p:1"\nno_proxy = true', "contradict"),
        ('no_proxy = "yes"', "profiles.lab.no_proxy"),
    ],
)
def test_profile_proxy_mistakes(tmp_path: Path, text: str, reason: str) -> None:
    path, message = load_error(tmp_path, "[profiles.lab]\n" + text + "\n")
    assert message.startswith(f"{path}: profiles.lab"), message
    assert reason in message and "secret" not in message


# --- dependencies -------------------------------------------------------------------------


def test_the_config_reads_and_checks_without_httpx() -> None:
    """Checking an appliance address in a profile needs no HTTP client."""
    code = (
        "import sys, flowtop.core.config, flowtop.core.settings\n"
        "from flowtop.core.config import Profile\n"
        "Profile(url='https://bücher.example:8443/prefix')\n"
        "print('httpx' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("host", ["xn--a.example", "999.1.1.1", "a..b"])
def test_profile_url_with_a_host_httpx_cannot_encode_is_refused(tmp_path: Path, host: str) -> None:
    path, message = load_error(tmp_path, f'[profiles.lab]\nurl = "https://{host}"\n')
    assert message.startswith(f"{path}: profiles.lab.url: invalid host name"), message
