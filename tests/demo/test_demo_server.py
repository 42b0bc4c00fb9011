"""The demo appliance through real clients: in process via DemoTransport, and over loopback."""

from __future__ import annotations

import http.client
import io
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import trustme

from flowtop.core.model import API_FIELDS, parse_flows
from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    LOGIN_V1_PATH,
    LOGIN_V2_PATH,
    DemoAppliance,
)
from flowtop.demo.faults import Faults
from flowtop.demo.server import DemoServer, run_demo_server
from flowtop.demo.transport import DemoTransport

CREDENTIALS = {"login": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}}
DEMO_BASE = "http://demo.invalid"


@pytest.fixture
def app() -> DemoAppliance:
    return DemoAppliance(seed=5, flows=300)


@pytest.fixture
async def client(app: DemoAppliance) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=DemoTransport(app), base_url=DEMO_BASE) as client:
        yield client


@pytest.fixture
def server(app: DemoAppliance) -> Iterator[DemoServer]:
    with DemoServer(app) as server:
        yield server


async def log_in(client: httpx.AsyncClient, path: str = LOGIN_V1_PATH) -> None:
    response = await client.post(path, json=CREDENTIALS)
    assert response.status_code == 200


# -- in process ----------------------------------------------------------------------


async def test_transport_cookie_is_kept_by_the_client_jar(
    app: DemoAppliance, client: httpx.AsyncClient
) -> None:
    await log_in(client)
    cookies = list(client.cookies.jar)
    assert [(c.name, c.domain, c.path) for c in cookies] == [("SESSID", "demo.invalid", "/")]
    response = await client.get(FLOWS_PATH, params={"filter": "max_stats:50"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert len(response.json()["flows"]) == 50
    assert app.login_count == 1


async def test_transport_without_login_is_unauthorised(client: httpx.AsyncClient) -> None:
    response = await client.get(FLOWS_PATH)
    assert response.status_code == 401
    assert response.json()["errorcode"] == 401


async def test_transport_logout_clears_the_cookie(client: httpx.AsyncClient) -> None:
    await log_in(client)
    assert (await client.delete(LOGIN_V1_PATH)).status_code == 200
    assert list(client.cookies.jar) == []
    assert (await client.get(FLOWS_PATH)).status_code == 401


async def test_transport_answers_parse_into_flows(
    app: DemoAppliance, client: httpx.AsyncClient
) -> None:
    app.faults.hostile_text = True
    await log_in(client)
    response = await client.get(FLOWS_PATH, params={"filter": "max_stats:100"})
    parsed = parse_flows(response.content, response.headers["content-type"])
    assert len(parsed.flows) == 100
    for flow in parsed.flows:
        assert set(API_FIELDS) <= set(type(flow).model_fields)
    assert any(flow.application == "[bold red]pwn[/]" for flow in parsed.flows)


async def test_transport_honours_the_delay(app: DemoAppliance, client: httpx.AsyncClient) -> None:
    app.faults.delay = 0.05
    started = time.perf_counter()
    await log_in(client)
    assert time.perf_counter() - started >= 0.05


async def test_transport_delay_beyond_the_read_timeout_times_out(
    app: DemoAppliance, client: httpx.AsyncClient
) -> None:
    app.faults.delay = 30.0
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        await client.get(FLOWS_PATH, timeout=0.05)
    assert time.perf_counter() - started < 1.5


async def test_transport_drop_mid_body_fails_while_reading(
    app: DemoAppliance, client: httpx.AsyncClient
) -> None:
    await log_in(client)
    app.faults.drop_mid_body = True
    with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
        await client.get(FLOWS_PATH)
    # Streaming shows the headers first, as over a real connection.
    async with client.stream("GET", FLOWS_PATH) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await response.aread()


async def test_transport_login_v2_when_v1_is_missing(
    app: DemoAppliance, client: httpx.AsyncClient
) -> None:
    app.faults.login_v1_missing = True
    assert (await client.post(LOGIN_V1_PATH, json=CREDENTIALS)).status_code == 404
    await log_in(client, LOGIN_V2_PATH)
    assert (await client.get(FLOWS_PATH)).status_code == 200


async def test_transport_session_expiry_and_relogin(
    app: DemoAppliance, client: httpx.AsyncClient
) -> None:
    await log_in(client)
    app.expire_sessions()
    assert (await client.get(FLOWS_PATH)).status_code == 401
    await log_in(client)
    assert (await client.get(FLOWS_PATH)).status_code == 200
    assert app.login_count == 2


# -- over loopback -------------------------------------------------------------------


async def test_server_login_cookie_and_flows(app: DemoAppliance, server: DemoServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=server.url) as client:
        await log_in(client)
        assert [c.name for c in client.cookies.jar] == ["SESSID"]
        response = await client.get(FLOWS_PATH, params={"filter": "max_stats:100"})
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        assert response.headers["content-type"] == "application/json"
        assert len(parse_flows(response.content).flows) == 100
        response = await client.get(FLOWS_PATH, params={"filter": "max_stats:7"})
        assert response.status_code == 400
        assert response.json()["errorcode"] == 1403
        assert (await client.delete(LOGIN_V1_PATH)).status_code == 200
    assert app.requests[-1] == ("DELETE", LOGIN_V1_PATH)


async def test_server_refuses_flows_without_a_cookie(server: DemoServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(FLOWS_PATH)
    assert response.status_code == 401
    assert response.json() == {"errorcode": 401, "errormessage": "Not logged in"}


async def test_server_unknown_path_and_wrong_method(server: DemoServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        missing = await client.get("/nitro/nothing")
        wrong = await client.put(FLOWS_PATH, content=b"{}")
    assert (missing.status_code, missing.json()["errorcode"]) == (404, 1400)
    assert (wrong.status_code, wrong.json()["errorcode"]) == (405, 1100)
    assert wrong.headers["allow"] == "GET"


def test_server_keeps_connections_alive(server: DemoServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(
            "POST",
            LOGIN_V1_PATH,
            body=b'{"login": {"username": "admin", "password": "flowtop-demo"}}',
            headers={"Content-Type": "application/json"},
        )
        login = connection.getresponse()
        cookie = login.getheader("Set-Cookie", "").split(";")[0]
        login.read()
        socket_before = connection.sock
        connection.request("GET", FLOWS_PATH + "?filter=max_stats:50", headers={"Cookie": cookie})
        flows = connection.getresponse()
        body = flows.read()
        assert connection.sock is socket_before
        assert flows.status == 200
        assert int(flows.getheader("Content-Length", "0")) == len(body)
    finally:
        connection.close()


def test_server_reads_a_chunked_login(server: DemoServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"login": {"username": "admin", '
        yield b'"password": "flowtop-demo"}}'

    with httpx.Client(base_url=server.url) as client:
        response = client.post(
            LOGIN_V1_PATH, content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 200


async def test_server_drop_mid_body_is_an_httpx_error(
    app: DemoAppliance, server: DemoServer
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        await log_in(client)
        app.faults.drop_mid_body = True
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(FLOWS_PATH)
        app.faults.drop_mid_body = False
        assert (await client.get(FLOWS_PATH)).status_code == 200


async def test_server_delay_with_a_short_timeout_is_a_read_timeout(
    app: DemoAppliance, server: DemoServer
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        await log_in(client)
        app.faults.delay = 3.0
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(FLOWS_PATH, timeout=0.1)
        assert time.perf_counter() - started < 2.0
        app.faults.delay = 0.05
        started = time.perf_counter()
        assert (await client.get(FLOWS_PATH)).status_code == 200
        assert time.perf_counter() - started >= 0.05


def test_server_error_faults(app: DemoAppliance, server: DemoServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.post(LOGIN_V1_PATH, json=CREDENTIALS).status_code == 200
        app.faults = Faults(status=503, error_body=b"")
        response = client.get(FLOWS_PATH)
        assert (response.status_code, response.content) == (503, b"")
        app.faults = Faults(body=b"<html>proxy</html>", content_type="text/html")
        response = client.get(FLOWS_PATH)
        assert (response.status_code, response.text) == (200, "<html>proxy</html>")
        assert response.headers["content-type"] == "text/html"
        app.faults = Faults(pad_to=3_000_000)
        response = client.get(FLOWS_PATH, params={"filter": "max_stats:50"})
        assert len(response.content) >= 3_000_000
        assert len(parse_flows(response.content).flows) == 50


def test_server_answers_500_when_the_simulation_fails(
    app: DemoAppliance, server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(app, "handle", broken)
    response = httpx.get(server.url + FLOWS_PATH, timeout=5)
    assert (response.status_code, response.json()["errorcode"]) == (500, 1500)


def test_server_stop_is_prompt_with_a_request_waiting(app: DemoAppliance) -> None:
    app.faults.delay = 30.0
    outcome: list[BaseException | int] = []
    server = DemoServer(app)
    server.start()

    def waiting_client() -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                outcome.append(client.post(LOGIN_V1_PATH, json=CREDENTIALS).status_code)
        except httpx.HTTPError as error:
            outcome.append(error)

    thread = threading.Thread(target=waiting_client)
    thread.start()
    deadline = time.monotonic() + 5
    while not app.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.requests
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 1.5
    thread.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError)
    server.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + FLOWS_PATH, timeout=2)


def test_server_stop_closes_idle_keep_alive_connections(server: DemoServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/x")
        response = connection.getresponse()
        response.read()
        assert response.status == 404
        assert not response.will_close
        started = time.perf_counter()
        server.stop()
        assert time.perf_counter() - started < 1.5
        assert connection.sock is not None
        assert connection.sock.recv(1) == b""
    finally:
        connection.close()


def test_server_is_quiet_on_garbage(server: DemoServer, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(b"NONSENSE\r\n\r\n")
        connection.recv(65536)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nab")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(b"POST /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 400")
    httpx.get(server.url + FLOWS_PATH, timeout=5)
    server.stop()
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_server_start_twice_and_port_before_start(app: DemoAppliance) -> None:
    server = DemoServer(app)
    with pytest.raises(RuntimeError):
        _ = server.port
    with server:
        with pytest.raises(RuntimeError):
            server.start()
        assert server.port > 0


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


async def test_server_over_tls(app: DemoAppliance, certificate_authority: trustme.CA) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    certificate_authority.configure_trust(client_context)
    with DemoServer(app, ssl_context=server_context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        async with httpx.AsyncClient(base_url=server.url, verify=client_context) as client:
            await log_in(client)
            response = await client.get(FLOWS_PATH, params={"filter": "max_stats:50"})
            assert len(response.json()["flows"]) == 50
        # An untrusting client fails the handshake; the server carries on.
        async with httpx.AsyncClient(base_url=server.url) as untrusting:
            with pytest.raises(httpx.ConnectError):
                await untrusting.get(FLOWS_PATH)
        async with httpx.AsyncClient(base_url=server.url, verify=client_context) as client:
            await log_in(client)


# -- the demo command ----------------------------------------------------------------


def test_run_demo_server_reports_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = io.StringIO()
        assert run_demo_server(port=port, flows=10, out=out) == 3
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0]
    assert "already in use" in lines[0]


class _SignallingOutput(io.StringIO):
    """Output that tells a waiting thread once the server has printed its address."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "Ctrl-C" in self.getvalue():
            self.ready.set()
        return written


def test_run_demo_server_serves_until_sigterm() -> None:
    assert threading.current_thread() is threading.main_thread()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = _SignallingOutput()
    results: list[Any] = []

    def client_then_terminate() -> None:
        try:
            if out.ready.wait(10):
                with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                    login = client.post(LOGIN_V1_PATH, json=CREDENTIALS)
                    flows = client.get(FLOWS_PATH, params={"filter": "max_stats:50"})
                    results.append((login.status_code, len(flows.json()["flows"])))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    helper = threading.Thread(target=client_then_terminate)
    helper.start()
    status = run_demo_server(port=port, flows=100, out=out)
    helper.join(5)
    assert status == 0
    assert results == [(200, 50)]
    assert signal.getsignal(signal.SIGTERM) == previous
    text = out.getvalue()
    assert f"http://127.0.0.1:{port}" in text
    assert DEMO_USERNAME in text and DEMO_PASSWORD in text
    assert "curl" in text and FLOWS_PATH in text
