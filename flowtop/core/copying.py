"""`y`: a row as a filter expression, and whether the terminal can take it (OSC 52).

A flow's expression names its key: ``src:10.1.0.2 sport:40001 dst:192.0.2.10
dport:443 proto:tcp dir:"LAN to WAN"``, quoted as the filter language needs, so it
compiles back to a filter matching exactly the flows of that key (a value the flow
lacks becomes ``!field~.``, "has none").  A group's expression is its drill-down.

The clipboard is set through the terminal with OSC 52, which works over SSH where the
terminal supports it.  :func:`clipboard_refusal` says when flowtop does not try: a
terminal known to ignore OSC 52 (the Linux console, ``TERM=dumb``, macOS Terminal),
GNU screen (it swallows the sequence), tmux unless its ``set-clipboard`` is ``on`` (its
default, ``external``, ignores the sequence from programs), or ``clipboard = false``
in the profile.  A fleet's flow names its appliance too (``appliance:austin``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from typing import Any, Final

from flowtop.core.filter import quote_value
from flowtop.core.model import PROTOCOL_NAMES, Flow

_ADDRESS_TEXT = re.compile(r"[0-9A-Fa-f:.]+")


def _term(name: str, value: Any) -> str:
    if value is None or value == "":
        # The filter language's "has no value": not anything.
        return f"!{name}~."
    text = str(value)
    if _ADDRESS_TEXT.fullmatch(text):
        return f"{name}:{text}"  # an address or a number reads as it is
    return f"{name}:{quote_value(text)}"


def flow_expression(flow: Flow) -> str:
    """The filter expression that selects exactly the flows of ``flow``'s key."""
    ipp = flow.ipp
    protocol = PROTOCOL_NAMES.get(ipp, str(ipp)).lower() if ipp is not None else None
    in_fleet = (_term("appliance", flow.appliance),) if flow.appliance is not None else ()
    return " ".join(
        (
            *in_fleet,
            _term("src", flow.src_ip),
            _term("sport", flow.src_port),
            _term("dst", flow.dest_ip),
            _term("dport", flow.dest_port),
            _term("proto", protocol),
            _term("dir", flow.direction),
        )
    )


def row_expression(row: Any) -> str | None:
    """The expression of a shown row: its flow's, or its group's drill-down."""
    group = getattr(row, "group", None)
    if group is not None:
        return str(group.grouping.drill_filter(group.value))
    flow = getattr(row, "item", None)
    return flow_expression(flow) if isinstance(flow, Flow) else None


# How long asking tmux for its set-clipboard option may take, at start (seconds).
TMUX_ASK_TIMEOUT: Final = 1.0


def tmux_set_clipboard() -> str | None:
    """tmux's ``set-clipboard`` option (``on``, ``external``, ``off``), or None when tmux
    does not say (not found, no server, too slow)."""
    try:
        done = subprocess.run(
            ["tmux", "show-options", "-gv", "set-clipboard"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TMUX_ASK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def clipboard_refusal(
    environ: Mapping[str, str],
    enabled: bool | None = None,
    tmux_option: Callable[[], str | None] = tmux_set_clipboard,
) -> str | None:
    """Why `y` does not write to the clipboard here, or None when it does (OSC 52)."""
    if enabled is False:
        return "clipboard = false in the profile"
    if enabled:
        return None
    term = environ.get("TERM", "")
    if term in ("", "dumb", "linux"):
        return f"the terminal ({term or 'no TERM'}) has no clipboard sequence (OSC 52)"
    if term.startswith("screen") and "TMUX" not in environ:
        return "GNU screen does not pass the clipboard sequence (OSC 52) on"
    if "TMUX" in environ:
        option = tmux_option()
        if option is not None and option != "on":
            return (
                f"tmux ignores the clipboard sequence (OSC 52) with set-clipboard {option}: "
                "tmux set -g set-clipboard on, or clipboard = true in the profile"
            )
    if environ.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal ignores the clipboard sequence (OSC 52)"
    return None
