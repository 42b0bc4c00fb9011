"""Configuration in one model: the schema, the file and its paths, the password command.

* :mod:`~flowtop.core.config.schema`: :class:`Profile` (one layer of the config file)
  and :class:`Settings` (the resolved run) share field types whose bounds are
  declared once; highlight rules.
* :mod:`~flowtop.core.config.files`: where the config file is, reading and reporting it.
* :mod:`~flowtop.core.config.password`: running a profile's ``password_command``.
* :mod:`~flowtop.core.config.layers`: merging the layers into :class:`Settings`.
"""

from __future__ import annotations

from flowtop.core.config.files import (
    ENV_CONFIG,
    ConfigFile,
    default_config_path,
    load_config,
    permission_warning,
    select_fleet,
    select_profile,
)
from flowtop.core.config.layers import (
    Resolution,
    environment_layer,
    merge_layers,
    prompt_password,
    resolve_settings,
)
from flowtop.core.config.password import run_password_command
from flowtop.core.config.schema import (
    ENV_PASSWORD,
    ENV_URL,
    ENV_USER,
    MAX_INTERVAL,
    MAX_STATS_CHOICES,
    MAX_TIMEOUT,
    MIN_INTERVAL,
    FleetConfig,
    HighlightRule,
    Profile,
    Settings,
    parse_highlight_argument,
)

__all__ = [
    "ENV_CONFIG",
    "ENV_PASSWORD",
    "ENV_URL",
    "ENV_USER",
    "MAX_INTERVAL",
    "MAX_STATS_CHOICES",
    "MAX_TIMEOUT",
    "MIN_INTERVAL",
    "ConfigFile",
    "FleetConfig",
    "HighlightRule",
    "Profile",
    "Resolution",
    "Settings",
    "default_config_path",
    "environment_layer",
    "load_config",
    "merge_layers",
    "parse_highlight_argument",
    "permission_warning",
    "prompt_password",
    "resolve_settings",
    "run_password_command",
    "select_fleet",
    "select_profile",
]
