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
connect phase (name resolution, TCP and TLS handshake) is bounded by ``min(timeout, 5 s)`` because
an unreachable address should fail fast while a busy appliance may legitimately
take longer to compute its answer.  The read timeout is per read, not per answer, so the
whole answer also has a deadline of ``ANSWER_DEADLINE_FACTOR * timeout``.

The network around it (proxies as curl chooses them, the system trust store, name
resolution that cannot outlive the timeout) is set up by :mod:`flowtop.core.network`.
A GET that meets a kept-alive connection the appliance has just closed is sent once
more on a fresh connection; 429 and 503 answers raise :class:`Throttled` with the
appliance's ``Retry-After``.  Every form of the password flowtop sends (raw,
JSON-escaped, URL-encoded, base64 of ``user:password``) is masked in every message.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import html
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlsplit

import httpcore
import httpx
from pydantic import SecretStr

import flowtop
from flowtop.core import glyphs
from flowtop.core.config.schema import MAX_STATS_CHOICES
from flowtop.core.errors import (
    ApplianceError,
    AuthenticationError,
    ConnectError,
    FlowtopError,
    Throttled,
    UnreadableAnswer,
    UsageError,
)
from flowtop.core.model import ParsedFlows, describe_body, parse_flow_steps, strip_control
from flowtop.core.network import (
    DeadlineBackend,
    Proxy,
    ResolveTimeout,
    choose_proxy,
    resolve,
    retry_after_seconds,
    tls_context,
)
from flowtop.core.steps import run_sliced
from flowtop.core.urls import DEFAULT_PORTS, normalize_base_url

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
_DEFAULT_PORTS: Final = DEFAULT_PORTS
_WHITESPACE = re.compile(r"\s+")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f]")
# ssl reasons that mean "the other end does not speak TLS at all".
_NOT_TLS_REASONS: Final = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"}
)
_NOT_TLS_FAILURES: Final = (
    ssl.SSLWantReadError,
    ssl.SSLWantWriteError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
    ssl.SSLSyscallError,
)
# ssl reasons that mean "the server wants a client certificate".
_CLIENT_CERTIFICATE_REASONS: Final = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "PEER_DID_NOT_RETURN_A_CERTIFICATE",
        "SSLV3_ALERT_BAD_CERTIFICATE",
    }
)


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """The flows answer exactly as received, for parsing and for recording."""

    body: bytes
    content_type: str
    latency: float  # seconds, request start to last byte (time.perf_counter)
    received_at: float  # time.time() wall clock when the answer completed


# --------------------------------------------------------------------------- URLs


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


def parse_error_body(
    body: bytes,
    content_type: str = "",
    *,
    mask: Callable[[str], str] | None = None,
    errormessage_only: bool = False,
) -> tuple[int | None, str | None]:
    """The (errorcode, errormessage) of an error answer, read leniently.

    Accepts the ErrorSchema (both keys optional, the code as a number or a string of
    digits), the older ``message`` key, plain text, and says "an HTML page" for the
    error pages of proxies.  A declared charset is honoured.  The message is masked
    with ``mask`` (before and after cleaning), cleaned and capped.  With
    ``errormessage_only`` (answers to the login request, which may echo it) nothing
    but the ``errormessage`` key is quoted: no ``message``, no plain text.
    """
    try:
        body, content_type = transcode_to_utf8(body, content_type)
    except UnreadableAnswer:
        pass  # read as UTF-8 below, or described

    def shown(text: str) -> str | None:
        if mask is not None:
            text = mask(text)
        cleaned = _clean_message(text)
        if mask is not None:
            cleaned = mask(cleaned)
        return cleaned or None

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
        return None, None if errormessage_only else shown(text)
    if isinstance(document, str):
        return None, None if errormessage_only else shown(document)
    if not isinstance(document, dict):
        return None, None
    code = _lenient_code(document.get("errorcode"))
    keys = ("errormessage",) if errormessage_only else ("errormessage", "message")
    for key in keys:
        value = document.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return code, shown(value)
    return code, None


