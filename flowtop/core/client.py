"""The Nitro API client: session login, the flows GET, and typed errors for people.

One :class:`NitroClient` talks to one appliance.  It logs in with a session cookie
(kept opaque in httpx's cookie jar), fetches the flows resource, logs in again once
when the session has expired, and turns every failure into one of the typed errors
of :mod:`flowtop.core.errors` with a single readable line that names the address.

The password never leaves this module in readable form: it is held as a
``SecretStr``, the login body is a stream object whose repr is masked (so even a
traceback that shows local variables cannot print it), and errors are built from
fresh messages raised outside the ``except`` block that caught the httpx error,
so no exception chain carries the request.

Timeouts: ``timeout`` bounds each read, write and wait for a pooled connection; the
connect phase (TCP plus TLS handshake) is bounded by ``min(timeout, 5 s)`` because
an unreachable address should fail fast while a busy appliance may legitimately
take longer to compute its answer.  The read timeout is per read, not per answer, so the
whole answer also has a deadline of ``ANSWER_DEADLINE_FACTOR * timeout``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

import flowtop
from flowtop.core import glyphs
from flowtop.core.errors import (
    ApplianceError,
    AuthenticationError,
    ConnectError,
    FlowtopError,
    UnreadableAnswer,
    UsageError,
)
from flowtop.core.model import ParsedFlows, describe_body, parse_flows, strip_control

__all__ = [
    "FLOWS_PATH",
    "LOGIN_PATHS",
    "MAX_STATS_CHOICES",
    "NitroClient",
    "RawAnswer",
    "normalize_base_url",
    "parse_error_body",
]

log = logging.getLogger(__name__)

MAX_STATS_CHOICES: Final = (50, 100, 1000)
FLOWS_PATH: Final = "/sdwan/nitro/v2/monitor/flows"
# Public clients use v1; release 11 documents v2.  v1 first, v2 when v1 is missing.
LOGIN_PATHS: Final = ("/sdwan/nitro/v1/config/login", "/sdwan/nitro/v2/config/login")

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024 * 1024
MESSAGE_CAP: Final = 200
ANSWER_DEADLINE_FACTOR: Final = 3.0
CONNECT_TIMEOUT_CAP: Final = 5.0
# Logout happens while the program is quitting: it must not hold the exit up.
LOGOUT_TIMEOUT: Final = 2.0

_MASK: Final = "**********"
_MIB: Final = 1024 * 1024
_KIB: Final = 1024
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_NITRO_PATH = re.compile(r"/sdwan/nitro(?:/.*)?$", re.IGNORECASE)
# Host names: letters (any script), digits, hyphens and underscores, dot separated.
_HOSTNAME = re.compile(r"^[^\W_]([\w-]*)(\.[\w-]+)*\.?$")
_WHITESPACE = re.compile(r"\s+")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f]")
# ssl reasons that mean "the other end does not speak TLS at all".
_NOT_TLS_REASONS: Final = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"}
)


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """The flows answer exactly as received, for parsing and for recording."""

    body: bytes
    content_type: str
    latency: float  # seconds, request start to last byte (time.perf_counter)
    received_at: float  # time.time() wall clock when the answer completed


# --------------------------------------------------------------------------- URLs


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
    try:
        # httpx applies IDNA both ways; failing later would not say why.
        _ = httpx.URL(result).host
    except (httpx.InvalidURL, ValueError):
        raise UsageError(f"invalid host name in appliance address {shown}") from None
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


def _shown(text: str, limit: int = 80) -> str:
    """A piece of user input, safe and short enough to quote in a message."""
    return repr(_clean_message(text, limit))


def _address_for_messages(base_url: str) -> str:
    parts = urlsplit(base_url)
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return f"{host}:{port}"


# --------------------------------------------------------------------------- messages


def _clean_message(text: str, limit: int = MESSAGE_CAP) -> str:
    """Appliance text made inert and short: no control characters, one line, capped."""
    text = _WHITESPACE.sub(" ", strip_control(_LINE_BREAKS.sub(" ", text))).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + glyphs.current().ellipsis
    return text


def _size_text(size: int) -> str:
    if size % _MIB == 0:
        return f"{size // _MIB} MiB"
    if size % _KIB == 0:
        return f"{size // _KIB} KiB"
    return f"{size} bytes"


def _seconds(value: float | None) -> str:
    return f"{value:g}s" if value is not None else "the time limit"


def parse_error_body(body: bytes, content_type: str = "") -> tuple[int | None, str | None]:
    """The (errorcode, errormessage) of an error answer, read leniently.

    Accepts the ErrorSchema (both keys optional, the code as a number or a string of
    digits), the older ``message`` key, plain text, and says "an HTML page" for the
    error pages of proxies.  The message is cleaned and capped.
    """
    if not body.strip():
        return None, None
    try:
        document: Any = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        description = describe_body(body, content_type)
        if description.startswith(("an HTML", "an XML")):
            return None, description
        # Plain text, as some proxies and older firmware send; binary gets described.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None, description
        return None, _clean_message(text) or None
    if isinstance(document, str):
        return None, _clean_message(document) or None
    if not isinstance(document, dict):
        return None, None
    code = _lenient_code(document.get("errorcode"))
    for key in ("errormessage", "message"):
        value = document.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return code, _clean_message(value) or None
    return code, None


def _lenient_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        return int(value)
    return None


# --------------------------------------------------------------------------- the client


class _LoginBody(httpx.AsyncByteStream):
    """The login request body, serialised only while httpx sends it.

    Its repr is masked, so a traceback that prints local variables (as rich and
    Textual do) shows nothing but the user name.
    """

    def __init__(self, username: str, password: SecretStr) -> None:
        self._username = username
        self._password = password

    def _encode(self) -> bytes:
        document = {
            "login": {"username": self._username, "password": self._password.get_secret_value()}
        }
        return json.dumps(document).encode("utf-8")

    def __len__(self) -> int:
        return len(self._encode())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._encode()

    def __repr__(self) -> str:
        return f"_LoginBody(username={self._username!r}, password={_MASK!r})"


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    # Kept out of the repr: an appliance error page may echo what was sent to it.
    body: bytes = field(repr=False)
    content_type: str
    location: str
    started: float  # time.perf_counter()
    finished: float  # time.perf_counter()
    received_at: float  # time.time()


class NitroClient:
    """An async client for one appliance's Nitro API; one request in flight at a time.

    Use it as an async context manager, or call :meth:`close` to log out.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        insecure: bool = False,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url: str = normalize_base_url(base_url)
        self.username: str = username
        self.host: str = _address_for_messages(self.base_url)
        self._password = SecretStr(password)
        if not timeout > 0:
            raise UsageError(f"the timeout must be a positive number of seconds (got {timeout!r})")
        if max_body_bytes <= 0:
            raise UsageError(f"the answer size cap must be positive (got {max_body_bytes!r})")
        self.timeout: float = float(timeout)
        self.max_body_bytes: int = max_body_bytes
        self.login_count: int = 0
        self._login_path: str | None = None
        self._logged_in = False
        self._closed = False
        self._lock = asyncio.Lock()
        verify = _verify_setting(insecure=insecure, ca_bundle=ca_bundle)
        self._timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT_CAP))
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=verify,
            timeout=self._timeout,
            follow_redirects=False,
            headers={
                "User-Agent": f"flowtop/{flowtop.__version__}",
                "Accept": "application/json",
            },
        )

    def __repr__(self) -> str:
        return f"NitroClient(base_url={self.base_url!r}, username={self.username!r})"

    async def __aenter__(self) -> NitroClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- public operations

    async def login(self) -> None:
        """Log in now (a fresh session); raises AuthenticationError when refused."""
        self._check_open()
        async with self._lock:
            await self._login()

    async def fetch_flows(self, max_stats: int = 100) -> RawAnswer:
        """The raw flows answer; logs in first when needed and again once after a 401."""
        _check_max_stats(max_stats)
        self._check_open()
        async with self._lock:
            fresh = False
            if not self._logged_in:
                await self._login()
                fresh = True
            answer = await self._get_flows(max_stats)
            if answer.status == 401:
                self._logged_in = False
                if fresh:
                    # The session is seconds old: another login would only repeat this.
                    raise self._auth_error(answer, "the new session was refused")
                log.info("session at %s expired; logging in again", self.host)
                await self._login()
                answer = await self._get_flows(max_stats)
                if answer.status == 401:
                    self._logged_in = False
                    raise self._auth_error(answer, "the new session was refused")
            if answer.status != 200:
                raise self._appliance_error(answer, f"the appliance at {self.host}")
            return RawAnswer(
                body=answer.body,
                content_type=answer.content_type,
                latency=answer.finished - answer.started,
                received_at=answer.received_at,
            )

    async def get_flows(self, max_stats: int = 100) -> tuple[RawAnswer, ParsedFlows]:
        """The flows answer and its parsed flows; UnreadableAnswer when it is no flows list."""
        answer = await self.fetch_flows(max_stats)
        return answer, parse_flows(answer.body, answer.content_type)

    async def close(self) -> None:
        """Log out (best effort, short timeout) and release connections; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            async with asyncio.timeout(LOGOUT_TIMEOUT):
                async with self._lock:
                    await self._logout()
        except (FlowtopError, TimeoutError, OSError) as error:
            log.debug("logout from %s failed: %s", self.host, type(error).__name__)
        finally:
            self._logged_in = False
            await self._http.aclose()

    # -- internals

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this NitroClient is closed")

    async def _login(self) -> None:
        self.login_count += 1
        self._logged_in = False
        # A stale cookie must not ride along with a fresh login.
        self._http.cookies.clear()
        paths = (self._login_path,) if self._login_path else LOGIN_PATHS
        answer: _Answer | None = None
        for path in paths:
            body = _LoginBody(self.username, self._password)
            answer = await self._request(
                "POST",
                self.base_url + path,
                content=body,
                headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
            )
            log.debug("login at %s%s: HTTP %d", self.host, path, answer.status)
            if answer.status == 200:
                self._login_path = path
                self._logged_in = True
                return
            if answer.status not in (404, 405):
                break
        assert answer is not None
        if answer.status in (401, 403):
            raise self._auth_error(answer)
        raise self._appliance_error(answer, f"the login resource at {self.host}")

    async def _logout(self) -> None:
        if not self._logged_in or self._login_path is None:
            return
        answer = await self._request(
            "DELETE",
            self.base_url + self._login_path,
            timeout=httpx.Timeout(min(self.timeout, LOGOUT_TIMEOUT)),
        )
        log.debug("logout at %s: HTTP %d", self.host, answer.status)
        self._http.cookies.clear()

    async def _get_flows(self, max_stats: int) -> _Answer:
        # The colon stays literal: it is legal in a query and is what the vendor's
        # examples send (httpx's params= would encode it as %3A).
        url = f"{self.base_url}{FLOWS_PATH}?filter=max_stats:{max_stats}"
        answer = await self._request("GET", url)
        log.debug(
            "flows from %s: HTTP %d, %d bytes in %.3fs",
            self.host,
            answer.status,
            len(answer.body),
            answer.finished - answer.started,
        )
        return answer

    async def _request(
        self,
        method: str,
        url: str,
        *,
        content: httpx.AsyncByteStream | None = None,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> _Answer:
        """One request, its body read in a stream under the size cap.

        Every failure becomes a typed error raised outside the ``except`` block, so
        the httpx exception (which holds the request) is not chained to it.
        """
        limits = timeout or self._timeout
        cap = self.max_body_bytes
        started = time.perf_counter()
        phase = "connect"
        failure: FlowtopError
        # Read timeouts are per read: a server trickling a byte at a time would hold
        # the one request in flight forever.  The whole answer gets a deadline too.
        deadline = ANSWER_DEADLINE_FACTOR * max(limits.read or self.timeout, self.timeout)
        try:
            async with (
                asyncio.timeout(deadline),
                self._http.stream(
                    method,
                    url,
                    content=content,
                    headers=headers,
                    timeout=limits,
                ) as response,
            ):
                phase = "body"
                encoding = response.headers.get("content-encoding", "identity").lower()
                declared = response.headers.get("content-length", "")
                if encoding == "identity" and declared.isdigit() and int(declared) > cap:
                    raise UnreadableAnswer(f"answer larger than {_size_text(cap)} cap")
                chunks: list[bytes] = []
                size = 0
                # aiter_bytes yields decoded bytes, so the cap also stops a zip bomb.
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise UnreadableAnswer(f"answer larger than {_size_text(cap)} cap")
                    chunks.append(chunk)
                return _Answer(
                    status=response.status_code,
                    body=b"".join(chunks),
                    content_type=response.headers.get("content-type", ""),
                    location=response.headers.get("location", ""),
                    started=started,
                    finished=time.perf_counter(),
                    received_at=time.time(),
                )
        except httpx.HTTPError as error:
            failure = self._transport_failure(error, phase, limits)
        except TimeoutError:
            failure = ConnectError(
                f"no complete answer from {self.host} within {_seconds(deadline)}"
                " (the answer came too slowly)"
            )
        raise failure

    def _transport_failure(
        self, error: httpx.HTTPError, phase: str, limits: httpx.Timeout
    ) -> FlowtopError:
        host = self.host
        if isinstance(error, httpx.ConnectTimeout):
            return ConnectError(
                f"no connection to {host} within {_seconds(limits.connect)} (connect timeout)"
            )
        if isinstance(error, httpx.ReadTimeout):
            if phase == "body":
                stalled = _seconds(limits.read)
                return ConnectError(f"answer from {host} stalled over {stalled} (read timeout)")
            return ConnectError(
                f"no answer from {host} within {_seconds(limits.read)} (read timeout)"
            )
        if isinstance(error, httpx.WriteTimeout):
            return ConnectError(
                f"{host} did not take the request within {_seconds(limits.write)} (write timeout)"
            )
        if isinstance(error, httpx.PoolTimeout):
            return ConnectError(
                f"no free connection to {host} within {_seconds(limits.pool)} (pool timeout)"
            )
        if isinstance(error, httpx.DecodingError):
            return UnreadableAnswer(f"the answer from {host} could not be decompressed")
        if isinstance(error, httpx.ConnectError):
            return ConnectError(_describe_connect_failure(error, host))
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
            if phase == "body":
                return ConnectError(f"connection to {host} dropped mid-answer")
            if isinstance(error, httpx.ReadError):
                return ConnectError(f"connection to {host} dropped before an answer")
            return ConnectError(f"{host} closed the connection without a valid HTTP answer")
        if isinstance(error, httpx.WriteError):
            return ConnectError(f"connection to {host} dropped while sending the request")
        # httpx's own text is left out: it could quote the request.
        return ConnectError(f"request to {host} failed ({type(error).__name__})")

    def _auth_error(self, answer: _Answer, fallback: str = "") -> AuthenticationError:
        _, message = self._error_details(answer)
        reason = message or fallback or f"HTTP {answer.status}"
        if message and fallback:
            reason = f"{fallback} ({message})"
        user = _clean_message(self.username, 80)
        return AuthenticationError(
            f"authentication failed for user {user} at {self.host}: {reason}"
        )

    def _appliance_error(self, answer: _Answer, what: str) -> ApplianceError:
        code, message = self._error_details(answer)
        return ApplianceError(answer.status, code, message, what=what)

    def _error_details(self, answer: _Answer) -> tuple[int | None, str | None]:
        """The appliance's error code and message, with any echo of the password masked.

        Masking happens on the raw body as well as on the final text, so capping the
        message cannot leave a readable piece of the password behind.
        """
        secret = self._password.get_secret_value()
        # A very short password would mask ordinary letters; it is not recognisable anyway.
        maskable = len(secret) >= 4
        body = answer.body
        if maskable:
            body = body.replace(secret.encode("utf-8"), _MASK.encode("ascii"))
        code, message = parse_error_body(body, answer.content_type)
        if 300 <= answer.status < 400 and answer.location:
            location = answer.location.replace(secret, _MASK) if maskable else answer.location
            message = f"redirects to {_clean_message(location, 120)}"
        if message and maskable:
            message = message.replace(secret, _MASK)
        return code, message


def _check_max_stats(max_stats: object) -> None:
    if (
        isinstance(max_stats, int)
        and not isinstance(max_stats, bool)
        and max_stats in MAX_STATS_CHOICES
    ):
        return
    choices = ", ".join(str(choice) for choice in MAX_STATS_CHOICES)
    raise UsageError(
        f"max_stats must be one of {choices} (got {_clean_message(repr(max_stats), 40)})"
    )


def _verify_setting(*, insecure: bool, ca_bundle: str | None) -> ssl.SSLContext | bool:
    if insecure and ca_bundle:
        raise UsageError("--insecure and --ca-bundle contradict each other; choose one")
    if insecure:
        return False
    if not ca_bundle:
        return True
    path = os.path.expanduser(ca_bundle)
    try:
        return ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "it is a directory"
    except PermissionError:
        reason = "permission denied"
    except ssl.SSLError:
        reason = "no PEM certificates in it"
    except (OSError, ValueError) as error:
        reason = _clean_message(str(error), 80) or type(error).__name__
    # The whole path: a person needs all of it to find the mistake.
    raise UsageError(f"cannot use CA bundle {_shown(ca_bundle, 4096)}: {reason}")


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, its causes and contexts, and members of exception groups."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__context__, current.__cause__):
            if linked is not None:
                stack.append(linked)


def _describe_connect_failure(error: httpx.ConnectError, host: str) -> str:
    causes = list(_causes(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = getattr(cause, "verify_message", None) or cause.reason or "rejected"
            detail = _clean_message(str(detail), 120)
            return (
                f"TLS certificate verification failed for {host}: {detail}; "
                "use --insecure or --ca-bundle"
            )
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or cause.strerror or type(cause).__name__
            hint = "; is it a plain http:// address?" if cause.reason in _NOT_TLS_REASONS else ""
            return f"TLS handshake with {host} failed: {_clean_message(str(reason), 120)}{hint}"
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            reason = _clean_message(cause.strerror or "unknown name", 120)
            return f"DNS lookup failed for {host}: {reason}"
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return f"connection to {host} refused"
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect to {host}: {_clean_message(cause.strerror, 120)}"
    return f"cannot connect to {host}"
