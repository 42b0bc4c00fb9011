"""Fault injection end to end: the demo appliance misbehaves over real loopback sockets.

Every case runs twice: through ``flowtop --once`` (exit code, one line on stderr) and
through the running app driven by the pilot (the screen state, the last good data kept
while the appliance misbehaves, and recovery once it behaves again).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from flowtop.core.client import DEFAULT_MAX_BODY_BYTES, NitroClient
from flowtop.core.poller import PollPhase
from flowtop.core.recording import Recording, ReplaySource
from flowtop.core.source import ClientSource
from flowtop.core.view import FlowView
from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    DemoAppliance,
    DemoResponse,
)
from flowtop.demo.faults import Faults
from flowtop.demo.pinned import ManualClock
from flowtop.demo.server import DemoServer
from flowtop.tui.app import FlowTopApp
from flowtop.tui.widgets.status import status_text
from tests.support import Result, run_cli
from tests.tui.helpers import poll_now, wait_until

SEED = 7
FLOWS = 300
# Short enough to keep the file fast, long enough for a loaded 2-core machine to answer.
CLIENT_TIMEOUT = 1.0
SLOW_TIMEOUT = 3.0
APP_SIZE = (160, 45)
# The app polls at most 100 flows unless told otherwise.
SHOWN = 100
# The client's answer cap in the app; the demo pads its answer beyond it.
APP_BODY_CAP = 256 * 1024


# --- bodies -------------------------------------------------------------------------------


def _flow(index: int, **values: Any) -> dict[str, Any]:
    """A complete flow whose key is told apart by ``index``."""
    row: dict[str, Any] = {
        "src_ip": f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}",
        "src_port": 40000 + index % 20000,
        "dest_ip": "172.16.0.10",
        "dest_port": 443,
        "ipp": 6,
        "direction": "LAN to WAN",
        "application": f"app-{index % 37}",
        "service_type": "Virtual Path",
        "service_name": "DC-Branch",
        "path": "DC-MPLS->Branch-MPLS",
        "class_type": "interactive",
        "vpathclass": "10",
        "transmission_type": "load balanced",
        "ip_dscp": "af41",
        "rule_id": "12",
        "app_rule_id": "3",
        "lan_gw_ip": "10.0.0.1",
        "age": 100 + index,
        "bytes": 1_000_000 + index,
        "packets": 1000 + index,
        "hitcount": 5,
        "hdr_compression_bytes": 0,
        "pps": 10.0 + index % 100,
        "customer_kbps": 80.0 + index % 100,
        "ipsec_overhead_kbps": 1.5,
        "virtual_path_overhead_kbps": 0.5,
    }
    row.update(values)
    return row


def _document(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps({"flows": rows}).encode()


REPEATED_KEYS = _document([_flow(1), _flow(1, application="twin"), _flow(2)])
# Distinct keys: two flows lacking every key field would share one key.
LACKING_FIELDS = _document(
    [{"src_ip": "10.9.9.9"}, {"dest_ip": "10.9.9.8", "application": "lonely"}, {}]
)
ODD_TYPES = _document(
    [
        _flow(
            1,
            src_port="https",
            dest_port=-5,
            bytes="lots",
            packets=[1, 2],
            pps={"value": 3},
            customer_kbps=True,
            age=None,
            application=12345,
            path=["DC", "Branch"],
            src_ip=17,
            dest_ip="not-an-address",
        ),
        _flow(2, bytes="1.5e3", pps="N/A", hitcount="1,234"),
    ]
)
TEN_THOUSAND = _document([_flow(index) for index in range(10_000)])
HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Gateway portal</h1></body></html>"
GOOD_BODY = _document([_flow(index) for index in range(20)])
TRUNCATED = GOOD_BODY[: len(GOOD_BODY) // 2]
INVALID_UTF8 = b'{"flows":[{"application":"caf\xe9 \xff"}]}'

# Values that cannot be represented (issue 9): the answer still shows, the value unparsed.
DIGITS_401 = "1234567890" * 40 + "9"
COUNTER_401_DIGITS = _document([_flow(1, bytes=DIGITS_401), _flow(2)])
# json.dumps cannot write these: a placeholder is replaced in the encoded body.
NUMBER_5000_DIGITS = _document([_flow(1, bytes="HUGE"), _flow(2)]).replace(b'"HUGE"', b"9" * 5000)
EXTRA_900_DEEP = _document([_flow(1, deep="DEEP"), _flow(2)]).replace(
    b'"DEEP"', b"[" * 900 + b"]" * 900
)
# A control character elsewhere sends the answer down the careful path, value by value.
EXTRA_900_DEEP_CAREFUL = _document([_flow(1, deep="DEEP", path="A\x1b->B"), _flow(2)]).replace(
    b'"DEEP"', b"[" * 900 + b"]" * 900
)
SURROGATE_IN_VALUE = _document([_flow(1, application="cut \ud83d", path="\udc00"), _flow(2)])
SURROGATE_IN_KEY = _document([_flow(1, **{"odd\ud83d": "x", "nested": {"\ud83d": "\ud83d"}})])
PORT_70000 = _document([_flow(1, src_port=70000, dest_port="65536"), _flow(2)])
NEGATIVE_COUNTERS = _document([_flow(1, bytes=-5, packets="-3", age=-1, pps=-2.5), _flow(2)])
BIDI_CONTROLS = _document(
    [_flow(1, application="exe.\u202etxt", path="\u2066A\u2069->\u200fB\u061c"), _flow(2)]
)


def _backwards(appliance: DemoAppliance) -> bytes:
    """The flows the appliance shows now, with every counter reset: a reboot."""
    document = json.loads(appliance.world.encode(SHOWN))
    for row in document["flows"]:
        row.update(bytes=0, packets=0, hitcount=0, age=1, hdr_compression_bytes=0)
    return json.dumps(document).encode()


# --- the case table -----------------------------------------------------------------------


Setup = Callable[[DemoAppliance], None]


def _faults(**values: Any) -> Setup:
    def apply(appliance: DemoAppliance) -> None:
        appliance.faults = Faults(**values)

    return apply


def _body(body: bytes, content_type: str = "application/json") -> Setup:
    return _faults(body=body, content_type=content_type)


def _counters_backwards(appliance: DemoAppliance) -> None:
    appliance.faults = Faults(body=_backwards(appliance))


@dataclass(frozen=True)
class ErrorCase:
    """The appliance misbehaves: ``--once`` fails, the app goes stale and keeps its rows."""

    id: str
    setup: Setup
    exit_code: int
    message: str
    # --once only: the fault as the command line meets it, and its message, when they differ.
    once_setup: Setup | None = None
    once_message: str | None = None
    once_arguments: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataCase:
    """The appliance answers, oddly: ``--once`` succeeds, the app stays live."""

    id: str
    setup: Setup
    once_flows: int | None
    rows: int
    notice: str = ""
    # Further checks of what the app holds after the answer.
    extra: Callable[[FlowTopApp, DemoAppliance], None] | None = field(default=None)


ERROR_CASES = [
    ErrorCase("read-timeout", _faults(delay=2 * CLIENT_TIMEOUT), 3, "(read timeout)"),
    ErrorCase("dropped-mid-body", _faults(drop_mid_body=True), 3, "dropped mid-answer"),
    *(
        ErrorCase(
            f"status-{status}-empty-body",
            _faults(status=status, error_body=b""),
            5,
            f"answered HTTP {status}",
        )
        for status in (400, 403, 500, 503)
    ),
    ErrorCase(
        "throttled-429-retry-after",
        _faults(status=429, retry_after="120"),
        5,
        "answered HTTP 429, errorcode -1: Too Many Requests (asks to retry after 120s)",
    ),
    ErrorCase("html-with-200", _body(HTML_PAGE, "text/html"), 5, "HTML"),
    ErrorCase("truncated-json", _body(TRUNCATED), 5, "invalid JSON at byte"),
    ErrorCase("invalid-utf8", _body(INVALID_UTF8), 5, "not UTF-8"),
    ErrorCase("bare-null", _body(b"null"), 5, "JSON null instead of a flows list"),
    ErrorCase(
        "over-the-size-cap",
        _faults(pad_to=2 * APP_BODY_CAP),
        5,
        "larger than 256 KiB cap",
        once_setup=_faults(pad_to=DEFAULT_MAX_BODY_BYTES + 1),
        once_message="larger than 64 MiB cap",
        # The demo takes a while to build 64 MiB on a loaded machine.
        once_arguments=("--timeout", "10"),
    ),
]


def _history_continues(app: FlowTopApp, appliance: DemoAppliance) -> None:
    # The same flows, seen twice: their rate history goes on despite the reset counters.
    assert all(len(record.pps) == 2 for record in app.store.records.values())
    assert all(record.flow.bytes == 0 for record in app.store.records.values())
    assert not app.store.events, "a counter reset is neither a new flow nor an ended one"


def _odd_values_kept(app: FlowTopApp, appliance: DemoAppliance) -> None:
    flows = {record.flow.src_port: record.flow for record in app.store.records.values()}
    odd = flows[None]
    assert odd.bytes is None and odd.pps is None
    assert odd.unparsed["src_port"] == "https"
    assert odd.unparsed["bytes"] == "lots"


def _unparsed(
    name: str, expected: str | None = None
) -> Callable[[FlowTopApp, DemoAppliance], None]:
    def check(app: FlowTopApp, appliance: DemoAppliance) -> None:
        flows = [record.flow for record in app.store.records.values()]
        odd = [flow for flow in flows if name in flow.unparsed]
        assert len(odd) == 1, [flow.unparsed for flow in flows]
        assert odd[0].value(name) is None
        if expected is not None:
            assert str(odd[0].unparsed[name]) == expected

    return check


def _valid_text(app: FlowTopApp, appliance: DemoAppliance) -> None:
    for record in app.store.records.values():
        flow = record.flow
        text = json.dumps([flow.to_json_dict(), flow.extras], ensure_ascii=False, default=str)
        text.encode("utf-8")
        for char in "\u202e\u2066\u2069\u200f\u061c":
            assert char not in text


def _cut_deep(app: FlowTopApp, appliance: DemoAppliance) -> None:
    deep = [r.flow.extras["deep"] for r in app.store.records.values() if "deep" in r.flow.extras]
    assert len(deep) == 1
    str(deep[0])


VALUE_CASES = [
    DataCase(
        "counter-401-digits", _body(COUNTER_401_DIGITS), 2, 2, extra=_unparsed("bytes", DIGITS_401)
    ),
    DataCase(
        "number-5000-digits", _body(NUMBER_5000_DIGITS), 2, 2, extra=_unparsed("bytes", "9" * 5000)
    ),
    DataCase("extra-900-deep", _body(EXTRA_900_DEEP), 2, 2, extra=_cut_deep),
    DataCase("extra-900-deep-careful", _body(EXTRA_900_DEEP_CAREFUL), 2, 2, extra=_cut_deep),
    DataCase("surrogate-in-value", _body(SURROGATE_IN_VALUE), 2, 2, extra=_valid_text),
    DataCase("surrogate-in-key", _body(SURROGATE_IN_KEY), 1, 1, extra=_valid_text),
    DataCase("port-70000", _body(PORT_70000), 2, 2, extra=_unparsed("src_port", "70000")),
    DataCase("negative-counters", _body(NEGATIVE_COUNTERS), 2, 2, extra=_unparsed("bytes", "-5")),
    DataCase("bidi-controls", _body(BIDI_CONTROLS), 2, 2, extra=_valid_text),
]

DATA_CASES = [
    DataCase("empty-list", _body(b"[]"), 0, 0),
    DataCase("null-envelope", _body(b'{"flows": null}'), 0, 0),
    DataCase(
        "repeated-flow-keys",
        _body(REPEATED_KEYS),
        3,
        3,
        notice="the appliance repeated 1 flow key(s)",
    ),
    DataCase(
        "counters-backwards",
        _counters_backwards,
        None,
        SHOWN,
        extra=_history_continues,
    ),
    DataCase("lacking-fields", _body(LACKING_FIELDS), 3, 3),
    DataCase("odd-types", _body(ODD_TYPES), 2, 2, extra=_odd_values_kept),
    DataCase("ten-thousand-flows", _body(TEN_THOUSAND), 10_000, 10_000),
    *VALUE_CASES,
]


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def demo_password(isolated_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean environment (see conftest) holding the demo appliance's password."""
    monkeypatch.setenv("FLOWTOP_PASSWORD", DEMO_PASSWORD)


