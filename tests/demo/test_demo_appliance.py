"""The demo appliance's Nitro API, called directly: login, sessions, flows, filters, faults."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest

from flowtop.core.model import API_FIELDS, parse_flows
from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    LOGIN_V1_PATH,
    LOGIN_V2_PATH,
    MAX_SESSIONS,
    REQUEST_LOG_SIZE,
    SESSION_IDLE_SECONDS,
    DemoAppliance,
    DemoResponse,
)
from flowtop.demo.faults import Faults

JSON_HEADERS = {"Content-Type": "application/json"}
CREDENTIALS = json.dumps({"login": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}})


class FakeClock:
    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> DemoAppliance:
    return DemoAppliance(seed=3, flows=300, clock=clock)


@pytest.fixture
def big_app(clock: FakeClock) -> DemoAppliance:
    """Enough flows to fill max_stats 1000."""
    return DemoAppliance(seed=3, flows=1200, clock=clock)


def login(app: DemoAppliance, path: str = LOGIN_V1_PATH) -> dict[str, str]:
    """Log in; the headers that carry the session cookie."""
    response = app.handle("POST", path, JSON_HEADERS, CREDENTIALS.encode())
    assert response.status == 200
    cookie = response.headers["Set-Cookie"].split(";")[0]
    return {"Cookie": cookie}


def get_flows(app: DemoAppliance, headers: dict[str, str], query: str = "") -> DemoResponse:
    target = FLOWS_PATH + (f"?{query}" if query else "")
    return app.handle("GET", target, headers, b"")


def document(response: DemoResponse) -> Any:
    return json.loads(response.body)


def assert_error(response: DemoResponse, status: int, errorcode: int) -> None:
    assert response.status == status
    assert response.headers["Content-Type"] == "application/json"
    body = document(response)
    assert body["errorcode"] == errorcode
    assert isinstance(body["errormessage"], str) and body["errormessage"]


# -- login and sessions ------------------------------------------------------------


@pytest.mark.parametrize("path", [LOGIN_V1_PATH, LOGIN_V2_PATH])
def test_login_sets_a_session_cookie(app: DemoAppliance, path: str) -> None:
    response = app.handle("POST", path, JSON_HEADERS, CREDENTIALS.encode())
    assert response.status == 200
    assert document(response) == {"login": {"message": "Login Success"}}
    assert re.fullmatch(r"SESSID=[0-9a-f]{32}; Path=/; HttpOnly", response.headers["Set-Cookie"])
    assert app.login_count == 1
    assert app.session_count == 1


def test_each_login_gets_its_own_session(app: DemoAppliance) -> None:
    assert login(app) != login(app)
    assert app.session_count == 2


@pytest.mark.parametrize(
    ("username", "password"),
    [(DEMO_USERNAME, "wrong"), ("root", DEMO_PASSWORD), ("", "")],
)
def test_wrong_credentials_are_refused(app: DemoAppliance, username: str, password: str) -> None:
    body = json.dumps({"login": {"username": username, "password": password}}).encode()
    response = app.handle("POST", LOGIN_V1_PATH, JSON_HEADERS, body)
    assert_error(response, 401, 401)
    assert "Set-Cookie" not in response.headers
    assert app.login_count == 1
    assert app.session_count == 0


def test_other_credentials_can_be_configured(clock: FakeClock) -> None:
    app = DemoAppliance(flows=10, username="viewer", password="s3cret", clock=clock)
    body = json.dumps({"login": {"username": "viewer", "password": "s3cret"}}).encode()
    assert app.handle("POST", LOGIN_V1_PATH, JSON_HEADERS, body).status == 200
    assert app.handle("POST", LOGIN_V1_PATH, JSON_HEADERS, CREDENTIALS.encode()).status == 401


@pytest.mark.parametrize(
    ("body", "errorcode"),
    [
        (b"", 1401),
        (b"not json", 1401),
        (b"\xff\xfe", 1401),
        (b"[1, 2]", 1401),
        (b'{"username": "admin", "password": "flowtop-demo"}', 1401),
        (b'{"login": "admin"}', 1401),
        (b'{"login": {"username": "admin"}}', 1404),
        (b'{"login": {"username": "admin", "password": 5}}', 1404),
    ],
)
def test_malformed_login_is_a_bad_request(app: DemoAppliance, body: bytes, errorcode: int) -> None:
    assert_error(app.handle("POST", LOGIN_V1_PATH, JSON_HEADERS, body), 400, errorcode)
    assert app.login_count == 1


def test_login_that_is_not_json_is_refused(app: DemoAppliance) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = app.handle("POST", LOGIN_V1_PATH, headers, b"username=admin")
    assert_error(response, 415, 1401)


def test_header_names_are_case_insensitive(app: DemoAppliance) -> None:
    cookie = login(app)["Cookie"]
    assert get_flows(app, {"cookie": cookie}).status == 200
    assert get_flows(app, {"COOKIE": f"other=1; {cookie}; more=2"}).status == 200


def test_flows_need_a_session(app: DemoAppliance) -> None:
    response = get_flows(app, {})
    assert response.status == 401
    assert document(response) == {"errorcode": 401, "errormessage": "Not logged in"}
    assert_error(get_flows(app, {"Cookie": "SESSID=0123456789abcdef"}), 401, 401)
    assert_error(get_flows(app, {"Cookie": "garbage"}), 401, 401)


def test_logout_ends_the_session(app: DemoAppliance) -> None:
    headers = login(app)
    response = app.handle("DELETE", LOGIN_V1_PATH, headers, b"")
    assert response.status == 200
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert_error(get_flows(app, headers), 401, 401)
    assert_error(app.handle("DELETE", LOGIN_V1_PATH, headers, b""), 401, 401)
    assert_error(app.handle("DELETE", LOGIN_V1_PATH, {}, b""), 401, 401)


def test_sessions_expire_after_an_idle_hour(clock: FakeClock) -> None:
    app = DemoAppliance(flows=50, clock=clock)
    headers = login(app)
    clock.now += SESSION_IDLE_SECONDS - 1
    assert get_flows(app, headers, "filter=max_stats:50").status == 200
    # Use keeps a session alive.
    clock.now += SESSION_IDLE_SECONDS - 1
    assert get_flows(app, headers, "filter=max_stats:50").status == 200
    clock.now += SESSION_IDLE_SECONDS
    assert_error(get_flows(app, headers), 401, 401)


def test_session_ttl_counts_from_login(app: DemoAppliance, clock: FakeClock) -> None:
    app.faults.session_ttl = 30
    headers = login(app)
    clock.now += 29
    assert get_flows(app, headers, "filter=max_stats:50").status == 200
    clock.now += 1
    assert_error(get_flows(app, headers), 401, 401)
    assert get_flows(app, login(app), "filter=max_stats:50").status == 200


def test_expire_sessions_ends_them_all(app: DemoAppliance) -> None:
    first, second = login(app), login(app)
    app.expire_sessions()
    assert get_flows(app, first).status == 401
    assert get_flows(app, second).status == 401
    assert app.session_count == 0


def test_sessions_are_bounded(app: DemoAppliance) -> None:
    first = login(app)
    for _ in range(MAX_SESSIONS + 5):
        login(app)
    assert app.session_count == MAX_SESSIONS
    assert get_flows(app, first).status == 401


# -- flows -------------------------------------------------------------------------


def test_flows_answer_is_the_flows_envelope(big_app: DemoAppliance) -> None:
    response = get_flows(big_app, login(big_app))
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    flows = document(response)["flows"]
    # At most 1000 without max_stats, like a real appliance.
    assert len(flows) == 1000
    for flow in flows:
        assert set(flow) == set(API_FIELDS)
        assert all(isinstance(value, str) for value in flow.values())


@pytest.mark.parametrize("max_stats", [50, 100, 1000])
def test_max_stats_caps_the_answer(big_app: DemoAppliance, max_stats: int) -> None:
    response = get_flows(big_app, login(big_app), f"filter=max_stats:{max_stats}")
    assert response.status == 200
    assert len(document(response)["flows"]) == max_stats


def test_max_stats_beyond_the_table_gives_the_whole_table(clock: FakeClock) -> None:
    app = DemoAppliance(flows=60, clock=clock)
    flows = document(get_flows(app, login(app), "filter=max_stats:100"))["flows"]
    assert len(flows) == len(app.world)


@pytest.mark.parametrize(
    "query",
    [
        "filter=max_stats:10",
        "filter=max_stats:0",
        "filter=max_stats:5000",
        "filter=max_stats:abc",
        "filter=max_stats:",
        "filter=max_stats",
        "filter=colour:red",
        "filter=:x",
        "filter=max_stats:50;bogus",
    ],
)
def test_bad_filters_are_refused(app: DemoAppliance, query: str) -> None:
    assert_error(get_flows(app, login(app), query), 400, 1403)


def test_filter_terms_select_equal_values(app: DemoAppliance) -> None:
    headers = login(app)
    every = document(get_flows(app, headers))["flows"]
    source = every[10]["src_ip"]
    response = get_flows(app, headers, f"filter=src_ip:{source}")
    flows = document(response)["flows"]
    assert flows and all(flow["src_ip"] == source for flow in flows)

    query = "filter=max_stats:50;direction:WAN%20to%20LAN;service_type:Virtual+Path"
    flows = document(get_flows(app, headers, query))["flows"]
    assert 0 < len(flows) <= 50
    assert all(f["direction"] == "WAN to LAN" for f in flows)
    assert all(f["service_type"] == "Virtual Path" for f in flows)

    empty = document(get_flows(app, headers, "filter=application:Nonexistent"))
    assert empty == {"flows": []}


def test_ipv6_values_filter_too(app: DemoAppliance) -> None:
    headers = login(app)
    every = document(get_flows(app, headers))["flows"]
    address = next(flow["src_ip"] for flow in every if ":" in flow["src_ip"])
    flows = document(get_flows(app, headers, f"filter=src_ip:{address}"))["flows"]
    assert flows and all(flow["src_ip"] == address for flow in flows)


def test_other_query_parameters_are_ignored(app: DemoAppliance) -> None:
    response = get_flows(app, login(app), "attrs=src_ip&filter=max_stats:50&x=1")
    assert len(document(response)["flows"]) == 50


def test_the_world_moves_with_the_clock(app: DemoAppliance, clock: FakeClock) -> None:
    headers = login(app)
    first = document(get_flows(app, headers, "filter=max_stats:50"))["flows"]
    assert document(get_flows(app, headers, "filter=max_stats:50"))["flows"] == first
    clock.now += 5
    later = document(get_flows(app, headers, "filter=max_stats:50"))["flows"]
    assert later != first
    assert app.world.step == 5


def test_same_seed_and_clock_give_the_same_answers() -> None:
    bodies = []
    for _ in range(2):
        clock = FakeClock()
        app = DemoAppliance(seed=11, flows=300, clock=clock)
        headers = login(app)
        answers = []
        for advance in (0, 1, 7, 30):
            clock.now += advance
            answers.append(get_flows(app, headers).body)
        bodies.append(answers)
    assert bodies[0] == bodies[1]


def test_trailing_slash_and_encoded_path_are_accepted(app: DemoAppliance) -> None:
    headers = login(app)
    assert app.handle("GET", FLOWS_PATH + "/", headers, b"").status == 200
    encoded = FLOWS_PATH.replace("flows", "%66lows")
    assert app.handle("GET", encoded, headers, b"").status == 200


# -- routing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/sdwan/nitro/v1/monitor/flows", "/sdwan/nitro/v2/monitor/flow", "/favicon.ico"],
)
def test_unknown_paths_are_not_found(app: DemoAppliance, path: str) -> None:
    assert_error(app.handle("GET", path, login(app), b""), 404, 1400)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", FLOWS_PATH, "GET"),
        ("DELETE", FLOWS_PATH, "GET"),
        ("GET", LOGIN_V1_PATH, "POST, DELETE"),
        ("PUT", LOGIN_V2_PATH, "POST, DELETE"),
    ],
)
def test_wrong_methods_are_not_allowed(
    app: DemoAppliance, method: str, path: str, allowed: str
) -> None:
    response = app.handle(method, path, login(app), b"{}")
    assert_error(response, 405, 1100)
    assert response.headers["Allow"] == allowed


def test_requests_are_logged_and_the_log_is_bounded(app: DemoAppliance) -> None:
    headers = login(app)
    get_flows(app, headers, "filter=max_stats:50")
    assert list(app.requests) == [("POST", LOGIN_V1_PATH), ("GET", FLOWS_PATH)]
    for _ in range(REQUEST_LOG_SIZE + 10):
        app.handle("GET", "/nowhere", {}, b"")
    assert len(app.requests) == REQUEST_LOG_SIZE


def test_concurrent_requests_are_safe(clock: FakeClock) -> None:
    app = DemoAppliance(flows=300, clock=clock)
    headers = login(app)
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(8):
            status = get_flows(app, headers, "filter=max_stats:100").status
            status_login = app.handle("POST", LOGIN_V2_PATH, JSON_HEADERS, CREDENTIALS.encode())
            with lock:
                statuses.extend((status, status_login.status))
            clock.now += 0.5

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6 * 8 * 2
    assert app.login_count == 1 + 6 * 8


# -- faults ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "errorcode"), [(500, 1500), (503, 1503), (403, 403)])
def test_status_fault_answers_an_error_schema(
    app: DemoAppliance, status: int, errorcode: int
) -> None:
    headers = login(app)
    app.faults.status = status
    assert_error(get_flows(app, headers), status, errorcode)
    # Logging in still works; only flows misbehave.
    assert login(app)
    app.faults.status = None
    assert get_flows(app, headers).status == 200


def test_status_fault_with_a_raw_error_body(app: DemoAppliance) -> None:
    headers = login(app)
    app.faults = Faults(
        status=502, error_body=b"<html>Bad Gateway</html>", content_type="text/html"
    )
    response = get_flows(app, headers)
    assert (response.status, response.body) == (502, b"<html>Bad Gateway</html>")
    assert response.headers["Content-Type"] == "text/html"
    app.faults = Faults(status=500, error_body=b"")
    assert (get_flows(app, headers).status, get_flows(app, headers).body) == (500, b"")


def test_body_fault_answers_the_raw_body(app: DemoAppliance) -> None:
    headers = login(app)
    app.faults.body = b"<!doctype html><title>Proxy login</title>"
    app.faults.content_type = "text/html; charset=utf-8"
    response = get_flows(app, headers)
    assert response.status == 200
    assert response.body == b"<!doctype html><title>Proxy login</title>"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_faults_do_not_bypass_authentication(app: DemoAppliance) -> None:
    app.faults.body = b"[]"
    assert get_flows(app, {}).status == 401


def test_delay_applies_to_every_request(app: DemoAppliance) -> None:
    app.faults.delay = 1.5
    response = app.handle("POST", LOGIN_V1_PATH, JSON_HEADERS, CREDENTIALS.encode())
    assert response.delay == 1.5
    assert app.handle("GET", "/nowhere", {}, b"").delay == 1.5
    app.faults.delay = 0.0
    assert app.handle("GET", "/nowhere", {}, b"").delay == 0.0


def test_drop_mid_body_marks_flows_answers_only(app: DemoAppliance) -> None:
    app.faults.drop_mid_body = True
    headers = login(app)
    assert get_flows(app, headers).drop_mid_body
    assert not get_flows(app, {}).drop_mid_body


@pytest.mark.parametrize("size", [10, 2_000_000])
def test_pad_to_grows_the_body_and_keeps_it_valid(app: DemoAppliance, size: int) -> None:
    headers = login(app)
    plain = get_flows(app, headers, "filter=max_stats:50").body
    app.faults.pad_to = size
    padded = get_flows(app, headers, "filter=max_stats:50").body
    assert len(padded) >= size
    assert len(padded) <= max(size, len(plain)) + 1
    assert json.loads(padded)["flows"] == json.loads(plain)["flows"]
    assert len(parse_flows(padded).flows) == 50


def test_login_v1_missing_leaves_only_v2(app: DemoAppliance) -> None:
    app.faults.login_v1_missing = True
    response = app.handle("POST", LOGIN_V1_PATH, JSON_HEADERS, CREDENTIALS.encode())
    assert_error(response, 404, 1400)
    headers = login(app, LOGIN_V2_PATH)
    assert get_flows(app, headers).status == 200


def test_hostile_text_reaches_the_flows_answer(big_app: DemoAppliance) -> None:
    big_app.faults.hostile_text = True
    body = get_flows(big_app, login(big_app)).body
    text = body.decode("utf-8")
    assert "[bold red]pwn[/]" in text
    assert "@click=app.quit" in text
    assert "\\u001b[2J" in text
    parsed = parse_flows(body)
    assert len(parsed.flows) == 1000
    assert any(flow.extras for flow in parsed.flows)


def test_faults_given_at_construction(clock: FakeClock) -> None:
    app = DemoAppliance(flows=10, clock=clock, faults=Faults(status=500))
    assert get_flows(app, login(app)).status == 500
