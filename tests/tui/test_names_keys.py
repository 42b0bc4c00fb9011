"""n, N: host names and port names in the table and the detail pane (fake resolver)."""

from __future__ import annotations

import threading

from flowtop.core.model import FlowKey
from flowtop.core.names import NameResolver
from tests.core.factories import flow
from tests.tui.helpers import Clock, ScriptedSource, make_app, wait_until
from tests.tui.test_ascii import screen_text

NAMES = {"127.0.0.1": "localhost", "10.1.0.2": "pc1.corp.example"}


def _flows() -> list:  # type: ignore[type-arg]
    return [
        flow(1, dest_ip="127.0.0.1", dest_port="443"),
        flow(2, dest_ip="192.0.2.99", dest_port="53", ipp="17"),
    ]


def _key(app: object, src: str) -> FlowKey:
    for key in app.table.row_keys():  # type: ignore[attr-defined]
        if isinstance(key, FlowKey) and key.src_ip == src:
            return key
    raise AssertionError(src)


async def test_n_shows_host_names_and_N_port_names() -> None:
    calls: list[str] = []

    def lookup(address: str) -> str | None:
        calls.append(address)
        return NAMES.get(address)

    clock = Clock()
    source = ScriptedSource(clock, [_flows()])
    app = make_app(source, clock, resolver=NameResolver(lookup))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        key = _key(app, "10.1.0.2")
        assert app.table.cell_text(key, "dst") == "127.0.0.1:443"
        # Off at the start: nothing is looked up.
        assert calls == []
        await pilot.press("n")
        await wait_until(pilot, lambda: app.table.cell_text(key, "dst") == "localhost:443")
        assert app.table.cell_text(key, "src") == "pc1.corp.example:40001"
        # No name: the address.
        other = _key(app, "10.1.0.3")
        assert app.table.cell_text(other, "dst") == "192.0.2.99:53"
        await pilot.press("N")
        await pilot.pause()
        assert app.table.cell_text(key, "dst") == "localhost:https"
        assert app.table.cell_text(other, "dst") == "192.0.2.99:domain"
        await pilot.press("n")
        await pilot.pause()
        assert app.table.cell_text(key, "dst") == "127.0.0.1:https"
        await pilot.press("N")
        await pilot.pause()
        assert app.table.cell_text(key, "dst") == "127.0.0.1:443"


async def test_a_slow_resolver_delays_no_key_and_the_detail_pane_says_so() -> None:
    release = threading.Event()

    def slow(address: str) -> str | None:
        release.wait(10)
        return NAMES.get(address)

    clock = Clock()
    source = ScriptedSource(clock, [_flows()])
    app = make_app(source, clock, resolver=NameResolver(slow))
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_until(pilot, lambda: app.table.row_count == 2)
            app.table.select_key(_key(app, "10.1.0.2"))
            await pilot.press("n")
            await pilot.pause()
            # The lookups hang; keys still work and addresses are shown meanwhile.
            await pilot.press("s", "escape", "up", "down")
            assert app.table.cell_text(_key(app, "10.1.0.2"), "dst") == "127.0.0.1:443"
            fields = screen_text(app)
            assert "Names" in fields and "(looking it up)" in fields
            release.set()
            await wait_until(
                pilot,
                lambda: app.table.cell_text(_key(app, "10.1.0.2"), "dst") == "localhost:443",
            )
            await wait_until(pilot, lambda: "localhost" in screen_text(app))
    finally:
        release.set()


async def test_the_filter_matches_names_once_known() -> None:
    clock = Clock()
    source = ScriptedSource(clock, [_flows()])
    app = make_app(source, clock, resolver=NameResolver(NAMES.get))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 2)
        await pilot.press("n")
        await wait_until(pilot, lambda: "pc1" in app.table.cell_text(_key(app, "10.1.0.2"), "src"))
        await pilot.press("slash", *"host:*.corp.example", "enter")
        await pilot.pause()
        assert app.table.row_count == 1
        assert app.table.row_keys() == [_key(app, "10.1.0.2")]


async def test_a_filter_on_names_typed_before_they_are_known_finds_them() -> None:
    clock = Clock()
    source = ScriptedSource(clock, [_flows()])
    app = make_app(
        source, clock, resolver=NameResolver(NAMES.get), filter_text="host:*.corp.example"
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.monitor.attempts > 0)
        assert app.table.row_count == 0
        await pilot.press("n")
        await wait_until(pilot, lambda: app.table.row_count == 1)


async def test_the_system_resolver_names_localhost_from_etc_hosts() -> None:
    """The bar's case, with the real resolver: localhost is in /etc/hosts everywhere."""
    clock = Clock()
    # Every address is 127.0.0.1: the test asks no DNS server anything.
    only = flow(1, src_ip="127.0.0.1", dest_ip="127.0.0.1", dest_port="443", lan_gw_ip="127.0.0.1")
    source = ScriptedSource(clock, [[only]])
    app = make_app(source, clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 1)
        (key,) = app.table.row_keys()
        await pilot.press("n", "N")
        await wait_until(pilot, lambda: app.table.cell_text(key, "dst").startswith("localhost"))
        assert app.table.cell_text(key, "dst").endswith(":https")