_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:+-]+)""", re.IGNORECASE)


def transcode_to_utf8(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The body in UTF-8 when its Content-Type declares another charset, and the new type.

    Bodies without a charset, in UTF-8 or ASCII, or in a charset Python does not
    know are returned unchanged (JSON is UTF-8 unless said otherwise).
    """
    match = _CHARSET.search(content_type)
    if not match:
        return body, content_type
    try:
        codec = codecs.lookup(match.group(1)).name
    except LookupError:
        return body, content_type
    if codec in ("utf-8", "ascii"):
        return body, content_type
    try:
        text = body.decode(codec)
    except (UnicodeDecodeError, ValueError):
        raise UnreadableAnswer(f"not valid {_clean_message(match.group(1), 40)} text") from None
    start, end = match.span(1)
    return text.encode("utf-8"), content_type[:start] + "utf-8" + content_type[end:]


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
    retry_after: str | None
    started: float  # time.perf_counter()
    finished: float  # time.perf_counter()
    received_at: float  # time.time()


class NitroClient:
    """An async client for one appliance's Nitro API; one request in flight at a time.

    Use it as an async context manager, or call :meth:`close` to log out.
    ``proxy`` and ``no_proxy`` are ``--proxy URL`` and ``--no-proxy``; without them the
    proxy variables of ``environ`` (default: the process environment) decide.
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
        proxy: str | None = None,
        no_proxy: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url: str = normalize_base_url(base_url)
        self.username: str = username
        self.host: str = _address_for_messages(self.base_url)
        self._password = SecretStr(password)
        self._masks = _SecretMasks(username, password)
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
        verify = tls_context(insecure=insecure, ca_bundle=ca_bundle, environ=environ)
        self._verify = verify
        self._timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT_CAP))
        # A transport given by the caller (tests, the demo) is used as it is, never proxied.
        self.proxy: Proxy | None = None
        self._backend: DeadlineBackend | None = None
        if transport is None:
            self.proxy = choose_proxy(self.base_url, environ, proxy=proxy, no_proxy=no_proxy)
            transport, self._backend = _build_transport(verify, self.proxy)
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=verify,
            timeout=self._timeout,
            follow_redirects=False,
            # The environment was read above, as curl reads it; httpx must not read it again.
            trust_env=False,
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
        """The raw flows answer; logs in first when needed and again once after a 401.

        A body in another declared charset (``iso-8859-1``) is handed on in UTF-8.
        """
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
            body, content_type = transcode_to_utf8(answer.body, answer.content_type)
            return RawAnswer(
                body=body,
                content_type=content_type,
                latency=answer.finished - answer.started,
                received_at=answer.received_at,
            )

    async def get_flows(self, max_stats: int = 100) -> tuple[RawAnswer, ParsedFlows]:
        """The flows answer and its parsed flows; UnreadableAnswer when it is no flows list."""
        answer = await self.fetch_flows(max_stats)
        # A large answer is parsed in pieces, so that keys are answered meanwhile.
        return answer, await run_sliced(parse_flow_steps(answer.body, answer.content_type))

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
            if 200 <= answer.status < 300:
                # NITRO answers 200, 201, or 209 with a warning; a non-zero errorcode in
                # the body is a refusal whatever the status says.
                code, _ = self._error_details(answer, login=True)
                if code:
                    self._http.cookies.clear()
                    raise self._auth_error(answer)
                self._login_path = path
                self._logged_in = True
                return
            if answer.status not in (404, 405):
                break
        assert answer is not None
        if answer.status in (401, 403):
            raise self._auth_error(answer)
        if answer.status == 407 and self.proxy is not None:
            raise ConnectError(f"{self.proxy.description} asks for credentials (HTTP 407)")
        raise self._appliance_error(answer, f"the login resource at {self.host}", login=True)

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
        """One request; a GET is sent once more when a kept-alive connection was dead.

        An appliance may close an idle connection just as the next request goes out;
        the request never reached it, so a GET (idempotent) is safe to send again on a
        fresh connection.  Only a reused connection counts: a fresh one that closes
        without an answer is reported at once.
        """
        attempts = 2 if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            connects = self._connects()
            outcome = await self._request_once(
                method, url, content=content, headers=headers, timeout=timeout
            )
            if isinstance(outcome, _Answer):
                return outcome
            # Without our backend (a transport given by the caller) nothing is known.
            reused = connects is not None and self._connects() == connects
            if attempt < attempts and outcome.before_answer and reused:
                log.debug("kept-alive connection to %s was closed; sending again", self.host)
                continue
            if outcome.before_answer and not reused and self._tls_direct():
                # A TLS 1.3 server refuses a missing client certificate after the
                # handshake; httpx loses the alert.  One short handshake reads it.
                refusal = await self._probe_tls_refusal()
                if refusal is not None:
                    raise ConnectError(refusal)
            raise outcome.error
        raise AssertionError("unreachable")

    def _connects(self) -> int | None:
        """How many TCP connections have been opened so far (None: unknown)."""
        return self._backend.connects if self._backend is not None else None

    def _tls_direct(self) -> bool:
        return (
            self.base_url.startswith("https://")
            and self.proxy is None
            and (self._backend is not None)
        )

    async def _probe_tls_refusal(self) -> str | None:
        """Why a TLS server closed a fresh connection before answering, when it said."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS["https"]
        context = self._verify
        if not isinstance(context, ssl.SSLContext):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(min(self.timeout, CONNECT_TIMEOUT_CAP)):
                try:
                    ipaddress.ip_address(host)
                    address = host
                except ValueError:
                    address = (await resolve(host, port, None))[0]
                reader, writer = await asyncio.open_connection(
                    address, port, ssl=context, server_hostname=host
                )
                await reader.read(1)
        except ssl.SSLError as error:
            reason = str(error.reason or "")
            if reason in _CLIENT_CERTIFICATE_REASONS or "CERTIFICATE_REQUIRED" in reason:
                return _client_certificate_message(self.host, reason)
        except (OSError, TimeoutError, IndexError, ResolveTimeout):
            pass
        finally:
            if writer is not None:
                writer.close()
        return None

    async def _request_once(
        self,
        method: str,
        url: str,
        *,
        content: httpx.AsyncByteStream | None,
        headers: dict[str, str] | None,
        timeout: httpx.Timeout | None,
    ) -> _Answer | _Failure:
        """One request, its body read in a stream under the size cap.

        Every failure becomes a typed error returned outside the ``except`` block, so
        the httpx exception (which holds the request) is not chained to it.
        """
        limits = timeout or self._timeout
        cap = self.max_body_bytes
        started = time.perf_counter()
        phase = "connect"
        failure: _Failure
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
                    retry_after=response.headers.get("retry-after"),
                    started=started,
                    finished=time.perf_counter(),
                    received_at=time.time(),
                )
        except httpx.HTTPError as error:
            before_answer = phase == "connect" and _closed_before_answer(error)
            failure = _Failure(self._transport_failure(error, phase, limits), before_answer)
        except ssl.SSLError as error:
            # httpcore leaves a TLS alert that arrives with the answer unmapped.
            message = _describe_tls_failure(list(_causes(error)), self.host, self.base_url)
            failure = _Failure(
                ConnectError((message or f"TLS failure with {self.host}") + self._through()),
                before_answer=False,
            )
        except TimeoutError:
            failure = _Failure(
                ConnectError(
                    f"no complete answer from {self.host} within {_seconds(deadline)}"
                    " (the answer came too slowly)" + self._through()
                ),
                before_answer=False,
            )
        return failure

    def _through(self) -> str:
        return f" through {self.proxy.description}" if self.proxy is not None else ""

    def _transport_failure(
        self, error: httpx.HTTPError, phase: str, limits: httpx.Timeout
    ) -> FlowtopError:
        failure = self._describe_transport_failure(error, phase, limits)
        if self.proxy is not None and self.proxy.shown not in failure.message:
            failure.message += self._through()
        return failure

    def _describe_transport_failure(
        self, error: httpx.HTTPError, phase: str, limits: httpx.Timeout
    ) -> FlowtopError:
        host = self.host
        proxy = self.proxy
        causes = list(_causes(error))
        resolve_timeout = next((c for c in causes if isinstance(c, ResolveTimeout)), None)
        if resolve_timeout is not None:
            name = _clean_message(resolve_timeout.host, 120)
            whose = f" (the {proxy.description})" if proxy is not None else ""
            return ConnectError(
                f"DNS lookup of {name}{whose} gave no answer within"
                f" {_seconds(limits.connect)} (connect timeout)"
            )
        if isinstance(error, httpx.ConnectTimeout):
            target = f"{proxy.description} for {host}" if proxy is not None else host
            return ConnectError(
                f"no connection to {target} within {_seconds(limits.connect)} (connect timeout)"
            )
        if isinstance(error, httpx.ProxyError) and proxy is not None:
            reason = _clean_message(str(error), 120) or "refused"
            return ConnectError(f"{proxy.description} could not reach {host}: {reason}")
        tls = _describe_tls_failure(causes, host, self.base_url)
        if tls is not None:
            return ConnectError(tls)
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
            return ConnectError(_describe_connect_failure(causes, host, proxy))
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
            if phase == "body":
                return ConnectError(f"connection to {host} dropped mid-answer")
            if _answered_with_tls(error):
                return ConnectError(f"{host} answered in TLS: use an https:// address")
            plain = self.base_url.startswith("http://")
            hint = "; if it serves TLS on this port, use an https:// address" if plain else ""
            if isinstance(error, httpx.ReadError):
                return ConnectError(f"connection to {host} dropped before an answer{hint}")
            return ConnectError(f"{host} closed the connection without a valid HTTP answer{hint}")
        if isinstance(error, httpx.WriteError):
            return ConnectError(f"connection to {host} dropped while sending the request")
        # httpx's own text is left out: it could quote the request.
        return ConnectError(f"request to {host} failed ({type(error).__name__})")

    def _auth_error(self, answer: _Answer, fallback: str = "") -> AuthenticationError:
        code, message = self._error_details(answer, login=True)
        if code and 200 <= answer.status < 300:
            # A success status that is a refusal: the code says why it counts as one.
            message = f"{message} (errorcode {code})" if message else f"errorcode {code}"
        reason = message or fallback or f"HTTP {answer.status}"
        if message and fallback:
            reason = f"{fallback} ({message})"
        user = _clean_message(self.username, 80)
        return AuthenticationError(
            f"authentication failed for user {user} at {self.host}: {reason}"
        )

    def _appliance_error(
        self, answer: _Answer, what: str, *, login: bool = False
    ) -> ApplianceError:
        code, message = self._error_details(answer, login=login)
        if self.proxy is not None:
            what += f" (through {self.proxy.description})"
        if answer.status in (429, 503):
            return Throttled(
                answer.status,
                code,
                message,
                what=what,
                retry_after=retry_after_seconds(answer.retry_after),
            )
        if (
            answer.status == 400
            and self.base_url.startswith("http://")
            and re.search(rb"(?i)https|\bssl\b|\btls\b", answer.body[:4096])
        ):
            message = "it expects TLS on this port: use an https:// address"
        return ApplianceError(answer.status, code, message, what=what)

    def _error_details(
        self, answer: _Answer, *, login: bool = False
    ) -> tuple[int | None, str | None]:
        """The appliance's error code and message, with any echo of the password masked.

        Masking happens on the raw body, on the decoded text and on the final text, in
        every form flowtop sends the password, so neither escaping nor capping the
        message can leave a readable piece of it behind.  For answers to the login
        request (``login``) only ``errorcode`` and ``errormessage`` are quoted.
        """
        masks = self._masks
        code, message = parse_error_body(
            masks.bytes(answer.body),
            answer.content_type,
            mask=masks.text,
            errormessage_only=login,
        )
        if 300 <= answer.status < 400 and answer.location:
            location = masks.text(answer.location)
            message = f"redirects to {masks.text(_clean_message(location, 120))}"
        return code, message


