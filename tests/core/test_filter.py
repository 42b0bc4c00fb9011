"""The filter language: each construct, each error with its position, and robustness."""

from __future__ import annotations

import copy
import pickle
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtop.core.errors import FilterError
from flowtop.core.filter import (
    FIELD_ALIASES,
    MATCH_ALL,
    FlowFilter,
    compile_filter,
    parse_quantity,
    quote_value,
)
from flowtop.core.model import API_FIELDS, Flow

ZOOM: dict[str, Any] = {
    "src_ip": "10.1.2.3",
    "src_port": "51000",
    "dest_ip": "2001:db8::5",
    "dest_port": "443",
    "ipp": "6",
    "direction": "LAN to WAN",
    "application": "Zoom",
    "service_type": "Virtual Path",
    "service_name": "DC-Branch",
    "path": "DC-MPLS->Branch-MPLS",
    "class_type": "realtime",
    "vpathclass": "3",
    "transmission_type": "Persistent Path",
    "ip_dscp": "ef",
    "rule_id": "12",
    "app_rule_id": "7",
    "lan_gw_ip": "10.1.0.1",
    "age": "35000",
    "bytes": "12000000",
    "packets": "9000",
    "hitcount": "40",
    "hdr_compression_bytes": "0",
    "pps": "1500",
    "customer_kbps": "850.5",
    "ipsec_overhead_kbps": "1.5",
    "virtual_path_overhead_kbps": "3.25",
    "site": "Paris",
}
TEAMS: dict[str, Any] = {
    "src_ip": "192.168.5.20",
    "src_port": "53123",
    "dest_ip": "8.8.8.8",
    "dest_port": "53",
    "ipp": "17",
    "direction": "WAN to LAN",
    "application": "MS Teams",
    "service_type": "Internet",
    "service_name": "ISP-1",
    "path": "Internet",
    "class_type": "interactive",
    "vpathclass": "9",
    "transmission_type": "Load Balanced Paths",
    "ip_dscp": "af41",
    "rule_id": "3",
    "app_rule_id": "12",
    "lan_gw_ip": "192.168.5.1",
    "age": "1200",
    "bytes": "4096",
    "packets": "12",
    "hitcount": "2",
    "pps": "12.5",
    "customer_kbps": "0.8",
}
# A flow the appliance reported with almost nothing: every other value is missing.
BARE: dict[str, Any] = {"src_ip": "fe80::1", "ipp": "1", "application": ""}

FLOWS: dict[str, Flow] = {
    "zoom": Flow.from_raw(ZOOM),
    "teams": Flow.from_raw(TEAMS),
    "bare": Flow.from_raw(BARE),
}


def matching(expression: str) -> list[str]:
    flow_filter = compile_filter(expression)
    return [name for name, flow in FLOWS.items() if flow_filter.matches(flow)]


def error_of(expression: str) -> FilterError:
    with pytest.raises(FilterError) as caught:
        compile_filter(expression)
    return caught.value


# --- words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("zoom", ["zoom"]),
        ("ZOOM", ["zoom"]),
        ("mpls", ["zoom"]),  # path
        ("internet", ["teams"]),  # service_type and path
        ("persistent", ["zoom"]),  # transmission_type
        ("af41", ["teams"]),  # ip_dscp
        ("lan", ["zoom", "teams"]),  # direction
        ("tcp", ["zoom"]),  # protocol name
        ("icmp", ["bare"]),
        ("10.1.2", ["zoom"]),  # address text
        ("2001:db8", ["zoom"]),
        ("fe80::1", ["bare"]),  # an IPv6-shaped word, not a field "fe80"
        ("192.168.5.1", ["teams"]),  # lan_gw_ip
        ("paris", ["zoom"]),  # an undocumented field's string value
        ("zoom|teams", ["zoom", "teams"]),
        ("nothing-like-this", []),
    ],
)
def test_word_is_a_case_insensitive_substring_of_any_text(
    expression: str, expected: list[str]
) -> None:
    assert matching(expression) == expected


