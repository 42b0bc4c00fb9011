"""Where snapshots come from: a live appliance, the demo, or a recording.

The TUI, batch mode and recording all poll a :class:`FlowSource` and never care
which one it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from flowtop.core.client import NitroClient
from flowtop.core.model import Flow
from flowtop.core.store import capped_at

if TYPE_CHECKING:
    from flowtop.core.settings import Settings


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One poll's answer, parsed."""

    flows: list[Flow]
    received_at: float
    latency: float
    raw: bytes = b""
    ignored_items: int = 0
    # For replays: this snapshot's position ("poll 3 of 40"), else None.
    position: tuple[int, int] | None = field(default=None)
    # The max_stats the answer was asked for; 0 when the source does not say.
    max_stats: int = 0

    def capped(self, default_max_stats: int = 0) -> int | None:
        """N when the answer filled max_stats = N (the appliance may have cut the list
        there, keeping its top N flows), else None."""
        return capped_at(len(self.flows) + self.ignored_items, self.max_stats or default_max_stats)


class FlowSource(Protocol):
    """Anything that yields snapshots of an appliance's flows."""

    @property
    def description(self) -> str:
        """Who is being watched, for the status line: ``admin@10.1.1.1``."""
        ...

    async def fetch(self, max_stats: int) -> Snapshot:
        """One snapshot; raises a :class:`flowtop.core.errors.FlowtopError` on failure."""
        ...

    async def close(self) -> None: ...


class ClientSource:
    """Snapshots from an appliance (real or the built-in demo) through the Nitro client."""

    def __init__(self, client: NitroClient, description: str) -> None:
        self.client = client
        self._description = description

    @property
    def description(self) -> str:
        return self._description

    async def fetch(self, max_stats: int) -> Snapshot:
        raw, parsed = await self.client.get_flows(max_stats)
        return Snapshot(
            flows=parsed.flows,
            received_at=raw.received_at,
            latency=raw.latency,
            raw=raw.body,
            ignored_items=parsed.ignored_items,
            max_stats=max_stats,
        )

    async def close(self) -> None:
        await self.client.close()


def build_source(settings: Settings) -> ClientSource:
    """The source of a real appliance the settings describe (the demo is built by
    :func:`flowtop.demo.source.demo_source`: the core never imports the demo)."""
    assert settings.url is not None and settings.user is not None
    password = settings.password.get_secret_value() if settings.password else ""
    client = NitroClient(
        settings.url,
        settings.user,
        password,
        insecure=settings.insecure,
        ca_bundle=settings.ca_bundle,
        timeout=settings.timeout,
        proxy=settings.proxy,
        no_proxy=settings.no_proxy,
    )
    return ClientSource(client, f"{settings.user}@{client.host}")
