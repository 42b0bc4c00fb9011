"""Each fast path's assumption about a library's internals, stated as a test."""

from __future__ import annotations

import copy
import ipaddress
import json
import pickle

import pytest
from pydantic import ValidationError

from flowtop.core import fastpaths
from flowtop.core.fastpaths import (
    RememberedIPv4,
    RememberedIPv6,
    address_text,
    model_extra,
    model_values,
    new_tuple,
    remembered_address,
)
from flowtop.core.fields import API_FIELDS
from flowtop.core.model import Flow, FlowKey, parse_address, parse_flows

PLAIN = {RememberedIPv4: ipaddress.IPv4Address, RememberedIPv6: ipaddress.IPv6Address}


@pytest.mark.parametrize("cls", list(PLAIN))
def test_the_plain_address_class_is_third_in_the_mro(cls: type) -> None:
    """_Remembered._plain takes __mro__[2]: our class, the mixin, then ipaddress's."""
    assert cls.__mro__[2] is PLAIN[cls]


@pytest.mark.parametrize("text", ["10.1.2.3", "2001:db8::5", "fe80::1%eth0", "::ffff:1.2.3.4"])
def test_a_remembered_address_is_the_plain_one(text: str) -> None:
    """ipaddress's __init__ and __str__ work through the mixin: same text, hash, order."""
    address = remembered_address(text)
    plain = ipaddress.ip_address(text)
    assert address is not None
    assert address == plain and plain == address
    assert hash(address) == hash(plain)
    assert str(address) == str(plain) == address_text(address)
    assert repr(address) == repr(plain)
    assert not address < plain and not plain < address
    assert address in ipaddress.ip_network(f"{plain}/128" if plain.version == 6 else f"{plain}/32")


def test_a_remembered_address_pickles_and_copies_as_the_plain_class() -> None:
    address = remembered_address("192.0.2.7")
    assert address is not None
    for copied in (pickle.loads(pickle.dumps(address)), copy.deepcopy(address)):
        assert type(copied) is ipaddress.IPv4Address
        assert copied == address


def test_a_bad_address_is_none() -> None:
    assert remembered_address("10.1.2") is None
    assert remembered_address("not an address") is None


def test_a_remembered_address_has_slots_only() -> None:
    """No __dict__: the mixin adds two slots and nothing per instance besides."""
    address = remembered_address("10.0.0.1")
    assert not hasattr(address, "__dict__")


def test_address_text_needs_a_remembered_address() -> None:
    with pytest.raises(AttributeError):
        address_text(ipaddress.ip_address("10.0.0.1"))


def test_every_address_in_a_flow_is_remembered() -> None:
    """address_text is used on flow addresses: the model only ever stores remembered ones."""
    flow = Flow.from_raw({"src_ip": "10.0.0.1", "dest_ip": "2001:db8::1", "lan_gw_ip": "[::1]"})
    for name in ("src_ip", "dest_ip", "lan_gw_ip"):
        assert isinstance(flow.value(name), RememberedIPv4 | RememberedIPv6)
    copied = Flow.model_validate({"src_ip": ipaddress.ip_address("10.0.0.2")})
    assert isinstance(copied.src_ip, RememberedIPv4)
    assert parse_address("10.0.0.3") is parse_address("10.0.0.3")


def test_new_tuple_builds_the_same_named_tuple() -> None:
    values = ("10.0.0.1", 5000, "8.8.8.8", 53, 17, "LAN to WAN", 0, "")
    key = new_tuple(FlowKey, values)
    assert type(key) is FlowKey
    assert key == FlowKey(*values) and hash(key) == hash(FlowKey(*values))
    assert key.dest_port == 53 and key.label() == FlowKey(*values).label()


def test_flow_key_uses_the_fast_path_and_agrees_with_the_slow_one() -> None:
    flow = Flow.from_raw({"src_ip": "10.0.0.1", "src_port": "1", "ipp": "6"})
    assert flow.key == FlowKey("10.0.0.1", 1, "", None, 6, "", 0)


def test_model_values_are_the_field_values() -> None:
    """pydantic v2 keeps a model's field values, and only those, in __dict__."""
    flow = Flow.from_raw({"application": "Zoom", "pps": "2", "site": "Paris"})
    values = model_values(flow)
    assert set(values) == set(Flow.model_fields)
    assert set(API_FIELDS) <= set(values)
    for name in API_FIELDS:
        assert values[name] == getattr(flow, name)
    assert "site" not in values


def test_model_extra_is_the_undeclared_fields() -> None:
    flow = Flow.from_raw({"application": "Zoom", "site": "Paris"})
    assert model_extra(flow) == {"site": "Paris"} == flow.model_extra
    assert not model_extra(Flow.from_raw({"application": "Zoom"}))


def test_the_validator_is_the_models() -> None:
    """Flow.from_raw calls __pydantic_validator__.validate_python: model_validate's core."""
    data = {"src_ip": "10.0.0.1", "pps": "1.5", "other": 1}
    direct = Flow.__pydantic_validator__.validate_python(data)
    assert direct == Flow.model_validate(data)


def test_the_module_names_its_fast_paths() -> None:
    documented = fastpaths.__doc__ or ""
    for name in (
        "RememberedIPv4",
        "address_text",
        "new_tuple",
        "model_values",
        "model_extra",
        "share_fields_sets",
    ):
        assert name in documented


def test_flows_of_an_answer_share_one_fields_set() -> None:
    """pydantic keeps the names of the fields set in __pydantic_fields_set__ (2.2 KB a
    flow); share_fields_sets makes equal ones one object, which nothing then changes."""
    body = json.dumps([{"src_ip": f"10.0.0.{n}", "pps": "1"} for n in range(3)]).encode()
    flows = parse_flows(body).flows
    assert flows[0].model_fields_set == {"src_ip", "pps"}
    assert flows[0].__pydantic_fields_set__ is flows[2].__pydantic_fields_set__
    other = parse_flows(json.dumps([{"src_ip": "10.0.0.9"}]).encode()).flows[0]
    assert other.model_fields_set == {"src_ip"}
    # A frozen flow refuses new values; a copy gets a set of its own.
    with pytest.raises(ValidationError):
        flows[0].pps = 2.0  # type: ignore[misc]
    copied = flows[0].model_copy(update={"dest_ip": None})
    assert copied.model_fields_set == {"src_ip", "pps", "dest_ip"}
    assert flows[1].model_fields_set == {"src_ip", "pps"}
    assert flows[1] == Flow.model_validate({"src_ip": "10.0.0.1", "pps": "1"})
