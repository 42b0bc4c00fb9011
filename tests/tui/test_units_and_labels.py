"""Units, labels and the status line's priorities, as the user reads them."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from flowtop.core.columns import COLUMNS
from flowtop.core.poller import PollPhase
from flowtop.core.settings import resolve_settings
from flowtop.tui.screens.export import ExportScreen
from flowtop.tui.widgets.detail import flow_fields_table
from flowtop.tui.widgets.status import StatusInfo, status_text
from tests.core.factories import flow
from tests.tui.helpers import Clock, DemoSource, make_app, wait_until


def _plain(renderable: Any, width: int = 120) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def _info(**changes: Any) -> StatusInfo:
    base: dict[str, Any] = {
        "source": "admin@sdwan-dc1.example.net",
        "interval": 2.0,
        "max_stats": 100,
        "phase": PollPhase.LIVE,
        "shown": 100,
        "total": 100,
        "sort": "bit/s\u25bc",
        "filter": "",
        "since_update": 3.0,
        "latency": 0.012,
    }
    base.update(changes)
    return StatusInfo(**base)


def test_status_parts_give_way_least_important_first() -> None:
    wide = status_text(_info(), 200).plain
    assert "(12ms)" in wide and "every 2s" in wide and "sort" in wide
    for width in (80, 90, 100):
        line = status_text(_info(filter="app:zoom|teams"), width).plain
        assert len(line) <= width
        # Freshness, counts and the filter stay; the latency goes first.
        assert "3s ago" in line and "100/100" in line and "app:zoom|teams" in line
        assert "(12ms)" not in line
    narrow = status_text(_info(filter="app:zoom"), 60).plain
    assert "3s ago" in narrow and "every" not in narrow and "LIVE" in narrow


def test_error_line_keeps_the_retry_countdown_and_press_r() -> None:
    long_error = "cannot connect to https://sdwan-dc1.example.net: " + "connection refused " * 6
    for width in (80, 100):
        text = status_text(
            _info(phase=PollPhase.ERROR, error=long_error, retry_in=7.2), width
        ).plain
        first, second = text.splitlines()[1:]
        assert len(first) <= width and len(second) <= width
        assert first.startswith(" ERROR  cannot connect")
        assert second.endswith("retry in 7s")
        stopped = status_text(
            _info(phase=PollPhase.STOPPED, error="authentication failed " * 5), width
        ).plain.splitlines()[-1]
        assert stopped.endswith("press r to retry") and len(stopped) <= width


def test_a_long_error_goes_on_over_a_second_line_keeping_its_reason() -> None:
    # At 80 columns the reason, which comes last, used to be cut before "press r".
    error = (
        "authentication failed for user nocview at 127.0.0.1:18443: "
        "Invalid username or password (errorcode 354)"
    )
    lines = status_text(_info(phase=PollPhase.STOPPED, error=error), 80).plain.splitlines()
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)
    assert lines[1].startswith(" ERROR  authentication failed")
    assert "(errorcode 354)" in lines[2] and lines[2].endswith("press r to retry")
    # When it fits, one line with the whole hint.
    wide = status_text(_info(phase=PollPhase.STOPPED, error=error), 200).plain.splitlines()
    assert len(wide) == 2 and wide[1].endswith("polling stopped; press r to try again")


def test_detail_labels_are_words_with_the_api_name_and_units() -> None:
    text = _plain(
        flow_fields_table(
            flow(1, path="", customer_kbps=21000, ipsec_overhead_kbps=0, rule_id="12")
        )
    )
    assert "Rule ID (rule_id)" in text and "App rule ID (app_rule_id)" in text
    assert "Path class ID (vpathclass)" in text
    assert "(none)" in text  # a passthrough flow's empty path
    assert "21.0 Mb/s  (21,000 kbps)" in text
    ipsec = next(line for line in text.splitlines() if line.startswith("IPsec overhead"))
    assert ipsec.split() == ["IPsec", "overhead", "0", "b/s"]  # not "0k  (0)"
    overhead = next(line for line in text.splitlines() if line.startswith("Path overhead"))
    assert overhead.split() == ["Path", "overhead", "1", "kb/s"]


def test_table_shows_none_for_an_empty_path_and_the_rate_unit() -> None:
    assert COLUMNS["path"].text(flow(1, path="")) == "(none)"
    assert COLUMNS["path"].text(flow(1, path="DC-INET")) == "DC-INET"
    assert COLUMNS["kbps"].title == "bit/s"
    assert COLUMNS["kbps"].text(flow(1, customer_kbps=0)) == "0"


async def test_chosen_columns_that_do_not_fit_are_named_in_the_status() -> None:
    clock = Clock()
    chosen = ("src", "dst", "app", "service", "path", "dscp", "pps", "kbps", "class", "rule")
    app = make_app(DemoSource(clock), clock, columns=chosen)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        hidden = [c for c in chosen if c not in app.table.shown_column_ids()]
        assert hidden
        notice = app.status_info().notice
        assert "too narrow" in notice and all(c in notice for c in hidden)
        await pilot.resize_terminal(240, 40)
        await pilot.pause()
        assert "too narrow" not in app.status_info().notice


async def test_default_columns_thinned_by_a_narrow_terminal_are_not_a_notice() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        assert "too narrow" not in app.status_info().notice


async def test_x_exports_where_ctrl_s_is_xoff() -> None:
    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen))
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen))


def test_profile_ascii_key(tmp_path: Any) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text("[profiles.jump]\nascii = true\n[profiles.fancy]\nascii = false\n")
    config.chmod(0o600)
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}

    def ascii_of(profile: str | None, cli: dict[str, Any]) -> bool | None:
        return resolve_settings(
            {"demo": True, **cli}, environ, config_path=str(config), profile_name=profile
        ).settings.ascii

    assert ascii_of("jump", {}) is True
    assert ascii_of("fancy", {}) is False
    assert ascii_of("fancy", {"ascii": True}) is True
    assert ascii_of(None, {}) is None


async def test_a_narrow_terminal_gets_a_compact_footer_with_every_main_key() -> None:
    from textual.widgets import Footer

    from tests.tui.helpers import Clock, DemoSource, make_app, wait_until

    clock = Clock()
    app = make_app(DemoSource(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count > 0)
        footer = app.query_one(Footer)
        assert footer.compact and not footer.show_command_palette
        await pilot.pause()
        keys = [key for key in footer.query("FooterKey") if key.region.width]
        # Every key shown ends within the screen: none is cut at the right edge.
        assert keys and all(key.region.right <= 80 for key in keys)
        assert {key.action for key in keys} >= {"quit", "toggle_detail", "events"}  # type: ignore[attr-defined]
        await pilot.resize_terminal(160, 45)
        await pilot.pause()
        assert not footer.compact and footer.show_command_palette


def test_a_long_filter_is_cut_short_not_left_out_and_the_appliance_stays() -> None:
    # A fleet's flow view at 80 columns: which appliance, and that a filter is in force.
    info = _info(
        source="austin",
        filter="ip:10.40.20.53|10.40.20.124|10.40.20.125 app:zoom",
        capped=100,
    )
    line = status_text(info, 80).plain
    assert len(line) <= 80
    assert " austin " in line and "3s ago" in line
    assert "filter ip:10.40.20.53|" in line and "…" in line
