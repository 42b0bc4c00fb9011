"""NitroClient against a scripted appliance on httpx.MockTransport: protocol and errors."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import ssl
import time
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpcore
import httpx
import pytest

import flowtop
from flowtop.core import client as client_module
from flowtop.core.client import (
    MAX_STATS_CHOICES,
    NitroClient,
    RawAnswer,
    normalize_base_url,
    parse_error_body,
)
from flowtop.core.errors import (
    ApplianceError,
    AuthenticationError,
    ConnectError,
    Throttled,
    UnreadableAnswer,
    UsageError,
)
from flowtop.core.network import DeadlineBackend, ResolveTimeout
from flowtop.core.poller import PollState

USER = "viewer"
PASSWORD = "Pa55-w0rd-xyzzy-7781"
BASE = "https://appliance.test"
HOST = "appliance.test:443"
V1 = "/sdwan/nitro/v1/config/login"
V2 = "/sdwan/nitro/v2/config/login"
FLOWS = "/sdwan/nitro/v2/monitor/flows"
COOKIE = "NITRO_SESSION"

FLOW = {
    "src_ip": "10.0.0.5",
    "src_port": "51000",
    "dest_ip": "192.0.2.10",
    "dest_port": "443",
    "ipp": "6",
    "direction": "LAN to WAN",
    "bytes": "19423068",
    "pps": "12.5",
}

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]
)


class FakeAppliance:
    """A scripted appliance: session cookies, v1/v2 login, flows; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.login_paths = {V1, V2}
        self.missing_status = 404  # the answer of a login resource not in login_paths
        self.password = PASSWORD
        self.login_status_on_bad_password = 401
        self.sessions: set[str] = set()
        self.issued = 0
        # When set, answers an authenticated flows GET instead of the default flows.
        self.flows_answer: Handler | None = None

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if method is None or r.method == method]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in (V1, V2):
            if path not in self.login_paths:
                return httpx.Response(
                    self.missing_status, json={"errorcode": 1400, "errormessage": "no such"}
                )
            if request.method == "POST":
                return self._login(request)
            if request.method == "DELETE":
                self.sessions.discard(session_of(request))
                return httpx.Response(200, json={"login": {"message": "logged out"}})
        if path == FLOWS and request.method == "GET":
            if session_of(request) not in self.sessions:
                return httpx.Response(
                    401, json={"errorcode": 401, "errormessage": "Session expired"}
                )
            if self.flows_answer is not None:
                answer = self.flows_answer(request)
                return answer if isinstance(answer, httpx.Response) else await answer
            return httpx.Response(200, json={"flows": [FLOW, FLOW]})
        return httpx.Response(404, json={"errorcode": 1400, "errormessage": "invalid resource"})

    def _login(self, request: httpx.Request) -> httpx.Response:
        document = json.loads(request.content)
        credentials = document["login"]
        if credentials != {"username": USER, "password": self.password}:
            return httpx.Response(
                self.login_status_on_bad_password,
                json={"errorcode": 1401, "errormessage": "Invalid username or password"},
            )
        self.issued += 1
        session = f"s{self.issued}"
        self.sessions.add(session)
        return httpx.Response(
            200,
            json={"login": {"message": "Login Success"}},
            headers={"Set-Cookie": f"{COOKIE}={session}; Path=/; HttpOnly"},
        )


def session_of(request: httpx.Request) -> str:
    """The session cookie the request carries, or ""."""
    header: str = request.headers.get("cookie", "")
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def make_client(handler: Handler, **options: Any) -> NitroClient:
    options.setdefault("transport", httpx.MockTransport(handler))
    return NitroClient(options.pop("base_url", BASE), USER, PASSWORD, **options)


def answer_with(response: httpx.Response) -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        return response

    return handler


def raising(error: BaseException) -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        raise error

    return handler


def assert_no_password(error: BaseException, client: NitroClient) -> None:
    """The password is nowhere a person or a crash report could see it."""
    texts = [str(error), repr(error), repr(client), "".join(traceback.format_exception(error))]
    for text in texts:
        assert PASSWORD not in text
    # Tracebacks rendered with local variables (rich, Textual) must not show it either.
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == client_module.__name__:
            for name, value in tb.tb_frame.f_locals.items():
                assert PASSWORD not in repr(value), name
        tb = tb.tb_next
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