@dataclass(frozen=True, slots=True)
class _Failure:
    error: FlowtopError
    # Closed before any byte of the answer: a reused connection may be retried.
    before_answer: bool


class _SecretMasks:
    """Replaces every form of the password that flowtop sends with a mask.

    Raw, JSON-escaped (ASCII and not), URL-encoded (``quote`` and ``quote_plus``),
    HTML-escaped, and the base64 of ``user:password``; case-insensitive, since
    percent- and unicode escapes come in either case.  A password under 4 characters
    is not recognisable and is left alone (masking it would mask ordinary letters).
    """

    def __init__(self, username: str, password: str) -> None:
        forms: set[str] = set()
        if len(password) >= 4:
            for escaped in (
                json.dumps(password)[1:-1],
                json.dumps(password, ensure_ascii=False)[1:-1],
            ):
                forms.update({escaped, escaped.replace("/", "\\/")})
            forms.update(
                {
                    password,
                    quote(password, safe=""),
                    quote(password),
                    quote_plus(password, safe=""),
                    quote_plus(password),
                    html.escape(password),
                }
            )
        if password:
            pair = f"{username}:{password}".encode()
            for encoded in (base64.b64encode(pair), base64.urlsafe_b64encode(pair)):
                text = encoded.decode("ascii")
                forms.update({text, text.rstrip("=")})
        ordered = sorted((form for form in forms if form), key=len, reverse=True)
        self._text: re.Pattern[str] | None = None
        self._bytes: re.Pattern[bytes] | None = None
        if ordered:
            self._text = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)
            encoded_forms = {form.encode("utf-8") for form in ordered}
            for form in ordered:
                try:
                    encoded_forms.add(form.encode("latin-1"))
                except UnicodeEncodeError:
                    pass
            by_length = sorted(encoded_forms, key=len, reverse=True)
            self._bytes = re.compile(b"|".join(map(re.escape, by_length)), re.IGNORECASE)

    def text(self, text: str) -> str:
        return self._text.sub(_MASK, text) if self._text is not None else text

    def bytes(self, body: bytes) -> bytes:
        return self._bytes.sub(_MASK.encode("ascii"), body) if self._bytes is not None else body

    def __repr__(self) -> str:
        return "_SecretMasks(**********)"


