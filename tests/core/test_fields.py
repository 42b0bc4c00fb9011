"""The field registry: the model, columns, filter, groupings and README agree with it."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from flowtop.core import fields
from flowtop.core.columns import COLUMNS, resolve_column
from flowtop.core.errors import UsageError
from flowtop.core.fields import ALL_FIELDS, DERIVED_FIELDS, FIELDS, markdown_table, resolve_field
from flowtop.core.filter import FIELD_ALIASES
from flowtop.core.groups import GROUPINGS, resolve_grouping
from flowtop.core.model import Flow

README = Path(__file__).resolve().parents[2] / "README.md"
SAMPLES = {"address": "10.0.0.1", "int": "5", "float": "1.5", "text": "x"}
TYPES = {
    "address": ipaddress.IPv4Address,
    "int": int,
    "float": float,
    "text": str,
}


def test_the_registry_declares_the_26_api_fields() -> None:
    assert len(FIELDS) == 26
    # The vendor's reference page lists them alphabetically; exports use that order.
    assert list(fields.API_FIELDS) == sorted(field.name for field in FIELDS)


@pytest.mark.parametrize("field", FIELDS, ids=lambda field: field.name)
def test_the_model_types_each_field_as_the_registry_says(field: fields.Field) -> None:
    assert field.name in Flow.model_fields
    value = Flow.from_raw({field.name: SAMPLES[field.kind]}).value(field.name)
    assert type(value) is TYPES[field.kind] or isinstance(value, TYPES[field.kind])
    assert not isinstance(value, bool)


def test_the_model_declares_no_field_the_registry_lacks() -> None:
    declared = set(Flow.model_fields) - {"unparsed_values"}
    assert declared == {field.name for field in FIELDS + fields.FLEET_FIELDS}


def test_the_appliance_is_set_by_its_store_never_read_from_an_answer() -> None:
    """An appliance's own field called "appliance" is one of its extras; the store of a
    fleet's appliance marks each flow with that appliance's name, and its key with it."""
    from flowtop.core.store import FlowStore

    sent = Flow.from_raw({"src_ip": "10.0.0.1", "appliance": "mine"})
    assert sent.appliance is None and sent.extras == {"appliance": "mine"}
    store = FlowStore(appliance="austin")
    store.apply([sent], at=1.0)
    assert sent.appliance == "austin" and sent.value("appliance") == "austin"
    (key,) = store.records
    assert key.appliance == "austin" and key.label().startswith("austin 10.0.0.1")
    assert list(sent.to_json_dict()) == ["appliance", *fields.API_FIELDS]


def test_model_lists_come_from_the_registry() -> None:
    from flowtop.core import model

    assert model.API_FIELDS is fields.API_FIELDS
    kinds = {
        "address": model.ADDRESS_FIELDS,
        "int": model.INT_FIELDS,
        "float": model.FLOAT_FIELDS,
        "text": model.TEXT_FIELDS,
    }
    for field in FIELDS:
        assert [kind for kind, names in kinds.items() if field.name in names] == [field.kind]


@pytest.mark.parametrize(
    ("name", "field"),
    [(name, field.name) for field in ALL_FIELDS for name in field.names],
)
def test_every_name_means_one_field_in_filter_sort_columns_and_groups(
    name: str, field: str
) -> None:
    declared = resolve_field(name)
    assert declared is not None and declared.name == field
    assert resolve_field(name.upper()) is declared
    if name != field:
        assert FIELD_ALIASES[name] == (field,)
    column = resolve_column(name)
    own = declared.column
    assert column.id == (own.id if own is not None else field)
    if own is not None:
        assert COLUMNS[own.id] is column
    if declared.groupable:
        grouping = resolve_grouping(name)
        assert declared.group is not None and grouping is GROUPINGS[declared.group.id]
    else:
        with pytest.raises(UsageError, match="cannot group by"):
            resolve_grouping(name)


@pytest.mark.parametrize("term", fields.EITHER_END_TERMS, ids=lambda term: term.name)
def test_either_end_terms_are_filter_only(term: fields.EitherEndTerm) -> None:
    assert FIELD_ALIASES[term.name] == term.fields
    assert resolve_field(term.name) is None
    with pytest.raises(UsageError, match="filter term"):
        resolve_column(term.name)
    with pytest.raises(UsageError, match=r"cannot group by .*a filter term for"):
        resolve_grouping(term.name)


def test_filter_aliases_are_exactly_the_registrys() -> None:
    expected = {alias for field in ALL_FIELDS for alias in field.aliases}
    expected |= {term.name for term in fields.EITHER_END_TERMS}
    assert set(FIELD_ALIASES) == expected


def test_every_column_and_grouping_belongs_to_a_field() -> None:
    for column_id in COLUMNS:
        found = resolve_field(column_id)
        assert found is not None and found.column is not None and found.column.id == column_id
    for grouping_id in GROUPINGS:
        found = resolve_field(grouping_id)
        assert found is not None and found.group is not None and found.group.id == grouping_id


def test_the_readme_field_table_is_the_registry() -> None:
    """The README's table between the markers is generated from the registry."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- fields -->\n(.*?)<!-- /fields -->", text, re.DOTALL)
    assert match is not None, "the README lost its <!-- fields --> markers"
    assert match[1].strip() == markdown_table()


def test_the_readme_table_names_every_alias() -> None:
    table = markdown_table()
    for alias in FIELD_ALIASES:
        assert f"`{alias}`" in table


def test_the_protocol_column_reads_as_text() -> None:
    """ipp is a number, but its column shows names: aligned and sorted as text."""
    column = resolve_column("proto")
    assert not column.numeric and column.id == "proto"


def test_derived_fields_are_numbers_with_columns_but_no_model_attribute() -> None:
    """Averages, peaks and measured rates: fields of the registry (filter, sort,
    columns, README) that the appliance does not send."""
    names = {field.name for field in DERIVED_FIELDS}
    assert {"rate_2s", "rate_10s", "rate_40s", "rate_peak", "pps_2s", "pps_10s"} <= names
    assert {"pps_40s", "pps_peak", "rate_measured", "pps_measured", "rate_mismatch"} <= names
    for field in DERIVED_FIELDS:
        assert field.derived and field.numeric and field.column is not None
        assert field.name not in Flow.model_fields
        assert field.name not in fields.API_FIELDS
        assert resolve_column(field.name).numeric
        assert f"`{field.name}`" in markdown_table()
