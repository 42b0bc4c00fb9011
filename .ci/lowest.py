"""Print pip constraints that pin every declared dependency to its floor.

CI installs flowtop with these constraints and runs the suite, so the floors in
pyproject.toml are tested, not guessed: `name>=X` becomes `name==X` for the runtime
dependencies and the `test` extra. Dependencies of dependencies stay free (pip takes
the newest that fits), as with uv's `--resolution lowest-direct`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9._-]+)\s*(\[[^\]]*\])?\s*(.*)$")


def floors(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = []
    for requirement in declared:
        match = REQUIREMENT.match(requirement)
        if match is None:
            sys.exit(f"cannot read the requirement {requirement!r}")
        name, _extras, spec = match.groups()
        floor = re.search(r">=\s*([^,;\s]+)", spec)
        if floor is None:
            sys.exit(f"{requirement!r} declares no floor (>=)")
        pins.append(f"{name}=={floor.group(1)}")
    return pins


if __name__ == "__main__":
    print("\n".join(floors(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml"))))
