"""Snapshots of the main views, drawn from the same deterministic scenes as the screenshots."""

from __future__ import annotations

from typing import Any

import pytest

from flowtop.tui.scenes import SCENES


@pytest.mark.parametrize("name", sorted(SCENES))
def test_scene_snapshot(name: str, snap_compare: Any) -> None:
    scene = SCENES[name]
    assert snap_compare(scene.make(), terminal_size=scene.size, run_before=scene.prepare)
