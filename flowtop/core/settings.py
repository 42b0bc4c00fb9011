"""Settings: everything a run needs, validated once.

They come from layers, highest first: the command line, the environment, the chosen
profile of the config file, the file's ``[defaults]``, then built-in defaults.
The password is a :class:`pydantic.SecretStr` so that no repr, log or traceback
shows it.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, SecretStr

from flowtop.core.client import MAX_STATS_CHOICES, normalize_base_url
from flowtop.core.columns import DEFAULT_COLUMNS
from flowtop.core.config import (
    ConfigFile,
    HighlightRule,
    Profile,
    load_config,
    permission_warning,
    run_password_command,
    select_profile,
)
from flowtop.core.errors import UsageError
from flowtop.core.network import check_proxy_url
from flowtop.core.poller import MAX_INTERVAL, MIN_INTERVAL

ENV_URL: Final = "FLOWTOP_URL"
ENV_USER: Final = "FLOWTOP_USER"
ENV_PASSWORD: Final = "FLOWTOP_PASSWORD"
MAX_TIMEOUT: Final = 600.0


class Settings(BaseModel):
    """A validated run configuration."""

    model_config = ConfigDict(frozen=True)

    url: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    demo: bool = False
    demo_seed: int = 1
    insecure: bool = False
    ca_bundle: str | None = None
    proxy: str | None = None
    no_proxy: bool = False
    timeout: float = 10.0
    interval: float = 2.0
    max_stats: int = 100
    filter: str = ""
    sort: str = "kbps"
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    highlight: tuple[HighlightRule, ...] = ()
    group_by: str | None = None
    # Plain ASCII drawing; None: decided by the locale (see flowtop.core.glyphs).
    ascii: bool | None = None
    record: str | None = None
    replay: str | None = None
    speed: float = 1.0

    def check(self) -> Settings:
        """Raise UsageError for anything a person must fix; return self."""
        if self.interval < MIN_INTERVAL or self.interval > MAX_INTERVAL:
            raise UsageError(
                f"--interval must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds"
            )
        if self.max_stats not in MAX_STATS_CHOICES:
            choices = ", ".join(str(n) for n in MAX_STATS_CHOICES)
            raise UsageError(f"--max-stats must be one of {choices}")
        if self.timeout <= 0 or self.timeout > MAX_TIMEOUT:
            raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
        if self.proxy and self.no_proxy:
            raise UsageError("--proxy and --no-proxy contradict each other; choose one")
        if self.proxy:
            check_proxy_url(self.proxy)
        if not (0 < self.speed <= 1000):
            raise UsageError("--speed must be more than 0 and at most 1000")
        if self.replay is not None:
            return self
        if not self.demo:
            if not self.url:
                raise UsageError(
                    f"no appliance given: use --url URL (or {ENV_URL}), a profile, or --demo"
                )
            normalize_base_url(self.url)
            if not self.user:
                raise UsageError(f"no user given: use --user USER (or {ENV_USER})")
        return self

    @property
    def needs_password(self) -> bool:
        return not self.demo and self.replay is None


def environment_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment gives; empty values count as unset."""
    layer: dict[str, Any] = {}
    if environ.get(ENV_URL):
        layer["url"] = environ[ENV_URL]
    if environ.get(ENV_USER):
        layer["user"] = environ[ENV_USER]
    return layer


def _drop_contradictions(layers: list[dict[str, Any]]) -> None:
    """``insecure`` and ``ca_bundle`` (or ``no_proxy`` and ``proxy``) set in different
    layers: the higher layer wins."""

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


class Resolution(BaseModel):
    """Settings plus what was learned on the way (warnings for the user)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings
    warnings: tuple[str, ...] = ()
    config: ConfigFile | None = None


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
    """
    config = load_config(
        Path(config_path) if config_path else None, environ, explicit=bool(config_path)
    )
    profile = select_profile(config, profile_name)
    defaults = config.defaults
    layers = [
        {name: value for name, value in cli.items() if value is not None},
        environment_layer(environ),
        _settings_layer(profile),
        _settings_layer(defaults),
    ]
    _drop_contradictions(layers)
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged.update(layer)
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


_SETTINGS_FIELDS: Final = frozenset(Settings.model_fields)


def _settings_layer(profile: Profile) -> dict[str, Any]:
    layer = {
        name: value
        for name, value in profile.as_layer().items()
        if name in _SETTINGS_FIELDS and name != "password"
    }
    if "columns" in layer:
        layer["columns"] = tuple(layer["columns"])
    if "highlight" in layer:
        layer["highlight"] = tuple(layer["highlight"])
    return layer


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


def password_from_environment(
    environ: Mapping[str, str] | None = None, *, interactive: bool | None = None, user: str = ""
) -> SecretStr:
    """The password from FLOWTOP_PASSWORD, else a hidden prompt on a terminal."""
    env = os.environ if environ is None else environ
    if ENV_PASSWORD in env:
        return SecretStr(env[ENV_PASSWORD])
    return prompt_password(user, interactive=interactive)
