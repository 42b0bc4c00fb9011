"""Settings: everything a run needs, validated once, from the command line and environment.

The password is a :class:`pydantic.SecretStr` so that no repr, log or traceback
shows it.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, SecretStr

from flowtop.core.client import MAX_STATS_CHOICES, normalize_base_url
from flowtop.core.errors import UsageError
from flowtop.core.poller import MAX_INTERVAL, MIN_INTERVAL

ENV_URL: Final = "FLOWTOP_URL"
ENV_USER: Final = "FLOWTOP_USER"
ENV_PASSWORD: Final = "FLOWTOP_PASSWORD"


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
    timeout: float = 10.0
    interval: float = 2.0
    max_stats: int = 100
    filter: str = ""
    sort: str = "kbps"

    def check(self) -> Settings:
        """Raise UsageError for anything a person must fix; return self."""
        if self.interval < MIN_INTERVAL or self.interval > MAX_INTERVAL:
            raise UsageError(
                f"--interval must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds"
            )
        if self.max_stats not in MAX_STATS_CHOICES:
            choices = ", ".join(str(n) for n in MAX_STATS_CHOICES)
            raise UsageError(f"--max-stats must be one of {choices}")
        if self.timeout <= 0 or self.timeout > 600:
            raise UsageError("--timeout must be more than 0 and at most 600 seconds")
        if not self.demo:
            if not self.url:
                raise UsageError(f"no appliance given: use --url URL (or {ENV_URL}) or --demo")
            normalize_base_url(self.url)
            if not self.user:
                raise UsageError(f"no user given: use --user USER (or {ENV_USER})")
        return self


def password_from_environment(
    environ: Mapping[str, str] | None = None, *, interactive: bool | None = None, user: str = ""
) -> SecretStr:
    """The password from FLOWTOP_PASSWORD, else a hidden prompt on a terminal."""
    env = os.environ if environ is None else environ
    if ENV_PASSWORD in env:
        return SecretStr(env[ENV_PASSWORD])
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise UsageError(
            f"no password: set {ENV_PASSWORD} (flowtop never takes one on the command line)"
        )
    try:
        return SecretStr(getpass.getpass(f"Password for {user or 'the appliance'}: "))
    except (EOFError, KeyboardInterrupt):
        raise UsageError("no password given") from None
