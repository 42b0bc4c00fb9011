"""The glyph sets, the locale check that picks one, and ASCII of the same width."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from flowtop.core import glyphs
from flowtop.core.glyphs import asciify, encoding_is_utf, locale_is_utf8


@pytest.mark.parametrize(
    ("environ", "utf8"),
    [
        # Python coerced LANG=C to C.UTF-8 and set LC_CTYPE itself: the terminal is C.
        ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, False),
        ({"LC_ALL": "C"}, False),
        ({"LC_ALL": "POSIX", "LANG": "en_US.UTF-8"}, False),
        ({}, False),
        ({"LANG": "en_US.ISO-8859-1", "LC_CTYPE": "C.UTF-8"}, False),
        ({"LANG": "en_US.UTF-8"}, True),
        ({"LANG": "de_DE.utf8"}, True),
        # The user's own C.UTF-8 with explicit UTF-8 mode is UTF-8.
        ({"LC_CTYPE": "C.UTF-8", "PYTHONUTF8": "1"}, True),
    ],
)
def test_locale_in_utf8_mode_is_read_from_what_the_user_set(
    environ: dict[str, str], utf8: bool
) -> None:
    assert locale_is_utf8(environ, utf8_mode=True) is utf8


def test_without_utf8_mode_the_started_locale_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "ISO-8859-1")
    assert locale_is_utf8({"LANG": "de_DE"}, utf8_mode=False) is False
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "UTF-8")
    assert locale_is_utf8({"LANG": "de_DE.UTF-8"}, utf8_mode=False) is True


def test_encodings() -> None:
    assert encoding_is_utf("utf-8") and encoding_is_utf("UTF8")
    assert not encoding_is_utf("iso-8859-1") and not encoding_is_utf("ascii")
    assert not encoding_is_utf(None) and not encoding_is_utf("no-such-codec")


def test_the_ascii_set_is_ascii_and_the_sets_differ_everywhere() -> None:
    for name in ("ellipsis", "descending", "ascending", "arrow", "missing", "dot", "spark"):
        plain, fancy = getattr(glyphs.ASCII, name), getattr(glyphs.UNICODE, name)
        assert plain.isascii(), name
        assert plain != fancy, name
    assert glyphs.ASCII.sort_mark(True) == "v" and glyphs.ASCII.sort_mark(False) == "^"
    assert len(set(glyphs.ASCII.spark)) == len(glyphs.UNICODE.spark)


def test_select_switches_the_current_set() -> None:
    try:
        assert glyphs.select(True) is glyphs.ASCII and glyphs.current() is glyphs.ASCII
    finally:
        assert glyphs.select(False) is glyphs.UNICODE


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Café", "Cafe"),
        ("a…b", "a~b"),
        ("╭──╮", "+--+"),
        ("│x▏", "|x|"),
        ("微信", "????"),
        ("Z\u200bero e\u0301", "Zero e"),
        ("\U0001f50e", "??"),
        ("\uff21pp", "A pp"),
        ("↑ k  ↓ j", "^ k  v j"),  # the key display of bindings in the footer
    ],
)
def test_asciify_keeps_the_width(text: str, plain: str) -> None:
    assert asciify(text) == plain
    assert cell_len(asciify(text)) == cell_len(text)
