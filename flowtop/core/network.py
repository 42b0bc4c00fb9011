"""The network under the Nitro client: proxies, trust, name resolution, back-pressure.

* :func:`choose_proxy` decides, as curl does, whether a request to the appliance goes
  through a proxy: ``--proxy``/``--no-proxy`` (or a profile's ``proxy``/``no_proxy``),
  else ``https_proxy``/``http_proxy`` by the appliance's scheme, then ``all_proxy``
  (lower case first, then upper case), and ``no_proxy`` with host suffixes, IP
  addresses, CIDR blocks and ``*``.  HTTP, HTTPS and SOCKS5 proxies are supported
  (``socks5://`` and ``socks5h://`` both let the proxy resolve the name).
* :func:`tls_context` verifies against the system trust store (``truststore``), plus
  ``SSL_CERT_FILE``/``SSL_CERT_DIR``; ``--ca-bundle`` replaces it; ``--insecure`` is off.
* :class:`DeadlineBackend` resolves host names in a daemon thread inside the connect
  timeout, so a resolver that never answers can neither outlast ``--timeout`` nor hold
  up quitting (a resolver thread of asyncio's default executor is joined at exit).
* :func:`retry_after_seconds` reads a ``Retry-After`` header (seconds or an HTTP date).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpcore
import truststore

from flowtop.core.errors import UsageError

__all__ = [
    "MAX_RETRY_AFTER",
    "DeadlineBackend",
    "Proxy",
    "ResolveTimeout",
    "check_proxy_url",
    "choose_proxy",
    "no_proxy_matches",
    "retry_after_seconds",
    "tls_context",
]

# An appliance asking for more than five minutes of silence is capped: the view would
# otherwise look dead.
MAX_RETRY_AFTER: Final = 300.0

_PROXY_SCHEMES: Final = ("http", "https", "socks5", "socks5h")
# curl's default proxy port, whatever the proxy speaks; https proxies default to 443.
_PROXY_DEFAULT_PORTS: Final = {"http": 1080, "https": 443, "socks5": 1080, "socks5h": 1080}


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy to use: its URL (credentials included) and how to name it in messages."""

    url: str
    shown: str  # scheme://host:port, never the credentials
    source: str  # "--proxy", "HTTPS_PROXY", ...

    @property
    def description(self) -> str:
        return f"proxy {self.shown} (from {self.source})"


# --------------------------------------------------------------------------- proxies


def choose_proxy(
    base_url: str,
    environ: Mapping[str, str] | None = None,
    *,
    proxy: str | None = None,
    no_proxy: bool = False,
) -> Proxy | None:
    """The proxy for requests to ``base_url``, or None for a direct connection.

    An explicit ``proxy`` replaces the environment's proxy variables; ``no_proxy``
    (the ``--no-proxy`` flag) means no proxy whatever the environment says.  As in
    curl, the ``no_proxy`` variable exempts hosts from either kind of proxy.
    """
    if no_proxy:
        return None
    env = os.environ if environ is None else environ
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    source = "--proxy"
    chosen = proxy.strip() if proxy else ""
    if not chosen:
        chosen, source = _proxy_from_environment(scheme, env)
    if not chosen:
        return None
    exempt = _first_set(env, ("no_proxy", "NO_PROXY"))
    if exempt and no_proxy_matches(parts.hostname or "", parts.port, exempt[0]):
        return None
    return _checked_proxy(chosen, source)


def check_proxy_url(text: str, source: str = "--proxy") -> Proxy:
    """``text`` as a proxy; UsageError (without the value, which may hold a password)."""
    return _checked_proxy(text.strip(), source)


def _first_set(env: Mapping[str, str], names: Iterable[str]) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value, name
    return None


