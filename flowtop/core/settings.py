"""Settings: everything a run needs, validated once (see :mod:`flowtop.core.config`).

Kept so that ``from flowtop.core.settings import Settings`` goes on working.
"""

from __future__ import annotations

from flowtop.core.config import (
    ENV_PASSWORD,
    ENV_URL,
    ENV_USER,
    Resolution,
    Settings,
    environment_layer,
    prompt_password,
    resolve_settings,
)

__all__ = [
    "ENV_PASSWORD",
    "ENV_URL",
    "ENV_USER",
    "Resolution",
    "Settings",
    "environment_layer",
    "prompt_password",
    "resolve_settings",
]