class ByteStream(httpx.AsyncByteStream):
    """An answer body that counts the chunks pulled from it; endless unless limited."""

    def __init__(
        self, chunk: bytes, count: int | None = None, fail: Exception | None = None
    ) -> None:
        self.chunk = chunk
        self.count = count
        self.fail = fail
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.count is None or self.pulled < self.count:
            self.pulled += 1
            yield self.chunk
        if self.fail is not None:
            raise self.fail


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("appliance.example", "https://appliance.example"),
        ("Appliance.Example:8443", "https://appliance.example:8443"),
        ("10.0.0.1", "https://10.0.0.1"),
        ("http://10.0.0.1/", "http://10.0.0.1"),
        ("https://10.0.0.1:4443/", "https://10.0.0.1:4443"),
        ("  https://appliance  ", "https://appliance"),
        (
            "https://appliance/sdwan/nitro/v2/monitor/flows?filter=max_stats:100",
            "https://appliance",
        ),
        ("appliance:8443/sdwan/nitro/v1/config/login", "https://appliance:8443"),
        ("https://proxy.example/site-a/sdwan/nitro", "https://proxy.example/site-a"),
        ("https://proxy.example/site-a/", "https://proxy.example/site-a"),
        ("[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ("2001:db8::1", "https://[2001:db8::1]"),
        ("http://[2001:DB8:0::1]/", "http://[2001:db8::1]"),
        ("HTTPS://appliance", "https://appliance"),
    ],
)
def test_normalize_base_url(text: str, expected: str) -> None:
    assert normalize_base_url(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "http://",
        "https://",
        "ftp://appliance",
        "file:///etc/passwd",
        "appli ance",
        "https://appliance:99999",
        "https://appliance:0",
        "https://appliance:port",
        "https://[2001:db8::zz]",
        "https://[2001:db8::1",
        "-appliance",
        "appliance\x1b[31m",
        "https://a..b",
        "xn--zz.example",
        "\u216b.example",
    ],
)
def test_normalize_base_url_refuses_garbage(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        normalize_base_url(text)
    assert "\x1b" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_credentials_in_url_are_refused_without_echo() -> None:
    with pytest.raises(UsageError) as caught:
        normalize_base_url(f"https://admin:{PASSWORD}@appliance")
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("base", "host"),
    [
        ("appliance.test", "appliance.test:443"),
        ("http://10.0.0.1", "10.0.0.1:80"),
        ("https://10.0.0.1:4443", "10.0.0.1:4443"),
        ("[2001:db8::1]:8443", "[2001:db8::1]:8443"),
        ("2001:db8::1", "[2001:db8::1]:443"),
    ],
)
def test_host_names_the_address(base: str, host: str) -> None:
    client = NitroClient(base, USER, PASSWORD, transport=httpx.MockTransport(FakeAppliance()))
    assert client.host == host


# --------------------------------------------------------------------------- login


async def test_login_posts_json_credentials_to_v1() -> None:
    fake = FakeAppliance()
    async with make_client(fake) as client:
        await client.login()
        assert client.login_count == 1
    login = fake.requests[0]
    assert (login.method, login.url.path) == ("POST", V1)
    assert login.headers["content-type"] == "application/json"
    assert int(login.headers["content-length"]) == len(login.content)
    assert json.loads(login.content) == {"login": {"username": USER, "password": PASSWORD}}


@pytest.mark.parametrize("missing", [404, 405])
async def test_login_falls_back_to_v2_and_remembers_it(missing: int) -> None:
    fake = FakeAppliance()
    fake.login_paths = {V2}
    fake.missing_status = missing
    async with make_client(fake) as client:
        await client.fetch_flows()
        fake.expire_sessions()
        await client.fetch_flows()
        assert client.login_count == 2
    # v1 is tried once only; the re-login and the logout go straight to v2.
    assert fake.paths("POST") == [V1, V2, V2]
    assert fake.paths("DELETE") == [V2]


async def _immediate(response: httpx.Response) -> httpx.Response:
    return response


async def test_login_resource_missing_in_both_versions() -> None:
    fake = FakeAppliance()
    fake.login_paths = set()
    client = make_client(fake)
    with pytest.raises(ApplianceError) as caught:
        await client.login()
    assert caught.value.status == 404
    assert "login resource at appliance.test:443" in str(caught.value)
    assert fake.paths("POST") == [V1, V2]
    assert_no_password(caught.value, client)
    await client.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"login": {"message": "Login Success"}}',
        b'{"login": {"message": "resource added succesfully"}}',
        b"",
        b"<html>welcome</html>",
    ],
)
async def test_any_200_login_is_success(body: bytes) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, content=body, headers={"Set-Cookie": "x=1; Path=/"})
        return httpx.Response(200, json=[FLOW])

    async with make_client(handler) as client:
        _, parsed = await client.get_flows()
    assert len(parsed.flows) == 1
    assert [r.method for r in seen] == ["POST", "GET", "DELETE"]


@pytest.mark.parametrize("status", [401, 403])
async def test_bad_credentials_raise_once_per_call_without_loop(status: int) -> None:
    fake = FakeAppliance()
    fake.password = "something else"
    fake.login_status_on_bad_password = status
    client = make_client(fake)
    for attempt in (1, 2):
        with pytest.raises(AuthenticationError) as caught:
            await client.fetch_flows()
        assert client.login_count == attempt
        assert len(fake.requests) == attempt
        assert str(caught.value) == (
            f"authentication failed for user {USER} at {HOST}: Invalid username or password"
        )
        assert_no_password(caught.value, client)
    await client.close()
    assert fake.paths("DELETE") == []


async def test_login_refusal_without_body_names_the_status() -> None:
    client = make_client(answer_with(httpx.Response(401)))
    with pytest.raises(AuthenticationError, match=r"viewer at appliance\.test:443: HTTP 401$"):
        await client.login()
    await client.close()


async def test_login_server_error_is_an_appliance_error() -> None:
    body = {"errorcode": 1500, "errormessage": "internal error"}
    client = make_client(answer_with(httpx.Response(500, json=body)))
    with pytest.raises(ApplianceError) as caught:
        await client.login()
    assert (caught.value.status, caught.value.errorcode) == (500, 1500)
    assert caught.value.errormessage == "internal error"
    await client.close()


# --------------------------------------------------------------------------- flows


@pytest.mark.parametrize("max_stats", MAX_STATS_CHOICES)
async def test_flows_query_on_the_wire(max_stats: int) -> None:
    fake = FakeAppliance()
    async with make_client(fake) as client:
        await client.fetch_flows(max_stats)
    get = fake.requests[1]
    assert get.method == "GET"
    assert get.url.path == FLOWS
    # The colon goes out literally; decoded, the appliance sees max_stats:N either way.
    assert get.url.query == f"filter=max_stats:{max_stats}".encode()
    assert unquote(get.url.query.decode()) == f"filter=max_stats:{max_stats}"
    assert get.url.params["filter"] == f"max_stats:{max_stats}"