def test_words_search_addresses_only_when_they_could_be_in_one() -> None:
    scoped = Flow.from_raw({"src_ip": "fe80::1%eth0", "application": "Beta"})
    assert compile_filter("fe80").matches(scoped)
    assert compile_filter("%eth0").matches(scoped)  # a scope is found from its "%"
    assert not compile_filter("eth0").matches(scoped)  # documented limitation
    assert compile_filter("beta").matches(scoped)


def test_word_with_nul_never_spans_two_texts() -> None:
    # Searched texts are joined with NUL internally; such a word must not match across.
    flow = Flow.from_raw({"application": "Zoom", "path": "mpls"})
    assert not compile_filter('"zoom\x00mpls"').matches(flow)
    assert compile_filter('-"zoom\x00mpls" zoom').matches(flow)
    assert not compile_filter('"zoom\x00"|"\x00mpls"').matches(flow)


def test_words_do_not_search_numbers() -> None:
    # 443 alone would otherwise match byte counters everywhere; port:443 is the way.
    assert matching("443") == []
    assert matching("port:443") == ["zoom"]


def test_all_terms_must_match() -> None:
    assert matching("zoom mpls") == ["zoom"]
    assert matching("zoom internet") == []
    assert matching("  lan \t wan  ") == ["zoom", "teams"]


def test_quoted_words_keep_their_spaces() -> None:
    assert matching('"ms teams"') == ["teams"]
    assert matching('"virtual path"') == ["zoom"]
    assert matching('"teams ms"') == []
    assert matching('"ms"" teams"') == ["teams"]  # quoted and bare text join


def test_escaped_quote_inside_quotes() -> None:
    flow = Flow.from_raw({"application": 'say "hi" \\ bye'})
    assert compile_filter(r'"say \"hi\" \\ bye"').matches(flow)
    assert compile_filter(r'app:*"\"hi\""*').matches(flow)
    assert not compile_filter(r'app:"\"hi\""').matches(flow)
    assert not compile_filter(r'"say \\"').matches(flow)


# --- field:value -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("app:zoom", ["zoom"]),
        ("app:ms*", ["teams"]),
        ("src:10.1.2.3", ["zoom"]),
        ("dst:8.8.8.8", ["teams"]),
        ("dest:8.8.8.8", ["teams"]),
        ("ip:8.8.8.8", ["teams"]),
        ("ip:10.1.2.3", ["zoom"]),
        ("host:2001:db8::5", ["zoom"]),
        ("gw:10.1.0.1", ["zoom"]),
        ("sport:51000", ["zoom"]),
        ("dport:53", ["teams"]),
        ("port:53123", ["teams"]),
        ("port:443", ["zoom"]),
        ("proto:6", ["zoom"]),
        ("protocol:udp", ["teams"]),
        ('dir:"wan to lan"', ["teams"]),
        ("svc:dc-branch", ["zoom"]),  # service_name, as in --sort and --group-by
        ("svc:internet", []),  # not service_type: that is "type"
        ("service:isp*", ["teams"]),
        ("service:virtual*", []),
        ("type:internet", ["teams"]),
        ("dscp:ef", ["zoom"]),
        ("class:real*", ["zoom"]),
        ("vpc:9", ["teams"]),
        ("path:*->branch*", ["zoom"]),
        ("rule:12", ["zoom"]),  # rule_id only, as in --sort and --columns
        ("rule:7", []),
        ("app_rule_id:7", ["zoom"]),
        ("rate:850.5", ["zoom"]),
        ("transmission:persistent*", ["zoom"]),
        ("source:10.1.2.3", ["zoom"]),
        ("destination:8.8.8.8", ["teams"]),
        ("kbps:850.5", ["zoom"]),
        ("pkts:12", ["teams"]),
        ("hits:40", ["zoom"]),
    ],
)
def test_each_alias(expression: str, expected: list[str]) -> None:
    assert matching(expression) == expected


