"""Typed errors of the core.  Each one reads as a single clear line for a person.

``exit_code`` is what the command line exits with when this error ends a run.
"""

from __future__ import annotations


class FlowtopError(Exception):
    """Base of every error flowtop reports to a person."""

    exit_code: int = 5

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(FlowtopError):
    """Bad arguments, settings or configuration."""

    exit_code = 2


class FilterError(UsageError):
    """An invalid filter expression; the message names the problem and its position."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(f"{message} (at position {position + 1})")
        self.reason = message
        self.position = position


class ConnectError(FlowtopError):
    """The appliance could not be reached: refused, DNS, TLS, timeout."""

    exit_code = 3


class AuthenticationError(FlowtopError):
    """The appliance refused the credentials, even after a fresh login."""

    exit_code = 4


class ApplianceError(FlowtopError):
    """The appliance answered with an error status (its own ErrorSchema when present)."""

    exit_code = 5

    def __init__(
        self,
        status: int,
        errorcode: int | None = None,
        errormessage: str | None = None,
        *,
        what: str = "the appliance",
    ) -> None:
        detail = f"{what} answered HTTP {status}"
        if errorcode is not None:
            detail += f", errorcode {errorcode}"
        if errormessage:
            detail += f": {errormessage}"
        super().__init__(detail)
        self.status = status
        self.errorcode = errorcode
        self.errormessage = errormessage


class UnreadableAnswer(FlowtopError):
    """The answer is not a flows document; the message says what came instead."""

    exit_code = 5


# What a bug reading or showing one answer raises (OverflowError, RecursionError,
# UnicodeError, ...): such a failure costs that answer, never the run.
ANSWER_FAILURES: tuple[type[Exception], ...] = (
    ArithmeticError,
    LookupError,
    RecursionError,
    TypeError,
    ValueError,
)


def answer_failure(error: Exception) -> UnreadableAnswer:
    """An unexpected failure while reading or showing one answer, as one line (exit 5)."""
    first = (str(error).splitlines() or [""])[0][:160]
    detail = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return UnreadableAnswer(f"could not use the answer ({detail})")


class Throttled(ApplianceError):
    """HTTP 429 or 503: the appliance (or a proxy) asks for a pause of ``retry_after`` s."""

    def __init__(
        self,
        status: int,
        errorcode: int | None = None,
        errormessage: str | None = None,
        *,
        what: str = "the appliance",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, errorcode, errormessage, what=what)
        self.retry_after = retry_after
        if retry_after is not None:
            self.message += f" (asks to retry after {retry_after:g}s)"
