"""The flow model: lenient parsing of every value, every envelope, and clear errors."""

from __future__ import annotations

import contextlib
import ipaddress
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtop.core.errors import UnreadableAnswer
from flowtop.core.model import (
    API_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    MAX_NESTING,
    TEXT_FIELDS,
    Flow,
    FlowKey,
    body_is_clean,
    parse_flows,
    strip_control,
)

FULL: dict[str, str] = {
    "age": "61000",
    "app_rule_id": "7",
    "application": "Zoom",
    "bytes": "19423068",
    "class_type": "realtime",
    "customer_kbps": "812.5",
    "dest_ip": "2001:db8::5",
    "dest_port": "8801",
    "direction": "LAN to WAN",
    "hdr_compression_bytes": "1200",
    "hitcount": "42",
    "ip_dscp": "ef",
    "ipp": "17",
    "ipsec_overhead_kbps": "12.25",
    "lan_gw_ip": "10.1.0.1",
    "packets": "31000",
    "path": "DC-MPLS->Branch-MPLS",
    "pps": "125.5",
    "rule_id": "12",
    "service_name": "DC-Branch",
    "service_type": "Virtual Path",
    "src_ip": "10.1.2.3",
    "src_port": "51000",
    "transmission_type": "Persistent Path",
    "virtual_path_overhead_kbps": "20",
    "vpathclass": "3",
}


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_all_26_fields_parse_to_their_types() -> None:
    flow = parse_flows(_body({"flows": [FULL]})).flows[0]
    assert set(API_FIELDS) == set(FULL)
    assert flow.src_ip == ipaddress.IPv4Address("10.1.2.3")
    assert flow.dest_ip == ipaddress.IPv6Address("2001:db8::5")
    assert flow.lan_gw_ip == ipaddress.IPv4Address("10.1.0.1")
    for name in INT_FIELDS:
        assert isinstance(getattr(flow, name), int), name
    for name in FLOAT_FIELDS:
        assert isinstance(getattr(flow, name), float), name
    for name in TEXT_FIELDS:
        assert getattr(flow, name) == FULL[name], name
    assert flow.bytes == 19423068
    assert flow.pps == 125.5
    assert flow.protocol == "UDP"
    assert flow.unparsed == {}
    assert flow.extras == {}


def test_fast_and_careful_paths_agree() -> None:
    clean = parse_flows(_body({"flows": [FULL]})).flows[0]
    careful = Flow.from_raw(dict(FULL), clean=False)
    assert clean == careful
    assert clean.to_json_dict() == careful.to_json_dict()


@pytest.mark.parametrize(
    "raw",
    ["", " ", "N/A", "-", "null", "abc", "1e400", "12abc", "nan", "inf", "--5"],
)
def test_unparseable_numbers_become_none(raw: str) -> None:
    flow = Flow.from_raw({"bytes": raw, "pps": raw, "src_port": raw})
    assert flow.bytes is None
    assert flow.pps is None
    assert flow.src_port is None


def test_unparseable_values_are_kept_verbatim() -> None:
    flow = Flow.from_raw({"bytes": "lots", "src_ip": "not-an-ip", "pps": [1, 2]})
    assert flow.unparsed == {"bytes": "lots", "src_ip": "not-an-ip", "pps": [1, 2]}


def test_json_numbers_where_strings_were_documented() -> None:
    flow = Flow.from_raw({"bytes": 1234, "pps": 2, "customer_kbps": 1.5, "rule_id": 12, "age": 5.0})
    assert flow.bytes == 1234
    assert flow.pps == 2.0
    assert flow.customer_kbps == 1.5
    assert flow.rule_id == "12"
    assert flow.age == 5


def test_null_booleans_and_objects_never_raise() -> None:
    flow = Flow.from_raw(
        {"bytes": None, "pps": True, "application": {"x": 1}, "src_port": False, "path": None}
    )
    assert flow.bytes is None
    assert flow.pps is None
    assert flow.application is None
    assert flow.src_port is None
    assert flow.path is None


def test_counters_up_to_64_bits_are_numbers() -> None:
    assert Flow.from_raw({"bytes": str(2**64 - 1)}).bytes == 2**64 - 1
    assert Flow.from_raw({"packets": 2**63}).packets == 2**63


def test_huge_integers_are_kept_unparsed() -> None:
    flow = Flow.from_raw({"bytes": "123456789012345678901234567890"})
    assert flow.bytes is None
    assert flow.unparsed == {"bytes": "123456789012345678901234567890"}


def test_ipv6_and_bracketed_addresses() -> None:
    flow = Flow.from_raw({"src_ip": "[2001:DB8::1]", "dest_ip": "fe80::1%eth0"})
    assert str(flow.src_ip) == "2001:db8::1"
    assert flow.dest_ip is not None and flow.dest_ip.version == 6


