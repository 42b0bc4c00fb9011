"""The network layer: proxy choice as curl makes it, trust, resolution deadline, Retry-After."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpcore
import pytest
import trustme
import truststore

from flowtop.core import network
from flowtop.core.errors import UsageError
from flowtop.core.network import (
    MAX_RETRY_AFTER,
    DeadlineBackend,
    ResolveTimeout,
    check_proxy_url,
    choose_proxy,
    no_proxy_matches,
    retry_after_seconds,
    tls_context,
)

# --- which proxy ---------------------------------------------------------------------------


def test_no_proxy_variables_means_direct() -> None:
    assert choose_proxy("https://10.0.0.1", {}) is None


@pytest.mark.parametrize(
    ("url", "environ", "expected", "source"),
    [
        ("https://a.test", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128", "HTTPS_PROXY"),
        ("https://a.test", {"https_proxy": "http://p:1", "HTTPS_PROXY": "http://q:2"},
         "http://p:1", "https_proxy"),
        # The scheme of the appliance picks the variable.
        ("http://a.test", {"HTTPS_PROXY": "http://p:1", "http_proxy": "http://q:2"},
         "http://q:2", "http_proxy"),
        ("https://a.test", {"http_proxy": "http://q:2"}, None, None),
        # all_proxy covers both; the scheme's own variable wins over it.
        ("https://a.test", {"ALL_PROXY": "socks5h://127.0.0.1:1080"},
         "socks5h://127.0.0.1:1080", "ALL_PROXY"),
        ("https://a.test", {"all_proxy": "socks5h://s:1", "https_proxy": "http://p:2"},
         "http://p:2", "https_proxy"),
        # An empty value counts as unset.
        ("https://a.test", {"https_proxy": "", "HTTPS_PROXY": "http://p:3"},
         "http://p:3", "HTTPS_PROXY"),
        # curl's defaults: http:// when no scheme, port 1080 when none.
        ("https://a.test", {"HTTPS_PROXY": "proxy.corp"}, "http://proxy.corp:1080", "HTTPS_PROXY"),
        ("https://a.test", {"HTTPS_PROXY": "https://proxy.corp"}, "https://proxy.corp:443",
         "HTTPS_PROXY"),
    ],
)  # fmt: skip
def test_proxy_from_the_environment(
    url: str, environ: dict[str, str], expected: str | None, source: str | None
) -> None:
    proxy = choose_proxy(url, environ)
    if expected is None:
        assert proxy is None
    else:
        assert proxy is not None
        assert (proxy.url, proxy.source) == (expected, source)


def test_explicit_proxy_replaces_the_environment_and_no_proxy_flag_wins() -> None:
    environ = {"HTTPS_PROXY": "http://env:1"}
    proxy = choose_proxy("https://a.test", environ, proxy="socks5h://127.0.0.1:9050")
    assert proxy is not None
    assert (proxy.url, proxy.source) == ("socks5h://127.0.0.1:9050", "--proxy")
    assert choose_proxy("https://a.test", environ, no_proxy=True) is None


def test_proxy_credentials_are_used_but_never_shown() -> None:
    proxy = choose_proxy("https://a.test", {"HTTPS_PROXY": "http://bob:s3cr3t@p.corp:8080"})
    assert proxy is not None
    assert proxy.url == "http://bob:s3cr3t@p.corp:8080"
    assert proxy.shown == "http://p.corp:8080"
    assert "s3cr3t" not in proxy.description
    assert proxy.description == "proxy http://p.corp:8080 (from HTTPS_PROXY)"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("socks4://u:pw@127.0.0.1:1080", "socks4:// proxies are not supported; use socks5h://"),
        ("ftp://u:pw@p:21", "unsupported scheme ftp://"),
        ("http://u:pw@:3128", "no host"),
        ("http://u:pw@p:99999", "not a valid proxy address"),
    ],
)
def test_unusable_proxies_are_one_line_without_the_value(value: str, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        choose_proxy("https://a.test", {"ALL_PROXY": value})
    assert caught.value.message.startswith("cannot use the proxy from ALL_PROXY: ")
    assert reason in caught.value.message
    assert "pw" not in caught.value.message
    with pytest.raises(UsageError):
        check_proxy_url(value)


@pytest.mark.parametrize(
    ("host", "port", "patterns", "exempt"),
    [
        ("127.0.0.1", 443, "127.0.0.0/8", True),
        ("10.1.2.3", 443, "localhost, 10.0.0.0/8", True),
        ("11.1.2.3", 443, "10.0.0.0/8", False),
        ("::1", 443, "::1/128", True),
        ("[2001:db8::5]", 443, "2001:db8::/32", True),
        ("2001:db8::5", 443, "[2001:db8::5]", True),
        ("sdwan.corp.example", 443, "corp.example", True),
        ("sdwan.corp.example", 443, ".corp.example", True),
        ("sdwan.corp.example", 443, "*.corp.example", True),
        ("corp.example", 443, ".corp.example", True),
        ("notcorp.example", 443, "corp.example", False),
        ("SDWAN.Corp.Example.", 443, "corp.example", True),
        ("anything", 443, "*", True),
        ("a.test", 8443, "a.test:8443", True),
        ("a.test", 443, "a.test:8443", False),
        ("10.0.0.1", 443, "10.0.0.1", True),
        # A name never matches an address or block: nothing is resolved to decide.
        ("localhost", 443, "127.0.0.0/8", False),
        ("10.0.0.1", 443, "not/a/cidr, bad::::", False),
        ("", 443, "*", False),
    ],
)
def test_no_proxy_matching(host: str, port: int, patterns: str, exempt: bool) -> None:
    assert no_proxy_matches(host, port, patterns) is exempt


def test_no_proxy_with_cidr_exempts_the_appliance_from_every_proxy() -> None:
    environ = {"ALL_PROXY": "socks5h://127.0.0.1:1080", "NO_PROXY": "127.0.0.0/8"}
    assert choose_proxy("https://127.0.0.1:8443", environ) is None
    assert choose_proxy("https://127.0.0.1:8443", environ, proxy="http://p:1") is None
    assert choose_proxy("https://10.0.0.1", environ) is not None
    # Lower case first, as for the proxies themselves.
    assert choose_proxy("https://10.0.0.1", {**environ, "no_proxy": "10.0.0.1"}) is None


# --- trust -----------------------------------------------------------------------------------


def test_default_verification_uses_the_system_trust_store() -> None:
    context = tls_context(environ={})
    assert isinstance(context, truststore.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_insecure_and_ca_bundle(tmp_path: Path, certificate_authority: trustme.CA) -> None:
    assert tls_context(insecure=True, environ={}) is False
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    context = tls_context(ca_bundle=str(bundle), environ={})
    assert isinstance(context, ssl.SSLContext)
    assert not isinstance(context, truststore.SSLContext)
    with pytest.raises(UsageError, match="contradict"):
        tls_context(insecure=True, ca_bundle=str(bundle))
    with pytest.raises(UsageError, match="no such file"):
        tls_context(ca_bundle=str(tmp_path / "missing.pem"))


def test_unusable_ssl_cert_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        tls_context(environ={"SSL_CERT_FILE": str(tmp_path / "nope.pem")})
    assert caught.value.message.startswith("cannot use SSL_CERT_FILE=")
    assert caught.value.message.endswith("no such file")
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(UsageError, match="no PEM certificates"):
        tls_context(environ={"SSL_CERT_FILE": str(empty)})


# --- resolution --------------------------------------------------------------------------


@pytest.fixture
def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """getaddrinfo hangs for names ending in .hang.test until the test ends."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".hang.test"):
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield release
    release.set()


