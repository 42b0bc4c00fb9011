"""The appliance's address: what a person typed, as a base URL (no httpx needed)."""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

import idna

from flowtop.core import glyphs
from flowtop.core.errors import UsageError
from flowtop.core.model import strip_control

__all__ = ["DEFAULT_PORTS", "normalize_base_url"]

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_DEFAULT_PORTS: Final = DEFAULT_PORTS
_NITRO_PATH = re.compile(r"/sdwan/nitro(?:/.*)?$", re.IGNORECASE)
# Host names: letters (any script), digits, hyphens and underscores, dot separated.
_HOSTNAME = re.compile(r"^[^\W_]([\w-]*)(\.[\w-]+)*\.?$")
# What httpx checks as an IPv4 address.
_IPV4_STYLE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")
_WHITESPACE = re.compile(r"\s+")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f]")


def normalize_base_url(text: str) -> str:
    """The appliance's base URL from what a person typed.

    A bare host or ``host:port`` means ``https://``; ``http://`` and ``https://`` are
    kept as given.  A trailing slash and a pasted ``/sdwan/nitro/...`` path (with its
    query) are dropped; any other path is kept as a reverse-proxy prefix.  IPv6
    literals may be bare (``2001:db8::1``) or bracketed (``[2001:db8::1]:8443``).
    Raises :class:`UsageError` for anything that is not an http(s) address.
    """
    if "@" in text:
        # Not echoed: the part before "@" may well be a password.
        raise UsageError("credentials in the appliance address are not supported; use --user")
    shown = _shown(text)
    text = text.strip()
    if not text:
        raise UsageError("the appliance address is empty")
    if _WHITESPACE.search(text) or not text.isprintable():
        raise UsageError(
            f"not an appliance address (contains spaces or control characters): {shown}"
        )
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in _DEFAULT_PORTS:
            raise UsageError(f"unsupported scheme {scheme!r} in {shown}; use http:// or https://")
    else:
        if text.count(":") >= 2 and not text.startswith("["):
            # A bare IPv6 literal; it cannot carry a port without brackets.
            text = f"[{text}]"
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        raise UsageError(f"not an appliance address: {shown}") from None
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"invalid port in appliance address {shown}") from None
    if port == 0:
        raise UsageError(f"invalid port in appliance address {shown}")
    host = _checked_host(parts.hostname, parts.netloc, shown)
    netloc = host if port is None else f"{host}:{port}"
    path = _NITRO_PATH.sub("", parts.path).rstrip("/")
    result = f"{scheme}://{netloc}{path}"
    if not host.startswith("[") and not _idna_host_ok(host):
        # httpx applies IDNA both ways; failing later would not say why.
        raise UsageError(f"invalid host name in appliance address {shown}")
    return result


def _checked_host(hostname: str | None, netloc: str, shown: str) -> str:
    if not hostname:
        raise UsageError(f"no host in appliance address {shown}")
    if netloc.startswith("["):
        try:
            address = ipaddress.IPv6Address(hostname)
        except ValueError:
            raise UsageError(f"invalid IPv6 address in {shown}") from None
        return f"[{address.compressed}]"
    if not _HOSTNAME.match(hostname):
        raise UsageError(f"invalid host name in appliance address {shown}")
    return hostname.lower()


def _idna_host_ok(host: str) -> bool:
    """Whether httpx can encode ``host`` and decode it back (as ``httpx.URL.host`` does)."""
    if _IPV4_STYLE.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    try:
        encoded = host if host.isascii() else idna.encode(host).decode("ascii")
        if encoded.startswith("xn--"):
            idna.decode(encoded)
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    return True


def _shown(text: str, limit: int = 80) -> str:
    """A piece of user input, safe and short enough to quote in a message."""
    text = _WHITESPACE.sub(" ", strip_control(_LINE_BREAKS.sub(" ", text))).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + glyphs.current().ellipsis
    return repr(text)