async def test_headers_and_cookie_sent_back() -> None:
    fake = FakeAppliance()
    async with make_client(fake) as client:
        await client.fetch_flows()
    for request in fake.requests:
        assert request.headers["user-agent"] == f"flowtop/{flowtop.__version__}"
        assert request.headers["accept"] == "application/json"
    login, get, logout = fake.requests
    assert "cookie" not in login.headers
    assert get.headers["cookie"] == f"{COOKIE}=s1"
    assert (logout.method, logout.url.path) == ("DELETE", V1)
    assert logout.headers["cookie"] == f"{COOKIE}=s1"


async def test_get_flows_returns_raw_answer_and_parsed_flows() -> None:
    fake = FakeAppliance()
    async with make_client(fake) as client:
        before = time.time()
        raw, parsed = await client.get_flows()
        after = time.time()
    assert isinstance(raw, RawAnswer)
    assert json.loads(raw.body) == {"flows": [FLOW, FLOW]}
    assert raw.content_type == "application/json"
    assert 0 <= raw.latency <= after - before
    assert before <= raw.received_at <= after
    assert len(parsed.flows) == 2
    assert parsed.flows[0].bytes == 19423068


async def test_base_url_prefix_is_kept() -> None:
    fake = FakeAppliance()

    def strip_prefix(request: httpx.Request) -> Coroutine[Any, Any, httpx.Response]:
        assert request.url.path.startswith("/site-a/")
        request.url = request.url.copy_with(path=request.url.path.removeprefix("/site-a"))
        return fake(request)

    async with make_client(strip_prefix, base_url="https://proxy.test/site-a/") as client:
        assert client.base_url == "https://proxy.test/site-a"
        await client.fetch_flows()
    assert fake.paths() == [V1, FLOWS, V1]


@pytest.mark.parametrize("max_stats", [0, 10, 99, 101, 500, 10000, -50, "100", 100.0, True, None])
async def test_max_stats_validated_before_any_request(max_stats: Any) -> None:
    fake = FakeAppliance()
    client = make_client(fake)
    with pytest.raises(UsageError, match="max_stats must be one of 50, 100, 1000"):
        await client.get_flows(max_stats)
    with pytest.raises(UsageError):
        await client.fetch_flows(max_stats)
    assert fake.requests == []
    assert client.login_count == 0
    await client.close()


# --------------------------------------------------------------------------- sessions


async def test_relogin_after_401_exactly_once() -> None:
    fake = FakeAppliance()
    async with make_client(fake) as client:
        await client.fetch_flows()
        fake.expire_sessions()
        _, parsed = await client.get_flows()
        assert len(parsed.flows) == 2
        assert client.login_count == 2
        await client.fetch_flows()
        assert client.login_count == 2
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("POST", V1),
        ("GET", FLOWS),
        ("GET", FLOWS),
        ("POST", V1),
        ("GET", FLOWS),
        ("GET", FLOWS),
        ("DELETE", V1),
    ]
    # The stale cookie does not ride along with the fresh login.
    assert "cookie" not in fake.requests[3].headers
    assert fake.requests[4].headers["cookie"] == f"{COOKIE}=s2"


async def test_retry_still_401_raises_authentication_error() -> None:
    fake = FakeAppliance()
    client = make_client(fake)
    await client.fetch_flows()
    fake.flows_answer = answer_with(
        httpx.Response(401, json={"errorcode": 401, "errormessage": "Not authorized"})
    )
    with pytest.raises(AuthenticationError) as caught:
        await client.fetch_flows()
    assert client.login_count == 2
    assert fake.paths() == [V1, FLOWS, FLOWS, V1, FLOWS]
    assert str(caught.value).startswith(f"authentication failed for user {USER} at {HOST}: ")
    assert "Not authorized" in str(caught.value)
    assert_no_password(caught.value, client)
    await client.close()


async def test_401_right_after_first_login_is_not_retried() -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(httpx.Response(401))
    client = make_client(fake)
    with pytest.raises(AuthenticationError, match="new session was refused"):
        await client.fetch_flows()
    assert client.login_count == 1
    assert fake.paths() == [V1, FLOWS]
    await client.close()


async def test_relogin_refused_raises_authentication_error() -> None:
    fake = FakeAppliance()
    client = make_client(fake)
    await client.fetch_flows()
    fake.expire_sessions()
    fake.password = "changed by an admin"
    with pytest.raises(AuthenticationError, match="Invalid username or password") as caught:
        await client.fetch_flows()
    assert client.login_count == 2
    assert fake.paths() == [V1, FLOWS, FLOWS, V1]
    assert_no_password(caught.value, client)
    await client.close()


async def test_one_request_in_flight() -> None:
    fake = FakeAppliance()
    in_flight = 0
    most = 0

    async def slow_flows(_: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200, json=[FLOW])

    fake.flows_answer = slow_flows
    async with make_client(fake) as client:
        answers = await asyncio.gather(*(client.get_flows() for _ in range(5)))
    assert most == 1
    assert len(answers) == 5
    # Concurrent first calls share one login.
    assert fake.paths("POST") == [V1]


# --------------------------------------------------------------------------- errors


ERROR_STATUSES = [400, 403, 404, 405, 415, 500, 502, 503]


