"""Host names (reverse DNS in the background) and port names, with fake lookups."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from flowtop.core import names
from flowtop.core.filter import compile_filter
from flowtop.core.monitor import Monitor
from flowtop.core.names import NameResolver, Naming, clean_name, port_name, port_number
from flowtop.core.store import FlowStore
from flowtop.core.view import FlowView
from tests.core.factories import flow


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeLookup:
    """Answers from a table; counts calls; may hold every lookup until released."""

    def __init__(self, table: dict[str, str], *, hold: bool = False) -> None:
        self.table = table
        self.calls: list[str] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.lock = threading.Lock()
        self.running = 0
        self.most_running = 0

    def __call__(self, address: str) -> str | None:
        with self.lock:
            self.calls.append(address)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.release.wait(10)
            return self.table.get(address)
        finally:
            with self.lock:
                self.running -= 1


def settle(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.005)


def test_a_name_is_looked_up_in_the_background_and_cached() -> None:
    lookup = FakeLookup({"10.0.0.1": "web.corp.example"})
    resolver = NameResolver(lookup)
    # The first ask answers at once, with nothing known yet.
    assert resolver.name("10.0.0.1") is None
    assert resolver.wait(5)
    assert resolver.name("10.0.0.1") == "web.corp.example"
    assert resolver.generation == 1
    for _ in range(5):
        resolver.name("10.0.0.1")
    assert lookup.calls == ["10.0.0.1"]


def test_names_expire_after_their_ttl_and_stay_shown_while_looked_up_again() -> None:
    clock = FakeClock()
    lookup = FakeLookup({"10.0.0.1": "old.example"})
    resolver = NameResolver(lookup, ttl=60, clock=clock)
    resolver.request(["10.0.0.1"])
    assert resolver.wait(5)
    clock.now += 59
    assert resolver.name("10.0.0.1") == "old.example"
    assert len(lookup.calls) == 1
    lookup.table["10.0.0.1"] = "new.example"
    lookup.release.clear()
    clock.now += 2
    # Expired: the old name is shown while the new lookup runs.
    assert resolver.name("10.0.0.1") == "old.example"
    lookup.release.set()
    assert resolver.wait(5)
    assert resolver.name("10.0.0.1") == "new.example"
    assert len(lookup.calls) == 2


def test_a_failed_lookup_shows_the_address_and_is_not_retried_at_once() -> None:
    clock = FakeClock()
    lookup = FakeLookup({})
    resolver = NameResolver(lookup, failure_ttl=30, clock=clock)
    naming = Naming(resolver, hosts=True)
    row = flow(1, src_ip="10.9.9.9", src_port="5000")
    assert naming.endpoint(row.src_ip, row.src_port, row.ipp) == "10.9.9.9:5000"
    assert resolver.wait(5)
    assert resolver.state("10.9.9.9") == "failed"
    assert naming.endpoint(row.src_ip, row.src_port, row.ipp) == "10.9.9.9:5000"
    assert len(lookup.calls) == 1
    clock.now += 31
    naming.endpoint(row.src_ip, row.src_port, row.ipp)
    assert resolver.wait(5)
    assert len(lookup.calls) == 2


def test_a_lookup_that_raises_counts_as_failed() -> None:
    def broken(address: str) -> str | None:
        raise OSError("no resolver")

    resolver = NameResolver(broken)
    resolver.request(["10.0.0.1"])
    assert resolver.wait(5)
    assert resolver.known("10.0.0.1") is None
    assert resolver.state("10.0.0.1") == "failed"


def test_lookups_are_bounded_in_concurrency_and_queue() -> None:
    lookup = FakeLookup({}, hold=True)
    resolver = NameResolver(lookup, workers=3, max_queued=10)
    queued = resolver.request([f"10.0.0.{n}" for n in range(1, 51)])
    assert queued == 10
    settle(lambda: lookup.running == 3)
    time.sleep(0.05)
    assert lookup.most_running == 3
    # Asking again queues nothing more while they are under way.
    assert resolver.request([f"10.0.0.{n}" for n in range(1, 51)]) == 0
    lookup.release.set()
    assert resolver.wait(5)
    assert lookup.most_running == 3
    assert len(lookup.calls) == 10


def test_a_slow_lookup_is_time_limited_and_a_late_answer_is_still_taken() -> None:
    clock = FakeClock()
    lookup = FakeLookup({"10.0.0.1": "late.example"}, hold=True)
    resolver = NameResolver(lookup, timeout=2.0, clock=clock)
    resolver.request(["10.0.0.1"])
    settle(lambda: lookup.running == 1)
    assert resolver.state("10.0.0.1") == "pending"
    assert not resolver.wait(0.05)
    clock.now += 2.5
    # Past the time limit: failed, shown as the address, and nobody waits any more.
    assert resolver.state("10.0.0.1") == "failed"
    assert resolver.wait(0.05)
    lookup.release.set()
    settle(lambda: resolver.known("10.0.0.1") == "late.example")


def test_waiting_is_bounded_by_the_time_limit_in_real_time() -> None:
    lookup = FakeLookup({}, hold=True)
    resolver = NameResolver(lookup, timeout=0.2)
    resolver.request(["10.0.0.1"])
    began = time.monotonic()
    # Waiting up to 10 s ends at the lookup's own time limit, shown as failed.
    assert resolver.wait(10) is True
    assert time.monotonic() - began < 2.0
    assert resolver.state("10.0.0.1") == "failed"
    lookup.release.set()


def test_names_that_could_mislead_are_refused() -> None:
    assert clean_name("Web.Corp.Example.") == "web.corp.example"
    assert clean_name("localhost") == "localhost"
    for bad in ("10.0.0.2", "::1", "a b", "x\x1b[31m", "[bold]x[/]", "", "-", None, 5, "a" * 300):
        assert clean_name(bad) is None, bad
    resolver = NameResolver(lambda address: "192.0.2.66")
    resolver.request(["10.0.0.1"])
    assert resolver.wait(5)
    assert resolver.known("10.0.0.1") is None


def test_the_system_resolver_honours_etc_hosts() -> None:
    # localhost is in /etc/hosts on every system the tests run on.
    resolver = NameResolver()
    resolver.request(["127.0.0.1"])
    assert resolver.wait(5)
    assert resolver.known("127.0.0.1") is not None
    assert "localhost" in (resolver.known("127.0.0.1") or "")


def test_port_names_come_from_the_services_database_with_a_fallback() -> None:
    assert port_name(443, 6) == "https"
    assert port_name(22, 6) == "ssh"
    assert port_name(53, 17) == "domain"
    # ICMP has no ports, and port 0 is no service.
    assert port_name(443, 1) is None
    assert port_name(0, 6) is None

    def no_database(port: int, protocol: str | None) -> str | None:
        return None

    assert port_name(443, 6, no_database) == "https"
    assert port_name(47123, 6, no_database) is None
    assert port_number("https") == 443
    assert port_number("HTTPS") == 443
    assert port_number("no-such-service") is None


def test_cells_show_names_when_asked_and_numbers_otherwise() -> None:
    lookup = FakeLookup({"10.1.0.2": "pc.corp.example", "192.0.2.10": "web.example"})
    resolver = NameResolver(lookup)
    naming = Naming(resolver)
    view = FlowView(("src", "dst", "gw", "app"), naming)
    store = FlowStore()
    store.apply([flow(1)], 1.0)
    cells = view.compute(store.records.values()).rows[0].cells
    assert cells[:3] == ("10.1.0.2:40001", "192.0.2.10:443", "10.1.0.1")
    naming.ports = True
    cells = view.compute(store.records.values()).rows[0].cells
    assert cells[:2] == ("10.1.0.2:40001", "192.0.2.10:https")
    naming.hosts = True
    # Formatting a cell asks for the names it shows.
    cells = view.compute(store.records.values()).rows[0].cells
    assert cells[0] == "10.1.0.2:40001"
    assert resolver.wait(5)
    cells = view.compute(store.records.values()).rows[0].cells
    assert cells[:3] == ("pc.corp.example:40001", "web.example:https", "10.1.0.1")
    assert cells[3] == "Office365"


def test_ipv6_endpoints_keep_their_brackets_with_port_names() -> None:
    naming = Naming(ports=True)
    row = flow(1, dest_ip="2001:db8::5")
    assert naming.endpoint(row.dest_ip, row.dest_port, row.ipp) == "[2001:db8::5]:https"


def test_the_filter_matches_known_names() -> None:
    lookup = FakeLookup({"10.1.0.2": "pc.corp.example", "192.0.2.10": "web.example"})
    resolver = NameResolver(lookup)
    resolver.request(["10.1.0.2", "192.0.2.10"])
    assert resolver.wait(5)
    first, second = flow(1), flow(2)
    names.activate(resolver)
    try:
        corp = compile_filter("host:*.corp.example")
        assert corp(first) and not corp(second)
        assert compile_filter("src:PC.corp.example")(first)
        assert not compile_filter("dst:pc.corp.example")(first)
        assert compile_filter("dst:web.example")(second)
        assert compile_filter("ip~^pc\\.")(first)
        assert compile_filter("!host:*.corp.example")(second)
        # Addresses go on matching as before.
        assert compile_filter("src:10.1.0.2")(first)
        assert compile_filter("ip:10.1.*")(first)
    finally:
        names.activate(None)
    # Without names, a name matches nothing (and is no error).
    assert not compile_filter("host:*.corp.example")(first)


def test_port_names_in_the_filter() -> None:
    assert compile_filter("dport:https")(flow(1))
    assert compile_filter("port:https|ssh")(flow(1))
    assert not compile_filter("sport:https")(flow(1))


def test_a_mistyped_address_is_still_an_error() -> None:
    with pytest.raises(Exception, match="bad address"):
        compile_filter("ip:10.1.")
    with pytest.raises(Exception, match="bad address"):
        compile_filter("ip:10.1.0.300")


def test_the_monitor_asks_for_the_names_of_the_rows_in_their_order() -> None:
    lookup = FakeLookup({"10.1.0.2": "pc.corp.example"})
    resolver = NameResolver(lookup, workers=1)
    monitor = Monitor(resolver=resolver)
    monitor.store.apply([flow(1), flow(2)], 1.0)
    monitor.frame()
    assert lookup.calls == []
    assert monitor.toggle_host_names() is True
    monitor.frame()
    assert resolver.wait(5)
    assert lookup.calls[0] in ("10.1.0.3", "10.1.0.2")
    assert set(lookup.calls) == {"10.1.0.2", "10.1.0.3", "192.0.2.10"}
    assert monitor.names_generation == 1
    assert names.active() is resolver
    monitor.stop()
    assert names.active() is None


def test_a_long_host_name_is_cut_at_its_end_and_keeps_its_port() -> None:
    from flowtop.core.layout import fit_cell

    assert fit_cell("pc20-120.austin.corp.example:55481", 21, False, True) == (
        "pc20-120.austi\u2026:55481"
    )
    # An IPv4 address stays whole, and a long port name gives way.
    assert fit_cell("93.184.27.117:http-alt", 21, False, True) == "93.184.27.117:http-a\u2026"
    # IPv6 addresses still keep both ends.
    assert fit_cell("[2620:1ec:84b6::5de1]:https", 21, False, True) == "[2620:1ec:\u2026de1]:https"


def test_the_demo_names_its_own_private_hosts_only() -> None:
    from flowtop.demo.names import demo_lookup

    assert demo_lookup("10.1.40.1") == "gw40-1.dc.corp.example"
    assert demo_lookup("10.20.30.46") == "pc30-46.branch.corp.example"
    assert demo_lookup("fd00:20:2::c2") == "v6-2-c2.branch.corp.example"
    assert demo_lookup("8.8.8.8") == "dns.google"
    for unnamed in ("151.101.117.163", "2a04:4e42::1", "10.99.1.1", "fd00:ab::1", "nonsense"):
        assert demo_lookup(unnamed) is None


def test_host_groups_show_names() -> None:
    lookup = FakeLookup({"10.1.0.2": "pc.corp.example"})
    resolver = NameResolver(lookup)
    monitor = Monitor(resolver=resolver, group_by="src")
    monitor.store.apply([flow(1), flow(2)], 1.0)
    texts = sorted(row.cells[0] for row in monitor.frame().rows)
    assert texts == ["10.1.0.2", "10.1.0.3"]
    monitor.set_host_names(True)
    monitor.frame()
    assert resolver.wait(5)
    rows = monitor.frame().rows
    assert sorted(row.cells[0] for row in rows) == ["10.1.0.3", "pc.corp.example"]
    # The drill-down still selects by address.
    named = next(row for row in rows if row.cells[0] == "pc.corp.example")
    assert named.group is not None
    assert named.group.grouping.drill_filter(named.group.value) == "src:10.1.0.2"
