"""Regular expressions typed by a person, matched in linear time (RE2).

Python's :mod:`re` backtracks: ``(a+)+$`` against ``aaaa…a!`` takes exponential time
and would freeze the app for good.  RE2 (the ``google-re2`` package) never
backtracks, at the price of two constructs it lacks: backreferences and lookaround.
A pattern that uses them is refused with a message naming the construct.

Matching is case-insensitive.  This module is the only one that touches ``re2``,
which has no type information.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

Search = Callable[[str], bool]

# The constructs RE2 lacks, by what its error names (or what the pattern holds).
_UNSUPPORTED: Final = (
    ("(?=", "lookahead (?=...)"),
    ("(?!", "negative lookahead (?!...)"),
    ("(?<=", "lookbehind (?<=...)"),
    ("(?<!", "negative lookbehind (?<!...)"),
    ("(?P=", "named backreference (?P=name)"),
)
_MAX_MEMORY: Final = 8 << 20


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message is one line for a person."""


def _re2() -> Any:
    # Imported on the first pattern: a run without one (most --once runs) saves its load.
    import re2

    return re2


def _options() -> object:
    options = _re2().Options()
    options.case_sensitive = False
    # RE2 would otherwise print every parse error on stderr, over the terminal UI.
    options.log_errors = False
    options.max_mem = _MAX_MEMORY
    return options


def _reason(pattern: str, error: Exception) -> str:
    raw = error.args[0] if error.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for marker, construct in _UNSUPPORTED:
        if marker in pattern and (marker in message or marker == "(?P="):
            return f"{construct} is not supported"
    if "invalid escape sequence: \\" in message:
        escape = message.rsplit("\\", 1)[1][:1]
        if escape.isdigit():
            return f"backreference \\{escape} is not supported"
        if escape == "Z":
            return "\\Z is not supported: use \\z for the end of the text"
    return message or "invalid pattern"


def compile_search(pattern: str) -> Search:
    """A case-insensitive unanchored search for ``pattern``: text -> whether it occurs.

    Raises :class:`RegexError` when the pattern is invalid or uses a construct RE2
    lacks (backreferences, lookahead, lookbehind).
    """
    re2 = _re2()
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as error:
        raise RegexError(_reason(pattern, error)) from None
    except (TypeError, ValueError, OverflowError) as error:
        raise RegexError(str(error) or "invalid pattern") from None
    search = compiled.search

    def matches(text: str) -> bool:
        # Bytes skip the module's offset decoding; only whether it matched is needed.
        return search(text.encode("utf-8", "surrogatepass")) is not None

    return matches


__all__ = ["RegexError", "Search", "compile_search"]