def test_control_characters_are_removed_from_text() -> None:
    raw = {
        "application": "\x1b[2Jzoom\x00\r\n\x07",
        "path": "A\x9b31mB",
        "weird\x1bkey": "x\x1b]8;;http://evil\x07y",
    }
    flow = Flow.from_raw(raw)
    assert flow.application == "[2Jzoom"
    assert flow.path == "A31mB"
    assert flow.extras == {"weirdkey": "x]8;;http://evily"}


def test_control_characters_removed_in_the_fast_path_body() -> None:
    body = b'{"flows": [{"application": "a\\u001b[31mb\\r", "path": "p\xc2\x9bq"}]}'
    assert not body_is_clean(body)
    flow = parse_flows(body).flows[0]
    assert flow.application == "a[31mb"
    assert flow.path == "pq"


def test_raw_control_bytes_inside_strings_are_tolerated() -> None:
    body = b'{"flows": [{"application": "a\x1bb\tc"}]}'
    assert parse_flows(body).flows[0].application == "abc"


def test_markup_is_kept_as_plain_text() -> None:
    flow = Flow.from_raw({"application": "[bold red]pwn[/]", "path": "[link=x]y[/link]"})
    assert flow.application == "[bold red]pwn[/]"
    assert flow.path == "[link=x]y[/link]"


def test_unknown_fields_are_kept_and_reachable() -> None:
    flow = Flow.from_raw({**FULL, "new_field": "v", "nested": {"a": ["\x1bb"]}, "unparsed": "u"})
    assert flow.extras["new_field"] == "v"
    assert flow.extras["nested"] == {"a": ["b"]}
    assert flow.extras["unparsed"] == "u"
    assert flow.unparsed == {}
    assert flow.value("new_field") == "v"


def test_flow_key_is_the_five_tuple_and_direction() -> None:
    flow = Flow.from_raw(FULL)
    assert flow.key == FlowKey("10.1.2.3", 51000, "2001:db8::5", 8801, 17, "LAN to WAN")
    assert flow.key.label() == "10.1.2.3:51000 > [2001:db8::5]:8801 UDP"
    assert Flow.from_raw({}).key == FlowKey("", None, "", None, None, "")


def test_json_output_is_typed() -> None:
    out = Flow.from_raw(FULL).to_json_dict()
    assert list(out) == list(API_FIELDS)
    assert out["src_ip"] == "10.1.2.3"
    assert out["bytes"] == 19423068
    assert out["pps"] == 125.5
    assert Flow.from_raw({}).to_json_dict()["bytes"] is None
    json.dumps(out)


@pytest.mark.parametrize(
    "document",
    [
        [FULL],
        {"flows": [FULL]},
        {"flows": {"flows": [FULL], "metadata": []}},
    ],
)
def test_every_envelope_is_accepted(document: Any) -> None:
    flows = parse_flows(_body(document)).flows
    assert len(flows) == 1
    assert flows[0].application == "Zoom"


def test_pretty_printed_bodies_parse() -> None:
    assert len(parse_flows(json.dumps({"flows": [FULL, FULL]}, indent=2).encode()).flows) == 2


def test_items_that_are_not_objects_are_counted() -> None:
    parsed = parse_flows(_body({"flows": [FULL, 3, "x", None, FULL]}))
    assert len(parsed.flows) == 2
    assert parsed.ignored_items == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Login</body></html>", "an HTML page"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"flows": [', "invalid JSON at byte 11"),
        (b'{"errorcode": 1500}', "JSON object without flows (keys: errorcode)"),
        (b"", "an empty body"),
        (b'"flows"', "a JSON string"),
        (b"null", "JSON null"),
        (b'{"flows": 5}', '"flows" holds a JSON number'),
    ],
)
def test_unreadable_bodies_say_what_came(body: bytes, message: str) -> None:
    with pytest.raises(UnreadableAnswer) as caught:
        parse_flows(body)
    assert message in str(caught.value)


def test_null_flows_is_an_empty_list() -> None:
    assert parse_flows(b'{"flows": null}').flows == []
    assert parse_flows(b"[]").flows == []


def test_html_with_json_content_type_is_still_described() -> None:
    with pytest.raises(UnreadableAnswer, match="HTML"):
        parse_flows(b"<html><p>proxy error</p></html>", "application/json")


def test_strip_control_keeps_printable_unicode() -> None:
    assert strip_control("Zoom 🎥 שלום") == "Zoom 🎥 שלום"
    assert strip_control("a\u200bb") == "a\u200bb"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from([*API_FIELDS, "extra"]), json_values, max_size=30))