@pytest.mark.parametrize("status", ERROR_STATUSES)
async def test_error_status_with_error_schema(status: int) -> None:
    fake = FakeAppliance()
    body = {"errorcode": 1403, "errormessage": "Invalid parameter"}
    fake.flows_answer = answer_with(httpx.Response(status, json=body))
    client = make_client(fake)
    with pytest.raises(ApplianceError) as caught:
        await client.fetch_flows()
    error = caught.value
    assert (error.status, error.errorcode, error.errormessage) == (
        status,
        1403,
        "Invalid parameter",
    )
    assert str(error) == (
        f"the appliance at {HOST} answered HTTP {status}, errorcode 1403: Invalid parameter"
    )
    assert client.login_count == 1
    assert_no_password(error, client)
    await client.close()


@pytest.mark.parametrize("status", ERROR_STATUSES)
async def test_error_status_with_empty_body(status: int) -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(httpx.Response(status))
    client = make_client(fake)
    with pytest.raises(ApplianceError) as caught:
        await client.fetch_flows()
    error = caught.value
    assert (error.status, error.errorcode, error.errormessage) == (status, None, None)
    assert str(error) == f"the appliance at {HOST} answered HTTP {status}"
    await client.close()


async def test_401_with_error_schema_on_every_poll() -> None:
    fake = FakeAppliance()
    client = make_client(fake)
    await client.fetch_flows()
    body = {"errorcode": 401, "errormessage": "Authentication failed"}
    fake.flows_answer = answer_with(httpx.Response(401, json=body))
    with pytest.raises(AuthenticationError, match="Authentication failed"):
        await client.fetch_flows()
    await client.close()


@pytest.mark.parametrize(
    ("body", "content_type", "errorcode", "errormessage"),
    [
        (b'{"errorcode": 1500, "errormessage": "Internal error"}', "", 1500, "Internal error"),
        (b'{"errorcode": "1404", "errormessage": "x missing"}', "", 1404, "x missing"),
        (b'{"errorcode": "-1", "errormessage": "dynamic"}', "", -1, "dynamic"),
        (b'{"errorcode": 0, "message": "Done", "severity": "NONE"}', "", 0, "Done"),
        (b'{"errorcode": "abc", "errormessage": 42}', "", None, "42"),
        (b'{"errorcode": true}', "", None, None),
        (b'{"errorcode": 1500.0}', "", 1500, None),
        (b'{"errormessage": "only a message"}', "", None, "only a message"),
        (b"{}", "", None, None),
        (b"[1, 2]", "", None, None),
        (b'"Service unavailable"', "", None, "Service unavailable"),
        (b"<html><body>Bad gateway</body></html>", "text/html", None, "an HTML page"),
        (b"<!DOCTYPE html><html></html>", "", None, "an HTML page"),
        (b"Service Unavailable\r\n", "text/plain", None, "Service Unavailable"),
        (b"\xff\xfe\x00garbage", "", None, "10 bytes of unrecognised data"),
        (b"", "", None, None),
        (b'{"errormessage": "\\u001b[31mred\\u001b[0m\\nnext"}', "", None, "[31mred[0m next"),
    ],
)
def test_parse_error_body_is_lenient(
    body: bytes, content_type: str, errorcode: int | None, errormessage: str | None
) -> None:
    assert parse_error_body(body, content_type) == (errorcode, errormessage)


async def test_appliance_error_message_is_cleaned_and_capped() -> None:
    fake = FakeAppliance()
    hostile = "\x1b]0;owned\x07\x1b[2J" + "x" * 5000
    fake.flows_answer = answer_with(
        httpx.Response(500, json={"errorcode": 1500, "errormessage": hostile})
    )
    client = make_client(fake)
    with pytest.raises(ApplianceError) as caught:
        await client.fetch_flows()
    message = caught.value.errormessage
    assert message is not None
    assert len(message) <= 200
    assert message.isprintable()
    assert str(caught.value).isprintable()
    await client.close()


async def test_appliance_echoing_the_password_is_masked() -> None:
    fake = FakeAppliance()
    fake.password = "other"
    echo = {"errorcode": 1401, "errormessage": "y" * 190 + f"bad password {PASSWORD}"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json=echo)

    client = make_client(handler)
    with pytest.raises(AuthenticationError) as caught:
        await client.login()
    assert_no_password(caught.value, client)
    assert PASSWORD[:6] not in str(caught.value)
    await client.close()


async def test_redirect_is_reported_with_its_target() -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(
        httpx.Response(301, headers={"Location": "https://appliance.test:4443/"})
    )
    client = make_client(fake)
    with pytest.raises(ApplianceError, match=r"HTTP 301: redirects to https://appliance"):
        await client.fetch_flows()
    await client.close()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"<html><body>Portal login</body></html>", "text/html", "an HTML page"),
        (b'{"errorcode": 0, "message": "Done"}', "application/json", "without flows"),
        (b"", "application/json", "empty body"),
        (b'{"flows": [', "application/json", "invalid JSON at byte 11"),
        (b"\xff\xfe[]", "application/json", "not UTF-8"),
    ],
)
async def test_200_that_is_not_flows(body: bytes, content_type: str, reason: str) -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(
        httpx.Response(200, content=body, headers={"Content-Type": content_type})
    )
    async with make_client(fake) as client:
        raw = await client.fetch_flows()
        assert raw.body == body
        with pytest.raises(UnreadableAnswer, match=reason):
            await client.get_flows()


# --------------------------------------------------------------------------- size cap


async def test_default_size_cap_is_64_mib() -> None:
    client = make_client(FakeAppliance())
    assert client.max_body_bytes == 64 * 1024 * 1024
    await client.close()


