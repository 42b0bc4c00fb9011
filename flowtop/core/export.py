"""Export what the live view shows to a CSV or JSON file (the ``ctrl+s`` key).

The rows come in the view's order, already filtered, sorted and grouped; this
module only writes them.  Flow rows (anything with a ``flow``, or a
:class:`~flowtop.core.model.Flow` itself) are written exactly as ``--once`` writes
them (:func:`flowtop.core.batch.render_csv` / :func:`~flowtop.core.batch.render_json`),
so an export and a batch run can be read by the same script.  Group rows provide
``to_json_dict()``: a flat dict, written as a JSON list of those dicts, or as CSV
with the keys as header.

The file appears complete or not at all, and never replaces an existing file: the
data goes to a temporary file in the target directory first, which is then
hard-linked under the first free name.  Only flow data is written.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from flowtop.core.batch import render_csv, render_json, render_records_csv, render_records_json
from flowtop.core.errors import FlowtopError
from flowtop.core.model import Flow

EXPORT_FORMATS: Final = ("csv", "json")
# Names tried after the first one (``-2`` ... ``-MAX_SUFFIX``) before giving up.
MAX_SUFFIX: Final = 999
_KIND_CHARS = re.compile(r"[^A-Za-z0-9_]+")
# Filesystems without hard links (FAT, some network shares) answer with one of these.
_NO_LINKS: Final = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV})


class ExportError(FlowtopError):
    """The export could not be written; the message names the path and the reason."""


_MISSING: Final = object()


def export_name(kind: str, fmt: str, now: float, number: int = 1) -> str:
    """``flowtop-<kind>-YYYYmmdd-HHMMSS[-N].<fmt>`` in local time."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    safe_kind = _KIND_CHARS.sub("-", kind).strip("-") or "rows"
    suffix = f"-{number}" if number > 1 else ""
    return f"flowtop-{safe_kind}-{stamp}{suffix}.{fmt}"


def render_rows(rows: Sequence[Any], fmt: str, *, kind: str = "flows") -> str:
    """The file's text for ``rows`` (flow rows or group rows, not mixed).

    With no rows, a ``flows`` export still has the flow header (CSV) and any other
    kind is empty (``[]`` in JSON): its columns come from rows that are not there.
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f'unknown export format "{fmt}" (use csv or json)')
    flows = _flows(rows) if rows or kind == "flows" else None
    if flows is not None:
        return render_csv(flows) if fmt == "csv" else render_json(flows)
    dicts = [_group_dict(row) for row in rows]
    return _dicts_csv(dicts) if fmt == "csv" else _dicts_json(dicts)


def export_rows(
    rows: Sequence[Any], fmt: str, directory: Path, *, now: float, kind: str = "flows"
) -> Path:
    """Write ``rows`` to a new file in ``directory`` and return its path.

    Raises :class:`ExportError` (one line naming the path) when the directory is
    missing or not writable, the disk is full, or no free name is left.
    """
    first = directory / export_name(kind, fmt, now)
    try:
        data = render_rows(rows, fmt, kind=kind).encode("utf-8")
    except (ValueError, RecursionError) as error:
        # A value that cannot be written (too deep, not encodable): an export error too.
        reason = (str(error).splitlines() or [""])[0][:120]
        raise ExportError(f"cannot write {first}: {type(error).__name__}: {reason}") from None
    if not directory.is_dir():
        problem = "not a directory" if directory.exists() else "no such directory"
        raise ExportError(f"cannot write {first}: {problem} {directory}")
    temporary = directory / f".{first.name}.{secrets.token_hex(4)}.tmp"
    try:
        _write_new(temporary, data)
    except OSError as error:
        raise ExportError(f"cannot write {first}: {_reason(error)}") from None
    try:
        return _publish(temporary, lambda number: directory / export_name(kind, fmt, now, number))
    except OSError as error:
        raise ExportError(f"cannot write {first}: {_reason(error)}") from None
    finally:
        try:
            temporary.unlink()
        except OSError:
            pass  # already gone (moved into place) or unremovable: nothing better to do


def _flows(rows: Sequence[Any]) -> list[Flow] | None:
    """The flows of flow rows; None for group rows."""
    flows: list[Flow] = []
    for row in rows:
        flow = _flow_of(row)
        if flow is None:
            if flows:
                raise TypeError("cannot export flow rows and group rows together")
            return None
        flows.append(flow)
    return flows


def _flow_of(row: Any) -> Flow | None:
    if isinstance(row, Flow):
        return row
    if getattr(row, "group", _MISSING) is None:
        # A row of the view (flowtop.core.view.Row) that is not a group.
        flow = getattr(row, "flow", None)
        return flow if isinstance(flow, Flow) else None
    if callable(getattr(row, "to_json_dict", None)):
        # A group row may carry a flow (its top flow, say); the row is still the group.
        return None
    flow = getattr(row, "flow", None)
    return flow if isinstance(flow, Flow) else None


def _group_dict(row: Any) -> dict[str, Any]:
    to_json_dict = getattr(row, "to_json_dict", None)
    if not callable(to_json_dict):
        raise TypeError(f"cannot export a {type(row).__name__}: no flow and no to_json_dict()")
    values = to_json_dict()
    if not isinstance(values, dict):
        raise TypeError(f"{type(row).__name__}.to_json_dict() did not return a dict")
    return values


def _dicts_json(dicts: list[dict[str, Any]]) -> str:
    return render_records_json(dicts)


def _dicts_csv(dicts: list[dict[str, Any]]) -> str:
    header: dict[str, None] = {}
    for values in dicts:
        header.update(dict.fromkeys(values))
    return render_records_csv(dicts, list(header)) if header else ""


def _write_new(path: Path, data: bytes) -> None:
    # O_EXCL: never follow or reuse something already there; 0o666 lets the umask decide.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError:
        try:
            path.unlink()
        except OSError:
            pass
        raise


def _publish(temporary: Path, name: Callable[[int], Path]) -> Path:
    """Give the finished temporary file the first free name; never replaces a file."""
    for number in range(1, MAX_SUFFIX + 1):
        target = name(number)
        try:
            # A link fails when the name exists, so two exports in the same second
            # (or another program) cannot overwrite each other.
            os.link(temporary, target)
            return target
        except FileExistsError:
            continue
        except OSError as error:
            if error.errno not in _NO_LINKS:
                raise
        # No hard links here: check, then rename (a small race, but still complete files).
        if target.exists():
            continue
        os.replace(temporary, target)
        return target
    raise ExportError(f"cannot write {name(1)}: {MAX_SUFFIX} files of that name already exist")


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "the disk is full"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "no such directory"
    return error.strerror or str(error)
