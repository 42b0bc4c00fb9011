"""One-shot output formats."""

from __future__ import annotations

import csv
import io
import json

import pytest

from flowtop.core import glyphs
from flowtop.core.batch import (
    CSV_FIELDS,
    render_csv,
    render_json,
    render_records_csv,
    render_records_json,
    render_table,
)
from flowtop.core.layout import fit_columns
from flowtop.core.model import API_FIELDS, Flow
from flowtop.core.store import FlowStore
from flowtop.core.view import FlowView
from tests.core.factories import flow


def _rows(*flows_: object) -> tuple[FlowView, list]:  # type: ignore[type-arg]
    store = FlowStore()
    store.apply(list(flows_), at=1.0)  # type: ignore[arg-type]
    view = FlowView()
    return view, view.compute(store.records.values()).rows


def test_table_fits_the_width_exactly() -> None:
    view, rows = _rows(flow(1, application="A" * 80, path="P" * 80), flow(2))
    for width in (80, 120, 200):
        lines = render_table(rows, view.columns, width).splitlines()
        assert len(lines) == 3
        assert all(len(line) <= width for line in lines), width
    wide = render_table(rows, view.columns, 200)
    assert "Source" in wide and "Age" in wide and "…" in wide


def test_narrow_tables_drop_low_priority_columns_first() -> None:
    view, _ = _rows(flow(1))
    kept = [view.columns[index].id for index, _ in fit_columns(view.columns, 80)]
    assert {"src", "dst", "app", "pps", "kbps"} <= set(kept)
    assert "service" not in kept


def test_table_shows_markup_literally() -> None:
    view, rows = _rows(flow(1, application="[bold]x[/bold]"))
    assert "[bold]x[/bold]" in render_table(rows, view.columns, 200)


def test_json_has_the_26_fields_typed() -> None:
    document = json.loads(render_json([flow(1), flow(2, bytes="N/A")]))
    assert len(document) == 2
    assert list(document[0]) == list(API_FIELDS)
    assert document[0]["bytes"] == 1000 and document[1]["bytes"] is None
    assert document[0]["src_ip"] == "10.1.0.2"


def test_csv_has_a_header_of_api_names() -> None:
    rows = list(csv.reader(io.StringIO(render_csv([flow(1, application='a,"b"')]))))
    assert rows[0] == list(CSV_FIELDS)
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["application"] == 'a,"b"'
    assert record["bytes"] == "1000"


def test_every_format_encodes_even_text_with_lone_surrogates() -> None:
    # A flow built around the parser, as a bug elsewhere might: output still encodes.
    broken = Flow.model_construct(application="cut \ud83d", path="p\udc00")
    view, rows = _rows(broken)
    records = [{"group": "g\ud83d", "flows": 1, "k\udfff": ["\ud800"]}]
    outputs = [
        render_json([broken]),
        render_csv([broken]),
        render_table(rows, view.columns, 120),
        render_records_json(records),
        render_records_csv(records, ["group", "flows", "k\udfff"]),
    ]
    for text in outputs:
        assert "\ufffd" in text.encode("utf-8").decode("utf-8")
    assert json.loads(outputs[0])[0]["application"] == "cut \ufffd"


def test_csv_columns_follow_the_api_model_not_the_alphabet() -> None:
    header = next(csv.reader(io.StringIO(render_csv([]))))
    assert sorted(header) == sorted(API_FIELDS) and header != sorted(header)
    assert header[:4] == ["src_ip", "src_port", "dest_ip", "dest_port"]
    assert header.index("path") < header.index("bytes") < header.index("customer_kbps")


@pytest.fixture
def ascii_glyphs() -> object:
    glyphs.select(True)
    yield glyphs.ASCII
    glyphs.select(False)


def test_one_shot_table_never_cuts_an_address() -> None:
    v6 = "2001:db8:1234:5678:9abc:def0:1234:5678"
    view, rows = _rows(flow(1, src_ip=v6, src_port=443, application="A" * 40))
    table = render_table(rows, view.columns, 100)
    assert f"[{v6}]:443" in table
    assert "…" in table  # the application may be cut, the address not


def test_one_shot_table_without_a_width_limit_keeps_every_column() -> None:
    view, rows = _rows(flow(1, application="A" * 40, path="P" * 60))
    table = render_table(rows, view.columns, 0)
    header = table.splitlines()[0]
    assert "Path" in header and "DSCP" in header and "Age" in header
    assert "A" * 40 in table and "P" * 60 in table and "…" not in table


def test_ascii_table_is_pure_ascii(ascii_glyphs: object) -> None:
    view, rows = _rows(flow(1, application="Caf\u00e9 \u5fae\u4fe1 " + "A" * 40, path=""))
    table = render_table(rows, view.columns, 120)
    assert table.isascii()
    assert "Cafe ????" in table and "~" in table
    assert "(none)" in table  # a passthrough flow's empty path


def test_ascii_json_escapes_instead_of_losing_text(ascii_glyphs: object) -> None:
    text = render_json([flow(1, application="Caf\u00e9")], ascii_only=True)
    assert text.isascii()
    assert json.loads(text)[0]["application"] == "Caf\u00e9"
