"""Issue 13: averages, peaks and measured rates as --columns, --sort and --filter of --once."""

from __future__ import annotations

import json

import pytest

from tests.support import run_cli


def _once(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    result = run_cli(capsys, "--demo", "--once", *extra)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result.out


def test_once_shows_the_10s_and_40s_columns_marked_as_one_poll(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _once(capsys, "--columns", "src,dst,rate,rate_10s,rate_40s")
    header, *rows = out.splitlines()
    assert header.split() == ["Source", "Destination", "bit/s", "10s", "40s"]
    assert rows
    for row in rows:
        rate, ten, forty = row.split()[-3:]
        # One poll is no 10 s history: the one reported rate, marked as such.
        assert ten == forty == f"{rate}*"


def test_once_sorts_and_filters_by_derived_fields(capsys: pytest.CaptureFixture[str]) -> None:
    everything = json.loads(_once(capsys, "--format", "json"))
    fast = json.loads(_once(capsys, "--format", "json", "--filter", "rate_40s>1k"))
    assert fast and len(fast) < len(everything)
    assert all(flow["customer_kbps"] > 1000 for flow in fast)
    ordered = json.loads(_once(capsys, "--format", "json", "--sort", "rate_peak:asc"))
    rates = [flow["customer_kbps"] for flow in ordered]
    assert rates == sorted(rates)


def test_once_has_no_measured_rate_from_one_poll(capsys: pytest.CaptureFixture[str]) -> None:
    out = _once(capsys, "--width", "0", "--columns", "src,rate,rate_measured,pps_measured,mismatch")
    header, *rows = out.splitlines()
    assert header.split() == ["Source", "bit/s", "Meas", "Mpps", "Stale"]
    assert all(len(row.split()) == 2 for row in rows), "two polls make a measured rate"


def test_an_unknown_derived_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--demo", "--once", "--filter", "rate_30s>1")
    assert result.code == 2
    assert "did you mean rate_" in result.err
