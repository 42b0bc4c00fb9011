"""Fixtures shared by the end-to-end tests (CLI, faults, security, TLS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from flowtop.core import glyphs, names


@pytest.fixture
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy routes loopback traffic, and no setting or config of the developer leaks in."""
    for name in list(os.environ):
        if name.startswith("FLOWTOP_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    for name in ("xdg", "home"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    """A CA made for the test run; its certificates serve the demo over HTTPS."""
    return trustme.CA()


@pytest.fixture(autouse=True)
def unicode_glyphs() -> Iterator[None]:
    """Every test starts with the Unicode glyph set: an app in ASCII mode selects the
    ASCII set for the process, and tests share processes."""
    glyphs.select(False)
    yield
    glyphs.select(False)


@pytest.fixture(autouse=True)
def no_active_names() -> Iterator[None]:
    """No test sees the host names another test's resolver made the filter know."""
    names.activate(None)
    yield
    names.activate(None)
