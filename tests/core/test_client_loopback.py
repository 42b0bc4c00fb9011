"""NitroClient against the demo appliance served over real HTTP(S) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from flowtop.core.client import NitroClient
from flowtop.core.errors import (
    ApplianceError,
    AuthenticationError,
    ConnectError,
    UnreadableAnswer,
)
from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    LOGIN_V1_PATH,
    LOGIN_V2_PATH,
    DemoAppliance,
)
from flowtop.demo.server import DemoServer
from tests.support import server_tls_context

LOGIN = ("POST", LOGIN_V1_PATH)
FLOWS = ("GET", FLOWS_PATH)
LOGOUT = ("DELETE", LOGIN_V1_PATH)


class Clock:
    """A clock the test moves by hand, so session lifetimes need no real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's proxy settings must not route loopback requests elsewhere."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def appliance(clock: Clock) -> DemoAppliance:
    return DemoAppliance(seed=1, flows=1200, clock=clock)


@pytest.fixture
def server(appliance: DemoAppliance) -> Iterator[DemoServer]:
    with DemoServer(appliance, host="127.0.0.1", port=0) as running:
        yield running


def make_client(server: DemoServer, password: str = DEMO_PASSWORD, **options: Any) -> NitroClient:
    return NitroClient(server.url, DEMO_USERNAME, password, **options)


def assert_no_password(error: BaseException, client: NitroClient) -> None:
    for text in (str(error), repr(error), repr(client), "".join(traceback.format_exception(error))):
        assert DEMO_PASSWORD not in text


async def test_login_and_flows(server: DemoServer, appliance: DemoAppliance) -> None:
    async with make_client(server) as client:
        raw, parsed = await client.get_flows(100)
        assert client.host == f"127.0.0.1:{server.port}"
    assert len(parsed.flows) == 100
    assert parsed.ignored_items == 0
    assert raw.content_type == "application/json"
    assert raw.latency > 0
    assert appliance.login_count == 1
    assert list(appliance.requests) == [LOGIN, FLOWS, LOGOUT]


@pytest.mark.parametrize("max_stats", [50, 100, 1000])
async def test_max_stats_caps_the_flow_count(server: DemoServer, max_stats: int) -> None:
    async with make_client(server) as client:
        _, parsed = await client.get_flows(max_stats)
    assert len(parsed.flows) == max_stats


async def test_relogin_after_sessions_expire(server: DemoServer, appliance: DemoAppliance) -> None:
    async with make_client(server) as client:
        await client.get_flows(50)
        appliance.expire_sessions()
        _, parsed = await client.get_flows(50)
        assert len(parsed.flows) == 50
        assert client.login_count == 2
    assert appliance.login_count == 2
    assert list(appliance.requests) == [LOGIN, FLOWS, FLOWS, LOGIN, FLOWS, LOGOUT]


async def test_relogin_after_session_lifetime(
    server: DemoServer, appliance: DemoAppliance, clock: Clock
) -> None:
    appliance.faults.session_ttl = 5.0
    async with make_client(server) as client:
        await client.get_flows(50)
        clock.now += 2
        await client.get_flows(50)
        assert client.login_count == 1
        clock.now += 4
        await client.get_flows(50)
        assert client.login_count == 2


async def test_bad_password_is_refused_once(server: DemoServer, appliance: DemoAppliance) -> None:
    client = make_client(server, password="not-the-password")
    with pytest.raises(AuthenticationError) as caught:
        await client.get_flows()
    assert str(caught.value) == (
        f"authentication failed for user {DEMO_USERNAME} at 127.0.0.1:{server.port}: "
        "Invalid username or password"
    )
    assert appliance.login_count == 1
    await client.close()
    assert list(appliance.requests) == [LOGIN]


async def test_login_falls_back_to_v2(server: DemoServer, appliance: DemoAppliance) -> None:
    appliance.faults.login_v1_missing = True
    async with make_client(server) as client:
        await client.get_flows(50)
    assert list(appliance.requests) == [
        LOGIN,
        ("POST", LOGIN_V2_PATH),
        FLOWS,
        ("DELETE", LOGIN_V2_PATH),
    ]
    assert appliance.session_count == 0


async def test_logout_on_close(server: DemoServer, appliance: DemoAppliance) -> None:
    client = make_client(server)
    await client.get_flows(50)
    assert appliance.session_count == 1
    await client.close()
    await client.close()
    assert list(appliance.requests)[-1] == LOGOUT
    assert [request for request in appliance.requests if request[0] == "DELETE"] == [LOGOUT]
    assert appliance.session_count == 0


