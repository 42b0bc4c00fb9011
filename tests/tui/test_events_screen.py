"""The events view: newest first, live, filterable, bounded, literal text."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest
from textual.app import App
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from flowtop.core.store import EventKind, FlowStore
from flowtop.tui.screens.events import SHOWN_LIMIT, EventsScreen
from tests.core.factories import flow

NOW = time.mktime((2024, 5, 6, 14, 2, 0, 0, 0, -1))
MPLS = "DC-MPLS->Branch-MPLS"
INET = "DC-INET->Branch-INET"


def _hms(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def _scenario() -> FlowStore:
    """Flows 1-8 on MPLS; then 1 ends and 9 (Zoom) appears; then 2-7 fail over to INET."""
    store = FlowStore()
    store.apply([flow(n) for n in range(1, 9)], NOW)
    store.apply([flow(n) for n in range(2, 9)] + [flow(9, application="Zoom")], NOW + 1)
    store.apply(
        [flow(n, path=INET) for n in range(2, 8)] + [flow(8), flow(9, application="Zoom")],
        NOW + 2,
    )
    return store


class EventsApp(App[None]):
    """The screen over a bare app whose ``q`` quits, as flowtop's does."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(self, store: FlowStore, clock_offset: float = 10.0, filter_text: str = "") -> None:
        super().__init__()
        self.store = store
        self.clock_offset = clock_offset
        self.filter_text = filter_text
        self.closed_count = 0

    def on_mount(self) -> None:
        self.open_events()

    def open_events(self) -> None:
        screen = EventsScreen(
            lambda: self.store.events,
            lambda: self.store.failovers,
            clock=lambda: NOW + self.clock_offset,
            filter_text=self.filter_text,
        )
        self.push_screen(screen, self._events_closed)

    def _events_closed(self, result: None) -> None:
        self.closed_count += 1

    @property
    def events_screen(self) -> EventsScreen:
        screen = self.screen
        assert isinstance(screen, EventsScreen)
        return screen


def _lines(screen: EventsScreen) -> list[str]:
    """The list's lines as drawn on screen (no markup interpretation possible)."""
    widget = screen.event_list
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


