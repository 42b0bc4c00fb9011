"""Human units for table cells."""

from __future__ import annotations

import pytest

from flowtop.core.units import format_age, format_bytes, format_count, format_kbps, format_seconds


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0, "0"),
        (512, "512"),
        (1536, "1.50K"),
        (12.3 * 1024**2, "12.3M"),
        (4 * 1024**3, "4.00G"),
        (1023.9, "1.00K"),
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
    [(850, "850k"), (12500, "12.5M"), (1.2e6, "1.20G"), (0.5, "0.50k"), (99.96, "100k")],
)
def test_kbps_becomes_mbps_when_large(value: float, text: str) -> None:
    assert format_kbps(value) == text


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