async def test_logout_is_best_effort_when_the_appliance_is_gone(
    appliance: DemoAppliance,
) -> None:
    with DemoServer(appliance) as server:
        client = make_client(server)
        await client.get_flows(50)
    # The server is stopped: the logout fails quietly and close still completes.
    await client.close()
    assert list(appliance.requests) == [LOGIN, FLOWS]


async def test_dropped_connection_mid_body(server: DemoServer, appliance: DemoAppliance) -> None:
    appliance.faults.drop_mid_body = True
    client = make_client(server)
    with pytest.raises(ConnectError) as caught:
        await client.get_flows(1000)
    assert str(caught.value) == f"connection to 127.0.0.1:{server.port} dropped mid-answer"
    assert_no_password(caught.value, client)
    appliance.faults.drop_mid_body = False
    await client.close()


async def test_slow_answer_times_out(server: DemoServer, appliance: DemoAppliance) -> None:
    client = make_client(server, timeout=0.2)
    await client.login()
    appliance.faults.delay = 2.0
    with pytest.raises(ConnectError) as caught:
        await client.get_flows(50)
    assert str(caught.value) == (
        f"no answer from 127.0.0.1:{server.port} within 0.2s (read timeout)"
    )
    assert_no_password(caught.value, client)
    appliance.faults.delay = 0.0
    await client.close()


async def test_slow_login_times_out(server: DemoServer, appliance: DemoAppliance) -> None:
    appliance.faults.delay = 2.0
    client = make_client(server, timeout=0.2)
    with pytest.raises(ConnectError, match=r"within 0\.2s \(read timeout\)") as caught:
        await client.login()
    assert_no_password(caught.value, client)
    appliance.faults.delay = 0.0
    await client.close()


async def test_oversized_answer_is_refused(server: DemoServer, appliance: DemoAppliance) -> None:
    appliance.faults.pad_to = 2 * 1024 * 1024
    async with make_client(server, max_body_bytes=1024 * 1024) as client:
        with pytest.raises(UnreadableAnswer, match=r"^answer larger than 1 MiB cap$"):
            await client.get_flows(50)
        # The connection was abandoned, not left half-read: the next poll works.
        appliance.faults.pad_to = None
        _, parsed = await client.get_flows(50)
    assert len(parsed.flows) == 50


async def test_padded_answer_under_the_cap_is_read(
    server: DemoServer, appliance: DemoAppliance
) -> None:
    appliance.faults.pad_to = 900 * 1024
    async with make_client(server, max_body_bytes=1024 * 1024) as client:
        raw, parsed = await client.get_flows(50)
    assert len(raw.body) >= 900 * 1024
    assert len(parsed.flows) == 50


async def test_appliance_error_status(server: DemoServer, appliance: DemoAppliance) -> None:
    appliance.faults.status = 503
    client = make_client(server)
    with pytest.raises(ApplianceError) as caught:
        await client.get_flows(50)
    error = caught.value
    assert (error.status, error.errorcode, error.errormessage) == (503, 1503, "Service unavailable")
    assert f"127.0.0.1:{server.port} answered HTTP 503" in str(error)
    await client.close()


async def test_html_page_with_status_200(server: DemoServer, appliance: DemoAppliance) -> None:
    appliance.faults.body = b"<!DOCTYPE html><html><body>Captive portal</body></html>"
    appliance.faults.content_type = "text/html"
    async with make_client(server) as client:
        with pytest.raises(UnreadableAnswer, match="an HTML page"):
            await client.get_flows(50)


async def test_connection_refused_names_the_address() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = NitroClient(f"http://127.0.0.1:{port}", DEMO_USERNAME, DEMO_PASSWORD)
    with pytest.raises(ConnectError) as caught:
        await client.get_flows()
    assert str(caught.value) == f"connection to 127.0.0.1:{port} refused"
    assert_no_password(caught.value, client)
    await client.close()


# --------------------------------------------------------------------------- TLS


@pytest.fixture
def tls_server(appliance: DemoAppliance, certificate_authority: trustme.CA) -> Iterator[DemoServer]:
    with DemoServer(appliance, ssl_context=server_tls_context(certificate_authority)) as running:
        yield running


async def test_tls_verification_failure_is_explained(tls_server: DemoServer) -> None:
    client = make_client(tls_server)
    assert client.base_url.startswith("https://")
    with pytest.raises(ConnectError) as caught:
        await client.login()
    message = str(caught.value)
    assert message.startswith(
        f"TLS certificate verification failed for 127.0.0.1:{tls_server.port}"
    )
    assert message.endswith(
        "; trust its CA (system trust store, SSL_CERT_FILE or --ca-bundle), or use --insecure"
    )
    assert_no_password(caught.value, client)
    await client.close()


