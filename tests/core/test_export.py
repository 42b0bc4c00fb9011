"""Export of the shown rows: exact content, unique names, atomic writes, clear errors."""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowtop.core.batch import CSV_FIELDS
from flowtop.core.errors import FlowtopError
from flowtop.core.export import ExportError, export_name, export_rows
from flowtop.core.model import API_FIELDS, Flow
from tests.core.factories import flow

NOW = time.mktime((2024, 5, 6, 14, 2, 11, 0, 0, -1))


@dataclass
class FlowRow:
    """Stands for flowtop.core.view.Row: only ``flow`` is read."""

    flow: Flow


@dataclass
class GroupRow:
    name: str
    flows: int
    kbps: float | None

    def to_json_dict(self) -> dict[str, Any]:
        return {"application": self.name, "flows": self.flows, "kbps": self.kbps}


def _flows() -> list[Flow]:
    return [
        flow(1),
        flow(2, application='Zoom, "quoted"; x', path=""),
        flow(3, pps="N/A", src_ip="2001:db8::5"),
    ]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _as_csv(values: dict[str, Any]) -> dict[str, str]:
    return {name: "" if value is None else str(value) for name, value in values.items()}


def test_json_export_holds_exactly_the_rows_in_order(tmp_path: Path) -> None:
    flows = _flows()
    path = export_rows([FlowRow(f) for f in reversed(flows)], "json", tmp_path, now=NOW)
    assert path.parent == tmp_path
    assert path.name == "flowtop-flows-20240506-140211.json"
    assert json.loads(path.read_text("utf-8")) == [f.to_json_dict() for f in reversed(flows)]


def test_csv_export_holds_exactly_the_rows(tmp_path: Path) -> None:
    flows = _flows()
    path = export_rows([FlowRow(f) for f in flows], "csv", tmp_path, now=NOW)
    assert path.name == "flowtop-flows-20240506-140211.csv"
    rows = _csv_rows(path)
    assert list(rows[0]) == list(CSV_FIELDS)
    assert rows == [_as_csv(f.to_json_dict()) for f in flows]
    assert rows[1]["application"] == 'Zoom, "quoted"; x'


def test_empty_flow_export_still_has_the_header(tmp_path: Path) -> None:
    path = export_rows([], "csv", tmp_path, now=NOW)
    assert path.read_text("utf-8").strip() == ",".join(CSV_FIELDS)
    assert json.loads(export_rows([], "json", tmp_path, now=NOW).read_text("utf-8")) == []


def test_group_rows_are_written_from_their_dicts(tmp_path: Path) -> None:
    groups = [GroupRow("Zoom", 12, 1500.5), GroupRow("[bold red]x[/]", 1, None)]
    path = export_rows(groups, "json", tmp_path, now=NOW, kind="apps")
    assert path.name == "flowtop-apps-20240506-140211.json"
    assert json.loads(path.read_text("utf-8")) == [g.to_json_dict() for g in groups]

    path = export_rows(groups, "csv", tmp_path, now=NOW, kind="apps")
    assert _csv_rows(path) == [_as_csv(g.to_json_dict()) for g in groups]
    assert path.read_text("utf-8").splitlines()[0] == "application,flows,kbps"


def test_a_group_row_carrying_a_flow_is_still_a_group(tmp_path: Path) -> None:
    @dataclass
    class TopFlowGroup(GroupRow):
        flow: Flow | None = None

    rows = [TopFlowGroup("Zoom", 2, 3.0, flow(1)), TopFlowGroup("Teams", 1, None, flow(2))]
    path = export_rows(rows, "json", tmp_path, now=NOW, kind="apps")
    assert json.loads(path.read_text("utf-8")) == [row.to_json_dict() for row in rows]
    # Flows themselves are flow rows.
    path = export_rows([flow(1)], "json", tmp_path, now=NOW)
    assert json.loads(path.read_text("utf-8")) == [flow(1).to_json_dict()]


def test_names_never_collide_and_nothing_is_overwritten(tmp_path: Path) -> None:
    taken = tmp_path / "flowtop-flows-20240506-140211.csv"
    taken.write_text("keep me", "utf-8")
    second = export_rows([FlowRow(flow(1))], "csv", tmp_path, now=NOW)
    third = export_rows([FlowRow(flow(2))], "csv", tmp_path, now=NOW)
    assert second.name == "flowtop-flows-20240506-140211-2.csv"
    assert third.name == "flowtop-flows-20240506-140211-3.csv"
    assert taken.read_text("utf-8") == "keep me"
    assert _csv_rows(second)[0]["src_port"] == "40001"
    assert _csv_rows(third)[0]["src_port"] == "40002"
    # Another format is another name.
    assert export_rows([], "json", tmp_path, now=NOW).name == "flowtop-flows-20240506-140211.json"