def test_no_json_value_in_any_field_raises(raw: dict[str, Any]) -> None:
    flow = Flow.from_raw(raw)
    json.dumps(flow.to_json_dict())
    for name in API_FIELDS:
        value = getattr(flow, name)
        if isinstance(value, str):
            assert value == strip_control(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(API_FIELDS), json_values), max_size=5))
def test_any_flows_document_parses_or_is_unreadable(items: list[dict[str, Any]]) -> None:
    try:
        body = json.dumps({"flows": items}).encode()
    except ValueError:
        return
    assert len(parse_flows(body).flows) == len(items)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_unreadable_only(body: bytes) -> None:
    with contextlib.suppress(UnreadableAnswer):
        parse_flows(body)


# --- values that cannot be represented (issue 9) ------------------------------------------

DIGITS_401 = "1234567890" * 40 + "9"
DIGITS_5000 = "9" * 5000
# Bidi override, embedding, isolate and mark controls: they reorder text on screen.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def _flow_body(fields: bytes) -> bytes:
    return b'{"flows": [{"src_ip": "10.0.0.1", "application": "zoom", ' + fields + b"}]}"


def _at_stack_depth(frames: int, call: Any) -> Any:
    """``call()`` from ``frames`` Python frames deeper, as in a busy event loop."""
    if frames <= 0:
        return call()
    return _at_stack_depth(frames - 1, call)


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list | dict) and value:
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
        depth += 1
    return depth


def _assert_valid_unicode(flow: Flow) -> None:
    text = json.dumps(
        [flow.to_json_dict(), flow.extras, flow.unparsed], ensure_ascii=False, default=str
    )
    text.encode("utf-8")


@pytest.mark.parametrize(
    "fields",
    [
        b'"bytes": "' + DIGITS_401.encode() + b'"',
        b'"bytes": ' + DIGITS_401.encode(),
    ],
    ids=["string", "number"],
)
def test_a_401_digit_counter_is_unparsed(fields: bytes) -> None:
    flow = parse_flows(_flow_body(fields)).flows[0]
    assert flow.bytes is None
    assert str(flow.unparsed["bytes"]) == DIGITS_401
    assert flow.application == "zoom"


@pytest.mark.parametrize("name", ["bytes", "pps", "src_port", "application", "extra_field"])
def test_a_5000_digit_json_number_never_raises(name: str) -> None:
    body = _flow_body(b'"' + name.encode() + b'": ' + DIGITS_5000.encode())
    flow = parse_flows(body).flows[0]
    assert flow.application == ("zoom" if name != "application" else DIGITS_5000)
    if name in ("bytes", "pps", "src_port"):
        assert flow.value(name) is None
        assert flow.unparsed[name] == DIGITS_5000
    elif name == "extra_field":
        assert flow.extras[name] == DIGITS_5000
    _assert_valid_unicode(flow)


@pytest.mark.parametrize("control", [b"", b'"path": "a\\u001bb", '], ids=["clean", "control"])
@pytest.mark.parametrize("stack", [0, 400])
def test_an_extra_field_nested_900_deep_is_kept_shallow(control: bytes, stack: int) -> None:
    body = _flow_body(control + b'"deep": ' + _nested(900))
    flow = _at_stack_depth(stack, lambda: parse_flows(body)).flows[0]
    assert flow.application == "zoom"
    assert "deep" in flow.extras
    assert _depth(flow.extras["deep"]) <= MAX_NESTING
    str(flow.extras["deep"])
    json.dumps(flow.extras)


def test_a_known_field_nested_deep_is_unparsed() -> None:
    flow = _at_stack_depth(400, lambda: parse_flows(_flow_body(b'"bytes": ' + _nested(5000))))
    assert flow.flows[0].bytes is None
    assert "bytes" in flow.flows[0].unparsed


def test_nesting_beyond_any_stack_is_cut_not_fatal() -> None:
    body = _flow_body(b'"deep": {"a": ' + _nested(100_000) + b"}")
    flow = parse_flows(body).flows[0]
    assert flow.application == "zoom"
    assert _depth(flow.extras["deep"]) <= MAX_NESTING


def test_deep_nesting_inside_strings_is_just_text() -> None:
    text = "[" * 5000
    body = _flow_body(b'"deep": ' + _nested(2000) + b', "path": "' + text.encode() + b'"')
    flow = parse_flows(body).flows[0]
    assert flow.path == text


