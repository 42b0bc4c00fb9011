"""The settings schema: one set of field types for the profile layers and the run.

Each bound (interval, max_stats, timeout, speed) is declared once, as an ``Annotated``
type shared by :class:`Profile` (a layer of the config file, every field optional) and
:class:`Settings` (the resolved run).  A value out of bounds gets the same reason from
the file (``config.toml: profiles.lab.interval: must be between ...``) and from the
command line (``--interval: must be between ...``).

Filter, sort and group-by are parsed once, when the settings are built: a run reads
:attr:`Settings.flow_filter`, :attr:`Settings.sort_spec` and :attr:`Settings.grouping`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from rich.color import Color, ColorParseError

from flowtop.core.columns import DEFAULT_COLUMNS, SortSpec, resolve_column
from flowtop.core.config.password import command_words
from flowtop.core.errors import UsageError
from flowtop.core.filter import FlowFilter, compile_filter
from flowtop.core.groups import GROUPINGS, Grouping, resolve_grouping
from flowtop.core.network import check_proxy_url
from flowtop.core.urls import normalize_base_url

__all__ = [
    "ENV_PASSWORD",
    "ENV_URL",
    "ENV_USER",
    "MAX_INTERVAL",
    "MAX_SPEED",
    "MAX_STATS_CHOICES",
    "MAX_TIMEOUT",
    "MIN_INTERVAL",
    "HighlightRule",
    "Interval",
    "MaxStats",
    "Profile",
    "Settings",
    "Speed",
    "Timeout",
    "describe_error",
    "parse_highlight_argument",
]

ENV_URL: Final = "FLOWTOP_URL"
ENV_USER: Final = "FLOWTOP_USER"
ENV_PASSWORD: Final = "FLOWTOP_PASSWORD"

# The bounds, declared here once; the poller, the client and the TUI import them.
MIN_INTERVAL: Final = 0.5
MAX_INTERVAL: Final = 60.0
MAX_STATS_CHOICES: Final = (50, 100, 1000)
MAX_TIMEOUT: Final = 600.0
MAX_SPEED: Final = 1000.0

ERROR_TYPE: Final = "flowtop_config"


def invalid(reason: str) -> PydanticCustomError:
    """A validation error whose message is ``reason`` as written."""
    # A template of "{reason}" keeps braces in the reason (filter text) from being formatted.
    return PydanticCustomError(ERROR_TYPE, "{reason}", {"reason": reason})


def _usage_reason(check: Callable[[str], object]) -> Callable[[str], None]:
    def run(value: str) -> None:
        try:
            check(value)
        except UsageError as error:
            raise invalid(error.message) from None

    return run


# --- field types with their bounds -----------------------------------------------------


def _interval(value: float) -> float:
    # Written so that NaN fails too.
    if not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise invalid(
            f"must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds (got {value:g})"
        )
    return value


def _max_stats(value: int) -> int:
    if value not in MAX_STATS_CHOICES:
        choices = ", ".join(str(choice) for choice in MAX_STATS_CHOICES)
        raise invalid(f"must be one of {choices} (got {value})")
    return value


def _timeout(value: float) -> float:
    if not 0 < value <= MAX_TIMEOUT:
        raise invalid(f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds (got {value:g})")
    return value


def _speed(value: float) -> float:
    if not 0 < value <= MAX_SPEED:
        raise invalid(f"must be more than 0 and at most {MAX_SPEED:g} (got {value:g})")
    return value


def _column_id(name: str) -> str:
    try:
        return resolve_column(name).id
    except UsageError as error:
        raise invalid(error.message) from None


def _columns(value: list[str]) -> list[str]:
    if not value:
        raise invalid("must name at least one column")
    seen: set[str] = set()
    for column in value:
        if column in seen:
            raise invalid(f'column "{column}" is named twice')
        seen.add(column)
    return value


def _url(value: str) -> str:
    _usage_reason(normalize_base_url)(value)
    return value


def _proxy(value: str) -> str:
    try:
        check_proxy_url(value, "proxy")
    except UsageError as error:
        # The reason only: the file's key (or the option) already says which proxy.
        raise invalid(error.message.split(": ", 1)[-1]) from None
    return value


def _ca_bundle(value: str) -> str:
    if not value.strip():
        raise invalid("must name a file")
    return value


def _password_command(value: str) -> str:
    command_words(value, error=invalid)
    return value


def _filter(value: str) -> str:
    _usage_reason(compile_filter)(value)
    return value


def _sort(value: str) -> str:
    _usage_reason(SortSpec.parse)(value)
    return value


def _column_ids(value: tuple[str, ...]) -> tuple[str, ...]:
    # UsageError is no ValueError: pydantic lets it through with its own message.
    return tuple(resolve_column(name).id for name in value)


def _grouping_id(value: str | None) -> str | None:
    # UsageError is no ValueError: pydantic lets it through with its own message.
    return resolve_grouping(value).id if value else None


Interval = Annotated[float, AfterValidator(_interval)]
MaxStats = Annotated[int, AfterValidator(_max_stats)]
Timeout = Annotated[float, AfterValidator(_timeout)]
Speed = Annotated[float, AfterValidator(_speed)]
ColumnId = Annotated[str, AfterValidator(_column_id)]
Columns = Annotated[list[ColumnId], AfterValidator(_columns)]
Url = Annotated[str, AfterValidator(_url)]
ProxyUrl = Annotated[str, AfterValidator(_proxy)]
CaBundle = Annotated[str, AfterValidator(_ca_bundle)]
PasswordCommand = Annotated[str, AfterValidator(_password_command)]
FilterText = Annotated[str, AfterValidator(_filter)]


def _theme(value: str) -> str:
    # The TUI knows the themes (the core imports no textual): a name is all it takes here.
    if not value.strip() or len(value) > 64 or not value.isprintable():
        raise invalid("must name a theme, such as textual-dark or nord")
    return value


ThemeName = Annotated[str, AfterValidator(_theme)]
SortText = Annotated[str, AfterValidator(_sort)]


# --- highlight rules -------------------------------------------------------------------


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
            raise invalid("an empty expression would highlight every flow")
        return _filter(value)

    @field_validator("color")
    @classmethod
    def _check_color(cls, value: str) -> str:
        try:
            Color.parse(value)
        except ColorParseError:
            raise invalid(
                f"{json.dumps(value, ensure_ascii=False)} is not a color"
                ' (a name like "red" or "bright_cyan", "#ff8800" or "rgb(255,136,0)")'
            ) from None
        return value


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


# --- the profile layer -----------------------------------------------------------------


class Profile(BaseModel):
    """One layer of settings; ``None`` means "not set here", so a lower layer decides."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    url: Url | None = None
    user: str | None = None
    # Allowed, but a password_command keeps the secret out of the file.
    password: SecretStr | None = None
    password_command: PasswordCommand | None = None
    insecure: bool | None = None
    ca_bundle: CaBundle | None = None
    proxy: ProxyUrl | None = None
    no_proxy: bool | None = None
    interval: Interval | None = None
    max_stats: MaxStats | None = None
    timeout: Timeout | None = None
    # Column ids in display order; aliases are resolved to ids while loading.
    columns: Columns | None = None
    highlight: list[HighlightRule] | None = None
    sort: SortText | None = None
    filter: FilterText | None = None
    # Plain ASCII drawing (true), or Unicode even where the locale is not UTF-8 (false).
    ascii: bool | None = None
    # The live view starts showing host names (reverse DNS) / port names.
    resolve: bool | None = None
    port_names: bool | None = None
    # `y` copies through the terminal (OSC 52): false never tries, true always does.
    clipboard: bool | None = None
    # A Textual theme by name (ctrl+p, "Change theme"); saved from the column chooser.
    theme: ThemeName | None = None

    def as_layer(self) -> dict[str, Any]:
        """The settings this profile sets (not the password), as Settings takes them."""
        layer = {
            name: value
            for name, value in self
            if value is not None and name not in ("password", "password_command")
        }
        for name in ("columns", "highlight"):
            if name in layer:
                layer[name] = tuple(layer[name])
        return layer

    @model_validator(mode="after")
    def _check_contradictions(self) -> Profile:
        if self.insecure and self.ca_bundle:
            raise invalid("insecure = true and ca_bundle contradict each other; choose one")
        if self.proxy and self.no_proxy:
            raise invalid("proxy and no_proxy = true contradict each other; choose one")
        return self


