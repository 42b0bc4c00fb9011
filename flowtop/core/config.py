"""Configuration file and named profiles.

The file is TOML, at ``$XDG_CONFIG_HOME/flowtop/config.toml`` (by default
``~/.config/flowtop/config.toml``); ``--config PATH`` or ``FLOWTOP_CONFIG`` name
another one.  A missing file at the default place means "no profiles"; a missing
file someone named is an error.  Layout::

    default_profile = "lab"

    [defaults]                  # applies under every profile
    interval = 2
    columns = ["src", "dst", "app", "kbps"]

    [profiles.lab]
    url = "https://10.0.0.1"
    user = "admin"
    password_command = "pass show sdwan/lab"
    max_stats = 1000
    highlight = ["app:zoom", { expr = "kbps>10M", color = "red", bell = true }]

A run takes each setting from the first layer that sets it: command line, then
environment, then the chosen profile, then ``[defaults]`` (:func:`merge_layers`).
Lists (``columns``, ``highlight``) are replaced whole, never concatenated.

Every mistake in the file is reported as one line naming the file, the line, the
dotted key and the problem, e.g.
``config.toml line 12: profiles.lab.max_stats: must be one of 50, 100, 1000 (got 200)``.
No message ever shows the value of ``password``.
"""

from __future__ import annotations

import bisect
import contextlib
import difflib
import json
import math
import os
import re
import selectors
import shlex
import signal
import subprocess
import time as time_module
import tomllib
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from rich.color import Color, ColorParseError

from flowtop.core.client import MAX_STATS_CHOICES, normalize_base_url
from flowtop.core.columns import SortSpec, resolve_column
from flowtop.core.errors import UsageError
from flowtop.core.filter import compile_filter
from flowtop.core.model import strip_control
from flowtop.core.network import check_proxy_url
from flowtop.core.poller import MAX_INTERVAL, MIN_INTERVAL

__all__ = [
    "ENV_CONFIG",
    "ConfigFile",
    "HighlightRule",
    "Profile",
    "default_config_path",
    "load_config",
    "merge_layers",
    "permission_warning",
    "run_password_command",
    "select_profile",
]

ENV_CONFIG: Final = "FLOWTOP_CONFIG"
# The same bound as Settings.check, so a profile cannot hold what the command line refuses.
MAX_TIMEOUT: Final = 600.0
# A config file is a few hundred bytes; the cap keeps `--config /dev/zero` from eating memory.
MAX_FILE_BYTES: Final = 1024 * 1024

_ERROR_TYPE: Final = "flowtop_config"
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_POSITION: Final = re.compile(r"(?s)(.*) \(at line (\d+), column (\d+)\)")
_STDERR_SHOWN: Final = 120
# Seconds a password command may go on after printing its first line.
PASSWORD_COMMAND_GRACE: Final = 1.0
# Bytes of a password command's stdout and stderr kept (a password is one short line).
_PIPE_KEPT: Final = 65536


def _invalid(reason: str) -> PydanticCustomError:
    # A template of "{reason}" keeps braces in the reason (filter text) from being formatted.
    return PydanticCustomError(_ERROR_TYPE, "{reason}", {"reason": reason})


def _check_filter(expression: str) -> None:
    try:
        compile_filter(expression)
    except UsageError as error:
        raise _invalid(error.message) from None


def _column_id(name: str) -> str:
    try:
        return resolve_column(name).id
    except UsageError as error:
        raise _invalid(error.message) from None


