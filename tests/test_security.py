"""Security: TLS verification end to end, the password kept out of every output, appliance
text drawn inertly in every widget, and a warning for a readable config with a password."""

from __future__ import annotations

import html
import json
import logging
import os
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from rich.segment import Segment
from textual.app import App
from textual.pilot import Pilot
from textual.widget import Widget

from flowtop.core.client import NitroClient
from flowtop.core.config import permission_warning
from flowtop.core.errors import AuthenticationError, FlowtopError
from flowtop.core.export import export_rows
from flowtop.core.poller import PollPhase
from flowtop.core.source import ClientSource
from flowtop.core.store import FlowStore
from flowtop.demo.appliance import DEMO_USERNAME, DemoAppliance
from flowtop.demo.faults import Faults
from flowtop.demo.server import DemoServer
from flowtop.demo.transport import DemoTransport
from flowtop.tui.app import FlowTopApp
from flowtop.tui.screens.events import EventsScreen
from flowtop.tui.widgets.status import StatusBar, status_text
from tests.core.factories import flow
from tests.support import run_cli, server_tls_context
from tests.tui.helpers import Clock, DemoSource, ScriptedSource, make_app, wait_until

PASSWORD = "S3cr3t-Pa55-ZZ"
OTHER_PASSWORD = "Fallback-S3cr3t-QQ"
ROOT = Path(__file__).resolve().parent.parent
ESC = "\x1b"
MARKUP = "[bold red]pwn[/]"
LINK = "[link=http://x]click[/link]"
# Short enough for the table's Application and Service columns (no ellipsis).
CLICK = "[@click=quit]q[/]"
SHORT_LINK = "[link=x]c[/link]"
HOSTILE_ERROR = b'{"errorcode": 1, "errormessage": "[bold red]boom[/] \\u001b[2J"}'


pytestmark = pytest.mark.usefixtures("isolated_environment")


@pytest.fixture
def appliance() -> DemoAppliance:
    return DemoAppliance(seed=5, flows=300, password=PASSWORD)