# --- fleets ----------------------------------------------------------------------------

MAX_CONCURRENCY: Final = 256


def _concurrency(value: int) -> int:
    if not 1 <= value <= MAX_CONCURRENCY:
        raise invalid(f"must be between 1 and {MAX_CONCURRENCY} (got {value})")
    return value


def _fleet_profiles(names: list[str]) -> list[str]:
    if not names:
        raise invalid("a fleet names at least one profile")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise invalid(f"a profile is named twice: {', '.join(repeated)}")
    return names


Concurrency = Annotated[int, AfterValidator(_concurrency)]


class FleetConfig(BaseModel):
    """``[fleets.NAME]``: profiles watched together, and how the background ones poll."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    profiles: Annotated[list[str], AfterValidator(_fleet_profiles)]
    # The appliances whose flow view is not open poll at this interval and max_stats.
    background_interval: Interval = 10.0
    background_max_stats: MaxStats = 100
    # At most this many requests in flight at once, over the whole fleet.
    concurrency: Concurrency = 16


class Document(BaseModel):
    """A config file's top level, as written."""

    model_config = ConfigDict(strict=True, extra="forbid")

    default_profile: str | None = None
    defaults: Profile = Field(default_factory=Profile)
    profiles: dict[str, Profile] = Field(default_factory=dict)
    fleets: dict[str, FleetConfig] = Field(default_factory=dict)