async def test_size_cap_stops_reading_a_streamed_body() -> None:
    fake = FakeAppliance()
    # Bounded only so that a broken cap fails the test instead of hanging it.
    stream = ByteStream(b"[" + b" " * 4095, count=1000)
    fake.flows_answer = answer_with(httpx.Response(200, stream=stream))
    client = make_client(fake, max_body_bytes=64 * 1024)
    with pytest.raises(UnreadableAnswer, match=r"^answer larger than 64 KiB cap$"):
        await client.get_flows()
    # Reading stopped at the first chunk over the cap.
    assert stream.pulled == 17
    await client.close()


async def test_size_cap_honours_content_length_before_reading() -> None:
    fake = FakeAppliance()
    stream = ByteStream(b"x" * 1024)
    fake.flows_answer = answer_with(
        httpx.Response(200, headers={"Content-Length": str(10 * 1024 * 1024)}, stream=stream)
    )
    client = make_client(fake, max_body_bytes=1024 * 1024)
    with pytest.raises(UnreadableAnswer, match=r"^answer larger than 1 MiB cap$"):
        await client.fetch_flows()
    assert stream.pulled == 0
    await client.close()


async def test_body_exactly_at_the_cap_is_accepted() -> None:
    fake = FakeAppliance()
    body = json.dumps([FLOW] * 20).encode()
    fake.flows_answer = answer_with(httpx.Response(200, content=body))
    async with make_client(fake, max_body_bytes=len(body)) as client:
        _, parsed = await client.get_flows()
    assert len(parsed.flows) == 20


async def test_size_cap_applies_to_error_bodies_too() -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(httpx.Response(500, stream=ByteStream(b"e" * 1000)))
    client = make_client(fake, max_body_bytes=5000)
    with pytest.raises(UnreadableAnswer, match="answer larger than 5000 bytes cap"):
        await client.fetch_flows()
    await client.close()


# --------------------------------------------------------------------------- transport


def _chained(error: httpx.HTTPError, cause: BaseException) -> httpx.HTTPError:
    error.__cause__ = cause
    return error


def _tls_verify_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    error.reason = "CERTIFICATE_VERIFY_FAILED"
    return error


def _tls_version_error() -> ssl.SSLError:
    error = ssl.SSLError(1, "wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    return error


TRANSPORT_FAILURES: list[tuple[str, httpx.HTTPError, str]] = [
    (
        "connect-failed",
        _chained(
            httpx.ConnectError("All connection attempts failed"),
            OSError("All connection attempts failed"),
        ),
        "cannot connect to appliance.test:443",
    ),
    (
        "refused-errno",
        _chained(httpx.ConnectError("x"), ConnectionRefusedError(111, "Connection refused")),
        "connection to appliance.test:443 refused",
    ),
    (
        "dns",
        _chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known")),
        "DNS lookup failed for appliance.test:443: Name or service not known",
    ),
    (
        "tls-verify",
        _chained(httpx.ConnectError("x"), _tls_verify_error()),
        "TLS certificate verification failed for appliance.test:443: self-signed certificate; "
        "trust its CA (system trust store, SSL_CERT_FILE or --ca-bundle), or use --insecure",
    ),
    (
        "tls-plain-http",
        _chained(httpx.ConnectError("x"), _tls_version_error()),
        "TLS handshake with appliance.test:443 failed: WRONG_VERSION_NUMBER; "
        "is it a plain http:// address?",
    ),
    (
        "connect-timeout",
        httpx.ConnectTimeout("x"),
        "no connection to appliance.test:443 within 2s (connect timeout)",
    ),
    (
        "read-timeout",
        httpx.ReadTimeout("x"),
        "no answer from appliance.test:443 within 2s (read timeout)",
    ),
    (
        "write-timeout",
        httpx.WriteTimeout("x"),
        "appliance.test:443 did not take the request within 2s (write timeout)",
    ),
    (
        "not-http",
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        "appliance.test:443 closed the connection without a valid HTTP answer",
    ),
    (
        "reset",
        httpx.ReadError("Connection reset by peer"),
        "connection to appliance.test:443 dropped before an answer",
    ),
    (
        "write-error",
        httpx.WriteError("Broken pipe"),
        "connection to appliance.test:443 dropped while sending the request",
    ),
    (
        "other",
        httpx.UnsupportedProtocol(f"password={PASSWORD}"),
        "request to appliance.test:443 failed (UnsupportedProtocol)",
    ),
]


@pytest.mark.parametrize(
    ("failure", "message"),
    [(failure, message) for _, failure, message in TRANSPORT_FAILURES],
    ids=[name for name, _, _ in TRANSPORT_FAILURES],
)
async def test_transport_failures_become_connect_errors(
    failure: httpx.HTTPError, message: str
) -> None:
    client = make_client(raising(failure), timeout=2.0)
    with pytest.raises(ConnectError) as caught:
        await client.login()
    assert str(caught.value) == message
    assert_no_password(caught.value, client)
    await client.close()


async def test_connect_timeout_is_capped_at_five_seconds() -> None:
    client = make_client(raising(httpx.ConnectTimeout("x")), timeout=30.0)
    with pytest.raises(ConnectError, match=r"within 5s \(connect timeout\)"):
        await client.fetch_flows()
    await client.close()


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (httpx.RemoteProtocolError("peer closed"), "connection to appliance.test:443 dropped"),
        (httpx.ReadError("reset"), "connection to appliance.test:443 dropped mid-answer"),
        (httpx.ReadTimeout("slow"), "answer from appliance.test:443 stalled over 10s"),
    ],
)
async def test_failures_mid_body(failure: httpx.HTTPError, message: str) -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(
        httpx.Response(200, stream=ByteStream(b'[{"a": 1},', count=3, fail=failure))
    )
    client = make_client(fake)
    with pytest.raises(ConnectError, match=message) as caught:
        await client.fetch_flows()
    assert_no_password(caught.value, client)
    await client.close()


