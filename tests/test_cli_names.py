"""--once --resolve: host names within the lookups' time limit, and only when asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from flowtop import cli
from flowtop.core import names
from tests.support import run_cli

pytestmark = pytest.mark.usefixtures("isolated_environment")


def _fake(calls: list[str]) -> Callable[[str], str | None]:
    def lookup(address: str) -> str | None:
        calls.append(address)
        return "h-" + address.replace(".", "-").replace(":", "-") + ".demo.example"

    return lookup


def test_once_resolves_only_with_resolve(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    system: list[str] = []
    monkeypatch.setattr(cli, "demo_lookup", _fake(calls))
    monkeypatch.setattr(names, "system_lookup", _fake(system))
    plain = run_cli(capsys, "--demo", "--once", "--width", "0")
    assert plain.code == 0 and ".demo.example" not in plain.out
    assert calls == []
    named = run_cli(capsys, "--demo", "--once", "--resolve", "--port-names", "--width", "0")
    assert named.code == 0, named.err
    assert calls
    body = named.out.splitlines()[1:]
    assert body and all(".demo.example" in line for line in body)
    assert ":https" in named.out
    # The demo's invented addresses are never sent to the system's resolver.
    assert system == []


def test_the_demo_names_its_private_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    named = run_cli(capsys, "--demo", "--once", "--resolve", "--width", "0")
    assert named.code == 0, named.err
    assert ".corp.example:" in named.out


def test_once_resolve_waits_no_longer_than_the_time_limit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def hanging(address: str) -> str | None:
        release.wait(20)
        return None

    monkeypatch.setattr(cli, "demo_lookup", hanging)
    monkeypatch.setattr(names, "LOOKUP_TIMEOUT", 0.5)
    began = time.monotonic()
    try:
        result = run_cli(capsys, "--demo", "--once", "--resolve", "--width", "0")
    finally:
        release.set()
    assert result.code == 0, result.err
    assert time.monotonic() - began < 10
    # Failed lookups: the addresses are shown.
    assert "10.1." in result.out


def test_once_resolve_filters_on_names(capsys: pytest.CaptureFixture[str]) -> None:
    """The filter hides flows until their names are known: every flow is looked up."""
    result = run_cli(
        capsys, "--demo", "--once", "--resolve", "--width", "0",
        "--filter", "host:srv*.dc.corp.example",
    )  # fmt: skip
    assert result.code == 0, result.err
    body = result.out.splitlines()[1:]
    assert body and all("srv" in line and ".dc.corp.example" in line for line in body)
