"""The filter language from the command line: whole-value field terms, RE2 patterns."""

from __future__ import annotations

import json

import pytest

from tests.support import run_cli


def _flows(capsys: pytest.CaptureFixture[str], expression: str) -> list[dict[str, object]]:
    result = run_cli(
        capsys, "--demo", "--once", "--max-stats", "1000", "--format", "json",
        "--filter", expression,
    )  # fmt: skip
    assert result.code == 0, result.err
    flows = json.loads(result.out)
    assert isinstance(flows, list)
    return flows


def test_dscp_ef_returns_only_ef_flows(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 8: dscp:ef also matched every "default" (best-effort) flow."""
    everything = _flows(capsys, "")
    assert {"ef", "default"} <= {row["ip_dscp"] for row in everything}
    flows = _flows(capsys, "dscp:ef")
    assert flows and {row["ip_dscp"] for row in flows} == {"ef"}
    assert len(flows) == sum(row["ip_dscp"] == "ef" for row in everything)


def test_app_http_is_not_https_and_wildcards_widen(capsys: pytest.CaptureFixture[str]) -> None:
    assert {row["application"] for row in _flows(capsys, "app:https")} == {"HTTPS"}
    micro = {row["application"] for row in _flows(capsys, "app:micro*")}
    assert micro and all(str(name).lower().startswith("micro") for name in micro)
    inet = _flows(capsys, "path:*INET*")
    assert inet and all("inet" in str(row["path"]).lower() for row in inet)


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [("(a)\\1", "backreference"), ("a(?=b)", "lookahead"), ("(?<=a)b", "lookbehind")],
)
def test_unsupported_regex_constructs_are_a_usage_error(
    capsys: pytest.CaptureFixture[str], pattern: str, construct: str
) -> None:
    result = run_cli(capsys, "--demo", "--once", "--filter", f"app~{pattern}")
    assert result.code == 2
    assert construct in result.err and "not supported" in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
