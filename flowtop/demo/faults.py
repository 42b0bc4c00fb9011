"""Misbehaviour the demo appliance can be told to show, so clients can be tested against it.

Everything a real appliance, or a proxy in front of one, has been seen to do or plausibly
does: error statuses, bodies that are not flows, slow answers, connections cut mid-body,
expiring sessions, huge bodies, a login resource only under v2, and text that tries to
style, link or take over a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


@dataclass
class Faults:
    """What to do wrong; every field's default is to behave.  Mutable while serving."""

    status: int | None = None
    """Answer flows requests with this HTTP status and an ErrorSchema body."""
    error_body: bytes | None = None
    """With ``status``: this raw body instead (``b""`` = an empty body)."""
    body: bytes | None = None
    """Answer flows requests with this raw body, status 200."""
    retry_after: str | None = None
    """With ``status``: a ``Retry-After`` header (seconds or an HTTP date)."""
    content_type: str = "application/json"
    """The Content-Type that goes with ``body`` or ``error_body``."""
    delay: float = 0.0
    """Seconds to wait before answering any request."""
    drop_mid_body: bool = False
    """Send the headers of a flows answer and half its body, then close the connection."""
    session_ttl: float | None = None
    """Sessions expire this many clock-seconds after login."""
    pad_to: int | None = None
    """Make the flows body at least this many bytes (still valid JSON)."""
    login_v1_missing: bool = False
    """The v1 login resource answers 404; only v2 works."""
    hostile_text: bool = False
    """Some flows carry markup, escape sequences, odd values and an unknown field."""


# One flow in HOSTILE_EVERY carries hostile content; which one is fixed by the flow's
# identity, so the same flow stays hostile from one answer to the next.
HOSTILE_EVERY: Final = 10
HOSTILE_EXTRA_FIELD: Final = "x_vendor_extra"

_LONG_NAME: Final = "VeryLongApplicationNameFromAMisconfiguredSignature-" * 12

# Each entry replaces some values of a flow.  Markup for Rich/Textual, terminal escape
# sequences, Textual actions, line breaks, bidi overrides and wide characters exercise
# display safety; the later entries exercise lenient parsing of values.
_HOSTILE_VARIANTS: Final[tuple[dict[str, Any], ...]] = (
    {
        "application": "[bold red]pwn[/]",
        "service_name": "[link=http://x]click[/link]",
    },
    {
        "path": "\x1b[2J\x1b[31mESC",
        "application": "\x1b]8;;http://x\x1b\\osc-link\x1b]8;;\x1b\\",
    },
    {
        "application": "@click=app.quit",
        "service_name": "[@click=app.quit]quit[/]",
    },
    {
        "service_name": "line one\r\nline two",
        "application": "tab\there\x00nul",
    },
    {
        "application": _LONG_NAME,
        "path": "DC-MPLS->" + "Branch-" * 60 + "MPLS",
    },
    {
        "application": "Zoom \U0001f3a5\U0001f4de \u4f1a\u8bae",
        "service_name": "\u0645\u0633\u0627\u0631-\u0627\u0644\u0641\u0631\u0639",
        "path": "\u202eSLPM-hcnarB>-SLPM-CD",
    },
    {
        "bytes": "",
        "pps": "N/A",
        "packets": 1234,
        "customer_kbps": 12.5,
        "age": "-",
        "hitcount": "1,234",
    },
    {
        "src_port": 51234,
        "dest_port": "https",
        "ipp": "tcp",
        "lan_gw_ip": "",
        "dest_ip": "N/A",
        "hdr_compression_bytes": "1.5e3",
    },
    {
        "age": 61000,
        "bytes": 987654,
        "ipsec_overhead_kbps": True,
        "virtual_path_overhead_kbps": 0,
        "vpathclass": 12,
        "rule_id": None,
    },
    {
        "application": "Z\u200be\u200br\u200bo-width \uff21\uff50\uff50 e\u0301",
        "service_name": "  padded  ",
        "src_ip": " 10.1.10.5 ",
        "dest_ip": "[fd00:20:10::5]",
    },
)


def is_hostile(uid: int) -> bool:
    """Whether the flow with this identity carries hostile content."""
    return uid % HOSTILE_EVERY == HOSTILE_EVERY // 2


def hostile_row(row: dict[str, str], uid: int) -> dict[str, Any]:
    """The row as sent in hostile mode: unchanged unless :func:`is_hostile` picks it.

    A picked row keeps all 26 fields (some with odd values) and gains an unknown field.
    """
    if not is_hostile(uid):
        return dict(row)
    variant = _HOSTILE_VARIANTS[(uid // HOSTILE_EVERY) % len(_HOSTILE_VARIANTS)]
    changed: dict[str, Any] = dict(row)
    changed.update(variant)
    changed[HOSTILE_EXTRA_FIELD] = (
        {"note": "[blink]unknown[/]", "codes": [1, "\x1b[5m"]}
        if (uid // HOSTILE_EVERY) % 2
        else "[reverse]surprise[/]"
    )
    return changed