async def test_undecodable_compressed_body() -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(
        httpx.Response(
            200, stream=ByteStream(b"not gzip", count=1), headers={"Content-Encoding": "gzip"}
        )
    )
    client = make_client(fake)
    with pytest.raises(UnreadableAnswer, match="could not be decompressed"):
        await client.fetch_flows()
    await client.close()


# --------------------------------------------------------------------------- secrecy


async def test_password_stays_out_of_reprs_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeAppliance()
    client = make_client(fake)
    assert repr(client) == f"NitroClient(base_url={BASE!r}, username={USER!r})"
    assert PASSWORD not in repr(vars(client))
    await client.get_flows()
    fake.expire_sessions()
    await client.get_flows()
    await client.close()
    assert caplog.records, "the client and httpx log at debug level"
    assert PASSWORD not in caplog.text


# --------------------------------------------------------------------------- options


async def test_missing_ca_bundle_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / ("deep" * 40) / "nowhere.pem"
    expected = f"cannot use CA bundle '{missing}': no such file"
    with pytest.raises(UsageError, match=re.escape(expected)):
        NitroClient(BASE, USER, PASSWORD, ca_bundle=str(missing))


async def test_ca_bundle_that_is_not_pem_is_a_usage_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is no certificate\n")
    with pytest.raises(UsageError, match="no PEM certificates"):
        NitroClient(BASE, USER, PASSWORD, ca_bundle=str(garbage))
    with pytest.raises(UsageError, match="it is a directory"):
        NitroClient(BASE, USER, PASSWORD, ca_bundle=str(tmp_path))


async def test_valid_ca_bundle_is_accepted(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    client = NitroClient(BASE, USER, PASSWORD, ca_bundle=str(bundle))
    await client.close()


async def test_insecure_with_ca_bundle_is_contradictory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="contradict"):
        NitroClient(BASE, USER, PASSWORD, insecure=True, ca_bundle=str(tmp_path / "ca.pem"))


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan")])
async def test_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(UsageError, match="timeout"):
        NitroClient(BASE, USER, PASSWORD, timeout=timeout)


# --------------------------------------------------------------------------- close


async def test_close_logs_out_once_and_is_idempotent() -> None:
    fake = FakeAppliance()
    client = make_client(fake)
    await client.fetch_flows()
    await client.close()
    await client.close()
    assert fake.paths("DELETE") == [V1]
    assert fake.sessions == set()
    with pytest.raises(RuntimeError, match="closed"):
        await client.fetch_flows()


async def test_close_without_session_sends_nothing() -> None:
    fake = FakeAppliance()
    async with make_client(fake):
        pass
    assert fake.requests == []


async def test_logout_errors_are_swallowed() -> None:
    fake = FakeAppliance()

    def handler(request: httpx.Request) -> Coroutine[Any, Any, httpx.Response]:
        if request.method == "DELETE":
            raise httpx.ConnectError("gone")
        return fake(request)

    client = make_client(handler)
    await client.fetch_flows()
    await client.close()


async def test_logout_error_status_is_ignored() -> None:
    fake = FakeAppliance()

    def handler(request: httpx.Request) -> Coroutine[Any, Any, httpx.Response]:
        if request.method == "DELETE":
            return _immediate(httpx.Response(500, json={"errorcode": 1500}))
        return fake(request)

    client = make_client(handler)
    await client.fetch_flows()
    await client.close()


async def test_hanging_logout_does_not_hold_up_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "LOGOUT_TIMEOUT", 0.05)
    fake = FakeAppliance()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            await asyncio.sleep(30)
        return await fake(request)

    client = make_client(handler)
    await client.fetch_flows()
    started = time.perf_counter()
    await client.close()
    assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------- login answers


@pytest.mark.parametrize("status", [200, 201, 202, 209])
async def test_any_2xx_login_is_success(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = {"errorcode": 0, "message": "Done", "severity": "WARNING"}
            return httpx.Response(status, json=body, headers={"Set-Cookie": "x=1; Path=/"})
        return httpx.Response(200, json=[FLOW])

    async with make_client(handler) as client:
        _, parsed = await client.get_flows()
    assert len(parsed.flows) == 1


async def test_200_login_with_an_errorcode_is_a_refusal() -> None:
    body = {"errorcode": 354, "errormessage": f"Invalid password {PASSWORD}", "severity": "ERROR"}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(200, json=body, headers={"Set-Cookie": "x=1; Path=/"})

    client = make_client(handler)
    with pytest.raises(AuthenticationError) as caught:
        await client.fetch_flows()
    assert str(caught.value) == (
        f"authentication failed for user {USER} at {HOST}:"
        " Invalid password ********** (errorcode 354)"
    )
    assert_no_password(caught.value, client)
    await client.close()
    assert seen == ["POST"], "no flows request and no logout with a refused login"


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (500, b"echo: login=viewer password=" + PASSWORD.encode(), "text/plain"),
        (401, json.dumps({"message": f"you sent {PASSWORD}"}).encode(), "application/json"),
        (200, json.dumps({"errorcode": 1, "message": f"got {PASSWORD}"}).encode(), "text/json"),
        (502, json.dumps(f"raw {PASSWORD}").encode(), "application/json"),
    ],
)
async def test_login_answers_quote_nothing_but_errormessage(
    status: int, body: bytes, content_type: str
) -> None:
    client = make_client(answer_with(httpx.Response(status, content=body, headers={
        "Content-Type": content_type})))  # fmt: skip
    with pytest.raises((AuthenticationError, ApplianceError)) as caught:
        await client.login()
    text = str(caught.value)
    assert "echo" not in text and "sent" not in text and "got" not in text and "raw" not in text
    assert "*****" not in text, "the body was not quoted at all, so nothing needed masking"
    assert_no_password(caught.value, client)
    await client.close()