@pytest.fixture
def server(appliance: DemoAppliance) -> Iterator[DemoServer]:
    with DemoServer(appliance, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def tls_server(appliance: DemoAppliance, certificate_authority: trustme.CA) -> Iterator[DemoServer]:
    context = server_tls_context(certificate_authority)
    with DemoServer(appliance, host="127.0.0.1", port=0, ssl_context=context) as running:
        yield running


def connect(server: DemoServer) -> list[str]:
    return ["--url", server.url, "--user", DEMO_USERNAME]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# ---- TLS ----------------------------------------------------------------------------


def test_self_signed_certificate_is_refused_by_default(
    capsys: pytest.CaptureFixture[str], tls_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", PASSWORD)
    result = run_cli(capsys, *connect(tls_server), "--once")
    assert result.code == 3
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("flowtop: ") and "certificate" in lines[0]
    assert "--insecure" in lines[0] and "--ca-bundle" in lines[0]
    # Refused before the password was sent: no login reached the appliance.
    assert tls_server.appliance.login_count == 0


def test_insecure_accepts_the_self_signed_certificate(
    capsys: pytest.CaptureFixture[str], tls_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", PASSWORD)
    result = run_cli(capsys, *connect(tls_server), "--insecure", "--once", "--format", "json")
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 100


def test_ca_bundle_trusts_the_self_signed_certificate(
    capsys: pytest.CaptureFixture[str],
    tls_server: DemoServer,
    certificate_authority: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", PASSWORD)
    bundle = tmp_path / "appliance.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    result = run_cli(
        capsys, *connect(tls_server), "--ca-bundle", str(bundle), "--once", "--format", "json"
    )
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 100
    # Another CA's bundle does not trust it: the bundle replaces, not extends, the check.
    stranger = tmp_path / "stranger.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    refused = run_cli(capsys, *connect(tls_server), "--ca-bundle", str(stranger), "--once")
    assert refused.code == 3 and "certificate" in refused.err


# ---- the password stays secret --------------------------------------------------------


def _error_texts(error: BaseException) -> list[str]:
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


@pytest.mark.parametrize(
    "faults",
    [
        Faults(),
        Faults(status=500),
        Faults(status=401),
        Faults(body=b"<html>not json</html>", content_type="text/html"),
        Faults(drop_mid_body=True),
        Faults(delay=1.0),
    ],
    ids=["wrong-password", "500", "401", "html", "cut", "timeout"],
)
async def test_no_client_error_shows_the_password(
    appliance: DemoAppliance, server: DemoServer, faults: Faults
) -> None:
    """Every error the client raises, with the password right or wrong, is free of it."""
    wrong = faults == Faults()
    if wrong:
        appliance.password = "not-" + PASSWORD
    else:
        appliance.faults = faults
    client = NitroClient(server.url, DEMO_USERNAME, PASSWORD, timeout=0.3)
    with pytest.raises(FlowtopError) as caught:
        async with client:
            await client.get_flows()
    if wrong:
        assert isinstance(caught.value, AuthenticationError)
    for text in [*_error_texts(caught.value), repr(client)]:
        assert PASSWORD not in text


async def test_connect_error_does_not_show_the_password() -> None:
    client = NitroClient(f"http://127.0.0.1:{closed_port()}", DEMO_USERNAME, PASSWORD)
    with pytest.raises(FlowtopError) as caught:
        async with client:
            await client.get_flows()
    for text in [*_error_texts(caught.value), repr(client)]:
        assert PASSWORD not in text


async def test_logs_do_not_show_the_password(
    appliance: DemoAppliance, server: DemoServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything flowtop and its HTTP stack log at DEBUG, across a login, a re-login
    after an expired session, a failed login and the logout."""
    caplog.set_level(logging.DEBUG)
    client = NitroClient(server.url, DEMO_USERNAME, PASSWORD)
    async with client:
        await client.get_flows()
        appliance.expire_sessions()
        await client.get_flows()
        appliance.expire_sessions()
        appliance.password = "changed"
        with pytest.raises(AuthenticationError):
            await client.get_flows()
    assert "HTTP Request: POST" in caplog.text  # the logins were logged, at all levels
    assert "expired" in caplog.text
    assert PASSWORD not in caplog.text


def test_cli_errors_do_not_show_the_password(
    capsys: pytest.CaptureFixture[str],
    appliance: DemoAppliance,
    server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", PASSWORD)
    appliance.password = "not-" + PASSWORD
    once = run_cli(capsys, *connect(server), "--once")
    assert once.code == 4
    headless = run_cli(
        capsys,
        *connect(server),
        "--headless",
        "--record",
        str(tmp_path / "r.jsonl"),
        "--count",
        "1",
    )
    assert headless.code == 4
    for result in (once, headless):
        assert result.err and PASSWORD not in result.err and PASSWORD not in result.out


def test_recording_does_not_hold_the_password(
    capsys: pytest.CaptureFixture[str],
    appliance: DemoAppliance,
    server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", PASSWORD)
    record = tmp_path / "polls.jsonl"
    result = run_cli(
        capsys, *connect(server), "--headless", "--record", str(record), "--count", "2",
        "--interval", "0.5",
    )  # fmt: skip
    assert result.code == 0, result.err
    text = record.read_text(encoding="utf-8")
    assert text.count("\n") >= 3  # a header and two polls
    assert PASSWORD not in text and PASSWORD not in result.err


def _screen_text(app: App[Any]) -> str:
    """The whole screen as the SVG screenshot has it, entities decoded."""
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


async def test_screenshots_exports_and_status_do_not_show_the_password(
    appliance: DemoAppliance, tmp_path: Path
) -> None:
    client = NitroClient(
        "http://demo.invalid", DEMO_USERNAME, PASSWORD, transport=DemoTransport(appliance)
    )
    source = ClientSource(client, f"{DEMO_USERNAME}@lab")
    app = FlowTopApp(source, interval=60.0, handle_signals=False, export_directory=tmp_path)
    outputs: list[str] = []
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        outputs.append(_screen_text(app))
        await pilot.press("ctrl+s", "c")
        await wait_until(pilot, lambda: any(tmp_path.glob("*.csv")))
        outputs.extend(path.read_text(encoding="utf-8") for path in tmp_path.glob("*.csv"))
        await pilot.press("d")
        outputs.append(_screen_text(app))

        appliance.password = "changed-" + PASSWORD
        appliance.expire_sessions()
        attempts = app.monitor.attempts
        await pilot.press("r")
        await wait_until(pilot, lambda: app.monitor.attempts > attempts)
        await pilot.pause()
        assert isinstance(app.poll_state.last_error, AuthenticationError)
        outputs.append(_screen_text(app))
        outputs.append(status_text(app.status_info()).plain)
        await pilot.press("ctrl+s", "j")
        await wait_until(pilot, lambda: any(tmp_path.glob("*.json")))
        outputs.extend(path.read_text(encoding="utf-8") for path in tmp_path.glob("*.json"))
        rows = list(app.last_result.rows) if app.last_result else []
        outputs.append(export_rows(rows, "json", tmp_path, now=time.time()).read_text())
    assert len(outputs) == 7
    for text in outputs:
        assert PASSWORD not in text


PASSWORD_COMMAND = """\
import json, os, sys
from pathlib import Path
dump, secret = Path(sys.argv[1]), Path(sys.argv[2])
parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\\0", b" ").decode()
dump.write_text(json.dumps({"argv": sys.argv, "env": dict(os.environ), "parent": parent}))
print(secret.read_text().strip())
"""


def test_password_command_child_and_flowtop_argv_hold_no_password(
    server: DemoServer, tmp_path: Path
) -> None:
    """flowtop's only child is the password command.  It produces the password, so the
    password it would receive is not the one it prints, but any other flowtop already
    knows: here the config's ``[defaults]`` password, which the profile's command
    overrides.  Neither it nor FLOWTOP_PASSWORD (which, when set, means no command runs
    at all) may reach the child's argv or environment; and flowtop's own argv, which
    anyone on the machine can read, holds none either."""
    script = tmp_path / "secret_tool.py"
    script.write_text(PASSWORD_COMMAND)
    secret = tmp_path / "secret.txt"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    dump = tmp_path / "child.json"
    command = f"{sys.executable} {script} {dump} {secret}"
    config = tmp_path / "config.toml"
    config.write_text(
        f"[defaults]\npassword = {json.dumps(OTHER_PASSWORD)}\n\n"
        f"[profiles.lab]\nurl = {json.dumps(server.url)}\nuser = {json.dumps(DEMO_USERNAME)}\n"
        f"password_command = {json.dumps(command)}\n"
    )
    config.chmod(0o600)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWTOP_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    process = subprocess.run(
        [sys.executable, "-m", "flowtop", "--config", str(config), "--profile", "lab",
         "--once", "--format", "json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert len(json.loads(process.stdout)) == 100
    assert process.stderr == ""
    child = json.loads(dump.read_text())
    assert "flowtop" in child["parent"] and str(config) in child["parent"]
    assert "FLOWTOP_PASSWORD" not in child["env"]
    for secret_text in (PASSWORD, OTHER_PASSWORD):
        assert secret_text not in " ".join(child["argv"])
        assert secret_text not in json.dumps(child["env"])
        assert secret_text not in child["parent"]


# ---- appliance text is drawn inertly --------------------------------------------------


def _segments(widget: Widget) -> list[Segment]:
    return [segment for y in range(widget.size.height) for segment in widget.render_line(y)]


def _drawn(widgets: Iterable[Widget]) -> str:
    """What the widgets draw, line by line; fails when an ESC reaches any segment."""
    lines: list[str] = []
    for widget in widgets:
        for y in range(widget.size.height):
            strip = widget.render_line(y)
            for segment in strip:
                assert ESC not in segment.text, f"ESC drawn by {widget!r}: {segment.text!r}"
            lines.append(strip.text)
    return "\n".join(lines)


def _assert_screen_inert(app: App[Any]) -> str:
    text = _screen_text(app)
    assert ESC not in text
    return text


def _hostile_flows() -> list[Any]:
    return [
        flow(1, application=MARKUP, service_name=SHORT_LINK, path="\x1b[2J\x1b[31mESC-path"),
        flow(2, application=CLICK, path="[reverse]rev[/]"),
        flow(3, application="\x1b]8;;x\x1b\\osc\x1b]8;;\x1b\\", path="plain"),
    ]


async def test_flow_table_draws_markup_literally_and_no_escape() -> None:
    clock = Clock()
    app = make_app(ScriptedSource(clock, [_hostile_flows()]), clock, sort=None)
    async with app.run_test(size=(220, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 3)
        drawn = _drawn([app.table])
        assert MARKUP in drawn
        assert CLICK in drawn
        assert "[2J[31mESC-path" in drawn and "osc" in drawn
        _assert_screen_inert(app)
        assert app.is_running


async def test_hostile_demo_appliance_is_drawn_without_escape() -> None:
    """The demo appliance's hostile mode, through the real client and parser."""
    clock = Clock()
    source = DemoSource(clock, faults=Faults(hostile_text=True), flows=200)
    app = make_app(source, clock, filter_text="app:*pwn*")
    async with app.run_test(size=(220, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("d")
        await pilot.pause()
        drawn = _drawn([app.table, app.detail])
        assert MARKUP in drawn and LINK in drawn
        _assert_screen_inert(app)
        assert app.is_running


async def test_detail_pane_draws_markup_literally_and_no_escape() -> None:
    clock = Clock()
    app = make_app(ScriptedSource(clock, [_hostile_flows()]), clock)
    async with app.run_test(size=(220, 45)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 3)
        if not app.detail_visible:
            await pilot.press("d")
            await pilot.pause()
        assert app.detail_visible
        seen = ""
        for _ in range(3):
            seen += _drawn(app.detail.query("*")) + _drawn([app.detail])
            await pilot.press("down")
            await pilot.pause()
        assert MARKUP in seen and SHORT_LINK in seen
        assert CLICK in seen and "[reverse]rev[/]" in seen
        _assert_screen_inert(app)
        assert app.is_running


async def test_status_line_draws_appliance_error_literally_and_no_escape() -> None:
    clock = Clock()
    source = DemoSource(clock, faults=Faults(status=500, error_body=HOSTILE_ERROR))
    app = make_app(source, clock)
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_until(pilot, lambda: app.monitor.attempts >= 1)
        await pilot.pause()
        assert app.poll_state.phase is not PollPhase.LIVE
        status = app.query_one(StatusBar)
        drawn = _drawn([status])
        assert "[bold red]boom[/]" in drawn
        assert "[bold red]boom[/]" in status_text(app.status_info()).plain
        screen = _assert_screen_inert(app)
        assert "[bold red]boom[/]" in screen
        assert app.is_running


async def test_notification_draws_directory_name_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short relative directory, so that the toast does not wrap the name.
    monkeypatch.chdir(tmp_path)
    directory = Path("[b]noc")
    directory.mkdir()
    clock = Clock()
    app = make_app(DemoSource(clock), clock, export_directory=directory)
    async with app.run_test(size=(200, 40), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("ctrl+s", "c")
        await wait_until(pilot, lambda: any(directory.glob("*.csv")))
        await wait_until(pilot, lambda: bool(app.screen.query("Toast")))
        await pilot.pause()
        toasts = list(app.screen.query("Toast"))
        drawn = _drawn(toasts)
        assert "[b]noc/flowtop-flows-" in drawn
        assert "[b]noc/flowtop-flows-" in _assert_screen_inert(app)
        # The failure notification carries the name too.
        app.export_directory = Path("[red]gone")
        await pilot.press("ctrl+s", "c")
        await wait_until(pilot, lambda: "Export failed" in _drawn(app.screen.query("Toast")))
        assert "no such directory [red]gone" in _drawn(app.screen.query("Toast"))
        assert app.is_running


async def _open_events(pilot: Pilot[Any], app: FlowTopApp) -> EventsScreen:
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, EventsScreen)
    return screen


async def test_events_view_draws_markup_literally_and_no_escape() -> None:
    clock = Clock()
    hostile = _hostile_flows()
    moved = [
        flow(1, application=MARKUP, service_name=SHORT_LINK, path="[i]moved[/i]\x1b[5m"),
        *hostile[1:],
    ]
    source = ScriptedSource(clock, [[flow(9)], hostile, moved])
    app = make_app(source, clock)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.store.poll >= 2)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.store.poll >= 3)
        screen = await _open_events(pilot, app)
        drawn = _drawn([screen.event_list])
        assert MARKUP in drawn
        assert CLICK in drawn
        assert "[i]moved[/i]" in drawn
        _assert_screen_inert(app)
        assert app.is_running


async def test_events_screen_alone_draws_hostile_failover_names_literally() -> None:
    store = FlowStore()
    now = time.time()
    names = [flow(n, path="[b]A[/b]\x1b[2J") for n in range(1, 8)]
    store.apply(names, now - 2)
    store.apply([flow(n, path="[u]B[/u]") for n in range(1, 8)], now - 1)

    class EventsApp(App[None]):
        def on_mount(self) -> None:
            self.push_screen(EventsScreen(lambda: store.events, lambda: store.failovers))

    app = EventsApp()
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        drawn = _drawn(screen.query("*"))
        assert "[b]A[/b]" in drawn and "[u]B[/u]" in drawn
        _assert_screen_inert(app)
        assert app.is_running


async def test_group_rows_draw_hostile_names_literally_and_no_escape() -> None:
    clock = Clock()
    app = make_app(ScriptedSource(clock, [_hostile_flows()]), clock, group_by="application")
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 3)
        assert app.grouping is not None and app.grouping.id == "application"
        drawn = _drawn([app.table])
        assert MARKUP in drawn and CLICK in drawn
        _assert_screen_inert(app)
        assert app.is_running


# ---- config file permissions --------------------------------------------------------


def _config_with_password(path: Path, server_url: str, mode: int) -> None:
    path.write_text(
        f'[profiles.lab]\nurl = "{server_url}"\nuser = "{DEMO_USERNAME}"\n'
        f"password = {json.dumps(PASSWORD)}\n"
    )
    path.chmod(mode)


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_readable_config_with_a_password_is_warned_about(
    capsys: pytest.CaptureFixture[str], server: DemoServer, tmp_path: Path, mode: int, warned: bool
) -> None:
    config = tmp_path / "config.toml"
    _config_with_password(config, server.url, mode)
    assert (permission_warning(config) is not None) is warned
    result = run_cli(
        capsys, "--config", str(config), "--profile", "lab", "--once", "--format", "json"
    )
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 100
    warnings = [line for line in result.err.splitlines() if line.startswith("flowtop: warning:")]
    if warned:
        assert len(warnings) == 1 and result.err.count("\n") == 1
        assert str(config) in warnings[0] and "chmod 600" in warnings[0]
        assert f"{mode:03o}" in warnings[0]
    else:
        assert result.err == ""
    assert PASSWORD not in result.err


def test_readable_config_without_a_password_is_not_warned_about(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", PASSWORD)
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.lab]\nurl = "{server.url}"\nuser = "{DEMO_USERNAME}"\n')
    config.chmod(0o644)
    assert permission_warning(config) is None
    result = run_cli(capsys, "--config", str(config), "--profile", "lab", "--once")
    # Only the table's note that max_stats capped the answer; no warning.
    others = [line for line in result.err.splitlines() if "capped by max_stats" not in line]
    assert result.code == 0 and others == []
