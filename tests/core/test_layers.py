"""The core never imports textual: batch mode and scripts must not need the TUI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flowtop

CORE = Path(flowtop.__file__).parent / "core"
# The demo appliance is part of the product beside the core, and needs no TUI either.
HEADLESS = (CORE, Path(flowtop.__file__).parent / "demo")


def test_importing_every_core_module_imports_no_textual() -> None:
    modules = sorted(
        "flowtop." + ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
        for package in HEADLESS
        for path in package.rglob("*.py")
    )
    modules = [name.removesuffix(".__init__") for name in modules]
    assert "flowtop.core.client" in modules and "flowtop.demo.appliance" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import flowtop.cli\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "", f"the core imported textual: {result.stdout}"


def test_no_core_source_mentions_textual_imports() -> None:
    offenders = [
        str(path)
        for package in HEADLESS
        for path in package.rglob("*.py")
        if any(
            line.strip().startswith(("import textual", "from textual"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []


def test_no_core_source_imports_the_demo() -> None:
    """The demo is part of the product beside the core: the command line builds it."""
    offenders = [
        str(path)
        for path in CORE.rglob("*.py")
        if any(
            line.strip().startswith(("from flowtop.demo", "import flowtop.demo"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