def test_name_uses_local_time_and_a_safe_kind() -> None:
    expected = time.strftime("%Y%m%d-%H%M%S", time.localtime(NOW + 3600))
    assert export_name("flows", "csv", NOW + 3600) == f"flowtop-flows-{expected}.csv"
    assert export_name("../etc/passwd", "json", NOW, 4).startswith("flowtop-etc-passwd-")
    assert export_name("../etc/passwd", "json", NOW, 4).endswith("-4.json")


def test_write_is_atomic_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_rows([FlowRow(f) for f in _flows()], "json", tmp_path, now=NOW)
    assert [p.name for p in tmp_path.iterdir()] == ["flowtop-flows-20240506-140211.json"]

    # The file is published in one step; if that step fails, no partial file is left
    # under the final name and the temporary file is gone.
    def refuse(source: Any, target: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", refuse)
    with pytest.raises(ExportError) as caught:
        export_rows([FlowRow(flow(1))], "csv", tmp_path, now=NOW)
    assert "the disk is full" in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["flowtop-flows-20240506-140211.json"]


def test_filesystems_without_hard_links_still_get_unique_complete_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(source: Any, target: Any) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", unsupported)
    first = export_rows([FlowRow(flow(1))], "csv", tmp_path, now=NOW)
    second = export_rows([FlowRow(flow(2))], "csv", tmp_path, now=NOW)
    assert (first.name, second.name) == (
        "flowtop-flows-20240506-140211.csv",
        "flowtop-flows-20240506-140211-2.csv",
    )
    assert _csv_rows(first)[0]["src_port"] == "40001"
    assert {p.name for p in tmp_path.iterdir()} == {first.name, second.name}


def test_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ExportError) as caught:
        export_rows([FlowRow(flow(1))], "csv", missing, now=NOW)
    message = str(caught.value)
    assert isinstance(caught.value, FlowtopError)
    assert "\n" not in message
    assert str(missing / "flowtop-flows-20240506-140211.csv") in message
    assert "no such directory" in message
    assert not missing.exists()

    plain_file = tmp_path / "file"
    plain_file.write_text("", "utf-8")
    with pytest.raises(ExportError, match=f"not a directory {plain_file}$"):
        export_rows([], "json", plain_file, now=NOW)


def test_read_only_directory_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests may run as root, whom a read-only mode does not stop: refuse the way
    # the kernel does for a directory without write permission.
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def guarded_open(path: Any, flags: int, mode: int = 0o777) -> int:
        if Path(path).parent == locked and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", guarded_open)
    with pytest.raises(ExportError) as caught:
        export_rows([FlowRow(flow(1))], "json", locked, now=NOW)
    assert str(caught.value) == (
        f"cannot write {locked / 'flowtop-flows-20240506-140211.json'}: permission denied"
    )
    assert list(locked.iterdir()) == []


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match='unknown export format "xml"'):
        export_rows([FlowRow(flow(1))], "xml", tmp_path, now=NOW)
    assert list(tmp_path.iterdir()) == []


def test_rows_of_unknown_shape_are_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        export_rows([object()], "json", tmp_path, now=NOW)
    with pytest.raises(TypeError):
        export_rows([FlowRow(flow(1)), GroupRow("x", 1, 1.0)], "json", tmp_path, now=NOW)


def test_only_flow_fields_are_written(tmp_path: Path) -> None:
    # A field the appliance added (even one named like a secret) is not exported.
    raw = flow(1).to_json_dict() | {"password": "hunter2"}
    strange = Flow.from_raw({k: "" if v is None else str(v) for k, v in raw.items()})
    text = export_rows([FlowRow(strange)], "json", tmp_path, now=NOW).read_text("utf-8")
    assert "hunter2" not in text
    assert set(json.loads(text)[0]) == set(API_FIELDS)


def test_text_with_lone_surrogates_is_exported_as_valid_utf8(tmp_path: Path) -> None:
    broken = Flow.model_construct(application="cut \ud83d", path="p")
    for fmt in ("csv", "json"):
        path = export_rows([FlowRow(broken)], fmt, tmp_path, now=NOW)
        assert "cut \ufffd" in path.read_bytes().decode("utf-8")


@dataclass
class DeepRow:
    value: Any

    def to_json_dict(self) -> dict[str, Any]:
        return {"group": "deep", "value": self.value}


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_rows_that_cannot_be_written_are_an_export_error(tmp_path: Path, fmt: str) -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ExportError) as caught:
        export_rows([DeepRow(deep)], fmt, tmp_path, now=NOW, kind="groups-application")
    message = str(caught.value)
    assert message.startswith("cannot write ") and str(tmp_path) in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []
