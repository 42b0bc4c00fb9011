"""Draw the README's screenshots from the deterministic demo scenes.

Run from the repository root:  python screenshots/generate.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from flowtop.tui.scenes import SCENES, Scene

HERE = Path(__file__).resolve().parent


async def draw(scene: Scene) -> Path:
    app = scene.make()
    async with app.run_test(size=scene.size) as pilot:
        await scene.prepare(pilot)
        svg = app.export_screenshot(title=f"flowtop: {scene.title}")
    path = HERE / f"{scene.name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def main(names: list[str]) -> int:
    chosen = [SCENES[name] for name in names] if names else list(SCENES.values())
    for scene in chosen:
        path = await draw(scene)
        print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