# --- the resolved settings -------------------------------------------------------------


class Settings(BaseModel):
    """A validated run configuration.

    Building one raises :class:`UsageError` (``--interval: must be between ...``) for a
    value out of bounds, and the filter's or sort's own error for one that does not parse.
    """

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
    timeout: Timeout = 10.0
    interval: Interval = 2.0
    max_stats: MaxStats = 100
    filter: str = ""
    sort: str = "kbps"
    # Column ids in display order; aliases ("rate") become ids ("kbps").
    columns: Annotated[tuple[str, ...], AfterValidator(_column_ids)] = DEFAULT_COLUMNS
    highlight: tuple[HighlightRule, ...] = ()
    # A grouping's id; an alias ("app") becomes the id ("application").
    group_by: Annotated[str | None, AfterValidator(_grouping_id)] = None
    # Plain ASCII drawing; None: decided by the locale (see flowtop.core.glyphs).
    ascii: bool | None = None
    # Host names (reverse DNS) and port names shown from the start.
    resolve: bool = False
    port_names: bool = False
    # None: decided by the terminal (see flowtop.core.copying).
    clipboard: bool | None = None
    theme: str | None = None
    record: str | None = None
    replay: str | None = None
    speed: Speed = 1.0

    _flow_filter: FlowFilter = PrivateAttr()
    _sort_spec: SortSpec = PrivateAttr()
    _grouping: Grouping | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _as_usage_error(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # The message is built outside the except block: no traceback chains the
        # ValidationError, whose text shows the inputs.
        try:
            return handler(data)
        except ValidationError as error:
            details = error.errors()[0]
        loc = tuple(details["loc"])
        option = "--" + str(loc[0]).replace("_", "-") if loc else "settings"
        raise UsageError(f"{option}: {describe_error(details, loc)}")

    @model_validator(mode="after")
    def _parse_view(self) -> Settings:
        # FilterError and UsageError are not ValueErrors: pydantic lets them through.
        self._flow_filter = compile_filter(self.filter)
        self._sort_spec = SortSpec.parse(self.sort)
        self._grouping = GROUPINGS[self.group_by] if self.group_by else None
        return self

    @property
    def flow_filter(self) -> FlowFilter:
        """``filter``, compiled."""
        return self._flow_filter

    @property
    def sort_spec(self) -> SortSpec:
        """``sort``, parsed."""
        return self._sort_spec

    @property
    def grouping(self) -> Grouping | None:
        """``group_by``, resolved; None for no grouping."""
        return self._grouping

    def check(self) -> Settings:
        """Raise UsageError for anything a person must fix before a run; return self."""
        if self.proxy and self.no_proxy:
            raise UsageError("--proxy and --no-proxy contradict each other; choose one")
        if self.proxy:
            check_proxy_url(self.proxy)
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


# --- messages --------------------------------------------------------------------------

_TYPE_WORDS: Final = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
}


def describe_error(details: ErrorDetails, loc: tuple[str | int, ...]) -> str:
    """The reason of one validation error, never showing the input's value."""
    kind = details["type"]
    if kind == ERROR_TYPE:
        return str(details.get("ctx", {}).get("reason", details["msg"]))
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return f'missing key "{loc[-1]}"'
    got = _value_type(details.get("input"))
    if kind == "model_type" and details.get("ctx", {}).get("class_name") == "HighlightRule":
        return (
            'must be a filter expression or a table like {expr = "...", color = "red"}'
            f" (got {got})"
        )
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {got})"
    # Pydantic's own messages do not contain the input, so none can show a password.
    message = details["msg"]
    return message[:1].lower() + message[1:]


def _value_type(value: Any) -> str:
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