# --------------------------------------------------------------------------- every form


JSON = "application/json"
HARD_PASSWORDS = [
    'quote"d-pass',
    "back\\slash\\pw",
    "caf\u00e9-cr\u00e8me",
    "with spaces in it",
    "per%cent%41done",
    'all " \\ \u00e9 % + / & < >',
]


def _forms(password: str) -> dict[str, str]:
    from base64 import b64encode
    from html import escape
    from urllib.parse import quote, quote_plus

    pair = f"{USER}:{password}".encode()
    return {
        "raw": password,
        "json": json.dumps(password)[1:-1],
        "json-unicode": json.dumps(password, ensure_ascii=False)[1:-1],
        "json-upper-hex": json.dumps(password)[1:-1].replace("\\u00e9", "\\u00E9"),
        "quote": quote(password, safe=""),
        "quote-lower-hex": quote(password, safe="").lower(),
        "quote-path": quote(password),
        "quote_plus": quote_plus(password),
        "html": escape(password),
        "basic": b64encode(pair).decode(),
    }


@pytest.mark.parametrize("password", HARD_PASSWORDS)
@pytest.mark.parametrize("form", list(_forms("x")))
async def test_every_form_of_the_password_is_masked_in_errormessage(
    password: str, form: str
) -> None:
    echoed = _forms(password)[form]
    body = json.dumps({"errorcode": 1401, "errormessage": f"bad login {echoed} !"})

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403, content=body.encode(), headers={"Content-Type": "application/json"}
        )

    client = NitroClient(BASE, USER, password, transport=httpx.MockTransport(handler))
    with pytest.raises(AuthenticationError) as caught:
        await client.login()
    text = str(caught.value)
    assert text.endswith("bad login ********** !"), text
    for shown in _forms(password).values():
        assert shown not in text
    await client.close()


@pytest.mark.parametrize("password", HARD_PASSWORDS)
async def test_every_form_of_the_password_is_masked_in_a_redirect(password: str) -> None:
    from urllib.parse import quote, quote_plus

    for echoed in (quote(password, safe=""), quote_plus(password), quote(password)):
        location = f"https://portal.test/login?user={USER}&pw={echoed}&next=/"

        def handler(request: httpx.Request, location: str = location) -> httpx.Response:
            return httpx.Response(302, headers={"Location": location})

        client = NitroClient(BASE, USER, password, transport=httpx.MockTransport(handler))
        with pytest.raises(ApplianceError) as caught:
            await client.login()
        text = str(caught.value)
        assert "pw=**********&next=/" in text, text
        assert echoed not in text
        await client.close()


async def test_masked_body_in_latin1() -> None:
    password = "caf\u00e9-cr\u00e8me"
    body = json.dumps({"errormessage": f"bad {password}"}, ensure_ascii=False)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            content=body.encode("latin-1"),
            headers={"Content-Type": "application/json; charset=iso-8859-1"},
        )

    client = NitroClient(BASE, USER, password, transport=httpx.MockTransport(handler))
    with pytest.raises(AuthenticationError) as caught:
        await client.login()
    assert str(caught.value).endswith(": bad **********")
    await client.close()


# --------------------------------------------------------------------------- back-pressure


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (429, "120", 120.0),
        (503, "7", 7.0),
        (429, "100000", 300.0),
        (503, None, None),
        (429, "soon", None),
    ],
)
async def test_throttling_answers_carry_retry_after(
    status: int, header: str | None, expected: float | None
) -> None:
    fake = FakeAppliance()
    headers = {"Retry-After": header} if header is not None else {}
    fake.flows_answer = answer_with(
        httpx.Response(status, json={"errorcode": 1503, "errormessage": "busy"}, headers=headers)
    )
    client = make_client(fake)
    with pytest.raises(Throttled) as caught:
        await client.fetch_flows()
    assert caught.value.status == status
    assert caught.value.retry_after == expected
    if expected is not None:
        assert str(caught.value).endswith(f"busy (asks to retry after {expected:g}s)")
    await client.close()


async def test_retry_after_as_an_http_date() -> None:
    from email.utils import formatdate

    fake = FakeAppliance()
    fake.flows_answer = answer_with(
        httpx.Response(429, headers={"Retry-After": formatdate(time.time() + 60, usegmt=True)})
    )
    client = make_client(fake)
    with pytest.raises(Throttled) as caught:
        await client.fetch_flows()
    assert caught.value.retry_after is not None
    assert 55 <= caught.value.retry_after <= 61
    await client.close()


def test_poll_backoff_honours_retry_after() -> None:
    state = PollState(interval=2.0)
    state.failed(ApplianceError(500))
    assert state.delay() == 2.0
    state.failed(Throttled(429, retry_after=120.0))
    assert state.delay() == 120.0
    state.failed(Throttled(503, retry_after=5000.0))
    assert state.delay() == 300.0
    # A short Retry-After never shortens the usual backoff.
    state.failed(Throttled(503, retry_after=1.0))
    assert state.delay() == 16.0  # 2 s doubled for the 4th failure
    state.succeeded(at=0.0, latency=0.1)
    assert state.delay() == 2.0


