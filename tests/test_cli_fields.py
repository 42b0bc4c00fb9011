"""Issue 10: every alias names the same field in --filter, --sort, --columns and --group-by."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from flowtop.core.fields import EITHER_END_TERMS, FIELDS, Field
from tests.support import run_cli

ALIASES = [(alias, field) for field in FIELDS for alias in field.aliases]


def _once(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    result = run_cli(capsys, "--demo", "--once", *extra)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result.out


def _json(capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    return json.loads(_once(capsys, "--format", "json", *extra))


def _header(capsys: pytest.CaptureFixture[str], columns: str) -> str:
    return _once(capsys, "--width", "0", "--columns", columns).splitlines()[0]


@pytest.mark.parametrize(
    ("alias", "field"), ALIASES, ids=[f"{alias}={field.name}" for alias, field in ALIASES]
)
def test_an_alias_means_its_field_everywhere(
    capsys: pytest.CaptureFixture[str], alias: str, field: Field
) -> None:
    name = field.name
    # --filter: a term on the alias selects the flows a term on the field selects.
    by_alias = _json(capsys, "--filter", f"{alias}~.")
    assert by_alias == _json(capsys, "--filter", f"{name}~.")
    assert by_alias, "the demo has values for every field"
    # --sort: the same order, in both directions.
    for direction in ("asc", "desc"):
        order = _json(capsys, "--sort", f"{alias}:{direction}")
        assert order == _json(capsys, "--sort", f"{name}:{direction}")
    # --columns: the same column.
    assert _header(capsys, f"src,{alias}") == _header(capsys, f"src,{name}")
    # --group-by: the same grouping where the field groups, a clear refusal elsewhere.
    if field.groupable:
        groups = _json(capsys, "--group-by", alias)
        assert groups == _json(capsys, "--group-by", name)
        assert {group["group_by"] for group in groups} == {field.group.id}  # type: ignore[union-attr]
    else:
        result = run_cli(capsys, "--demo", "--once", "--group-by", alias)
        assert result.code == 2 and "cannot group by" in result.err
        assert len(result.err.strip().splitlines()) == 1


def test_the_issue_examples_now_work(capsys: pytest.CaptureFixture[str]) -> None:
    """--sort pkts, --columns hits, --sort type and --group-by service all name one field."""
    rows = _json(capsys, "--sort", "pkts")
    packets = [row["packets"] for row in rows if row["packets"] is not None]
    assert packets == sorted(packets, reverse=True)
    assert "hitcount" in _header(capsys, "src,hits")
    types = [row["service_type"] for row in _json(capsys, "--sort", "type")]
    present = [value.casefold() for value in types if value]
    assert present == sorted(present)
    # svc is the service name in every place.
    names = {group["value"] for group in _json(capsys, "--group-by", "svc")}
    assert names <= {row["service_name"] or "(none)" for row in _json(capsys)}
    some = next(iter(sorted(names - {"(none)"})))
    assert {row["service_name"] for row in _json(capsys, "--filter", f'svc:"{some}"')} == {some}


@pytest.mark.parametrize("term", EITHER_END_TERMS, ids=lambda term: term.name)
def test_either_end_terms_filter_but_name_no_column(
    capsys: pytest.CaptureFixture[str], term: Any
) -> None:
    assert _json(capsys, "--filter", f"{term.name}~.")
    for option in ("--sort", "--columns", "--group-by"):
        result = run_cli(capsys, "--demo", "--once", option, term.name)
        assert result.code == 2, option
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def test_csv_header_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    """The CSV keeps the model's order (endpoints first), not the registry's."""
    header = next(csv.reader(io.StringIO(_once(capsys, "--format", "csv"))))
    assert header[:5] == ["src_ip", "src_port", "dest_ip", "dest_port", "ipp"]