def _text(app: EventsApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def _set_filter(pilot: Any, text: str) -> None:
    """Open the filter and put ``text`` in it at once (as a paste; typing is tested apart)."""
    field = pilot.app.screen.query_one("#events-filter", Input)
    if not field.has_focus:
        await pilot.press("slash")
        assert field.has_focus
    field.value = text
    await pilot.pause()


async def test_events_are_listed_newest_first_with_kind_flow_app_and_paths() -> None:
    store = _scenario()
    app = EventsApp(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        assert screen.shown_events == list(reversed(store.events))
        kinds = [event.kind for event in screen.shown_events]
        assert kinds == [EventKind.PATH] * 6 + [EventKind.ENDED, EventKind.APPEARED]

        lines = _lines(screen)
        newest = lines[0]
        assert newest.startswith(_hms(NOW + 2))
        assert "PATH" in newest and "10.1.0.8:40007 > 192.0.2.10:443 TCP" in newest
        assert "Office365" in newest and f"{MPLS} → {INET}" in newest
        ended, new = lines[6], lines[7]
        assert ended.startswith(_hms(NOW + 1)) and "ENDED" in ended and "10.1.0.2:40001" in ended
        assert "NEW" in new and "Zoom" in new and "10.1.0.10:40009" in new
        assert "→" not in new
        assert lines[8] == ""

        # The kinds are coloured, each its own way.
        widget = screen.event_list
        colours = set()
        for y, label in ((0, "PATH"), (6, "ENDED"), (7, "NEW")):
            segment = next(s for s in widget.render_line(y) if s.text.strip() == label)
            assert segment.style is not None and segment.style.color is not None
            colours.add(segment.style.color)
        assert len(colours) == 3


async def test_failovers_get_a_band_at_the_top() -> None:
    app = EventsApp(_scenario())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        band = _text(app, "#events-failovers")
        assert band == f"{_hms(NOW + 2)}  6 flows moved {MPLS} → {INET}"
        assert app.screen.query_one("#events-failovers").display

    quiet = FlowStore()
    quiet.apply([flow(1)], NOW)
    quiet.apply([flow(1), flow(2)], NOW + 1)
    app = EventsApp(quiet)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#events-failovers").display


async def test_filter_narrows_with_flow_terms_and_kinds() -> None:
    app = EventsApp(_scenario())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        await _set_filter(pilot, "kind:path")
        assert len(screen.shown_events) == 6
        assert {event.kind for event in screen.shown_events} == {EventKind.PATH}
        assert "filter: kind:path" in _text(app, "#events-title")

        await _set_filter(pilot, "app:zoom")
        assert [event.kind for event in screen.shown_events] == [EventKind.APPEARED]

        await _set_filter(pilot, "!kind:p* port:40001|40002")
        assert [(e.kind, e.key.src_port) for e in screen.shown_events] == [(EventKind.ENDED, 40001)]

        await _set_filter(pilot, "nothing-like-this")
        assert screen.shown_events == []
        assert _lines(screen)[0] == "No event matches the filter."


async def test_invalid_filter_keeps_the_last_valid_one_and_says_why() -> None:
    app = EventsApp(_scenario())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        error = screen.query_one("#events-filter-error", Static)
        assert not error.display

        await _set_filter(pilot, "kind:ended")
        assert [event.kind for event in screen.shown_events] == [EventKind.ENDED]
        # Typed, "kind:ended bogus" would be valid on the way.
        await _set_filter(pilot, "kind:ended bogus:1")
        assert error.display
        assert 'unknown field "bogus"' in str(error.render())
        assert "(at position 12)" in str(error.render())
        assert "the last valid filter stays" in str(error.render())
        assert screen.filter_expression == "kind:ended"
        assert [event.kind for event in screen.shown_events] == [EventKind.ENDED]

        await _set_filter(pilot, "kind:x")
        assert 'unknown event kind "x"' in str(error.render())
        assert screen.filter_expression == "kind:ended"

        await pilot.press("backspace", *"new")
        await pilot.pause()
        assert not error.display
        assert [event.kind for event in screen.shown_events] == [EventKind.APPEARED]


async def test_opens_with_a_remembered_filter() -> None:
    app = EventsApp(_scenario(), filter_text="kind:ended")
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        assert screen.query_one("#events-filter", Input).value == "kind:ended"
        assert [event.kind for event in screen.shown_events] == [EventKind.ENDED]
        assert screen.event_list.has_focus

    app = EventsApp(_scenario(), filter_text="kind:")
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        assert screen.filter_expression == ""
        assert len(screen.shown_events) == 8
        error = screen.query_one("#events-filter-error", Static)
        assert error.display and "kind needs a value" in str(error.render())


async def test_appliance_text_is_shown_literally() -> None:
    markup = "[bold red]x[/]"
    store = FlowStore()
    store.apply([flow(n, path="[b]1") for n in range(1, 7)], NOW)
    store.apply([flow(n, path="[/]oops") for n in range(1, 7)] + [flow(7, application=markup)], NOW)
    app = EventsApp(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        lines = _lines(screen)
        assert markup in lines[0]
        assert "[b]1 → [/]oops" in lines[6]
        assert "[b]1 → [/]oops" in _text(app, "#events-failovers")

        await _set_filter(pilot, 'app:"[bold"*')
        assert len(screen.shown_events) == 1
        assert 'app:"[bold"*' in _text(app, "#events-title")
        await _set_filter(pilot, "app:[/x")
        assert not screen.query_one("#events-filter-error", Static).display


@pytest.mark.parametrize("key", ["q", "escape", "e"])
async def test_q_escape_and_e_close_the_screen_not_the_app(key: str) -> None:
    app = EventsApp(_scenario())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, EventsScreen)
        assert app.closed_count == 1
        assert app.is_running
        await pilot.press("q")  # now the app's own q
        await pilot.pause()
        assert not app.is_running


async def test_keys_in_the_filter_are_text_and_escape_leaves_it_first() -> None:
    app = EventsApp(_scenario())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        field = screen.query_one("#events-filter", Input)
        await pilot.press("slash")
        assert field.has_focus
        await pilot.press(*"app:q/e")
        assert field.value == "app:q/e"
        assert isinstance(app.screen, EventsScreen)
        await pilot.press("escape")
        assert screen.event_list.has_focus and isinstance(app.screen, EventsScreen)
        assert field.value == "app:q/e"
        await pilot.press("slash", "enter")
        assert screen.event_list.has_focus
        await pilot.press("escape")
        assert not isinstance(app.screen, EventsScreen)


async def test_refresh_events_picks_up_new_events_and_skips_when_unchanged() -> None:
    store = _scenario()
    app = EventsApp(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        built = screen.event_list.lines
        screen.refresh_events()
        assert screen.event_list.lines is built, "nothing changed: nothing rebuilt"

        store.apply(
            [flow(n, path=INET) for n in range(2, 8)] + [flow(9, application="Zoom")], NOW + 3
        )
        screen.refresh_events()
        await pilot.pause()
        assert screen.event_list.lines is not built
        assert screen.shown_events[0].kind is EventKind.ENDED
        assert screen.shown_events[0].key == flow(8).key
        assert _lines(screen)[0].startswith(_hms(NOW + 3))

        # With the store full, the count stays the same but the newest event changes.
        full = FlowStore(max_events=4)
        full.apply([flow(1)], NOW)
        for n in range(2, 8):
            full.apply([flow(1), flow(n)], NOW + n)
        app.store = full
        screen.refresh_events()
        before = screen.shown_events
        full.apply([flow(1), flow(9)], NOW + 9)
        screen.refresh_events()
        assert len(screen.shown_events) == len(before) == 4
        assert screen.shown_events == list(reversed(full.events))
        assert (EventKind.APPEARED, flow(9).key) in [(e.kind, e.key) for e in screen.shown_events]


async def test_list_is_bounded_and_says_so() -> None:
    store = FlowStore(max_events=5000)
    flows = [flow(n) for n in range(1, 400)]
    store.apply(flows, NOW)
    store.apply([flow(n, path=INET) for n in range(1, 400)], NOW + 1)
    store.apply([], NOW + 2)
    assert len(store.events) == 798
    app = EventsApp(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        assert len(screen.shown_events) == SHOWN_LIMIT
        assert screen.shown_events == list(reversed(store.events))[:SHOWN_LIMIT]
        title = _text(app, "#events-title")
        assert f"the newest {SHOWN_LIMIT} matching" in title and "of 798 kept" in title
        await _set_filter(pilot, "kind:ended")
        assert len(screen.shown_events) == 399
        assert "399 shown" in _text(app, "#events-title")


async def test_reading_position_holds_while_events_arrive() -> None:
    store = FlowStore()
    store.apply([flow(n) for n in range(1, 80)], NOW)
    store.apply([flow(n, path=INET) for n in range(1, 80)], NOW + 1)
    app = EventsApp(store)
    async with app.run_test(size=(140, 20)) as pilot:
        await pilot.pause()
        screen = app.events_screen
        await pilot.press("pagedown")
        await pilot.press("down", "down")
        await pilot.pause()
        top = round(screen.event_list.scroll_y)
        assert top > 0
        reading = screen.shown_events[top]
        store.apply([flow(n, path=INET) for n in range(1, 75)], NOW + 2)
        screen.refresh_events()
        await pilot.pause()
        assert screen.shown_events[round(screen.event_list.scroll_y)] is reading
        assert screen.shown_events[0].kind is EventKind.ENDED


async def test_events_of_an_earlier_day_show_their_date() -> None:
    app = EventsApp(_scenario(), clock_offset=86400.0)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        expected = time.strftime("%m-%d %H:%M:%S", time.localtime(NOW + 2))
        assert _lines(app.events_screen)[0].startswith(expected)


async def test_empty_store_says_what_will_appear() -> None:
    app = EventsApp(FlowStore())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        assert _lines(app.events_screen)[0].startswith("No events yet")


async def test_a_passthrough_flow_reads_none_for_its_path_as_in_the_table() -> None:
    store = FlowStore()
    store.apply([flow(1)], NOW)
    store.apply([flow(1), flow(2, path="")], NOW + 1)
    store.apply([flow(1, path=""), flow(2, path="")], NOW + 2)
    app = EventsApp(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        lines = _lines(app.events_screen)
        path_change, new = lines[0], lines[1]
        assert "PATH" in path_change and path_change.endswith("→ (none)")
        assert "NEW" in new and new.endswith("(none)")
