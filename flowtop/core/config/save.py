"""Saving view choices (columns, theme) into the config file, keeping it as written.

The file is edited with tomlkit, which round-trips TOML: comments, blank lines, key
order and quoting stay as the person wrote them; only the keys saved change (a key
already there keeps its place and its end-of-line comment).  The values go to the
profile in use (``[profiles.NAME]``), or to ``[defaults]`` when no profile is.  The
result is checked as the config file is checked when read, then written atomically
(a temporary file renamed over it), with the file's permissions kept (0600 for a new
one: profiles may hold a password).
"""

from __future__ import annotations

import os
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tomlkit
from tomlkit.items import Item, Table

from flowtop.core.config.files import MAX_FILE_BYTES, _validate
from flowtop.core.errors import UsageError

__all__ = ["NEW_FILE_HEADER", "SaveTarget", "save_to_profile"]

NEW_FILE_HEADER: Final = "# flowtop configuration (see the README: Configuration).\n"


@dataclass(frozen=True, slots=True)
class SaveTarget:
    """Where view choices are saved: a config file and the profile in use (None: the
    ``[defaults]`` table)."""

    path: Path
    profile: str | None = None

    @property
    def table_name(self) -> str:
        return "defaults" if self.profile is None else f"profiles.{self.profile}"


def _table(document: tomlkit.TOMLDocument, target: SaveTarget) -> Any:
    """The table the values go to, made if missing."""
    if target.profile is None:
        if "defaults" not in document:
            document.add("defaults", tomlkit.table())
        return document["defaults"]
    if "profiles" not in document:
        document.add("profiles", tomlkit.table(is_super_table=True))
    profiles = document["profiles"]
    if target.profile not in profiles:
        profiles.add(target.profile, tomlkit.table())
    return profiles[target.profile]


def _set(table: Any, key: str, value: Any) -> None:
    """Set ``key``, keeping the place and end-of-line comment of a value already there."""
    new = tomlkit.item(value)
    old = table.get(key) if key in table else None
    if isinstance(old, Item) and not isinstance(old, Table):
        new.trivia.comment = old.trivia.comment
        new.trivia.comment_ws = old.trivia.comment_ws
    table[key] = new


def edited_text(text: str, target: SaveTarget, values: Mapping[str, Any]) -> str:
    """``text`` (a config file) with ``values`` set in the target's table."""
    document = tomlkit.parse(text)
    table = _table(document, target)
    for key, value in values.items():
        _set(table, key, value)
    edited = tomlkit.dumps(document)
    if not text.strip():
        edited = NEW_FILE_HEADER + "\n" + edited
    return edited


def save_to_profile(target: SaveTarget, values: Mapping[str, Any]) -> None:
    """Write ``values`` into the target's table of its config file; raises UsageError
    with one line naming the file when it cannot."""
    path = target.path.expanduser()
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    except OSError as error:
        raise UsageError(f"{path}: cannot read it: {error.strerror or error}") from None
    if len(existing) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: too big to be a config file")
    try:
        text = existing.decode("utf-8")
        edited = edited_text(text, target, values)
    except (UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as error:
        raise UsageError(f"{path}: not saved, the file does not parse: {error}") from None
    # What is written must read back as a valid config file.
    try:
        data = tomllib.loads(edited)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: not saved: {error}") from None
    checked = _validate(path, data)
    if isinstance(checked, str):
        raise UsageError(f"not saved: {checked}")
    _write_atomically(path, edited)


def _write_atomically(path: Path, text: str) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o600  # a new file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    except OSError as error:
        raise UsageError(f"{path}: cannot write it: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise UsageError(f"{path}: cannot write it: {error.strerror or error}") from None
