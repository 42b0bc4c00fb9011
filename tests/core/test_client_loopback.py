"""NitroClient against the demo appliance served over real HTTP(S) on 127.0.0.1."""

from __future__ import annotations

import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from flowtop.core.client import NitroClient
from flowtop.core.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    LOGIN_V1_PATH,
    LOGIN_V2_PATH,
    DemoAppliance,
)
from flowtop.core.demo.server import DemoServer
from flowtop.core.errors import (
    ApplianceError,
    AuthenticationError,
    ConnectError,
    UnreadableAnswer,
)
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
