"""The configuration file: where it is, reading it, and reporting its mistakes.

The file is TOML, at the platform's config directory (``$XDG_CONFIG_HOME/flowtop/
config.toml``, by default ``~/.config/flowtop/config.toml``, on Linux; found with
``platformdirs``); ``--config PATH`` or ``FLOWTOP_CONFIG`` name another one.  A missing
file at the default place means "no profiles"; a missing file someone named is an
error.  Layout::

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

Every mistake is reported as one line naming the file, the dotted key and the
problem, e.g. ``config.toml: profiles.lab.max_stats: must be one of 50, 100, 1000
(got 200)``; a syntax error also names its line and column.  No message ever shows
the value of ``password``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowtop.core.config.schema import (
    Document,
    FleetConfig,
    HighlightRule,
    Profile,
    describe_error,
)
from flowtop.core.errors import UsageError

__all__ = [
    "ENV_CONFIG",
    "MAX_FILE_BYTES",
    "ConfigFile",
    "default_config_path",
    "load_config",
    "permission_warning",
    "select_fleet",
    "select_profile",
]

ENV_CONFIG: Final = "FLOWTOP_CONFIG"
# A config file is a few hundred bytes; the cap keeps `--config /dev/zero` from eating memory.
MAX_FILE_BYTES: Final = 1024 * 1024

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_POSITION: Final = re.compile(r"(?s)(.*) \(at line (\d+), column (\d+)\)")


class ConfigFile(BaseModel):
    """A loaded configuration file; ``loaded`` is False when there was no file."""

    model_config = ConfigDict(frozen=True)

    path: Path
    loaded: bool = False
    default_profile: str | None = None
    defaults: Profile = Field(default_factory=Profile)
    profiles: dict[str, Profile] = Field(default_factory=dict)
    fleets: dict[str, FleetConfig] = Field(default_factory=dict)


def default_config_path() -> Path:
    """``config.toml`` in flowtop's directory of the platform's user configuration."""
    return platformdirs.user_config_path("flowtop", appauthor=False) / "config.toml"


def load_config(
    path: Path | None, environ: Mapping[str, str], *, explicit: bool = False
) -> ConfigFile:
    """Read and validate the configuration file; raises UsageError naming file and key.

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
            path, explicit = default_config_path(), False
    path = path.expanduser()
    text = _read_text(path, explicit=explicit)
    if text is None:
        return ConfigFile(path=path)
    data = _parse(path, text)
    if isinstance(data, str):
        raise UsageError(data)
    document = _validate(path, data)
    if isinstance(document, str):
        raise UsageError(document)
    if document.default_profile is not None and document.default_profile not in document.profiles:
        reason = f'no profile named "{document.default_profile}" ({_known_profiles(document)})'
        raise UsageError(f"{path}: default_profile: {reason}")
    for name, fleet in document.fleets.items():
        unknown = [profile for profile in fleet.profiles if profile not in document.profiles]
        if unknown:
            reason = f'no profile named "{unknown[0]}" ({_known_profiles(document)})'
            raise UsageError(f"{path}: fleets.{name}.profiles: {reason}")
    return ConfigFile(
        path=path,
        loaded=True,
        default_profile=document.default_profile,
        defaults=_anchor(document.defaults, path.parent),
        profiles={
            name: _anchor(profile, path.parent) for name, profile in document.profiles.items()
        },
        fleets=document.fleets,
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


def select_fleet(config: ConfigFile, name: str) -> FleetConfig:
    """The fleet called ``name`` (``[fleets.NAME]`` of the config file)."""
    fleet = config.fleets.get(name)
    if fleet is not None:
        return fleet
    if not config.loaded:
        raise UsageError(f'unknown fleet "{name}": there is no config file at {config.path}')
    known = ", ".join(sorted(config.fleets))
    if not known:
        raise UsageError(
            f'unknown fleet "{name}": {config.path} defines no fleets'
            ' (a [fleets.NAME] table with profiles = ["dc", "austin"])'
        )
    raise UsageError(f'unknown fleet "{name}" (fleets in {config.path}: {known})')


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
    import tomllib  # only when there is a file to read: a run without one saves its load

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


def _validate(path: Path, data: dict[str, Any]) -> Document | str:
    """The document, or the message for its first problem."""
    # The message is built outside the except block, so no traceback chains the
    # ValidationError: its text shows the inputs, the password among them.
    try:
        return Document.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
    details = errors[0]
    loc = tuple(details["loc"])
    shown = _existing_prefix(loc, data)
    reason = _unknown_key(loc) if details["type"] == "extra_forbidden" else None
    message = f"{path}: {_dotted(shown)}: {reason or describe_error(details, loc)}"
    if len(errors) > 1:
        more = len(errors) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return message


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
        return list(Document.model_fields)
    if parent == ("defaults",) or (len(parent) == 2 and parent[0] == "profiles"):
        return list(Profile.model_fields)
    if len(parent) >= 2 and parent[-2] == "highlight" and isinstance(parent[-1], int):
        return list(HighlightRule.model_fields)
    return []


def _known_profiles(document: Document) -> str:
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