class HighlightRule(BaseModel):
    """Flows matching ``expr`` (the filter language) are shown in ``color``; ``bell`` rings.

    In TOML a rule is either a bare string (the expression) or a table.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    expr: str
    color: str = "yellow"
    bell: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"expr": data} if isinstance(data, str) else data

    @field_validator("expr")
    @classmethod
    def _check_expr(cls, value: str) -> str:
        if not value.strip():
            raise _invalid("an empty expression would highlight every flow")
        _check_filter(value)
        return value

    @field_validator("color")
    @classmethod
    def _check_color(cls, value: str) -> str:
        try:
            Color.parse(value)
        except ColorParseError:
            raise _invalid(
                f"{json.dumps(value, ensure_ascii=False)} is not a color"
                ' (a name like "red" or "bright_cyan", "#ff8800" or "rgb(255,136,0)")'
            ) from None
        return value


ColumnId = Annotated[str, AfterValidator(_column_id)]


class Profile(BaseModel):
    """One layer of settings; ``None`` means "not set here", so a lower layer decides."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    url: str | None = None
    user: str | None = None
    # Allowed, but a password_command keeps the secret out of the file.
    password: SecretStr | None = None
    password_command: str | None = None
    insecure: bool | None = None
    ca_bundle: str | None = None
    proxy: str | None = None
    no_proxy: bool | None = None
    interval: float | None = None
    max_stats: int | None = None
    timeout: float | None = None
    # Column ids in display order; aliases are resolved to ids while loading.
    columns: list[ColumnId] | None = None
    highlight: list[HighlightRule] | None = None
    sort: str | None = None
    filter: str | None = None
    # Plain ASCII drawing (true), or Unicode even where the locale is not UTF-8 (false).
    ascii: bool | None = None

    def as_layer(self) -> dict[str, Any]:
        """The settings this profile sets, for :func:`merge_layers`."""
        return {name: value for name, value in self if value is not None}

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                normalize_base_url(value)
            except UsageError as error:
                raise _invalid(error.message) from None
        return value

    @field_validator("password_command")
    @classmethod
    def _check_password_command(cls, value: str | None) -> str | None:
        if value is not None:
            _command_words(value, error=_invalid)
        return value

    @field_validator("proxy")
    @classmethod
    def _check_proxy(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_proxy_url(value, "proxy")
            except UsageError as error:
                # The reason only: the file's line and key already say which proxy.
                raise _invalid(error.message.split(": ", 1)[-1]) from None
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _check_ca_bundle(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise _invalid("must name a file")
        return value

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, value: float | None) -> float | None:
        # Written so that NaN fails too.
        if value is not None and not MIN_INTERVAL <= value <= MAX_INTERVAL:
            raise _invalid(
                f"must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds (got {value:g})"
            )
        return value

    @field_validator("max_stats")
    @classmethod
    def _check_max_stats(cls, value: int | None) -> int | None:
        if value is not None and value not in MAX_STATS_CHOICES:
            choices = ", ".join(str(choice) for choice in MAX_STATS_CHOICES)
            raise _invalid(f"must be one of {choices} (got {value})")
        return value

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value <= MAX_TIMEOUT:
            raise _invalid(
                f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds (got {value:g})"
            )
        return value

    @field_validator("columns")
    @classmethod
    def _check_columns(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if not value:
            raise _invalid("must name at least one column")
        seen: set[str] = set()
        for column in value:
            if column in seen:
                raise _invalid(f'column "{column}" is named twice')
            seen.add(column)
        return value

    @field_validator("sort")
    @classmethod
    def _check_sort(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                SortSpec.parse(value)
            except UsageError as error:
                raise _invalid(error.message) from None
        return value

    @field_validator("filter")
    @classmethod
    def _check_filter_expression(cls, value: str | None) -> str | None:
        if value is not None:
            _check_filter(value)
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> Profile:
        if self.insecure and self.ca_bundle:
            raise _invalid("insecure = true and ca_bundle contradict each other; choose one")
        if self.proxy and self.no_proxy:
            raise _invalid("proxy and no_proxy = true contradict each other; choose one")
        return self


class _Document(BaseModel):
    """The file's top level, as written."""

    model_config = ConfigDict(strict=True, extra="forbid")

    default_profile: str | None = None
    defaults: Profile = Field(default_factory=Profile)
    profiles: dict[str, Profile] = Field(default_factory=dict)


class ConfigFile(BaseModel):
    """A loaded configuration file; ``loaded`` is False when there was no file."""

    model_config = ConfigDict(frozen=True)

    path: Path
    loaded: bool = False
    default_profile: str | None = None
    defaults: Profile = Field(default_factory=Profile)
    profiles: dict[str, Profile] = Field(default_factory=dict)


def default_config_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/flowtop/config.toml``, else ``$HOME/.config/flowtop/config.toml``."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        base = Path(xdg)
    else:
        home = environ.get("HOME", "")
        if not home:
            try:
                home = str(Path.home())
            except RuntimeError:
                raise UsageError(
                    f"cannot find the home directory: set HOME, or use --config or {ENV_CONFIG}"
                ) from None
        base = Path(home) / ".config"
    return base / "flowtop" / "config.toml"


def load_config(
    path: Path | None, environ: Mapping[str, str], *, explicit: bool = False
) -> ConfigFile:
    """Read and validate the configuration file; raises UsageError naming file, line and key.

    ``path`` is the file named with ``--config`` (``explicit=True``) or None.  For None
    the file is ``FLOWTOP_CONFIG`` when set (then it must exist, as if explicit), else
    :func:`default_config_path`, which may be missing.  A relative ``ca_bundle`` in the
    file is relative to the file's directory, and ``~`` is expanded.
    """
    if path is None:
        named = environ.get(ENV_CONFIG, "")
        if named:
            path, explicit = Path(named), True
        else:
            path, explicit = default_config_path(environ), False
    path = path.expanduser()
    text = _read_text(path, explicit=explicit)
    if text is None:
        return ConfigFile(path=path)
    data = _parse(path, text)
    if isinstance(data, str):
        raise UsageError(data)
    document = _validate(path, text, data)
    if isinstance(document, str):
        raise UsageError(document)
    if document.default_profile is not None and document.default_profile not in document.profiles:
        reason = f'no profile named "{document.default_profile}" ({_known_profiles(document)})'
        raise UsageError(_located(path, _Locator(text), ("default_profile",), reason))
    return ConfigFile(
        path=path,
        loaded=True,
        default_profile=document.default_profile,
        defaults=_anchor(document.defaults, path.parent),
        profiles={
            name: _anchor(profile, path.parent) for name, profile in document.profiles.items()
        },
    )


def select_profile(config: ConfigFile, name: str | None) -> Profile:
    """The profile called ``name``; None means the file's default_profile, else no profile."""
    if name is None:
        name = config.default_profile
        if name is None:
            return Profile()
    profile = config.profiles.get(name)
    if profile is not None:
        return profile
    if not config.loaded:
        raise UsageError(f'unknown profile "{name}": there is no config file at {config.path}')
    known = ", ".join(sorted(config.profiles))
    if not known:
        raise UsageError(f'unknown profile "{name}": {config.path} defines no profiles')
    raise UsageError(f'unknown profile "{name}" (profiles in {config.path}: {known})')


def merge_layers(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Each key's value from the first layer that sets it; None means "not set".

    Call it as ``merge_layers(cli, env, profile.as_layer(), config.defaults.as_layer())``.
    Values are taken whole: a list in a higher layer replaces the lower one.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if value is not None and key not in merged:
                merged[key] = value
    return merged


def run_password_command(command: str, *, timeout: float = 30.0) -> SecretStr:
    """The first line of what ``command`` prints, as the password.

    The command means what it would mean to ``sh``.  One without shell syntax
    (pipes, ``$``, ``~``, globs, redirections, ``;`` ...) runs the program directly,
    so a missing program is reported by name; one with shell syntax runs through
    ``/bin/sh -c``.  Its stdin is empty and its stderr is captured: it must not
    prompt on either (agents such as gpg's pinentry use the terminal directly).

    Failures raise UsageError naming the program and the exit status, plus at most a
    short first line of stderr; never anything the command printed on stdout.

    The first line is taken as soon as it arrives: a process the command leaves behind
    holding stdout (ssh's ControlPersist master, ``sleep 30 &``) is not waited for.  A
    command still running :data:`PASSWORD_COMMAND_GRACE` seconds after its first line,
    or still silent at ``timeout``, is ended with its whole process group.
    """
    words = _command_words(command, error=UsageError)
    name = _program_name(words)
    shell = _needs_shell(command)
    try:
        process = subprocess.Popen(
            command if shell else words,
            shell=shell,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own process group, so that a timeout ends the whole pipeline.
            start_new_session=True,
        )
    except FileNotFoundError:
        raise UsageError(f'password command "{name}": program not found') from None
    except OSError as error:
        raise UsageError(
            f'password command "{name}" could not start: {error.strerror or "error"}'
        ) from None
    try:
        out, err, status = _first_line_of(process, timeout)
    except BaseException:
        _end_group(process)
        raise
    if status is None:
        # Raised outside the try: no traceback carries an exception near the output.
        raise UsageError(f'password command "{name}" did not finish within {timeout:g} seconds')
    first = out.split(b"\n", 1)[0].removesuffix(b"\r")
    if status != 0:
        raise UsageError(_failure(name, status, err, first))
    try:
        password = first.decode("utf-8")
    except UnicodeDecodeError:
        password = None
    if password is None:
        raise UsageError(f'password command "{name}" printed something that is not UTF-8 text')
    if not password:
        raise UsageError(f'password command "{name}" printed no password on its first line')
    return SecretStr(password)


def permission_warning(path: Path) -> str | None:
    """A warning when ``path`` holds a password and group or others may read it."""
    if os.name == "nt":
        return None
    try:
        mode = path.stat().st_mode
        if not mode & 0o077:
            return None
        text = _read_text(path, explicit=True)
    except (OSError, UsageError):
        return None
    if text is None:
        return None
    data = _parse(path, text)
    if isinstance(data, str) or not _holds_password(data):
        return None
    return (
        f"warning: {path} holds a password and others can read it"
        f" (mode {mode & 0o777:03o}); run: chmod 600 {shlex.quote(str(path))}"
    )


# --- reading and reporting ------------------------------------------------------------


def _read_text(path: Path, *, explicit: bool) -> str | None:
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        if explicit:
            raise UsageError(f"config file {path} does not exist") from None
        return None
    except IsADirectoryError:
        raise UsageError(f"config file {path} is a directory") from None
    except OSError as error:
        raise UsageError(f"cannot read config file {path}: {error.strerror or 'error'}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(f"config file {path} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        # utf-8-sig: editors on Windows like to start files with a byte order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        message = f"{path} line {line}: not UTF-8 text"
    raise UsageError(message)


def _parse(path: Path, text: str) -> dict[str, Any] | str:
    """The TOML data, or the message for a syntax error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        detail = str(error)
    except RecursionError:
        # tomllib recurses once per level of nested arrays or inline tables.
        return f"{path}: invalid TOML: arrays or inline tables nested too deeply"
    match = _SYNTAX_POSITION.fullmatch(detail)
    if match is None:
        return f"{path}: invalid TOML: {_lower_first(detail)}"
    reason, line, column = match.groups()
    return f"{path} line {line}, column {column}: invalid TOML: {_lower_first(reason)}"


def _validate(path: Path, text: str, data: dict[str, Any]) -> _Document | str:
    """The document, or the message for its first problem."""
    # The message is built outside the except block, so no traceback chains the
    # ValidationError: its text shows the inputs, the password among them.
    try:
        return _Document.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
    locator = _Locator(text)
    problems: list[tuple[float, str]] = []
    for details in errors:
        loc = tuple(details["loc"])
        shown = _existing_prefix(loc, data)
        line = locator.line_of(shown)
        message = _located_at(path, line, shown, _reason(details, loc))
        problems.append((math.inf if line is None else line, message))
    problems.sort(key=lambda problem: problem[0])
    message = problems[0][1]
    if len(problems) > 1:
        more = len(problems) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return message


def _located(path: Path, locator: _Locator, loc: tuple[str | int, ...], reason: str) -> str:
    return _located_at(path, locator.line_of(loc), loc, reason)


def _located_at(path: Path, line: int | None, loc: tuple[str | int, ...], reason: str) -> str:
    where = f"{path}" if line is None else f"{path} line {line}"
    return f"{where}: {_dotted(loc)}: {reason}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _existing_prefix(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """The longest start of ``loc`` that is in the file.

    A rule written as a bare string is validated as ``{expr = ...}``: its errors
    belong to the string, not to an "expr" key nobody wrote.  A missing key belongs
    to its table.
    """
    node = data
    for index, part in enumerate(loc):
        present = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not present:
            return loc[:index]
        node = node[part]
    return loc


def _dotted(loc: tuple[str | int, ...]) -> str:
    shown = ""
    for part in loc:
        if isinstance(part, int):
            shown += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            shown += f".{key}" if shown else key
    return shown


_TYPE_WORDS: Final = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
}


def _reason(details: ErrorDetails, loc: tuple[str | int, ...]) -> str:
    kind = details["type"]
    if kind == _ERROR_TYPE:
        return str(details.get("ctx", {}).get("reason", details["msg"]))
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return f'missing key "{loc[-1]}"'
    got = _toml_type(details.get("input"))
    if kind == "model_type" and details.get("ctx", {}).get("class_name") == "HighlightRule":
        return (
            'must be a filter expression or a table like {expr = "...", color = "red"}'
            f" (got {got})"
        )
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {got})"
    # Pydantic's own messages do not contain the input, so none can show a password.
    return _lower_first(details["msg"])


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date or time"
    return type(value).__name__


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    name = str(loc[-1])
    parent = loc[:-1]
    if parent == () and name in Profile.model_fields:
        return "unknown key at the top level: put settings under [defaults] or [profiles.NAME]"
    known = _known_keys(parent)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f'unknown key; did you mean "{close[0]}"?'
    if known:
        return f"unknown key (known keys: {', '.join(known)})"
    return "unknown key"


def _known_keys(parent: tuple[str | int, ...]) -> list[str]:
    if parent == ():
        return list(_Document.model_fields)
    if parent == ("defaults",) or (len(parent) == 2 and parent[0] == "profiles"):
        return list(Profile.model_fields)
    if len(parent) >= 2 and parent[-2] == "highlight" and isinstance(parent[-1], int):
        return list(HighlightRule.model_fields)
    return []


def _known_profiles(document: _Document) -> str:
    if not document.profiles:
        return "the file defines no profiles"
    return "profiles: " + ", ".join(sorted(document.profiles))


def _anchor(profile: Profile, directory: Path) -> Profile:
    if profile.ca_bundle is None:
        return profile
    bundle = Path(profile.ca_bundle).expanduser()
    if not bundle.is_absolute():
        bundle = directory / bundle
    return profile.model_copy(update={"ca_bundle": str(bundle)})


def _holds_password(data: Mapping[str, Any]) -> bool:
    tables: list[Any] = [data.get("defaults")]
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        tables.extend(profiles.values())
    return any(isinstance(table, dict) and "password" in table for table in tables)


class _Locator:
    """The line (1-based) where each key, table and array element of a TOML text starts.

    Paths are tuples of keys and array indices, like pydantic's error locations.  It
    runs only on text tomllib accepted, so it trusts the syntax instead of checking
    it; should it still trip, the lines found so far are kept.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[tuple[str | int, ...], int] = {}
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        # The last element index of each array of tables ([[name]]).
        self._arrays: dict[tuple[str | int, ...], int] = {}
        # IndexError: ran off the end; ValueError: an unexpected character.
        with contextlib.suppress(IndexError, ValueError, RecursionError, tomllib.TOMLDecodeError):
            self._document()

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """The line of ``loc``, else of the nearest enclosing key or table found."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def _line(self, position: int) -> int:
        return bisect.bisect_left(self._newlines, position) + 1

    def _record(self, path: tuple[str | int, ...], position: int) -> None:
        line = self._line(position)
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], line)

    def _document(self) -> None:
        text = self.text
        table: tuple[str | int, ...] = ()
        while True:
            self._skip_blank(newlines=True)
            if self.pos >= len(text):
                return
            start = self.pos
            if text.startswith("[[", start):
                self.pos += 2
                path = self._table_path(self._key())
                self._expect("]]")
                index = self._arrays.get(path, -1) + 1
                self._arrays[path] = index
                table = (*path, index)
                self._record(table, start)
            elif text[start] == "[":
                self.pos += 1
                table = self._table_path(self._key())
                self._expect("]")
                self._record(table, start)
            else:
                path = (*table, *self._key())
                self._record(path, start)
                self._expect("=")
                self._value(path)
            if self.pos <= start:
                raise ValueError("no progress")

    def _table_path(self, keys: tuple[str, ...]) -> tuple[str | int, ...]:
        # Inside [[a]], a header [a.b] means a's latest element, so insert its index.
        path: tuple[str | int, ...] = ()
        for index, key in enumerate(keys):
            path = (*path, key)
            if index < len(keys) - 1 and path in self._arrays:
                path = (*path, self._arrays[path])
        return path

    def _expect(self, token: str) -> None:
        self._skip_blank(newlines=False)
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token}")
        self.pos += len(token)

    def _skip_blank(self, *, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self.pos += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def _key(self) -> tuple[str, ...]:
        text = self.text
        parts: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            start = self.pos
            if text[start] == '"':
                self._skip_string()
                parts.append(tomllib.loads("k = " + text[start : self.pos])["k"])
            elif text[start] == "'":
                self._skip_string()
                parts.append(text[start + 1 : self.pos - 1])
            else:
                match = _BARE_KEY.match(text, start)
                if match is None:
                    raise ValueError("not a key")
                parts.append(match.group())
                self.pos = match.end()
            self._skip_blank(newlines=False)
            if text.startswith(".", self.pos):
                self.pos += 1
            else:
                return tuple(parts)

    def _value(self, path: tuple[str | int, ...]) -> None:
        text = self.text
        self._skip_blank(newlines=False)
        char = text[self.pos]
        if char in "\"'":
            self._skip_string()
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if text[self.pos] == "]":
                    self.pos += 1
                    return
                element = (*path, index)
                self._record(element, self.pos)
                self._value(element)
                index += 1
                self._skip_blank(newlines=True)
                if text[self.pos] == ",":
                    self.pos += 1
        elif char == "{":
            self.pos += 1
            while True:
                self._skip_blank(newlines=True)
                if text[self.pos] == "}":
                    self.pos += 1
                    return
                if text[self.pos] == ",":
                    self.pos += 1
                    continue
                start = self.pos
                key = (*path, *self._key())
                self._record(key, start)
                self._expect("=")
                self._value(key)
        else:
            start = self.pos
            while self.pos < len(text) and text[self.pos] not in ",]}#\r\n":
                self.pos += 1
            if self.pos == start:
                raise ValueError("empty value")

    def _skip_string(self) -> None:
        text = self.text
        quote = text[self.pos]
        escapes = quote == '"'
        if text.startswith(quote * 3, self.pos):
            index = self.pos + 3
            while True:
                if escapes and text[index] == "\\":
                    index += 2
                elif text.startswith(quote * 3, index):
                    # Up to two quotes may end the content right before the closing three.
                    end = index + 3
                    while end < len(text) and text[end] == quote and end - index < 5:
                        end += 1
                    self.pos = end
                    return
                else:
                    index += 1
        index = self.pos + 1
        while text[index] != quote:
            index += 2 if escapes and text[index] == "\\" else 1
        self.pos = index + 1


# --- password command -------------------------------------------------------------------

# Outside quotes these make sh do something shlex.split would not.
_SHELL_CHARS: Final = frozenset("|&;<>()$`\\*?[]{}~#!\n")


def _command_words(command: str, *, error: Callable[[str], Exception]) -> list[str]:
    """shlex words of a command; ``error`` builds the exception for an unusable one."""
    try:
        words = shlex.split(command)
    except ValueError as problem:
        raise error(f"password command is not a valid command: {problem}") from None
    if not words or not words[0]:
        raise error("password command is empty")
    return words


def _needs_shell(command: str) -> bool:
    quote = ""
    for char in command:
        if quote == "'":
            if char == "'":
                quote = ""
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char in "$`\\":
                return True
        elif char in "'\"":
            quote = char
        elif char in _SHELL_CHARS:
            return True
    # FOO=bar prog: an assignment for the program's environment.
    words = command.split(None, 1)
    return bool(words) and "=" in words[0]


def _program_name(words: list[str]) -> str:
    # Leading NAME=value words are skipped: their values may well be secrets.
    for word in words:
        if "=" not in word:
            name = os.path.basename(word) or word
            return strip_control(name)[:60]
    return "(environment assignments only)"


def _first_line_of(
    process: subprocess.Popen[bytes], timeout: float
) -> tuple[bytes, bytes, int | None]:
    """``(stdout, stderr, exit status)`` once stdout holds a line or the command ended.

    The status is None when the command neither printed a line nor ended within
    ``timeout``: then its process group is killed.  Pipes are read as data arrives;
    their end of file is not waited for, since a background child may hold them.
    """
    assert process.stdout is not None and process.stderr is not None
    deadline = time_module.monotonic() + timeout
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)

        def drain(wait: float) -> None:
            for key, _ in selector.select(wait):
                fd = int(key.fd)
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(fd)
                elif len(buffers[fd]) < _PIPE_KEPT:
                    buffers[fd] += chunk

        status: int | None = None
        while True:
            remaining = deadline - time_module.monotonic()
            if remaining <= 0:
                break
            drain(min(0.05, remaining))
            status = process.poll()
            if status is not None:
                # It ended: what it wrote is in the pipes now, read it without waiting.
                for _ in range(64):
                    if not selector.get_map():
                        break
                    before = sum(len(buffer) for buffer in buffers.values())
                    drain(0)
                    if sum(len(buffer) for buffer in buffers.values()) == before:
                        break
                break
            if b"\n" in buffers[out_fd] or out_fd not in selector.get_map():
                # A line (or all of stdout): give the command a moment to report its status.
                grace = min(PASSWORD_COMMAND_GRACE, max(0.0, deadline - time_module.monotonic()))
                try:
                    status = process.wait(grace)
                except subprocess.TimeoutExpired:
                    status = 0  # still busy after printing the password: done with it
                drain(0)
                break
    _end_group(process)
    return bytes(buffers[out_fd]), bytes(buffers[err_fd]), status


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """Close the pipes; a command still running is killed with its process group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (OSError, AttributeError):  # AttributeError: no process groups (Windows)
            process.kill()
        process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _failure(name: str, status: int, err: bytes, first_out: bytes) -> str:
    if status < 0:
        try:
            how = f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            how = f"was killed by signal {-status}"
    else:
        how = f"failed with exit status {status}"
    message = f'password command "{name}" {how}'
    line = err.split(b"\n", 1)[0]
    # A command that echoed its secret to stderr as well: say nothing of stderr.
    if first_out.strip() and first_out.strip() in line:
        return message
    shown = strip_control(line.decode("utf-8", errors="replace")).strip()
    if len(shown) > _STDERR_SHOWN:
        shown = shown[: _STDERR_SHOWN - 1] + "…"
    return f"{message}: {shown}" if shown else message


def parse_highlight_argument(text: str) -> HighlightRule:
    """``EXPR`` or ``EXPR@COLOUR`` from the command line; ``!`` after the colour rings.

    ``pps>1000@red``, ``dscp:ef path:*LTE*@#ff8800``, ``app:ssh@cyan!``.
    """
    expr, at, colour = text.rpartition("@")
    if not at:
        return HighlightRule(expr=text)
    bell = colour.endswith("!")
    colour = colour.removesuffix("!").strip()
    try:
        Color.parse(colour)
    except ColorParseError:
        raise UsageError(
            f'--highlight "{text}": "{colour}" is not a colour (try red, yellow or #ff8800)'
        ) from None
    try:
        return HighlightRule(expr=expr.strip(), color=colour, bell=bell)
    except ValueError as error:
        raise UsageError(f'--highlight "{text}": {error}') from None