def _build_transport(
    verify: ssl.SSLContext | bool, proxy: Proxy | None
) -> tuple[httpx.AsyncBaseTransport, DeadlineBackend | None]:
    """httpx's transport, through ``proxy`` if any, resolving names within the timeout."""
    try:
        transport = httpx.AsyncHTTPTransport(
            verify=verify, trust_env=False, proxy=proxy.url if proxy is not None else None
        )
    except ImportError:
        assert proxy is not None
        raise UsageError(
            f"cannot use {proxy.description}: SOCKS support is not installed (install httpx[socks])"
        ) from None
    except (ValueError, httpx.InvalidURL):
        where = proxy.description if proxy is not None else "the proxy"
        raise UsageError(f"cannot use {where}: not a valid proxy address") from None
    # httpcore takes a network backend only through the pool; the attribute is stable
    # across httpcore 1.x.  Without it, names are resolved by httpcore itself.
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if pool is None or not isinstance(inner, httpcore.AsyncNetworkBackend):
        return transport, None
    backend = DeadlineBackend(inner)
    pool._network_backend = backend
    return transport, backend


def _closed_before_answer(error: httpx.HTTPError) -> bool:
    """The connection closed before any byte of an answer (and not a TLS failure)."""
    if not isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return False
    if _tls_errors(list(_causes(error))):
        return False
    if isinstance(error, httpx.RemoteProtocolError):
        return "without sending a response" in str(error)
    return True