def test_every_alias_names_api_fields() -> None:
    from flowtop.core.fields import DERIVED_NAMES

    assert FIELD_ALIASES["port"] == ("src_port", "dest_port")
    assert FIELD_ALIASES["ip"] == ("src_ip", "dest_ip")
    for fields in FIELD_ALIASES.values():
        assert set(fields) <= set(API_FIELDS) | set(DERIVED_NAMES)
    for name in FIELD_ALIASES:
        assert isinstance(compile_filter(f"{name}~."), FlowFilter)


@pytest.mark.parametrize("name", API_FIELDS)
def test_every_api_field_name_is_a_field(name: str) -> None:
    value = FLOWS["zoom"].value(name)
    text = str(value) if not isinstance(value, float) else f"{value:g}"
    assert "zoom" in matching(f"{name}:{quote_value(text)}")
    assert "zoom" not in matching(f"!{name}:{quote_value(text)}")


def test_field_names_are_case_insensitive() -> None:
    assert matching("APP:zoom") == ["zoom"]
    assert matching("Dest_Port:53") == ["teams"]
    assert matching("DPORT>100") == ["zoom"]


def test_text_value_is_the_whole_value_case_insensitive() -> None:
    assert matching("app:OO") == []
    assert matching("app:ZOOM") == ["zoom"]
    assert matching('app:"ms teams"') == ["teams"]
    assert matching("service_name:isp") == []
    assert matching("service_name:ISP-1") == ["teams"]
    assert matching("app:teams|zoom") == ["zoom"]
    assert matching("app:*teams|zoom") == ["zoom", "teams"]


def test_field_terms_do_not_match_parts_of_values() -> None:
    """Issue 8: dscp:ef matched "default", app:HTTP "HTTPS", path:DC-INET a longer path."""
    flows = {
        "ef": Flow.from_raw({"ip_dscp": "ef", "application": "HTTP", "path": "DC-INET"}),
        "default": Flow.from_raw(
            {"ip_dscp": "default", "application": "HTTPS", "path": "DC-INET->London-INET"}
        ),
    }

    def names(expression: str) -> list[str]:
        compiled = compile_filter(expression)
        return [name for name, flow in flows.items() if compiled.matches(flow)]

    assert names("dscp:ef") == ["ef"]
    assert names("app:HTTP") == ["ef"]
    assert names("app:https") == ["default"]
    assert names("path:DC-INET") == ["ef"]
    assert names("path:*INET*") == ["ef", "default"]
    assert names("path:*london*") == ["default"]
    assert names("dscp!=ef") == ["default"]
    # A bare word is still a substring over all text.
    assert names("ef") == ["ef", "default"]


def test_wildcards_in_text_values() -> None:
    assert matching("app:z*") == ["zoom"]
    assert matching("app:*m") == ["zoom"]
    assert matching("app:z*o*m") == ["zoom"]
    assert matching("app:*") == ["zoom", "teams", "bare"]  # "" is a value too
    assert matching("app:zo*mm") == []
    assert matching("app:zoo*oom") == []  # pieces may not overlap
    assert matching("path:*mpls*") == ["zoom"]
    assert matching("path:*MPLS") == ["zoom"]
    assert matching("app:ms*|z*") == ["zoom", "teams"]
    assert matching("!app:z*") == ["teams", "bare"]
    assert matching('app:"ms "*') == ["teams"]  # quoted and bare text join


def test_quoted_star_is_literal() -> None:
    star = Flow.from_raw({"application": "a*b"})
    other = Flow.from_raw({"application": "axb"})
    assert compile_filter('app:"a*b"').matches(star)
    assert not compile_filter('app:"a*b"').matches(other)
    assert compile_filter("app:a*b").matches(other)
    assert quote_value("a*b") == '"a*b"'


def test_wildcards_in_words_stay_within_one_value() -> None:
    assert matching("z*m") == ["zoom"]
    assert matching("ms*teams") == ["teams"]
    assert matching("dc*branch") == ["zoom"]
    assert matching("zoom*virtual") == []  # two different fields
    assert matching("-z*m") == ["teams", "bare"]