async def test_tls_with_ca_bundle(
    tls_server: DemoServer, certificate_authority: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    async with make_client(tls_server, ca_bundle=str(bundle)) as client:
        _, parsed = await client.get_flows(50)
    assert len(parsed.flows) == 50


async def test_tls_insecure(tls_server: DemoServer, appliance: DemoAppliance) -> None:
    async with make_client(tls_server, insecure=True) as client:
        _, parsed = await client.get_flows(50)
    assert len(parsed.flows) == 50
    assert list(appliance.requests)[-1] == LOGOUT


async def test_tls_with_ssl_cert_file_on_top_of_the_system_store(
    tls_server: DemoServer, certificate_authority: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    environ = {"SSL_CERT_FILE": str(bundle)}
    async with make_client(tls_server, environ=environ) as client:
        _, parsed = await client.get_flows(50)
    assert len(parsed.flows) == 50


async def test_server_asking_for_a_client_certificate_is_explained(
    appliance: DemoAppliance, certificate_authority: trustme.CA, tmp_path: Path
) -> None:
    context = server_tls_context(certificate_authority)
    context.verify_mode = ssl.CERT_REQUIRED
    certificate_authority.configure_trust(context)
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    with DemoServer(appliance, ssl_context=context) as server:
        client = make_client(server, ca_bundle=str(bundle), timeout=2.0)
        with pytest.raises(ConnectError) as caught:
            await client.login()
        await client.close()
    assert str(caught.value).startswith(f"127.0.0.1:{server.port} asks for a client certificate")


async def test_plain_http_to_a_tls_port_is_explained(tls_server: DemoServer) -> None:
    client = NitroClient(
        f"http://127.0.0.1:{tls_server.port}", DEMO_USERNAME, DEMO_PASSWORD, timeout=2.0
    )
    with pytest.raises(ConnectError) as caught:
        await client.login()
    await client.close()
    assert "https://" in str(caught.value)


# --------------------------------------------------------------------------- proxies


@pytest.fixture
async def socks_proxy() -> AsyncIterator[tuple[int, list[tuple[str, int]]]]:
    """A minimal SOCKS5 proxy; it resolves ``*.socks.test`` to 127.0.0.1 itself."""
    seen: list[tuple[str, int]] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _, count = await reader.readexactly(2)
            await reader.readexactly(count)
            writer.write(b"\x05\x00")  # no authentication
            _, _, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            port = int.from_bytes(await reader.readexactly(2), "big")
            seen.append((host, port))
            target = "127.0.0.1" if host.endswith(".socks.test") else host
            upstream_reader, upstream_writer = await asyncio.open_connection(target, port)
            writer.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield proxy.sockets[0].getsockname()[1], seen
    proxy.close()


async def test_socks5h_proxy_resolves_the_name_itself(
    server: DemoServer, socks_proxy: tuple[int, list[tuple[str, int]]]
) -> None:
    port, seen = socks_proxy
    environ = {"ALL_PROXY": f"socks5h://127.0.0.1:{port}"}
    url = f"http://appliance.socks.test:{server.port}"
    async with NitroClient(url, DEMO_USERNAME, DEMO_PASSWORD, environ=environ) as client:
        assert client.proxy is not None and client.proxy.source == "ALL_PROXY"
        _, parsed = await client.get_flows(50)
    assert len(parsed.flows) == 50
    assert seen and seen[0] == ("appliance.socks.test", server.port)


async def test_http_proxy_forwards_requests(server: DemoServer, appliance: DemoAppliance) -> None:
    # The demo server takes absolute-form requests, so it can stand in for a forward proxy:
    # the name in the URL is never resolved here, only by "the proxy".
    environ = {"http_proxy": f"http://127.0.0.1:{server.port}"}
    url = f"http://appliance.proxied.test:{server.port}"
    async with NitroClient(url, DEMO_USERNAME, DEMO_PASSWORD, environ=environ) as client:
        assert client.proxy is not None and client.proxy.source == "http_proxy"
        _, parsed = await client.get_flows(50)
    assert len(parsed.flows) == 50
    assert list(appliance.requests) == [LOGIN, FLOWS, LOGOUT]


async def test_no_proxy_cidr_bypasses_the_socks_proxy(server: DemoServer) -> None:
    # The proxy port is closed: any attempt to use it would fail.
    environ = {"ALL_PROXY": f"socks5h://127.0.0.1:{_closed_port()}", "NO_PROXY": "127.0.0.0/8"}
    async with make_client(server, environ=environ) as client:
        assert client.proxy is None
        _, parsed = await client.get_flows(50)
    assert len(parsed.flows) == 50


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTP_PROXY": "http://127.0.0.1:{port}"},
        {"all_proxy": "socks5h://127.0.0.1:{port}"},
    ],
)
async def test_a_dead_proxy_is_named(server: DemoServer, environ: dict[str, str]) -> None:
    port = _closed_port()
    environ = {name: value.format(port=port) for name, value in environ.items()}
    ((name, value),) = environ.items()
    client = make_client(server, environ=environ)
    with pytest.raises(ConnectError) as caught:
        await client.login()
    await client.close()
    assert str(caught.value) == (
        f"connection to proxy {value} (from {name}) refused (on the way to 127.0.0.1:{server.port})"
    )


