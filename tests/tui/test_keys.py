"""Keys and habits: ctrl+c, ctrl+z, the group picker, moving in the detail pane, sorting."""

from __future__ import annotations

from textual.driver import Driver

from tests.tui.helpers import Clock, DemoSource, make_app, wait_until


async def test_ctrl_c_quits_and_logs_out() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running)
    assert source.closed
    assert ("DELETE", "/sdwan/nitro/v1/config/login") in list(source.appliance.requests)


async def test_ctrl_c_quits_from_the_filter_bar_too() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.store.poll >= 1)
        await pilot.press("slash", "a", "ctrl+c")
        await wait_until(pilot, lambda: not app.is_running)
    assert source.closed


async def test_suspend_stops_polling_until_resumed() -> None:
    clock = Clock()
    source = DemoSource(clock)
    app = make_app(source, clock, interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: source.fetches >= 2)
        # What ctrl+z publishes just before the process stops itself (SIGTSTP).
        app.app_suspend_signal.publish(app)
        assert app.suspended
        await pilot.pause(0.1)
        fetched = source.fetches
        await pilot.pause(1.3)
        assert source.fetches == fetched
        # What the driver posts once the process runs again in the foreground.
        app.post_message(Driver.SignalResume())
        await wait_until(pilot, lambda: source.fetches > fetched, timeout=2.0)
        assert not app.suspended
        await wait_until(pilot, lambda: source.fetches > fetched + 1, timeout=3.0)


def test_ctrl_z_is_bound_to_suspend() -> None:
    from flowtop.tui.app import FlowTopApp

    bindings = FlowTopApp._merge_bindings().key_to_bindings
    assert [binding.action for binding in bindings["ctrl+z"]] == ["suspend_process"]
    assert [binding.action for binding in bindings["ctrl+c"]] == ["quit"]