def test_wildcard_needs_a_text_or_address_field() -> None:
    error = error_of("port:44*")
    assert error.position == 5
    assert error.reason == 'wildcard "*" needs a text or address field; port is numeric'


def test_equality_operators_are_synonyms_of_colon() -> None:
    assert matching("dport=443") == ["zoom"]
    assert matching("dport==443") == ["zoom"]
    assert matching("app=zoom") == ["zoom"]


def test_not_equal_negates_and_matches_missing_values() -> None:
    assert matching("dport!=443") == ["teams", "bare"]
    assert matching("app!=zoom") == ["teams", "bare"]


# --- addresses -------------------------------------------------------------------


def test_address_equality_is_exact_and_normalised() -> None:
    assert matching("src:10.1.2.3") == ["zoom"]
    assert matching("src:10.1.2.30") == []
    assert matching("dst:2001:DB8:0:0::5") == ["zoom"]
    assert matching("dst:[2001:db8::5]") == ["zoom"]
    assert matching("ip:2001:db8::") == []  # a valid address, so no substring search


def test_cidr_ipv4() -> None:
    assert matching("ip:10.1.0.0/16") == ["zoom"]
    assert matching("src:192.168.0.0/16") == ["teams"]
    assert matching("ip:10.1.2.3/32") == ["zoom"]
    assert matching("ip:10.9.9.9/8") == ["zoom"]  # host bits are allowed
    assert matching("gw:192.168.5.0/24") == ["teams"]
    assert matching("ip:0.0.0.0/0") == ["zoom", "teams"]


def test_cidr_ipv6() -> None:
    assert matching("dst:2001:db8::/32") == ["zoom"]
    assert matching("src:2001:db8::/32") == []
    assert matching("ip:fe80::/10") == ["bare"]
    assert matching("ip:::/0") == ["zoom", "bare"]


def test_address_wildcards_match_the_whole_text() -> None:
    assert matching("ip:10.1.*") == ["zoom"]
    assert matching("src:192.*") == ["teams"]
    assert matching("ip:*db8*") == ["zoom"]
    assert matching("ip:*.8") == ["teams"]
    assert matching("ip:8.8.8.8|10.1.*") == ["zoom", "teams"]
    assert matching("ip:10.*.3") == ["zoom"]


def test_partial_address_is_an_error_not_a_substring() -> None:
    error = error_of("ip:10.1.")
    assert error.position == 3
    assert error.reason.startswith('bad address "10.1." (an address, a network such as')
    assert "10.1.*" in error.reason


# --- numbers ---------------------------------------------------------------------


def test_number_equality_with_suffixes() -> None:
    assert matching("pps:1500") == ["zoom"]
    assert matching("pps:1.5k") == ["zoom"]
    assert matching("pps:1.5K") == ["zoom"]
    assert matching("bytes:12M") == ["zoom"]
    assert matching("bytes:12m") == ["zoom"]
    assert matching("bytes:0.012G") == ["zoom"]
    assert matching("bytes:0.012g") == ["zoom"]
    assert matching("pps:12.5") == ["teams"]
    assert matching("age:35e3") == ["zoom"]


def test_number_alternatives() -> None:
    assert matching("dport:443|80") == ["zoom"]
    assert matching("dport:53|443") == ["zoom", "teams"]
    assert matching("port:1|2|53123") == ["teams"]


def test_protocol_names_and_numbers() -> None:
    assert matching("proto:TCP") == ["zoom"]
    assert matching("proto:udp|icmp") == ["teams", "bare"]
    assert matching("proto:17") == ["teams"]
    assert matching("ipp:tcp") == ["zoom"]
    assert matching("proto:icmpv6") == []
    assert matching("proto>6") == ["teams"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("pps>1k", ["zoom"]),
        ("pps>1500", []),
        ("pps>=1500", ["zoom"]),
        ("pps<1500", ["teams"]),
        ("pps<=1.5k", ["zoom", "teams"]),
        ("bytes>=10M", ["zoom"]),
        ("bytes<10M", ["teams"]),
        ("kbps<1", ["teams"]),
        ("port>50000", ["zoom", "teams"]),
        ("dport<100", ["teams"]),
        ("age>-1", ["zoom", "teams"]),
    ],
)
def test_comparisons(expression: str, expected: list[str]) -> None:
    assert matching(expression) == expected