async def test_resolution_is_bounded_by_the_connect_timeout(
    hanging_resolver: threading.Event,
) -> None:
    backend = DeadlineBackend(httpcore.AnyIOBackend())
    started = time.monotonic()
    with pytest.raises(httpcore.ConnectTimeout) as caught:
        await backend.connect_tcp("appliance.hang.test", 443, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert isinstance(caught.value.__cause__, ResolveTimeout)
    assert backend.connects == 1
    # The hanging lookup is a daemon thread: it cannot hold the interpreter's exit up.
    lookups = [t for t in threading.enumerate() if t.name == "flowtop-resolve"]
    assert lookups and all(thread.daemon for thread in lookups)


async def test_resolution_failure_keeps_the_gaierror(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    backend = DeadlineBackend(httpcore.AnyIOBackend())
    with pytest.raises(httpcore.ConnectError) as caught:
        await backend.connect_tcp("nowhere.test", 443, timeout=2)
    assert isinstance(caught.value.__cause__, socket.gaierror)


async def test_resolved_addresses_are_tried_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only 127.0.0.1 listens: 127.0.0.2 refuses, and the next address is tried.
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tried: list[str] = []

    class Inner(httpcore.AnyIOBackend):
        async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> Any:
            tried.append(host)
            return await super().connect_tcp(host, port, **kwargs)

    async def resolve(host: str, port: int, timeout: float | None) -> list[str]:
        return ["127.0.0.2", "127.0.0.1"]

    monkeypatch.setattr(network, "resolve", resolve)
    try:
        stream = await DeadlineBackend(Inner()).connect_tcp("two.test", port, timeout=2)
        await stream.aclose()
        assert tried == ["127.0.0.2", "127.0.0.1"]
    finally:
        server.close()
        await server.wait_closed()


# --- Retry-After -----------------------------------------------------------------------------


def test_retry_after_seconds_and_dates() -> None:
    now = 1_800_000_000.0
    later = datetime.fromtimestamp(now, UTC) + timedelta(seconds=90)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds(" 0 ", now) == 0.0
    assert retry_after_seconds(format_datetime(later, usegmt=True), now) == pytest.approx(90)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("86400", now) == MAX_RETRY_AFTER
    for garbage in (None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2015"):
        assert retry_after_seconds(garbage, now) is None
