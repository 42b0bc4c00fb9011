"""Human units for table cells."""

from __future__ import annotations

import pytest

from flowtop.core.filter import compile_filter, parse_quantity
from flowtop.core.units import (
    format_age,
    format_bytes,
    format_count,
    format_kbps,
    format_rate,
    format_seconds,
)
from tests.core.factories import flow as make_flow


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0, "0"),
        (512, "512"),
        (1536, "1.54k"),
        (12.3e6, "12.3M"),
        (4e9, "4.00G"),
        (999.6, "1.00k"),
        (float("nan"), ""),
        (float("inf"), ""),
    ],
)
def test_bytes(value: float | None, text: str) -> None:
    assert format_bytes(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (0.001, "<0.01"), (12.5, "12.5"), (999, "999"), (999.6, "1.00k"), (1234, "1.23k")],
)
def test_counts(value: float, text: str) -> None:
    assert format_count(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (850, "850k"),
        (12500, "12.5M"),
        (1.2e6, "1.20G"),
        (0.5, "500"),
        (0.05, "50"),
        (0.9994, "999"),
        (0.9996, "1.00k"),
        (0.0004, "<1"),
        (99.96, "100k"),
        (0, "0"),
    ],
)
def test_kbps_becomes_mbps_when_large(value: float, text: str) -> None:
    assert format_kbps(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 b/s"),
        (850, "850 kb/s"),
        (21000, "21.0 Mb/s"),
        (0.001, "1 b/s"),
        (0.0001, "<1 b/s"),
        (None, ""),
    ],
)
def test_rate_says_its_unit(value: float | None, text: str) -> None:
    assert format_rate(value) == text


@pytest.mark.parametrize("value", [10.9e6, 11e6, 11.04e6, 512, 1536, 4.2e9])
def test_bytes_cells_use_the_filters_prefixes(value: float) -> None:
    # What a cell shows, typed into the filter, is the same quantity (to its precision).
    shown = format_bytes(value)
    assert abs(parse_quantity(shown) - value) <= value * 0.005
    flow = make_flow(bytes=int(value))
    assert compile_filter(f"bytes<={parse_quantity(shown) * 1.005:.0f}").matches(flow)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (850, "850ms"),
        (45_000, "45s"),
        (723_000, "12m03s"),
        (3_720_000, "1h02m"),
        (3 * 86_400_000 + 4 * 3_600_000, "3d04h"),
        (-1, ""),
        (None, ""),
    ],
)
def test_age_like_top(ms: float | None, text: str) -> None:
    assert format_age(ms) == text


def test_seconds() -> None:
    assert format_seconds(0.5) == "0.5s"
    assert format_seconds(2) == "2s"
    assert format_seconds(65) == "1m05s"


@pytest.mark.parametrize(
    "value", [10**401, -(10**401), 10**5000, 2**1024], ids=["401", "-401", "5000", "2**1024"]
)
def test_numbers_too_large_for_a_float_never_raise(value: int) -> None:
    assert format_bytes(value) == ""
    assert format_count(value) == ""
    assert format_kbps(value) == ""
    assert format_age(value) == ""
