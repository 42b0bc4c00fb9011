"""Settings from layers: command line, environment, profile, ``[defaults]``, built-in.

A run takes each setting from the first layer that sets it (:func:`merge_layers`).
Lists (``columns``, ``highlight``) are taken whole, never concatenated.  The password
is found last, and only when the run needs one; it is a :class:`pydantic.SecretStr`
so that no repr, log or traceback shows it.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from flowtop.core.config.files import (
    ConfigFile,
    load_config,
    permission_warning,
    select_profile,
)
from flowtop.core.config.password import run_password_command
from flowtop.core.config.schema import ENV_PASSWORD, ENV_URL, ENV_USER, Profile, Settings
from flowtop.core.errors import UsageError

__all__ = [
    "Resolution",
    "environment_layer",
    "merge_layers",
    "prompt_password",
    "resolve_settings",
]


class Resolution(BaseModel):
    """Settings plus what was learned on the way (warnings for the user)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings
    warnings: tuple[str, ...] = ()
    config: ConfigFile | None = None


def environment_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment gives; empty values count as unset."""
    layer: dict[str, Any] = {}
    if environ.get(ENV_URL):
        layer["url"] = environ[ENV_URL]
    if environ.get(ENV_USER):
        layer["user"] = environ[ENV_USER]
    return layer


def merge_layers(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Each key's value from the first layer that sets it; None means "not set".

    ``insecure`` and ``ca_bundle`` (or ``no_proxy`` and ``proxy``) set in different
    layers do not contradict each other: the higher layer wins and the other is dropped.
    Values are taken whole: a list in a higher layer replaces the lower one.
    """
    kept = [{key: value for key, value in layer.items() if value is not None} for layer in layers]
    _drop_contradictions(kept)
    merged: dict[str, Any] = {}
    for layer in kept:
        for key, value in layer.items():
            merged.setdefault(key, value)
    return merged


def _drop_contradictions(layers: list[dict[str, Any]]) -> None:
    def first(name: str) -> int | None:
        for index, layer in enumerate(layers):
            if layer.get(name) is not None:
                return index
        return None

    for flag, value in (("insecure", "ca_bundle"), ("no_proxy", "proxy")):
        flag_at, value_at = first(flag), first(value)
        if flag_at is None or value_at is None or not layers[flag_at][flag]:
            continue
        if flag_at < value_at:
            for layer in layers[value_at:]:
                layer.pop(value, None)
        elif value_at < flag_at:
            for layer in layers[flag_at:]:
                layer.pop(flag, None)


def resolve_settings(
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    config_path: str | None = None,
    profile_name: str | None = None,
    interactive: bool | None = None,
) -> Resolution:
    """Merge the layers into checked settings, with the password found last.

    ``cli`` holds the command line's values, None where an option was not given.
    Raises :class:`UsageError` for anything a person must fix.
    """
    config = load_config(
        Path(config_path) if config_path else None, environ, explicit=bool(config_path)
    )
    profile = select_profile(config, profile_name)
    defaults = config.defaults
    merged = merge_layers(cli, environment_layer(environ), profile.as_layer(), defaults.as_layer())
    settings = Settings(**merged).check()
    warnings: list[str] = []
    if config.loaded:
        warning = permission_warning(config.path)
        if warning:
            warnings.append(warning)
    if settings.needs_password:
        password = _find_password(environ, (profile, defaults), settings, interactive)
        settings = settings.model_copy(update={"password": password})
    return Resolution(settings=settings, warnings=tuple(warnings), config=config)


def _find_password(
    environ: Mapping[str, str],
    profiles: tuple[Profile, ...],
    settings: Settings,
    interactive: bool | None,
) -> SecretStr:
    """The highest layer that says how to get a password wins: env, profile, defaults."""
    if ENV_PASSWORD in environ:
        return SecretStr(environ[ENV_PASSWORD])
    for profile in profiles:
        if profile.password is not None:
            return profile.password
        if profile.password_command:
            return run_password_command(profile.password_command)
    return prompt_password(settings.user or "", interactive=interactive)


def prompt_password(user: str, *, interactive: bool | None = None) -> SecretStr:
    """A hidden prompt when stdin is a terminal; otherwise say how to give one."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise UsageError(
            f"no password: set {ENV_PASSWORD} or a profile's password_command"
            " (flowtop never takes one on the command line)"
        )
    try:
        return SecretStr(getpass.getpass(f"Password for {user or 'the appliance'}: "))
    except (EOFError, KeyboardInterrupt):
        raise UsageError("no password given") from None