# --------------------------------------------------------------------------- charsets


async def test_body_in_a_declared_charset_is_decoded_as_declared() -> None:
    fake = FakeAppliance()
    row = {**FLOW, "application": "Caf\u00e9 r\u00e9seau", "service_name": "Z\u00fcrich"}
    body = json.dumps({"flows": [row]}, ensure_ascii=False).encode("iso-8859-1")
    fake.flows_answer = answer_with(
        httpx.Response(
            200, content=body, headers={"Content-Type": "application/json; charset=ISO-8859-1"}
        )
    )
    async with make_client(fake) as client:
        raw, parsed = await client.get_flows()
    assert parsed.flows[0].application == "Caf\u00e9 r\u00e9seau"
    assert parsed.flows[0].service_name == "Z\u00fcrich"
    # Handed on (and recorded) in UTF-8, so a replay reads it without the header.
    assert raw.body.decode("utf-8") == body.decode("iso-8859-1")
    assert raw.content_type == "application/json; charset=utf-8"


async def test_body_without_charset_or_in_utf8_is_untouched() -> None:
    fake = FakeAppliance()
    body = json.dumps({"flows": [{**FLOW, "application": "caf\u00e9"}]}, ensure_ascii=False)
    for content_type in ("application/json", 'application/json; charset="UTF-8"'):
        fake.flows_answer = answer_with(
            httpx.Response(200, content=body.encode(), headers={"Content-Type": content_type})
        )
        async with make_client(fake) as client:
            raw, parsed = await client.get_flows()
        assert raw.body == body.encode()
        assert parsed.flows[0].application == "caf\u00e9"


async def test_body_invalid_in_its_declared_charset_is_unreadable() -> None:
    fake = FakeAppliance()
    fake.flows_answer = answer_with(
        httpx.Response(
            200,
            content=b"\xff\xfe\x00",
            headers={"Content-Type": "application/json; charset=shift_jis"},
        )
    )
    client = make_client(fake)
    with pytest.raises(UnreadableAnswer, match="not valid shift_jis text"):
        await client.fetch_flows()
    await client.close()


# --------------------------------------------------------------------------- TLS and DNS messages


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] alert")
    error.reason = reason
    return error


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            _chained(httpx.ReadError(""), _ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED")),
            "appliance.test:443 asks for a client certificate",
        ),
        (
            _chained(httpx.ConnectError(""), _ssl_error("SSLV3_ALERT_BAD_CERTIFICATE")),
            "appliance.test:443 asks for a client certificate",
        ),
        (
            httpx.RemoteProtocolError(
                "illegal status line: bytearray(b'\\x15\\x03\\x01\\x00\\x02')"
            ),
            "appliance.test:443 answered in TLS: use an https:// address",
        ),
        (
            _chained(
                httpx.ConnectTimeout(""),
                _chained(httpcore.ConnectTimeout(""), ResolveTimeout("appliance.test", 3.0)),
            ),
            "DNS lookup of appliance.test gave no answer within 5s (connect timeout)",
        ),
    ],
)
async def test_tls_and_dns_failures_say_what_happened(
    failure: httpx.HTTPError, message: str
) -> None:
    client = make_client(raising(failure))
    with pytest.raises(ConnectError) as caught:
        await client.login()
    assert str(caught.value).startswith(message), str(caught.value)
    await client.close()


async def test_plain_http_to_a_tls_port_gets_a_hint() -> None:
    client = make_client(
        raising(httpx.RemoteProtocolError("Server disconnected without sending a response.")),
        base_url="http://appliance.test:443",
    )
    with pytest.raises(ConnectError, match="if it serves TLS on this port, use an https://"):
        await client.login()
    await client.close()
    page = b"<html>400 The plain HTTP request was sent to HTTPS port</html>"
    client = make_client(
        answer_with(httpx.Response(400, content=page, headers={"Content-Type": "text/html"})),
        base_url="http://appliance.test:443",
    )
    with pytest.raises(ApplianceError, match="it expects TLS on this port: use an https://"):
        await client.login()
    await client.close()


async def test_a_given_transport_is_never_proxied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "socks5h://127.0.0.1:9")
    async with make_client(FakeAppliance()) as client:
        assert client.proxy is None
        _, parsed = await client.get_flows()
    assert len(parsed.flows) == 2


def test_default_verification_is_the_system_trust_store(monkeypatch: pytest.MonkeyPatch) -> None:
    import truststore

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = NitroClient(BASE, USER, PASSWORD, environ={})
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool._ssl_context, truststore.SSLContext)
    assert isinstance(pool._network_backend, DeadlineBackend)


def test_missing_socks_support_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "socksio", None)
    environ = {"ALL_PROXY": "socks5h://127.0.0.1:1080"}
    with pytest.raises(UsageError) as caught:
        NitroClient(BASE, USER, PASSWORD, environ=environ)
    assert str(caught.value) == (
        "cannot use proxy socks5h://127.0.0.1:1080 (from ALL_PROXY):"
        " SOCKS support is not installed (install httpx[socks])"
    )
    # An appliance that no_proxy exempts never needs it.
    client = NitroClient(BASE, USER, PASSWORD, environ={**environ, "no_proxy": "*.test"})
    assert client.proxy is None
