"""One-shot output formats."""

from __future__ import annotations

import csv
import io
import json

from flowtop.core.batch import (
    fit_columns,
    render_csv,
    render_json,
    render_records_csv,
    render_records_json,
    render_table,
)
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
    kept = [column.id for column, _ in fit_columns(view.columns, 80)]
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
    assert rows[0] == list(API_FIELDS)
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