def test_missing_value_never_matches_a_comparison() -> None:
    assert "bare" not in matching("pps>-1G")
    assert "bare" not in matching("pps<1G")
    assert "bare" in matching("!pps>-1G")


def test_parse_quantity() -> None:
    assert parse_quantity("1k") == 1000.0
    assert parse_quantity(" 2.5M ") == 2_500_000.0
    assert parse_quantity("1m") == 1_000_000.0
    assert parse_quantity("3G") == 3e9
    assert parse_quantity("-4") == -4.0
    assert parse_quantity(".5k") == 500.0
    assert parse_quantity("1e3") == 1000.0
    for bad in ["", "k", "1x", "1kk", "1 k", "inf", "nan", "1e999", "1,000", "0x10", "\u0661"]:
        with pytest.raises(ValueError):
            parse_quantity(bad)


# --- regular expressions ---------------------------------------------------------


def test_regex_on_text_fields() -> None:
    assert matching("app~^z") == ["zoom"]
    assert matching("app~^MS") == ["teams"]
    assert matching('app~"^ms t"') == ["teams"]
    assert matching("app~zoom|teams") == ["zoom", "teams"]  # | belongs to the regex
    assert matching(r"path~mpls$") == ["zoom"]
    assert matching(r"svc~\d") == ["teams"]


def test_regex_on_numbers_and_addresses() -> None:
    assert matching("dport~^44") == ["zoom"]
    assert matching("pps~^15") == ["zoom"]  # 1500.0 reads as 1500
    assert matching(r"pps~\.5$") == ["teams"]
    assert matching(r"src~^10\.") == ["zoom"]
    assert matching("ip~:5$") == ["zoom"]
    assert matching("proto~^t") == ["zoom"]  # by name
    assert matching("proto~^17$") == ["teams"]  # by number


def test_negated_regex_finds_missing_values() -> None:
    assert matching("!app~.") == ["bare"]
    assert matching("-dport~.") == ["bare"]


# --- negation --------------------------------------------------------------------


def test_negation_both_forms() -> None:
    assert matching("!zoom") == ["teams", "bare"]
    assert matching("-zoom") == ["teams", "bare"]
    assert matching("!app:zoom") == ["teams", "bare"]
    assert matching("-app:zoom") == ["teams", "bare"]
    assert matching("-dport:443|53") == ["bare"]
    assert matching("-pps>1k") == ["teams", "bare"]
    assert matching("-ip:10.0.0.0/8") == ["teams", "bare"]
    assert matching('-"ms teams" -zoom') == ["bare"]


def test_negation_applies_once_and_keeps_the_rest_literal() -> None:
    flow = Flow.from_raw({"application": "-beta"})
    assert compile_filter("--beta").matches(FLOWS["zoom"])
    assert not compile_filter("--beta").matches(flow)
    assert compile_filter('"-beta"').matches(flow)
    assert matching("pps>-1") == ["zoom", "teams"]  # inside a value - is a sign


# --- the empty filter and the API ------------------------------------------------


@pytest.mark.parametrize("expression", ["", " ", "\t\n  ", "\u3000"])
def test_empty_expression_matches_everything(expression: str) -> None:
    flow_filter = compile_filter(expression)
    assert flow_filter.is_empty
    assert matching(expression) == ["zoom", "teams", "bare"]


def test_the_empty_filter_does_not_look_at_flows() -> None:
    class Exploding:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("a predicate looked at a flow")

    flows: list[Any] = [Exploding(), Exploding()]
    assert all(MATCH_ALL.matches(flow) for flow in flows)
    assert MATCH_ALL.is_empty
    assert MATCH_ALL.expression == ""


