"""Human formatting of counts, bytes, rates and ages, short enough for table cells.

Every prefix is SI (k = 1000, M = 1e6, G = 1e9), as in the filter language
(:func:`flowtop.core.filter.parse_quantity`), so ``bytes<11M`` means what a cell
showing ``11.0M`` says.  Rates are bits per second: the table's rate column is
titled ``bit/s``, and :func:`format_rate` spells the unit out.
"""

from __future__ import annotations

import math
import sys

# An int beyond this (a 401-digit counter, say) has no float: it cannot be shown in units.
_FLOAT_MAX = sys.float_info.max


def _scaled(value: float, units: tuple[str, ...], step: float) -> str:
    """``value`` with the largest unit that keeps it below ``step``, 3 significant digits.

    Runs for thousands of cells a tick, hence plain comparisons instead of round().
    """
    if value - value != 0:  # NaN or infinite: nothing sensible to show
        return ""
    if not -_FLOAT_MAX <= value <= _FLOAT_MAX:
        return ""
    index = 0
    last = len(units) - 1
    # 999.6 would print as "1000" at this unit: move up before it does.
    limit = step - 0.5
    while (value >= limit or value <= -limit) and index < last:
        value /= step
        index += 1
    magnitude = value if value >= 0 else -value
    if index == 0 and magnitude < 1e15 and value == int(value):
        return f"{int(value)}{units[0]}"
    if magnitude >= 99.95:
        return f"{value:.0f}{units[index]}"
    if magnitude >= 9.995:
        return f"{value:.1f}{units[index]}"
    return f"{value:.2f}{units[index]}"


_DECIMAL = ("", "k", "M", "G", "T", "P", "E")
_KILO = ("k", "M", "G", "T", "P", "E")


def format_bytes(value: float | None) -> str:
    """Bytes with SI prefixes, as the filter reads them: ``512``, ``1.50k``, ``12.3M``."""
    if value is None:
        return ""
    return _scaled(value, _DECIMAL, 1000.0)


def format_count(value: float | None) -> str:
    """A rate or count in decimal units: ``0``, ``12.5``, ``1.20k``, ``3.40M``."""
    if value is None:
        return ""
    if 0 < value < 0.005:
        return "<0.01"
    return _scaled(value, _DECIMAL, 1000.0)


def format_kbps(value: float | None) -> str:
    """A bit rate given in kbps, in bit/s: ``0``, ``50``, ``850k``, ``12.5M`` (Mbps),
    ``1.20G``.  Below 1 kbps in plain bit/s (``50``, not ``0.05k``), and below one bit
    a second ``<1``."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    if 0 < value < 0.9995:
        bits = value * 1000.0
        return "<1" if bits < 0.5 else f"{bits:.0f}"
    return _scaled(value, _KILO, 1000.0)


def format_rate(value: float | None) -> str:
    """A bit rate given in kbps, with its unit: ``0 b/s``, ``850 kb/s``, ``21.0 Mb/s``."""
    text = format_kbps(value)
    if not text:
        return ""
    if text[-1].isalpha():
        return f"{text[:-1]} {text[-1]}b/s"
    return f"{text} b/s"


def format_age(milliseconds: float | None) -> str:
    """An age as top shows time: ``850ms``, ``45s``, ``12m03s``, ``1h02m``, ``3d04h``."""
    if milliseconds is not None and not -_FLOAT_MAX <= milliseconds <= _FLOAT_MAX:
        return ""
    if milliseconds is None or not math.isfinite(milliseconds) or milliseconds < 0:
        return ""
    if milliseconds < 1000:
        return f"{int(milliseconds)}ms"
    seconds = int(milliseconds // 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_seconds(seconds: float) -> str:
    """A duration in seconds for status lines: ``0.5s``, ``2s``, ``1m05s``."""
    if seconds < 10 and not float(seconds).is_integer():
        return f"{seconds:.1f}s"
    return format_age(seconds * 1000)