def _answered_with_tls(error: httpx.HTTPError) -> bool:
    """h11 saw a TLS record (an alert or handshake) where a status line should be."""
    text = str(error)
    return "illegal status line" in text and any(
        marker in text for marker in ("\\x15\\x03", "\\x16\\x03")
    )


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


def _tls_errors(causes: list[BaseException]) -> list[ssl.SSLError]:
    """The TLS errors among ``causes`` that say something about TLS.

    "Want read/write" is flow control, and an end of stream (clean or not) is a closed
    connection, as it would be without TLS.
    """
    return [
        cause
        for cause in causes
        if isinstance(cause, ssl.SSLError)
        and not isinstance(cause, _NOT_TLS_FAILURES)
        and "UNEXPECTED_EOF" not in str(cause.reason or cause.strerror or "")
    ]


def _describe_tls_failure(causes: list[BaseException], host: str, base_url: str) -> str | None:
    for cause in _tls_errors(causes):
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = getattr(cause, "verify_message", None) or cause.reason or "rejected"
            detail = _clean_message(str(detail), 120)
            return (
                f"TLS certificate verification failed for {host}: {detail}; trust its CA"
                " (system trust store, SSL_CERT_FILE or --ca-bundle), or use --insecure"
            )
    for cause in _tls_errors(causes):
        if isinstance(cause, ssl.SSLError):
            reason = str(cause.reason or cause.strerror or type(cause).__name__)
            if reason in _CLIENT_CERTIFICATE_REASONS or "CERTIFICATE_REQUIRED" in reason:
                return _client_certificate_message(host, reason)
            hint = "; is it a plain http:// address?" if cause.reason in _NOT_TLS_REASONS else ""
            return f"TLS handshake with {host} failed: {_clean_message(reason, 120)}{hint}"
    return None


def _client_certificate_message(host: str, reason: str) -> str:
    return (
        f"{host} asks for a client certificate (TLS alert {_clean_message(reason, 80)}),"
        " which flowtop cannot present; use an address of the appliance that does not"
        " require one"
    )


def _describe_connect_failure(
    causes: list[BaseException], host: str, proxy: Proxy | None = None
) -> str:
    # With a proxy, every TCP connection goes to the proxy: a failure to connect is its.
    target = proxy.description if proxy is not None else host
    tail = f" (on the way to {host})" if proxy is not None else ""
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            reason = _clean_message(cause.strerror or "unknown name", 120)
            return f"DNS lookup failed for {target}: {reason}{tail}"
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return f"connection to {target} refused{tail}"
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect to {target}: {_clean_message(cause.strerror, 120)}{tail}"
    return f"cannot connect to {target}{tail}"