def test_flow_filter_api() -> None:
    flow_filter = compile_filter("app:zoom|*teams pps>10")
    assert flow_filter.expression == "app:zoom|*teams pps>10"
    assert not flow_filter.is_empty
    assert flow_filter(FLOWS["zoom"]) is True
    assert flow_filter(FLOWS["bare"]) is False
    chosen = [flow for flow in FLOWS.values() if flow_filter.matches(flow)]
    assert chosen == [FLOWS["zoom"], FLOWS["teams"]]
    assert flow_filter == compile_filter("app:zoom|*teams pps>10")
    assert hash(flow_filter) == hash(compile_filter("app:zoom|*teams pps>10"))
    assert flow_filter != compile_filter("app:zoom")
    assert copy.deepcopy(flow_filter) == flow_filter
    assert pickle.loads(pickle.dumps(flow_filter)).matches(FLOWS["zoom"])
    with pytest.raises(AttributeError):
        flow_filter.expression = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        flow_filter._predicate = None  # type: ignore[assignment]


def test_quote_value() -> None:
    assert quote_value("Zoom") == "Zoom"
    assert quote_value("10.1.2.3") == "10.1.2.3"
    assert quote_value("MS Teams") == '"MS Teams"'
    assert quote_value("a|b") == '"a|b"'
    assert quote_value("-x") == '"-x"'
    assert quote_value("app:x") == '"app:x"'
    assert quote_value('say "hi" \\') == r'"say \"hi\" \\"'
    with pytest.raises(FilterError, match="empty value"):
        compile_filter(f"app:{quote_value('')}")


# Printable text without control characters: what survives Flow.from_raw unchanged.
application_names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30
)


@given(application_names)
def test_quote_value_round_trips(name: str) -> None:
    exact = Flow.from_raw({"application": name})
    around = Flow.from_raw({"application": f"<{name}>"})
    other = Flow.from_raw({"application": "qqq"})
    field = compile_filter(f"app:{quote_value(name)}")
    assert field.matches(exact)
    assert not field.matches(around)
    assert field.matches(other) == (name.lower() == "qqq")
    word = compile_filter(quote_value(name))
    assert word.matches(exact)
    assert word.matches(around)
    assert word.matches(other) == (name.lower() in "qqq")
    assert not compile_filter(f"!app:{quote_value(name)}").matches(exact)


# --- errors and their positions --------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "position", "reason"),
    [
        ("foo:1", 0, 'unknown field "foo" (known: src, source, sport'),
        ("zoom !bar>3", 6, 'unknown field "bar"'),
        ("aplication:zoom", 0, 'unknown field "aplication" (did you mean application?)'),
        ("pps:1x", 4, 'bad number "1x" for pps'),
        ("dport:443|8o", 10, 'bad number "8o" for dport'),
        ("bytes>=10Q", 7, 'bad number "10Q" for bytes'),
        ("pps>1k|2k", 4, 'bad number "1k|2k" for pps'),
        ("age:1e999", 4, 'bad number "1e999" for age'),
        ("proto:tcpp", 6, 'unknown protocol "tcpp" (known: icmp, igmp, tcp, udp'),
        ("ip:10.0.0.0/33", 3, 'bad CIDR "10.0.0.0/33"'),
        ("x src:1.2.3.4|2001:db8::/129", 14, 'bad CIDR "2001:db8::/129"'),
        ("dst:10.0.0.0/", 4, 'bad CIDR "10.0.0.0/"'),
        ("app~(", 4, 'bad regular expression "(": missing ): ('),
        ('app~"[a"', 4, 'bad regular expression "[a": missing ]: [a'),
        ("app~(a)\\1", 4, 'bad regular expression "(a)\\1": backreference \\1 is not supported'),
        ("app~a(?=b)", 4, 'bad regular expression "a(?=b)": lookahead (?=...) is not supported'),
        ("app~(?<!a)b", 4, 'bad regular expression "(?<!a)b": negative lookbehind'),
        ("app~a{1001}", 4, 'bad regular expression "a{1001}": invalid repetition size'),
        ("app~" + "(" * 5000, 4, "bad regular expression"),
        ('"abc', 0, "unclosed quote"),
        ('app:zoom dir:"lan to', 13, "unclosed quote"),
        ('app:"ms\\"', 4, "unclosed quote"),
        ("app:", 4, "empty value"),
        ("app: x", 4, "empty value"),
        ('app:""', 4, "empty value"),
        ('""', 0, "empty value"),
        ("app:zoom|", 9, 'empty alternative after "|"'),
        ("app:a||b", 6, 'empty alternative after "|"'),
        ("pps>=", 5, "empty value"),
        ("app~", 4, "empty value"),
        ("app>3", 0, 'operator ">" needs a numeric field; app is text'),
        ("x src<=3", 2, 'operator "<=" needs a numeric field; src is address'),
        ("zoom -", 5, 'nothing to negate after "-"'),
        ("! zoom", 0, 'nothing to negate after "!"'),
    ],
)
def test_errors_name_the_problem_and_its_position(
    expression: str, position: int, reason: str
) -> None:
    error = error_of(expression)
    assert error.position == position
    assert error.reason.startswith(reason)
    assert str(error).endswith(f"(at position {position + 1})")