async def test_explicit_proxy_and_no_proxy(
    server: DemoServer, socks_proxy: tuple[int, list[tuple[str, int]]]
) -> None:
    port, seen = socks_proxy
    dead = {"HTTP_PROXY": f"http://127.0.0.1:{_closed_port()}"}
    async with make_client(server, environ=dead, proxy=f"socks5h://127.0.0.1:{port}") as client:
        await client.get_flows(50)
    assert seen
    async with make_client(server, environ=dead, no_proxy=True) as client:
        await client.get_flows(50)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --------------------------------------------------------------------------- keep-alive


class KeepAliveServer:
    """A tiny HTTP/1.1 appliance that closes a kept-alive connection when its
    ``close_on``-th request arrives, before answering it."""

    def __init__(
        self,
        close_on: int | None = 2,
        close_every_get: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.close_on = close_on
        self.tls = tls
        self.close_every_get = close_every_get
        self.connections = 0
        self.answered: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> KeepAliveServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        count = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                count += 1
                method = head.split(b" ", 1)[0].decode()
                if count == self.close_on or (self.close_every_get and method == "GET"):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if method == "POST":
                    body, extra = b'{"login": {}}', b"Set-Cookie: s=1; Path=/\r\n"
                else:
                    body, extra = json.dumps({"flows": [{"src_ip": "10.0.0.1"}]}).encode(), b""
                self.answered.append(method)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra
                    + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("tls", [False, True])
async def test_a_kept_alive_connection_closed_by_the_appliance_is_retried_once(
    tls: bool, certificate_authority: trustme.CA, tmp_path: Path
) -> None:
    context = server_tls_context(certificate_authority) if tls else None
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    scheme = "https" if tls else "http"
    async with KeepAliveServer(close_on=2, tls=context) as server:
        async with NitroClient(
            f"{scheme}://127.0.0.1:{server.port}", "u", "p", environ={}, timeout=2.0,
            ca_bundle=str(bundle),
        ) as client:  # fmt: skip
            for _ in range(6):
                _, parsed = await client.get_flows(50)
                assert len(parsed.flows) == 1
        assert server.answered.count("GET") == 6
        # Every connection dies at its second request: each poll needed a fresh one.
        assert server.connections >= 6


async def test_a_fresh_connection_closed_without_an_answer_is_not_retried_again() -> None:
    async with KeepAliveServer(close_on=None, close_every_get=True) as server:
        client = NitroClient(f"http://127.0.0.1:{server.port}", "u", "p", environ={}, timeout=2.0)
        with pytest.raises(ConnectError, match="closed the connection without a valid HTTP"):
            await client.get_flows(50)
        # The login's connection (reused, dead) and one fresh one: no third try.
        assert server.connections == 2
        await client.close()


# --------------------------------------------------------------------------- DNS


@pytest.fixture
def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """getaddrinfo never answers for names under .hang.test (until the test ends)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".hang.test"):
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    release.set()


async def test_a_resolver_that_never_answers_is_inside_the_timeout(
    hanging_resolver: None,
) -> None:
    started = time.monotonic()
    client = NitroClient("http://appliance.hang.test:8080", "u", "p", environ={}, timeout=0.5)
    with pytest.raises(ConnectError) as caught:
        await client.get_flows(50)
    await client.close()
    assert time.monotonic() - started < 2.0
    assert str(caught.value) == (
        "DNS lookup of appliance.hang.test gave no answer within 0.5s (connect timeout)"
    )


async def test_quitting_during_a_hanging_lookup_is_prompt(hanging_resolver: None) -> None:
    client = NitroClient("http://appliance.hang.test:8080", "u", "p", environ={}, timeout=10)
    poll = asyncio.create_task(client.get_flows(50))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    await client.close()
    assert time.monotonic() - started < 1.0
