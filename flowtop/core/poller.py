"""The polling state machine: when to poll next and what state the view is in.

Pure logic with no clock or I/O of its own, so the TUI and tests drive it alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from flowtop.core.config.schema import MAX_INTERVAL, MIN_INTERVAL
from flowtop.core.errors import AuthenticationError, FlowtopError

__all__ = [
    "INTERVAL_STEPS",
    "MAX_BACKOFF",
    "MAX_INTERVAL",
    "MAX_RETRY_AFTER",
    "MIN_INTERVAL",
    "PollPhase",
    "PollState",
    "clamp_interval",
    "next_interval",
]

MAX_BACKOFF: Final = 30.0
# The longest pause an appliance's Retry-After can impose (see network.MAX_RETRY_AFTER).
MAX_RETRY_AFTER: Final = 300.0
INTERVAL_STEPS: Final = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0, 60.0)


class PollPhase(Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    PAUSED = "paused"
    ERROR = "error"
    # Credentials refused after a fresh login: no more attempts, accounts get locked.
    STOPPED = "stopped"


def clamp_interval(seconds: float) -> float:
    return min(MAX_INTERVAL, max(MIN_INTERVAL, seconds))


def next_interval(current: float, faster: bool) -> float:
    """The next step up or down the usual ladder of intervals (as top's ``d``)."""
    if faster:
        smaller = [step for step in INTERVAL_STEPS if step < current - 1e-9]
        return smaller[-1] if smaller else MIN_INTERVAL
    larger = [step for step in INTERVAL_STEPS if step > current + 1e-9]
    return larger[0] if larger else MAX_INTERVAL


@dataclass(slots=True)
class PollState:
    """What the poller knows: phase, last error, consecutive failures."""

    interval: float = 2.0
    phase: PollPhase = PollPhase.CONNECTING
    paused: bool = False
    failures: int = 0
    last_error: FlowtopError | None = None
    last_success_at: float | None = None
    last_latency: float | None = None

    def succeeded(self, at: float, latency: float) -> None:
        self.failures = 0
        self.last_error = None
        self.last_success_at = at
        self.last_latency = latency
        self.phase = PollPhase.PAUSED if self.paused else PollPhase.LIVE

    def failed(self, error: FlowtopError) -> None:
        self.failures += 1
        self.last_error = error
        refused = isinstance(error, AuthenticationError)
        self.phase = PollPhase.STOPPED if refused else PollPhase.ERROR

    @property
    def stale(self) -> bool:
        """The data shown is not from the latest attempt."""
        return self.phase in (PollPhase.ERROR, PollPhase.STOPPED)

    @property
    def may_poll(self) -> bool:
        return self.phase is not PollPhase.STOPPED and not self.paused

    def delay(self) -> float:
        """Seconds until the next poll: the interval, or a capped backoff after failures.

        An appliance that answered 429 or 503 with ``Retry-After`` is left alone at
        least that long (at most :data:`MAX_RETRY_AFTER`).
        """
        if self.failures == 0:
            return self.interval
        backoff: float = min(MAX_BACKOFF, max(self.interval, 1.0) * 2.0 ** (self.failures - 1))
        retry_after = getattr(self.last_error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > backoff:
            return float(min(MAX_RETRY_AFTER, retry_after))
        return backoff

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if paused and self.phase is PollPhase.LIVE:
            self.phase = PollPhase.PAUSED
        elif not paused and self.phase is PollPhase.PAUSED:
            self.phase = PollPhase.LIVE

    def retry_after_stop(self) -> None:
        """The user asked for another try after an authentication stop."""
        if self.phase is PollPhase.STOPPED:
            self.phase = PollPhase.CONNECTING
            self.failures = 0