def test_catastrophic_regex_returns_promptly() -> None:
    """Issue 9: (a+)+$ against "aaaa…a!" backtracks for ever in Python's re; RE2 is linear."""
    victim = Flow.from_raw({"application": "a" * 5000 + "!", "path": "a" * 40})
    results: list[tuple[bool, bool]] = []

    def run() -> None:
        compiled = compile_filter("app~(a+)+$")
        results.append((compiled.matches(victim), compile_filter("path~(a+)+$").matches(victim)))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10.0)
    assert not worker.is_alive(), "the regex is still running"
    assert results == [(False, True)]


def test_regex_is_case_insensitive_and_unicode() -> None:
    assert matching("app~^ZO") == ["zoom"]
    assert matching("app~^ms\\s") == ["teams"]
    accented = Flow.from_raw({"application": "Café Über"})
    assert compile_filter("app~über$").matches(accented)
    assert compile_filter("app~^caf.\\s").matches(accented)


def test_error_messages_stay_short_and_printable() -> None:
    error = error_of("pps:" + "\x1b[31m" + "9" * 10_000)
    assert error.position == 4
    assert len(error.message) < 120
    assert error.message.isprintable()
    assert "\x1b" not in error.message


# --- robustness ------------------------------------------------------------------

SAMPLES = list(FLOWS.values())

# Fragments that reach every branch of the parser when shuffled together.
fragments = st.sampled_from(
    [
        *FIELD_ALIASES,
        *API_FIELDS,
        "foo",
        ":",
        "=",
        "==",
        "!=",
        "~",
        ">",
        ">=",
        "<",
        "<=",
        "!",
        "-",
        "|",
        '"',
        '\\"',
        "\\",
        " ",
        "\t",
        "\x00",
        "1k",
        "1.5M",
        "-3",
        "1e999",
        "tcp",
        "10.1.0.0/16",
        "2001:db8::/32",
        "fe80::1",
        "/33",
        "(",
        ")",
        "[",
        "*",
        "?",
        "{9999999999}",
        "\u0130",
        "\ud800",
        "\u3000",
        "zoom",
    ]
)


def check_total(expression: str) -> None:
    try:
        flow_filter = compile_filter(expression)
    except FilterError as error:
        assert 0 <= error.position <= len(expression)
        return
    assert isinstance(flow_filter, FlowFilter)
    for flow in SAMPLES:
        assert isinstance(flow_filter.matches(flow), bool)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_any_text_compiles_or_raises_filter_error(expression: str) -> None:
    check_total(expression)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fragments, max_size=12).map("".join))
def test_any_fragment_soup_compiles_or_raises_filter_error(expression: str) -> None:
    check_total(expression)


def test_huge_expressions() -> None:
    check_total("zoom " * 20_000)
    check_total("app:" + "a|" * 20_000 + "b")
    check_total('"' + "x" * 200_000)
    assert compile_filter("zoom " * 20_000).matches(FLOWS["zoom"])