@pytest.fixture
def appliance() -> DemoAppliance:
    # A clock that stands still: every poll sees the same flows, so rows can be compared.
    return DemoAppliance(seed=SEED, flows=FLOWS, clock=ManualClock())


@pytest.fixture
def server(appliance: DemoAppliance) -> Iterator[DemoServer]:
    with DemoServer(appliance, host="127.0.0.1", port=0) as running:
        yield running


def run_once(capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> Result:
    connect = ["--url", url, "--user", DEMO_USERNAME, "--timeout", str(CLIENT_TIMEOUT)]
    return run_cli(capsys, *connect, "--once", "--format", "json", *extra)


def assert_one_line_failure(result: Result, code: int) -> str:
    assert result.code == code, result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("flowtop: ")
    return lines[0]


def status(app: FlowTopApp) -> str:
    return status_text(app.status_info()).plain


def live_app(
    url: str,
    timeout: float = CLIENT_TIMEOUT,
    body_cap: int = DEFAULT_MAX_BODY_BYTES,
    **options: Any,
) -> FlowTopApp:
    client = NitroClient(
        url, DEMO_USERNAME, DEMO_PASSWORD, timeout=timeout, max_body_bytes=body_cap
    )
    options.setdefault("interval", 60.0)
    return FlowTopApp(
        ClientSource(client, "admin@test"), clock=ManualClock(), handle_signals=False, **options
    )


async def first_good_poll(pilot: Pilot[Any], app: FlowTopApp) -> int:
    await wait_until(pilot, lambda: app.monitor.attempts > 0 and app.table.row_count > 0)
    assert app.poll_state.phase is PollPhase.LIVE
    assert app.table.row_count == SHOWN
    return app.table.row_count


def assert_stale_with_rows(app: FlowTopApp, rows: int, message: str) -> str:
    text = status(app)
    assert app.poll_state.phase is PollPhase.ERROR, text
    assert "STALE" in text and message in text, text
    assert app.table.row_count == rows, "the last good rows must survive"
    assert app.table.stale
    assert len(app.store) == rows
    assert app.is_running
    return text


async def assert_recovers(pilot: Pilot[Any], app: FlowTopApp, rows: int) -> None:
    await poll_now(pilot, app, app.source)
    assert app.poll_state.phase is PollPhase.LIVE, status(app)
    assert not app.table.stale
    assert app.table.row_count == rows
    assert "LIVE" in status(app) and "ERROR" not in status(app)


@contextmanager
def blackhole() -> Iterator[int]:
    """A port that takes no connection: its accept queue is full, so SYNs go unanswered."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
        time.sleep(0.05)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- --once end to end --------------------------------------------------------------------


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.id for case in ERROR_CASES])
def test_once_fails_with_one_line_and_its_exit_code(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    appliance: DemoAppliance,
    case: ErrorCase,
) -> None:
    (case.once_setup or case.setup)(appliance)
    result = run_once(capsys, server.url, *case.once_arguments)
    line = assert_one_line_failure(result, case.exit_code)
    assert (case.once_message or case.message) in line
    assert f"127.0.0.1:{server.port}" in line or case.exit_code == 5


@pytest.mark.parametrize("case", DATA_CASES, ids=[case.id for case in DATA_CASES])
def test_once_prints_what_the_appliance_sent(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    appliance: DemoAppliance,
    case: DataCase,
) -> None:
    case.setup(appliance)
    result = run_once(capsys, server.url)
    assert result.code == 0, result.err
    assert result.err == ""
    flows = json.loads(result.out)
    assert len(flows) == (SHOWN if case.once_flows is None else case.once_flows)


def test_once_connection_refused_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    line = assert_one_line_failure(run_once(capsys, f"http://127.0.0.1:{port}"), 3)
    assert "refused" in line and str(port) in line


def test_once_connect_timeout_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    with blackhole() as port:
        started = time.monotonic()
        line = assert_one_line_failure(run_once(capsys, f"http://127.0.0.1:{port}"), 3)
    assert "(connect timeout)" in line and str(port) in line
    assert time.monotonic() - started < 3.0


def test_once_slower_than_the_interval_but_within_the_timeout_succeeds(
    capsys: pytest.CaptureFixture[str], server: DemoServer, appliance: DemoAppliance
) -> None:
    appliance.faults = Faults(delay=0.6)
    result = run_once(capsys, server.url, "--timeout", str(SLOW_TIMEOUT), "--interval", "0.5")
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == SHOWN


def test_once_session_that_dies_at_once_means_one_login_and_exit_4(
    capsys: pytest.CaptureFixture[str], server: DemoServer, appliance: DemoAppliance
) -> None:
    appliance.faults = Faults(session_ttl=0.0)
    line = assert_one_line_failure(run_once(capsys, server.url), 4)
    assert "the new session was refused" in line
    assert appliance.login_count == 1, "a session refused seconds after login is not retried"


def test_once_bad_credentials_exit_4_after_one_login(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    appliance: DemoAppliance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", "not-the-password")
    line = assert_one_line_failure(run_once(capsys, server.url), 4)
    assert "authentication failed" in line and "not-the-password" not in line
    assert appliance.login_count == 1


# --- the running app ----------------------------------------------------------------------


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.id for case in ERROR_CASES])
async def test_app_goes_stale_keeps_its_rows_and_recovers(
    server: DemoServer, appliance: DemoAppliance, case: ErrorCase
) -> None:
    app = live_app(server.url, body_cap=APP_BODY_CAP)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        case.setup(appliance)
        await poll_now(pilot, app, app.source)
        text = assert_stale_with_rows(app, rows, case.message)
        assert "retry in" in text
        appliance.faults = Faults()
        await assert_recovers(pilot, app, rows)
        await app.action_quit()


@pytest.mark.parametrize("case", DATA_CASES, ids=[case.id for case in DATA_CASES])
async def test_app_shows_odd_answers_and_stays_live(
    server: DemoServer, appliance: DemoAppliance, case: DataCase
) -> None:
    app = live_app(server.url)
    async with app.run_test(size=APP_SIZE) as pilot:
        await first_good_poll(pilot, app)
        case.setup(appliance)
        await poll_now(pilot, app, app.source)
        text = status(app)
        assert app.poll_state.phase is PollPhase.LIVE, text
        assert not app.table.stale
        assert app.table.row_count == case.rows
        # An answer as large as max_stats may be cut there: "100+ flows".
        full = case.rows >= app.max_stats
        assert (f"{case.rows}+ flows" if full else f"{case.rows}/{case.rows} flows") in text
        if case.notice:
            assert case.notice in text
        else:
            assert "NOTE" not in text and "ERROR" not in text, text
        if case.extra is not None:
            case.extra(app, appliance)
        assert app.is_running
        await app.action_quit()


async def test_app_connection_refused_keeps_rows_and_counts_down(
    server: DemoServer,
) -> None:
    app = live_app(server.url)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        server.stop()
        await poll_now(pilot, app, app.source)
        text = assert_stale_with_rows(app, rows, "refused")
        assert f"127.0.0.1:{server.port}" in text
        assert "retry in" in text
        await app.action_quit()


async def test_app_connect_timeout_keeps_rows_and_recovers(server: DemoServer) -> None:
    app = live_app(server.url)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        assert isinstance(app.source, ClientSource)
        good = app.source.client
        with blackhole() as port:
            # The appliance becomes unreachable: the same source, now aimed at a dead address.
            app.source.client = NitroClient(
                f"http://127.0.0.1:{port}", DEMO_USERNAME, DEMO_PASSWORD, timeout=CLIENT_TIMEOUT
            )
            await poll_now(pilot, app, app.source)
            assert_stale_with_rows(app, rows, "(connect timeout)")
            await app.source.client.close()
        app.source.client = good
        await assert_recovers(pilot, app, rows)
        await app.action_quit()


async def test_app_answers_slower_than_the_interval_do_not_stack(
    server: DemoServer, appliance: DemoAppliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    delay = 0.8
    arrivals: list[float] = []
    lock = threading.Lock()
    handle = appliance.handle

    def timed(method: str, target: str, headers: Mapping[str, str], body: bytes) -> DemoResponse:
        if method == "GET" and target.startswith(FLOWS_PATH):
            with lock:
                arrivals.append(time.monotonic())
        return handle(method, target, headers, body)

    monkeypatch.setattr(appliance, "handle", timed)
    app = live_app(server.url, timeout=SLOW_TIMEOUT, interval=0.5)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        appliance.faults = Faults(delay=delay)
        # Requests arriving from now on are all answered late (the fault is read on arrival).
        first_slow = len(arrivals)
        await wait_until(pilot, lambda: len(arrivals) >= first_slow + 3, timeout=8.0)
        assert app.poll_state.phase is PollPhase.LIVE, status(app)
        assert app.table.row_count == rows and not app.table.stale
        await app.action_quit()
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals[first_slow:])]
    # One request in flight at a time: the next GET waits for the slow answer.
    assert all(gap >= delay - 0.05 for gap in gaps), gaps


async def test_app_session_expiry_means_one_login_and_stays_live(
    server: DemoServer, appliance: DemoAppliance
) -> None:
    app = live_app(server.url)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        logins = appliance.login_count
        appliance.expire_sessions()
        await poll_now(pilot, app, app.source)
        assert app.poll_state.phase is PollPhase.LIVE, status(app)
        assert appliance.login_count == logins + 1
        assert app.table.row_count == rows and not app.table.stale
        await poll_now(pilot, app, app.source)
        assert appliance.login_count == logins + 1, "the new session is kept"
        await app.action_quit()


async def test_app_bad_credentials_stop_polling_without_more_logins(
    server: DemoServer, appliance: DemoAppliance
) -> None:
    app = live_app(server.url, interval=0.5)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        # The password was changed on the appliance and the session ended.
        appliance.password = "changed-by-an-admin"
        appliance.expire_sessions()
        attempts = app.monitor.attempts
        await wait_until(pilot, lambda: app.monitor.attempts > attempts)
        await pilot.pause()
        text = status(app)
        assert appliance.login_count == 2, "one login, then one more after the 401"
        assert app.poll_state.phase is PollPhase.STOPPED, text
        assert "STOPPED" in text and "authentication failed" in text, text
        assert "press r to try again" in text
        assert app.table.row_count == rows and app.table.stale
        logins, attempts = appliance.login_count, app.monitor.attempts
        await pilot.pause(1.5)
        assert appliance.login_count == logins, "no login attempts while stopped"
        assert app.monitor.attempts == attempts
        assert app.is_running
        appliance.password = DEMO_PASSWORD
        await assert_recovers(pilot, app, rows)
        await app.action_quit()


# --- values that cannot be represented, through every output (issue 9) -------------------


@pytest.mark.parametrize("output", ["table", "json", "csv"])
@pytest.mark.parametrize("case", VALUE_CASES, ids=[case.id for case in VALUE_CASES])
def test_once_shows_unrepresentable_values_in_every_format(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    appliance: DemoAppliance,
    case: DataCase,
    output: str,
) -> None:
    case.setup(appliance)
    result = run_once(capsys, server.url, "--format", output)
    assert result.code == 0, result.err
    assert result.err == ""
    if output == "json":
        assert len(json.loads(result.out)) == case.once_flows
    else:
        assert len(result.out.splitlines()) == 1 + (case.once_flows or 0)
    for char in "\ud83d\udc00\u202e\u2066":
        assert char not in result.out


async def _replay_shows(path: Path, case: DataCase, appliance: DemoAppliance) -> None:
    recording = Recording.load(path)
    assert recording.damage is None and len(recording.polls) == 2
    app = FlowTopApp(
        ReplaySource(recording, speed=1000.0), clock=ManualClock(), handle_signals=False
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.monitor.attempts > 0 and app.table.row_count > 0)
        assert app.poll_state.phase is PollPhase.LIVE, status(app)
        assert app.table.row_count == case.rows
        assert case.extra is not None
        case.extra(app, appliance)
        await app.action_quit()


@pytest.mark.parametrize("case", VALUE_CASES, ids=[case.id for case in VALUE_CASES])
def test_headless_record_and_replay_keep_unrepresentable_values(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    appliance: DemoAppliance,
    case: DataCase,
    tmp_path: Path,
) -> None:
    case.setup(appliance)
    path = tmp_path / "polls.jsonl.gz"
    connect = ["--url", server.url, "--user", DEMO_USERNAME, "--timeout", str(CLIENT_TIMEOUT)]
    result = run_cli(
        capsys, *connect, "--headless", "--record", str(path), "--count", "2", "--interval", "0.5"
    )
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if not _is_progress(line)]
    assert lines == [f"flowtop: recorded 2 poll(s) to {path}"]
    asyncio.run(_replay_shows(path, case, appliance))


@pytest.mark.parametrize("case", VALUE_CASES, ids=[case.id for case in VALUE_CASES])
async def test_app_draws_details_and_exports_unrepresentable_values(
    server: DemoServer, appliance: DemoAppliance, case: DataCase, tmp_path: Path
) -> None:
    app = live_app(server.url, export_directory=tmp_path)
    async with app.run_test(size=APP_SIZE) as pilot:
        await first_good_poll(pilot, app)
        case.setup(appliance)
        await poll_now(pilot, app, app.source)
        assert app.poll_state.phase is PollPhase.LIVE, status(app)
        for key in list(app.store.records):
            # The detail pane shows every field of the selected flow, extras included.
            app.table.select_key(key)
            await pilot.pause()
            assert app.selected == key
        screen = app.export_screenshot()
        assert "\ud83d" not in screen and "\u202e" not in screen
        for letter, fmt in (("c", "csv"), ("j", "json")):
            await pilot.press("ctrl+s", letter)
            await wait_until(pilot, lambda fmt=fmt: any(tmp_path.glob(f"*.{fmt}")))
        for path in tmp_path.glob("flowtop-*"):
            text = path.read_bytes().decode("utf-8")
            assert "\u202e" not in text
        assert len(list(tmp_path.glob("flowtop-*"))) == 2
        assert app.is_running
        await app.action_quit()


# --- a failure while using one answer: stale, one line, never exit 1 ---------------------


def _failing_once(monkeypatch: pytest.MonkeyPatch, error: Exception, times: int = 1) -> None:
    """The view fails to compute ``times`` times, as a bug drawing one answer would
    (at once, or in steps after a poll)."""
    compute = FlowView.compute
    compute_steps = FlowView.compute_steps
    left = [times]

    def failing(self: FlowView, *args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise error
        return compute(self, *args, **kwargs)

    def failing_steps(self: FlowView, *args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise error
        return (yield from compute_steps(self, *args, **kwargs))

    monkeypatch.setattr(FlowView, "compute", failing)
    monkeypatch.setattr(FlowView, "compute_steps", failing_steps)


async def test_app_failure_while_showing_an_answer_goes_stale_and_recovers(
    server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = live_app(server.url)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        _failing_once(monkeypatch, OverflowError("int too large to convert to float"))
        await poll_now(pilot, app, app.source)
        text = assert_stale_with_rows(app, rows, "int too large to convert to float")
        assert "OverflowError" in text
        await assert_recovers(pilot, app, rows)
        await app.action_quit()


@pytest.mark.parametrize(
    "error",
    [OverflowError("int too large"), RecursionError("maximum recursion depth"), ValueError("x")],
    ids=["overflow", "recursion", "value"],
)
def test_once_failure_while_showing_an_answer_is_one_line_exit_5(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    _failing_once(monkeypatch, error, times=2)
    for output in ("table", "json"):
        line = assert_one_line_failure(run_once(capsys, server.url, "--format", output), 5)
        assert type(error).__name__ in line and "unexpected" not in line


def _is_progress(line: str) -> bool:
    """A progress line of ``--headless --record`` ("flowtop: 1 poll recorded to ...")."""
    return re.match(r"flowtop: \d+ polls? recorded to ", line) is not None


def test_headless_survives_a_poll_that_cannot_be_used(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    fetch = ClientSource.fetch
    calls = [0]

    async def failing_first(self: ClientSource, max_stats: int) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise RecursionError("maximum recursion depth exceeded")
        return await fetch(self, max_stats)

    monkeypatch.setattr(ClientSource, "fetch", failing_first)
    path = tmp_path / "polls.jsonl"
    connect = ["--url", server.url, "--user", DEMO_USERNAME, "--timeout", str(CLIENT_TIMEOUT)]
    arguments = [*connect, "--headless", "--record", str(path), "--interval", "0.5"]
    result = run_cli(capsys, *arguments, "--count", "2")
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if not _is_progress(line)]
    assert len(lines) == 2, result.err
    assert lines[0].startswith("flowtop: poll failed: ") and "RecursionError" in lines[0]
    assert lines[1] == f"flowtop: recorded 1 poll(s) to {path}"

    calls[0] = 0
    result = run_cli(capsys, *arguments, "--count", "1")
    assert result.code == 5, result.err
    assert "RecursionError" in result.err and "Traceback" not in result.err


async def test_app_waits_as_long_as_retry_after_asks(
    server: DemoServer, appliance: DemoAppliance
) -> None:
    app = live_app(server.url)
    async with app.run_test(size=APP_SIZE) as pilot:
        rows = await first_good_poll(pilot, app)
        appliance.faults = Faults(status=503, retry_after="240")
        await poll_now(pilot, app, app.source)
        text = assert_stale_with_rows(app, rows, "asks to retry after 240s")
        assert "retry in 240s" in text, text
        appliance.faults = Faults()
        await assert_recovers(pilot, app, rows)
        await app.action_quit()


# --- networks: proxies and name resolution ------------------------------------------------


@pytest.fixture
def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[threading.Thread]]:
    """getaddrinfo never answers for names under .hang.test (until the test ends).

    Yields the threads that were left waiting for it.
    """
    release = threading.Event()
    real = socket.getaddrinfo
    waiting: list[threading.Thread] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".hang.test"):
            waiting.append(threading.current_thread())
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield waiting
    release.set()


def test_once_with_a_resolver_that_never_answers_ends_within_the_timeout(
    capsys: pytest.CaptureFixture[str], hanging_resolver: list[threading.Thread]
) -> None:
    started = time.monotonic()
    line = assert_one_line_failure(run_once(capsys, "http://sdwan.hang.test:8080"), 3)
    # The lookup is abandoned, and leaving does not wait for it.
    assert time.monotonic() - started < 3.0
    assert "DNS lookup of sdwan.hang.test gave no answer within 1s" in line


async def test_app_quits_at_once_while_a_lookup_hangs(
    hanging_resolver: list[threading.Thread],
) -> None:
    app = live_app("http://sdwan.hang.test:8080", timeout=10.0)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: bool(hanging_resolver))
        started = time.monotonic()
        await app.action_quit()
    assert time.monotonic() - started < 3.0
    # Python joins the threads of asyncio's executor on the way out (q took 28 s);
    # a lookup left hanging must be in a daemon thread, which it does not wait for.
    assert hanging_resolver and all(thread.daemon for thread in hanging_resolver)


def test_once_names_a_dead_proxy(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    line = assert_one_line_failure(run_once(capsys, server.url), 3)
    assert f"connection to proxy http://127.0.0.1:{port} (from HTTP_PROXY) refused" in line
    assert f"127.0.0.1:{server.port}" in line


@pytest.mark.parametrize(
    ("environ", "extra"),
    [
        ({"HTTP_PROXY": "http://127.0.0.1:{dead}"}, ("--no-proxy",)),
        ({"HTTP_PROXY": "http://127.0.0.1:{dead}", "NO_PROXY": "127.0.0.0/8"}, ()),
        ({"ALL_PROXY": "socks5h://127.0.0.1:{dead}", "no_proxy": "localhost,127.0.0.1"}, ()),
    ],
)
def test_once_goes_direct_when_told_to(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    extra: tuple[str, ...],
) -> None:
    dead = closed_port()
    for name, value in environ.items():
        monkeypatch.setenv(name, value.format(dead=dead))
    result = run_once(capsys, server.url, *extra)
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == SHOWN


def test_once_refuses_an_unusable_proxy_in_one_line(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    line = assert_one_line_failure(
        run_once(capsys, server.url, "--proxy", "socks4://user:secret@127.0.0.1:1080"), 2
    )
    assert "socks4:// proxies are not supported" in line and "secret" not in line
    line = assert_one_line_failure(
        run_once(capsys, server.url, "--proxy", "http://p:1", "--no-proxy"), 2
    )
    assert "contradict" in line


# -- files that are not what they claim ----------------------------------------------------


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_replaying_a_device_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # As from a terminal (the test's own output is captured, not one).
    monkeypatch.setattr("flowtop.cli.require_terminal", lambda: None)
    result = run_cli(capsys, "--replay", path)
    assert result.code == 2
    assert (
        result.err
        == f"flowtop: {path} is not a regular file (a recording is replayed from a file)\n"
    )


def test_config_nested_too_deeply_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults]\ninterval = " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = run_cli(capsys, "--config", str(config), "--demo", "--once")
    assert result.code == 2
    assert result.err == (
        f"flowtop: {config}: invalid TOML: arrays or inline tables nested too deeply\n"
    )