def _proxy_from_environment(scheme: str, env: Mapping[str, str]) -> tuple[str, str]:
    names = (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY")
    found = _first_set(env, names)
    return found if found else ("", "")


def _checked_proxy(text: str, source: str) -> Proxy:
    def refuse(reason: str) -> UsageError:
        # The value is not quoted: it may carry the proxy's password.
        return UsageError(f"cannot use the proxy from {source}: {reason}")

    if "://" not in text:
        text = "http://" + text  # curl's default
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise refuse("not a valid proxy address") from None
    scheme = parts.scheme.lower()
    if scheme in ("socks4", "socks4a", "socks"):
        raise refuse(f"{scheme}:// proxies are not supported; use socks5h://")
    if scheme not in _PROXY_SCHEMES:
        raise refuse(f"unsupported scheme {scheme}://; use http://, https:// or socks5h://")
    host = parts.hostname
    if not host:
        raise refuse("no host in the proxy address")
    port = port or _PROXY_DEFAULT_PORTS[scheme]
    shown_host = f"[{host}]" if ":" in host else host
    netloc = f"{parts.netloc.rsplit('@', 1)[0]}@" if "@" in parts.netloc else ""
    url = f"{scheme}://{netloc}{shown_host}:{port}"
    return Proxy(url=url, shown=f"{scheme}://{shown_host}:{port}", source=source)


def no_proxy_matches(host: str, port: int | None, patterns: str) -> bool:
    """Whether a ``no_proxy`` list exempts ``host``, as curl and requests read it.

    Entries are separated by commas or spaces: ``*`` (everything), a host name that
    also covers its subdomains (a leading dot or ``*.`` is optional), an IP address, or
    a CIDR block (``10.0.0.0/8``, ``fd00::/8``).  ``name:port`` applies to that port only.
    """
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        return False
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in patterns.replace(",", " ").split():
        entry = entry.lower()
        if entry == "*":
            return True
        entry, wanted_port = _split_port(entry)
        if wanted_port is not None and port is not None and wanted_port != port:
            continue
        if address is not None:
            if _address_matches(address, entry):
                return True
            continue
        name = entry.removeprefix("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        inside, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return inside, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None


def _address_matches(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    try:
        if "/" in entry:
            return address in ipaddress.ip_network(entry, strict=False)
        return address == ipaddress.ip_address(entry)
    except ValueError:
        return False


# --------------------------------------------------------------------------- TLS trust


def tls_context(
    *,
    insecure: bool = False,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ssl.SSLContext | bool:
    """The certificate verification to use, as httpx's ``verify``.

    By default the operating system's trust store (a corporate CA installed there is
    trusted), plus the certificates named by ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``.
    ``ca_bundle`` trusts exactly that bundle; ``insecure`` verifies nothing.
    """
    if insecure and ca_bundle:
        raise UsageError("--insecure and --ca-bundle contradict each other; choose one")
    if insecure:
        return False
    if ca_bundle:
        return _bundle_context(ca_bundle)
    env = os.environ if environ is None else environ
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for name, keyword in (("SSL_CERT_FILE", "cafile"), ("SSL_CERT_DIR", "capath")):
        value = env.get(name, "").strip()
        if not value:
            continue
        try:
            context.load_verify_locations(**{keyword: value})
        except (OSError, ssl.SSLError, ValueError) as error:
            raise UsageError(f"cannot use {name}={_quoted(value)}: {_file_reason(error)}") from None
    return context


def _bundle_context(ca_bundle: str) -> ssl.SSLContext:
    path = os.path.expanduser(ca_bundle)
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as error:
        reason = _file_reason(error)
    # The whole path: a person needs all of it to find the mistake.
    raise UsageError(f"cannot use CA bundle {_quoted(ca_bundle)}: {reason}")


def _quoted(text: str) -> str:
    return repr("".join(ch for ch in text if ch.isprintable())[:4096])


def _file_reason(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a directory"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, ssl.SSLError):
        return "no PEM certificates in it"
    text = "".join(ch for ch in str(error) if ch.isprintable())[:80]
    return text or type(error).__name__


# --------------------------------------------------------------------------- resolution


class ResolveTimeout(Exception):
    """The name resolver did not answer within the connect timeout."""

    def __init__(self, host: str, timeout: float | None) -> None:
        super().__init__(host)
        self.host = host
        self.timeout = timeout


async def resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of ``host``, looked up in a daemon thread, within ``timeout``.

    A daemon thread rather than the loop's executor: a lookup that hangs past the
    timeout is abandoned and cannot delay the end of the program.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[Any]] = loop.create_future()

    def settle(outcome: BaseException | list[Any]) -> None:
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def work() -> None:
        outcome: BaseException | list[Any]
        try:
            outcome = list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as error:
            outcome = error
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:
            pass  # the loop is gone: nobody is waiting any more

    threading.Thread(target=work, name="flowtop-resolve", daemon=True).start()
    try:
        async with asyncio.timeout(timeout):
            infos = await future
    except TimeoutError:
        raise ResolveTimeout(host, timeout) from None
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class DeadlineBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with name resolution inside the connect timeout.

    ``connects`` counts new TCP connections, which tells a request that failed on a
    reused keep-alive connection from one that failed on a fresh one.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner
        self.connects = 0

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects += 1
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address,
                socket_options=socket_options,
            )  # fmt: skip
        started = time.monotonic()
        try:
            addresses = await resolve(host, port, timeout)
        except ResolveTimeout as error:
            raise httpcore.ConnectTimeout(f"name resolution of {host} timed out") from error
        except OSError as error:
            raise httpcore.ConnectError(f"name resolution of {host} failed") from error
        if not addresses:
            raise httpcore.ConnectError(f"no address for {host}")
        last: Exception | None = None
        for index, address in enumerate(addresses):
            share: float | None = None
            if timeout is not None:
                remaining = timeout - (time.monotonic() - started)
                if remaining <= 0:
                    raise httpcore.ConnectTimeout(f"connecting to {host} timed out")
                # Later addresses keep a share of the time, so one black hole cannot eat it.
                share = remaining / (len(addresses) - index)
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=share, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# --------------------------------------------------------------------------- back-pressure


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay or HTTP date), capped; else None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    seconds: float
    if value.isdigit():
        seconds = float(int(value[:12]))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))