@pytest.mark.parametrize(
    "fields",
    [
        b'"application": "\\ud83d"',
        b'"application": "cut \\ud83d emoji \\ude00"',
        b'"\\ud83d": "value"',
        b'"extra": {"\\udc00key": ["\\ud83d"]}',
        b'"src_port": "\\ud83d"',
    ],
    ids=["value", "two-halves-apart", "key", "nested", "number-field"],
)
def test_lone_surrogates_become_replacement_characters(fields: bytes) -> None:
    assert not body_is_clean(_flow_body(fields))
    flow = parse_flows(_flow_body(fields)).flows[0]
    _assert_valid_unicode(flow)
    shown = json.dumps([flow.to_json_dict(), flow.extras, flow.unparsed], ensure_ascii=False)
    assert "\ufffd" in shown


def test_a_whole_surrogate_pair_is_one_emoji() -> None:
    flow = parse_flows(_flow_body(b'"path": "\\ud83d\\ude00"')).flows[0]
    assert flow.path == "\U0001f600"


def test_surrogates_in_python_values_are_replaced() -> None:
    flow = Flow.from_raw({"application": "a\ud83d", "k\udc00": "\udfff", "bytes": "1\ud800"})
    assert flow.application == "a\ufffd"
    assert flow.extras == {"k\ufffd": "\ufffd"}
    assert flow.bytes is None and flow.unparsed == {"bytes": "1\ufffd"}


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("src_port", 70000),
        ("dest_port", "65536"),
        ("src_port", -1),
        ("ipp", 256),
        ("ipp", "-6"),
        ("bytes", -5),
        ("packets", "-3"),
        ("hitcount", -1),
        ("age", "-100"),
        ("hdr_compression_bytes", -2),
        ("bytes", 2**64),
        ("packets", str(2**70)),
        ("pps", -1.5),
        ("customer_kbps", "-80"),
        ("pps", 1e300),
    ],
)
def test_numbers_out_of_their_range_are_unparsed(name: str, raw: Any) -> None:
    flow = parse_flows(_body({"flows": [{"application": "zoom", name: raw}]})).flows[0]
    assert flow.value(name) is None
    assert flow.unparsed == {name: raw}
    assert flow.application == "zoom"
    careful = Flow.from_raw({"application": "zoom", name: raw})
    assert careful.value(name) is None and careful.unparsed == {name: raw}


@pytest.mark.parametrize(("name", "raw"), [("src_port", 0), ("dest_port", 65535), ("ipp", 255)])
def test_numbers_at_the_edge_of_their_range_are_numbers(name: str, raw: int) -> None:
    assert Flow.from_raw({name: raw}).value(name) == raw


def test_bidi_controls_are_removed() -> None:
    assert strip_control(f"evil{BIDI}txt") == "eviltxt"
    flow = Flow.from_raw({"application": "exe.\u202etxt", "k\u2066ey": ["a\u200fb"]})
    assert flow.application == "exe.txt"
    assert flow.extras == {"key": ["ab"]}


@pytest.mark.parametrize("encoded", ["raw", "escaped"])
def test_bidi_controls_are_removed_from_bodies(encoded: str) -> None:
    document = {"flows": [{"application": f"exe.{BIDI}txt", "path": "A\u2192B \u2026"}]}
    body = json.dumps(document, ensure_ascii=encoded == "escaped").encode()
    assert not body_is_clean(body)
    flow = parse_flows(body).flows[0]
    assert flow.application == "exe.txt"
    assert flow.path == "A\u2192B \u2026"


def test_other_format_characters_stay() -> None:
    # Zero-width joiners build emoji; they are not bidi controls.
    assert strip_control("\U0001f468\u200d\U0001f4bb") == "\U0001f468\u200d\U0001f4bb"
    assert body_is_clean(json.dumps({"a": "A\u2192B \u2026 \u20ac"}, ensure_ascii=False).encode())


# Text as a hostile appliance sends it: surrogate halves, bidi and other format controls.
hostile_text = st.text(
    st.characters(categories=["Cs", "Cf", "Cc", "Lo", "So"]) | st.sampled_from(BIDI), max_size=8
)
hostile_values = st.recursive(
    st.none() | st.integers() | hostile_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*API_FIELDS, "extra"]) | hostile_text, hostile_values))
def test_every_parsed_text_is_valid_unicode(raw: dict[str, Any]) -> None:
    flow = Flow.from_raw(raw)
    _assert_valid_unicode(flow)
    for value in (*flow.to_json_dict().values(), *flow.extras.keys()):
        if isinstance(value, str):
            assert value == strip_control(value)


def test_deep_nesting_that_never_closes_is_one_clear_error() -> None:
    with pytest.raises(UnreadableAnswer, match="answer nested too deeply"):
        parse_flows(b'{"flows": [{"x": ' + b"[" * 100_000)
