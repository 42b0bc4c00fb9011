"""The command line end to end: ``flowtop.cli.main`` against a demo appliance served on
127.0.0.1, plus a few real ``python -m flowtop`` processes."""

from __future__ import annotations

import csv
import io
import ipaddress
import itertools
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from rich.cells import cell_len

import flowtop
from flowtop.cli import build_parser, main, settings_from_arguments
from flowtop.core.batch import CSV_FIELDS
from flowtop.core.groups import GROUP_JSON_FIELDS
from flowtop.core.model import (
    ADDRESS_FIELDS,
    API_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    TEXT_FIELDS,
    parse_flows,
)
from flowtop.core.recording import Recording
from flowtop.demo.appliance import DEMO_PASSWORD, DEMO_USERNAME, DemoAppliance
from flowtop.demo.faults import Faults
from flowtop.demo.server import DemoServer
from tests.support import Result, run_cli, server_tls_context

SEED = 7
FLOWS = 1200


class Clock:
    """A clock that stands still: every call between two moves sees the same flows."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


pytestmark = pytest.mark.usefixtures("isolated_environment")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def appliance(clock: Clock, faults: Faults) -> DemoAppliance:
    return DemoAppliance(seed=SEED, flows=FLOWS, clock=clock, faults=faults)


@pytest.fixture
def server(appliance: DemoAppliance, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoServer]:
    """The demo appliance on 127.0.0.1, with FLOWTOP_PASSWORD set to its password."""
    monkeypatch.setenv("FLOWTOP_PASSWORD", DEMO_PASSWORD)
    with DemoServer(appliance, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def tls_server(
    appliance: DemoAppliance, certificate_authority: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DemoServer]:
    monkeypatch.setenv("FLOWTOP_PASSWORD", DEMO_PASSWORD)
    context = server_tls_context(certificate_authority)
    with DemoServer(appliance, host="127.0.0.1", port=0, ssl_context=context) as running:
        yield running


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def connect(server: DemoServer) -> list[str]:
    return ["--url", server.url, "--user", DEMO_USERNAME]


def once_json(capsys: pytest.CaptureFixture[str], server: DemoServer, *extra: str) -> Any:
    result = run_cli(capsys, *connect(server), "--once", "--format", "json", *extra)
    assert result.code == 0, result.err
    assert result.err == ""
    return json.loads(result.out)


def assert_one_line_failure(result: Result, code: int) -> str:
    assert result.code == code, result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("flowtop: ")
    return lines[0]


def is_sorted(values: list[Any], descending: bool) -> bool:
    pairs = list(itertools.pairwise(values))
    return all(a >= b for a, b in pairs) if descending else all(a <= b for a, b in pairs)


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "flowtop.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def toml(value: str) -> str:
    # A JSON string is a valid TOML basic string.
    return json.dumps(value)


def python_command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


# --- where the appliance is, who logs in ------------------------------------------------


def test_url_and_user_options(capsys: pytest.CaptureFixture[str], server: DemoServer) -> None:
    flows = once_json(capsys, server)
    assert len(flows) == 100
    assert server.appliance.login_count == 1


def test_url_and_user_from_the_environment(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTOP_URL", server.url)
    monkeypatch.setenv("FLOWTOP_USER", DEMO_USERNAME)
    result = run_cli(capsys, "--once", "--format", "json")
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 100


def test_bare_host_means_https_and_ca_bundle_is_trusted(
    capsys: pytest.CaptureFixture[str],
    tls_server: DemoServer,
    certificate_authority: trustme.CA,
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    bare = f"127.0.0.1:{tls_server.port}"
    result = run_cli(
        capsys, "--url", bare, "--user", DEMO_USERNAME, "--ca-bundle", str(bundle),
        "--once", "--format", "json", "--max-stats", "50",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 50


def test_bare_host_from_the_environment_with_insecure(
    capsys: pytest.CaptureFixture[str], tls_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTOP_URL", f"127.0.0.1:{tls_server.port}")
    monkeypatch.setenv("FLOWTOP_USER", DEMO_USERNAME)
    result = run_cli(capsys, "--insecure", "--once", "--format", "json", "--max-stats", "50")
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 50


def test_certificates_are_verified_by_default(
    capsys: pytest.CaptureFixture[str], tls_server: DemoServer
) -> None:
    bare = f"127.0.0.1:{tls_server.port}"
    result = run_cli(capsys, "--url", bare, "--user", DEMO_USERNAME, "--once")
    line = assert_one_line_failure(result, 3)
    assert "--insecure" in line and "--ca-bundle" in line


def test_password_from_a_hidden_prompt_when_stdin_is_a_terminal(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
        prompts.append(prompt)
        return DEMO_PASSWORD

    monkeypatch.delenv("FLOWTOP_PASSWORD")
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    flows = once_json(capsys, server, "--max-stats", "50")
    assert len(flows) == 50
    assert len(prompts) == 1 and DEMO_USERNAME in prompts[0]


def test_no_password_and_no_terminal_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOWTOP_PASSWORD")
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    line = assert_one_line_failure(run_cli(capsys, *connect(server), "--once"), 2)
    assert "FLOWTOP_PASSWORD" in line
    assert server.appliance.login_count == 0


@pytest.mark.parametrize(
    "arguments",
    [
        ["--password", "hunter2-value"],
        ["--password=hunter2-value"],
        ["--demo", "--once", "--password", "hunter2-value"],
    ],
)
def test_password_option_is_refused_without_echoing_it(
    capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    line = assert_one_line_failure(run_cli(capsys, *arguments), 2)
    assert "hunter2-value" not in line
    assert "password" in line and "FLOWTOP_PASSWORD" in line


# --- polling options ---------------------------------------------------------------------


def test_built_in_defaults_of_the_command_line(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--demo"])
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    settings = settings_from_arguments(args, environ)
    assert settings.interval == 2.0
    assert settings.max_stats == 100
    assert settings.timeout == 10.0
    assert settings.insecure is False


@pytest.mark.parametrize(
    ("max_stats", "expected"), [(None, 100), ("50", 50), ("100", 100), ("1000", 1000)]
)
def test_max_stats_sets_how_many_flows_come_back(
    capsys: pytest.CaptureFixture[str], server: DemoServer, max_stats: str | None, expected: int
) -> None:
    extra = [] if max_stats is None else ["--max-stats", max_stats]
    assert len(once_json(capsys, server, *extra)) == expected


@pytest.mark.parametrize("value", ["200", "0", "abc"])
def test_max_stats_outside_the_choices_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert run_cli(capsys, "--demo", "--once", "--max-stats", value).code == 2


@pytest.mark.parametrize(("interval", "code"), [("0.5", 0), ("60", 0), ("0.4", 2), ("61", 2)])
def test_interval_is_at_least_half_a_second(
    capsys: pytest.CaptureFixture[str], interval: str, code: int
) -> None:
    result = run_cli(capsys, "--demo", "--once", "--format", "csv", "--interval", interval)
    assert result.code == code, result.err
    if code:
        assert "--interval" in assert_one_line_failure(result, code)


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_timeout_must_be_positive(capsys: pytest.CaptureFixture[str], value: str) -> None:
    assert run_cli(capsys, "--demo", "--once", f"--timeout={value}").code == 2


def test_demo_needs_no_appliance(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--demo", "--once", "--format", "json")
    assert result.code == 0, result.err
    flows = json.loads(result.out)
    assert len(flows) == 100 and all(len(flow) == 26 for flow in flows)


# --- one snapshot: JSON, CSV, table -------------------------------------------------------


def test_json_is_objects_keyed_by_the_26_api_fields_with_typed_values(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    flows = once_json(capsys, server, "--max-stats", "1000")
    assert len(flows) == 1000
    for flow in flows:
        assert list(flow) == list(API_FIELDS)
        for name in INT_FIELDS:
            value = flow[name]
            assert value is None or (type(value) is int), (name, value)
        for name in FLOAT_FIELDS:
            value = flow[name]
            assert value is None or type(value) in (int, float), (name, value)
        for name in ADDRESS_FIELDS + TEXT_FIELDS:
            assert flow[name] is None or isinstance(flow[name], str), (name, flow[name])
    # Typed, not the appliance's strings: the demo sends every number as text.
    assert any(isinstance(flow["bytes"], int) and flow["bytes"] > 0 for flow in flows)
    assert any(isinstance(flow["customer_kbps"], float) for flow in flows)


def test_ipv6_addresses_are_intact_strings(
    capsys: pytest.CaptureFixture[str], server: DemoServer, appliance: DemoAppliance
) -> None:
    flows = once_json(capsys, server, "--max-stats", "1000")
    sent = json.loads(appliance.world.encode(1000))["flows"]
    sent_addresses = {row[name] for row in sent for name in ADDRESS_FIELDS if row.get(name)}
    shown = [flow[name] for flow in flows for name in ADDRESS_FIELDS if flow[name] is not None]
    ipv6 = [address for address in shown if ":" in address]
    assert ipv6, "the demo appliance's flows include IPv6"
    for address in ipv6:
        assert isinstance(address, str)
        assert ipaddress.ip_address(address).version == 6
        assert address in sent_addresses


def test_missing_values_are_null_and_markup_is_kept_verbatim(
    capsys: pytest.CaptureFixture[str], server: DemoServer, faults: Faults
) -> None:
    faults.hostile_text = True
    flows = once_json(capsys, server, "--max-stats", "1000")
    assert all(list(flow) == list(API_FIELDS) for flow in flows), "no unknown field leaks"
    applications = {flow["application"] for flow in flows}
    assert "[bold red]pwn[/]" in applications
    assert "@click=app.quit" in applications
    services = {flow["service_name"] for flow in flows}
    assert "[link=http://x]click[/link]" in services
    # The appliance sent "" for bytes and "N/A" for pps in some flows: missing, so null.
    assert any(flow["bytes"] is None and flow["pps"] is None for flow in flows)


def test_csv_has_a_header_of_the_api_fields_and_the_same_rows_as_json(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    flows = once_json(capsys, server)
    result = run_cli(capsys, *connect(server), "--once", "--format", "csv")
    assert result.code == 0, result.err
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows[0] == list(CSV_FIELDS)
    assert len(rows) == 1 + 100
    for row, flow in zip(rows[1:], flows, strict=True):
        expected = ["" if flow[name] is None else str(flow[name]) for name in CSV_FIELDS]
        assert row == expected


def test_table_fits_80_columns_when_piped(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    result = run_cli(capsys, *connect(server), "--once")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 1 + 100
    assert lines[0].split()[:2] == ["Source", "Destination"]
    assert max(cell_len(line) for line in lines) <= 80
    assert max(len(line) for line in lines) > 60, "the table uses the width it has"


@pytest.mark.parametrize("columns", [60, 132])
def test_table_fits_the_terminal_width(
    server: DemoServer, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    class TerminalOut(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = TerminalOut()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda *_: os.terminal_size((columns, 40)))
    assert main([*connect(server), "--once"]) == 0
    lines = screen.getvalue().splitlines()
    assert len(lines) == 1 + 100
    widest = max(cell_len(line) for line in lines)
    assert columns - 10 < widest <= columns


def test_table_of_wide_and_hostile_text_fits_80_cells(
    capsys: pytest.CaptureFixture[str], server: DemoServer, faults: Faults
) -> None:
    faults.hostile_text = True
    result = run_cli(capsys, *connect(server), "--once", "--max-stats", "1000")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 1 + 1000, "no line breaks from the appliance's text"
    assert not any("\x1b" in line or "\r" in line for line in lines)
    too_wide = [line for line in lines if cell_len(line) > 80]
    assert too_wide == []


@pytest.mark.parametrize(
    ("sort", "field", "descending"),
    [
        (None, "customer_kbps", True),
        ("pps", "pps", True),
        ("pps:asc", "pps", False),
        ("bytes", "bytes", True),
        ("app", "application", False),
        ("application:desc", "application", True),
        ("age:asc", "age", False),
    ],
)
def test_sort_numbers_descending_text_ascending(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    sort: str | None,
    field: str,
    descending: bool,
) -> None:
    extra = [] if sort is None else ["--sort", sort]
    flows = once_json(capsys, server, "--max-stats", "1000", *extra)
    values = [flow[field] for flow in flows if flow[field] is not None]
    assert len(values) > 900
    if isinstance(values[0], str):
        values = [value.casefold() for value in values]
    assert is_sorted(values, descending)
    assert values[0] != values[-1]


def test_filter_narrows_the_snapshot(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    every = once_json(capsys, server, "--max-stats", "1000")
    zoom = once_json(capsys, server, "--max-stats", "1000", "--filter", "app:zoom")
    assert 0 < len(zoom) < len(every)
    assert all("zoom" in flow["application"].casefold() for flow in zoom)
    expected = sum(1 for flow in every if "zoom" in (flow["application"] or "").casefold())
    assert len(zoom) == expected


def test_filter_and_sort_apply_together_in_every_format(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    options = ["--max-stats", "1000", "--filter", "pps>100", "--sort", "pps:asc"]
    flows = once_json(capsys, server, *options)
    assert flows and all(flow["pps"] > 100 for flow in flows)
    assert is_sorted([flow["pps"] for flow in flows], descending=False)
    table = run_cli(capsys, *connect(server), "--once", *options)
    assert table.code == 0 and len(table.out.splitlines()) == 1 + len(flows)
    as_csv = run_cli(capsys, *connect(server), "--once", "--format", "csv", *options)
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert [float(row["pps"]) for row in rows] == [flow["pps"] for flow in flows]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--filter", "pps>>", "position"),
        ("--filter", 'app:"open', "position"),
        ("--filter", "nosuchfield:1", "nosuchfield"),
        ("--sort", "nosuchcolumn", "nosuchcolumn"),
        ("--sort", "pps:sideways", "sideways"),
    ],
)
def test_filter_and_sort_errors_are_usage_errors(
    capsys: pytest.CaptureFixture[str], server: DemoServer, option: str, value: str, expected: str
) -> None:
    result = run_cli(capsys, *connect(server), "--once", option, value)
    assert expected in assert_one_line_failure(result, 2)
    assert server.appliance.login_count == 0, "refused before connecting"


# --- group-by ------------------------------------------------------------------------------


def sums_by(flows: list[dict[str, Any]], field: str) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for flow in flows:
        value = flow[field] or "(none)"
        group = totals.setdefault(value, {"flows": 0, "pps": 0.0, "kbps": 0.0, "bytes": 0})
        group["flows"] += 1
        group["pps"] += flow["pps"] or 0.0
        group["kbps"] += flow["customer_kbps"] or 0.0
        group["bytes"] += flow["bytes"] or 0
    return totals


def assert_group_totals(groups: list[dict[str, Any]], flows: list[dict[str, Any]]) -> None:
    expected = sums_by(flows, "application")
    assert {group["value"] for group in groups} == set(expected)
    for group in groups:
        want = expected[group["value"]]
        assert group["flows"] == want["flows"]
        assert group["bytes"] == want["bytes"]
        assert group["pps"] == pytest.approx(want["pps"], abs=1e-3)
        assert group["kbps"] == pytest.approx(want["kbps"], abs=1e-3)


def test_group_totals_are_the_sums_over_the_flows(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    flows = once_json(capsys, server, "--max-stats", "1000")
    groups = once_json(capsys, server, "--max-stats", "1000", "--group-by", "application")
    assert all(list(group) == list(GROUP_JSON_FIELDS) for group in groups)
    assert all(group["group_by"] == "application" for group in groups)
    assert sum(group["flows"] for group in groups) == 1000
    assert len(groups) > 5
    assert_group_totals(groups, flows)
    assert is_sorted([group["kbps"] for group in groups], descending=True)


def test_group_totals_count_only_the_filtered_flows(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    options = ["--max-stats", "1000", "--filter", "app:zoom|*teams"]
    flows = once_json(capsys, server, *options)
    groups = once_json(capsys, server, *options, "--group-by", "application")
    assert 0 < sum(group["flows"] for group in groups) == len(flows) < 1000
    assert_group_totals(groups, flows)


def test_group_by_in_csv(capsys: pytest.CaptureFixture[str], server: DemoServer) -> None:
    groups = once_json(capsys, server, "--group-by", "application")
    result = run_cli(
        capsys, *connect(server), "--once", "--group-by", "application", "--format", "csv"
    )
    assert result.code == 0, result.err
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows[0] == list(GROUP_JSON_FIELDS)
    assert [row[1] for row in rows[1:]] == [group["value"] for group in groups]
    assert [int(row[2]) for row in rows[1:]] == [group["flows"] for group in groups]
    assert sum(int(row[2]) for row in rows[1:]) == 100


def test_group_by_as_a_table(capsys: pytest.CaptureFixture[str], server: DemoServer) -> None:
    groups = once_json(capsys, server, "--group-by", "application")
    result = run_cli(capsys, *connect(server), "--once", "--group-by", "application")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("Application")
    assert len(lines) == 1 + len(groups)
    assert max(cell_len(line) for line in lines) <= 80
    for line, group in zip(lines[1:], groups, strict=True):
        assert line.startswith(group["value"][:20])
        assert str(group["flows"]) in line.split()


# --- exit codes -----------------------------------------------------------------------------


def test_unreachable_appliance_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", "pw")
    port = closed_port()
    result = run_cli(capsys, "--url", f"http://127.0.0.1:{port}", "--user", "admin", "--once")
    line = assert_one_line_failure(result, 3)
    assert str(port) in line


def test_timeout_exits_3(
    capsys: pytest.CaptureFixture[str], server: DemoServer, faults: Faults
) -> None:
    faults.delay = 2.0
    started = time.monotonic()
    result = run_cli(capsys, *connect(server), "--once", "--timeout", "0.3")
    elapsed = time.monotonic() - started
    line = assert_one_line_failure(result, 3)
    assert "timeout" in line
    assert elapsed < 1.5


def test_wrong_password_exits_4_without_showing_it(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", "wrong-secret-42")
    line = assert_one_line_failure(run_cli(capsys, *connect(server), "--once"), 4)
    assert "wrong-secret-42" not in line


@pytest.mark.parametrize(
    "fault",
    [
        Faults(status=500),
        Faults(status=503),
        Faults(body=b"<html><body>Gateway</body></html>", content_type="text/html"),
        Faults(body=b'{"flows": 17}'),
    ],
    ids=["status-500", "status-503", "html", "not-flows"],
)
def test_appliance_error_or_unreadable_answer_exits_5(
    capsys: pytest.CaptureFixture[str], server: DemoServer, appliance: DemoAppliance, fault: Faults
) -> None:
    appliance.faults = fault
    assert_one_line_failure(run_cli(capsys, *connect(server), "--once", "--format", "json"), 5)


# --- record and replay ------------------------------------------------------------------------


def test_headless_records_n_polls_without_the_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Rec0rding-Secret-pw"
    appliance = DemoAppliance(seed=SEED, flows=FLOWS, clock=Clock(), password=secret)
    monkeypatch.setenv("FLOWTOP_PASSWORD", secret)
    path = tmp_path / "polls.jsonl"
    with DemoServer(appliance, host="127.0.0.1", port=0) as server:
        result = run_cli(
            capsys, *connect(server), "--headless", "--record", str(path),
            "--count", "2", "--interval", "0.5", "--max-stats", "50",
        )  # fmt: skip
        assert result.code == 0, result.err
        flows = once_json(capsys, server, "--max-stats", "50")
    assert secret.encode() not in path.read_bytes()
    recording = Recording.load(path)
    assert recording.damage is None
    assert len(recording.polls) == 2
    expected = {(flow["src_ip"], flow["src_port"], flow["dest_ip"]) for flow in flows}
    for poll in recording.polls:
        recorded = parse_flows(poll.body).flows
        assert len(recorded) == 50
        keys = {(str(flow.src_ip), flow.src_port, str(flow.dest_ip)) for flow in recorded}
        assert keys == expected


def test_replay_cannot_be_combined_with_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "polls.jsonl"
    assert run_cli(capsys, "--demo", "--headless", "--record", str(path), "--count", "1").code == 0
    assert len(Recording.load(path).polls) == 1
    line = assert_one_line_failure(run_cli(capsys, "--replay", str(path), "--once"), 2)
    assert "--once" in line


@pytest.mark.parametrize(
    "arguments",
    [
        ["--demo", "--headless", "--count", "1"],
        ["--demo", "--record", "x.jsonl", "--count", "1"],
        ["--demo", "--once", "--headless", "--record", "x.jsonl"],
        ["--demo", "--speed", "2"],
    ],
)
def test_mode_combinations_that_make_no_sense_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_failure(run_cli(capsys, *arguments), 2)
    assert not (tmp_path / "x.jsonl").exists()


def test_headless_against_an_unreachable_appliance_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTOP_PASSWORD", "pw")
    path = tmp_path / "polls.jsonl"
    result = run_cli(
        capsys, "--url", f"http://127.0.0.1:{closed_port()}", "--user", "admin",
        "--headless", "--record", str(path), "--count", "1",
    )  # fmt: skip
    assert "Traceback" not in result.err
    assert result.code == 3, f"nothing was recorded, yet exit {result.code}: {result.err}"


# --- profiles ---------------------------------------------------------------------------------


def lab_profile(url: str, *, extra: str = "", command: str | None = None) -> str:
    command = command or python_command(f"print({DEMO_PASSWORD!r})")
    return (
        f"[profiles.lab]\nurl = {toml(url)}\nuser = {toml(DEMO_USERNAME)}\n"
        f"password_command = {toml(command)}\n{extra}"
    )


def test_profile_connects_without_flags(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWTOP_PASSWORD")
    config = write_config(tmp_path, lab_profile(server.url))
    result = run_cli(
        capsys, "--config", str(config), "--profile", "lab", "--once", "--format", "json"
    )
    assert result.code == 0, result.err
    assert result.err == ""
    assert len(json.loads(result.out)) == 100


def test_default_profile_from_flowtop_config(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWTOP_PASSWORD")
    config = write_config(tmp_path, 'default_profile = "lab"\n\n' + lab_profile(server.url))
    monkeypatch.setenv("FLOWTOP_CONFIG", str(config))
    result = run_cli(capsys, "--once", "--format", "json", "--max-stats", "50")
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 50


def test_config_at_the_xdg_path_is_read(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWTOP_PASSWORD")
    directory = tmp_path / "xdg" / "flowtop"
    directory.mkdir()
    (directory / "config.toml").write_text(
        'default_profile = "lab"\n\n' + lab_profile(server.url, extra="max_stats = 50\n")
    )
    result = run_cli(capsys, "--once", "--format", "json")
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 50


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], 50),  # the profile over [defaults]
        (["--max-stats", "1000"], 1000),  # the command line over the profile
        (["--max-stats", "100"], 100),
    ],
)
def test_command_line_then_profile_then_defaults(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    options: list[str],
    expected: int,
) -> None:
    config = write_config(
        tmp_path,
        "[defaults]\nmax_stats = 1000\n\n" + lab_profile(server.url, extra="max_stats = 50\n"),
    )
    result = run_cli(
        capsys, "--config", str(config), "--profile", "lab", "--once", "--format", "json",
        *options,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == expected


def test_defaults_apply_when_the_profile_is_silent(
    capsys: pytest.CaptureFixture[str], server: DemoServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "[defaults]\nmax_stats = 1000\n\n" + lab_profile(server.url))
    result = run_cli(
        capsys, "--config", str(config), "--profile", "lab", "--once", "--format", "json"
    )
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 1000


def test_environment_url_beats_the_profile(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, lab_profile(f"http://127.0.0.1:{closed_port()}"))
    monkeypatch.setenv("FLOWTOP_URL", server.url)
    result = run_cli(
        capsys, "--config", str(config), "--profile", "lab", "--once", "--format", "json"
    )
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 100


def test_invalid_config_names_file_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        '[defaults]\ninterval = 2\n\n[profiles.lab]\nurl = "http://h.example"\nmax_stats = 200\n',
    )
    line = assert_one_line_failure(run_cli(capsys, "--config", str(config), "--demo", "--once"), 2)
    assert f"{config}: profiles.lab.max_stats: must be one of 50, 100, 1000 (got 200)" in line


@pytest.mark.parametrize(
    ("option", "key", "value", "reason"),
    [
        ("--interval", "interval", "0.1", "must be between 0.5 and 60 seconds (got 0.1)"),
        ("--interval", "interval", "61", "must be between 0.5 and 60 seconds (got 61)"),
        ("--max-stats", "max_stats", "200", "must be one of 50, 100, 1000 (got 200)"),
        ("--timeout", "timeout", "0", "must be more than 0 and at most 600 seconds (got 0)"),
        ("--timeout", "timeout", "601", "must be more than 0 and at most 600 seconds (got 601)"),
    ],
)
def test_a_bound_says_the_same_from_the_command_line_and_the_config_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    option: str,
    key: str,
    value: str,
    reason: str,
) -> None:
    """Each bound is declared once: both layers give the same reason, naming their place."""
    from_option = assert_one_line_failure(run_cli(capsys, "--demo", "--once", option, value), 2)
    assert from_option == f"flowtop: {option}: {reason}"
    config = write_config(tmp_path, f"[defaults]\n{key} = {value}\n")
    from_file = assert_one_line_failure(
        run_cli(capsys, "--config", str(config), "--demo", "--once"), 2
    )
    assert from_file == f"flowtop: {config}: defaults.{key}: {reason}"


def test_config_syntax_error_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, "[profiles.lab]\nurl = \n")
    line = assert_one_line_failure(run_cli(capsys, "--config", str(config), "--demo", "--once"), 2)
    assert str(config) in line and "line 2" in line


def test_missing_named_config_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.toml"
    line = assert_one_line_failure(run_cli(capsys, "--config", str(missing), "--demo", "--once"), 2)
    assert str(missing) in line


def test_readable_config_holding_a_password_warns(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWTOP_PASSWORD")
    text = (
        f"[profiles.lab]\nurl = {toml(server.url)}\nuser = {toml(DEMO_USERNAME)}\n"
        f"password = {toml(DEMO_PASSWORD)}\n"
    )
    config = write_config(tmp_path, text, mode=0o644)
    result = run_cli(
        capsys, "--config", str(config), "--profile", "lab", "--once", "--format", "json"
    )
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 100
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"flowtop: warning: {config} holds a password")
    assert "chmod 600" in lines[0]
    assert DEMO_PASSWORD not in result.err

    config.chmod(0o600)
    quiet = run_cli(
        capsys, "--config", str(config), "--profile", "lab", "--once", "--format", "json"
    )
    assert quiet.code == 0 and quiet.err == ""


def test_failing_password_command_exits_2_without_its_output(
    capsys: pytest.CaptureFixture[str],
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWTOP_PASSWORD")
    command = python_command("import sys; print('command-stdout-secret'); sys.exit(3)")
    config = write_config(tmp_path, lab_profile(server.url, command=command))
    result = run_cli(capsys, "--config", str(config), "--profile", "lab", "--once")
    line = assert_one_line_failure(result, 2)
    assert "command-stdout-secret" not in line
    assert "exit status 3" in line
    assert server.appliance.login_count == 0


def test_unknown_profile_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], server: DemoServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, lab_profile(server.url))
    result = run_cli(capsys, "--config", str(config), "--profile", "nope", "--once")
    line = assert_one_line_failure(result, 2)
    assert '"nope"' in line and "lab" in line


# --- version, help, never a traceback -----------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--version")
    assert result.code == 0
    assert result.out.strip() == f"flowtop {flowtop.__version__}"


DOCUMENTED_OPTIONS = (
    "--url",
    "--user",
    "--insecure",
    "--ca-bundle",
    "--timeout",
    "--interval",
    "--max-stats",
    "--demo",
    "--once",
    "--format",
    "--filter",
    "--sort",
    "--group-by",
    "--record",
    "--headless",
    "--count",
    "--replay",
    "--config",
    "--profile",
)


def test_help_has_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--help")
    assert result.code == 0
    assert result.out.startswith("usage: flowtop")
    for text in (
        "examples:",
        "--once --format json",
        "--group-by application",
        "--headless --record",
        "FLOWTOP_PASSWORD",
        "exit codes:",
        "4 authentication failed",
    ):
        assert text in result.out
    for option in DOCUMENTED_OPTIONS:
        assert option in result.out


@pytest.mark.parametrize(
    "arguments",
    [
        ["--max-stats", "200"],
        ["--demo", "--once", "--format", "xml"],
        ["--no-such-option"],
        ["--demo", "--interval", "soon"],
        ["--demo", "--once", "--group-by", "colour"],
    ],
    ids=["bad-choice", "bad-format", "unknown-option", "not-a-number", "bad-group"],
)
def test_argument_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    assert_one_line_failure(run_cli(capsys, *arguments), 2)


def flowtop_process(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowtop", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def test_python_m_flowtop_version(tmp_path: Path) -> None:
    done = flowtop_process("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"flowtop {flowtop.__version__}"
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unreachable", 3),
        ("wrong-password", 4),
        ("status-500", 5),
        ("bad-filter", 2),
        ("bad-config", 2),
        ("bad-max-stats", 2),
    ],
)
def test_failures_of_a_real_process_are_one_line_without_traceback(
    case: str,
    code: int,
    server: DemoServer,
    appliance: DemoAppliance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arguments = [*connect(server), "--once"]
    if case == "unreachable":
        arguments = ["--url", f"http://127.0.0.1:{closed_port()}", "--user", "a", "--once"]
    elif case == "wrong-password":
        monkeypatch.setenv("FLOWTOP_PASSWORD", "not-the-password")
    elif case == "status-500":
        appliance.faults = Faults(status=500)
    elif case == "bad-filter":
        arguments += ["--filter", "pps>>"]
    elif case == "bad-config":
        config = write_config(tmp_path, "[profiles.lab]\nmax_stats = 'many'\n")
        arguments += ["--config", str(config)]
    elif case == "bad-max-stats":
        arguments += ["--max-stats", "200"]
    done = flowtop_process(*arguments, cwd=tmp_path)
    assert "Traceback" not in done.stderr
    assert done.returncode == code, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("flowtop: ")


def test_proxy_options_reach_the_settings(isolated_environment: None) -> None:
    args = build_parser().parse_args(["--demo", "--proxy", "socks5h://127.0.0.1:1080"])
    settings = settings_from_arguments(args, {})
    assert (settings.proxy, settings.no_proxy) == ("socks5h://127.0.0.1:1080", False)
    args = build_parser().parse_args(["--demo", "--no-proxy"])
    assert settings_from_arguments(args, {}).no_proxy is True
    help_text = build_parser().format_help()
    assert "--proxy URL" in help_text and "--no-proxy" in help_text


def test_tls_trusts_a_ca_from_ssl_cert_file(
    capsys: pytest.CaptureFixture[str],
    isolated_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    certificate_authority: trustme.CA,
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("FLOWTOP_PASSWORD", DEMO_PASSWORD)
    context = server_tls_context(certificate_authority)
    with DemoServer(DemoAppliance(seed=1), ssl_context=context) as server:
        result = run_cli(
            capsys, "--url", server.url, "--user", DEMO_USERNAME, "--once", "--format", "json"
        )
    assert result.code == 0, result.err
    assert len(json.loads(result.out)) == 100


def _locale_process(
    server: DemoServer, environ: dict[str, str], *argv: str
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIO"))}
    env.pop("PYTHONUTF8", None)
    env.pop("COLUMNS", None)
    env.update(environ)
    return subprocess.run(
        [sys.executable, "-m", "flowtop", *connect(server), "--once", *argv],
        capture_output=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_once_under_a_c_locale_is_pure_ascii(server: DemoServer, faults: Faults, fmt: str) -> None:
    faults.hostile_text = True  # emoji, CJK, Arabic, zero-width characters
    done = _locale_process(server, {"LC_ALL": "C", "LANG": "C"}, "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii()
    text = done.stdout.decode("ascii")
    if fmt == "json":
        # Escaped, not lost: the same JSON in ASCII.
        assert any("\u4f1a" in (f["application"] or "") for f in json.loads(text))
    else:
        assert "Source" in text and "\u2026" not in text


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_once_to_a_latin1_output_replaces_what_it_cannot_show(
    server: DemoServer, faults: Faults, fmt: str
) -> None:
    faults.hostile_text = True
    done = _locale_process(
        server, {"LANG": "C.UTF-8", "PYTHONIOENCODING": "iso-8859-1"}, "--format", fmt
    )
    assert done.returncode == 0, done.stderr
    assert _notes(done.stderr.decode("iso-8859-1")) == []
    text = done.stdout.decode("iso-8859-1")
    assert "src_ip" in text or "Source" in text


def test_ascii_flag_draws_ascii_and_leaves_unicode_for_later_runs(
    capsys: pytest.CaptureFixture[str], server: DemoServer, faults: Faults
) -> None:
    faults.hostile_text = True
    result = run_cli(capsys, *connect(server), "--once", "--ascii", "--width", "100")
    assert result.code == 0, result.err
    assert result.out.isascii() and "~" in result.out
    again = run_cli(capsys, *connect(server), "--once", "--width", "100")
    assert "\u2026" in again.out


def test_once_table_to_a_pipe_honours_columns_and_width(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    wide = run_cli(capsys, *connect(server), "--once")
    assert wide.code == 0, wide.err
    header = wide.out.splitlines()[0]
    assert "Path" in header and "Age" in header
    assert max(len(line) for line in wide.out.splitlines()) <= 200
    monkeypatch.delenv("COLUMNS")
    narrow = run_cli(capsys, *connect(server), "--once")
    assert "Path" not in narrow.out.splitlines()[0]
    unlimited = run_cli(capsys, *connect(server), "--once", "--width", "0")
    assert "\u2026" not in unlimited.out and "DSCP" in unlimited.out.splitlines()[0]
    chosen = run_cli(capsys, *connect(server), "--once", "--width", "150")
    assert "Path" in chosen.out.splitlines()[0]


def test_width_goes_with_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_failure(run_cli(capsys, "--demo", "--width", "100"), 2)
    assert_one_line_failure(run_cli(capsys, "--demo", "--once", "--width", "-1"), 2)


def test_ascii_is_chosen_by_setting_then_locale_then_the_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flowtop.cli import use_ascii
    from flowtop.core.settings import Settings

    latin1 = io.TextIOWrapper(io.BytesIO(), encoding="iso-8859-1")
    utf8 = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr("flowtop.cli.locale_is_utf8", lambda: True)
    assert use_ascii(Settings(demo=True), utf8) is False
    assert use_ascii(Settings(demo=True), latin1) is True  # the TUI's stderr, --once's stdout
    assert use_ascii(Settings(demo=True, ascii=True), utf8) is True
    monkeypatch.setattr("flowtop.cli.locale_is_utf8", lambda: False)
    assert use_ascii(Settings(demo=True), utf8) is True
    assert use_ascii(Settings(demo=True, ascii=False), latin1) is False


def test_once_says_which_chosen_columns_the_width_leaves_out(
    capsys: pytest.CaptureFixture[str], server: DemoServer
) -> None:
    chosen = "src,dst,app,path,service,dscp,rule,class"
    narrow = run_cli(capsys, *connect(server), "--once", "--columns", chosen, "--width", "80")
    assert narrow.code == 0
    notes = _notes(narrow.err)
    assert notes[0].startswith("flowtop: note: too narrow for column(s) ")
    assert "class" in notes[0] and "--width" in notes[0]
    wide = run_cli(capsys, *connect(server), "--once", "--columns", chosen, "--width", "0")
    assert wide.code == 0 and _notes(wide.err) == []
    default = run_cli(capsys, *connect(server), "--once", "--width", "80")
    assert _notes(default.err) == []  # the default columns thin out by design


def _notes(err: str) -> list[str]:
    """stderr lines of --once but the note that the demo's answer was capped."""
    return [line for line in err.splitlines() if not line.startswith("flowtop: capped by")]
