"""Several appliances from the command line: ``--fleet NAME`` or ``--profile`` given twice.

The one-shot mode prints every appliance's rows with an ``appliance`` field; the
headless stream (``--headless --format jsonl``) writes one JSON object per flow per poll
for log shippers and engines that already scale past one machine.  Both run the fleet's
one poll loop (:meth:`flowtop.core.fleet.Fleet.run`), as the live fleet view does.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from flowtop.core import glyphs
from flowtop.core.batch import (
    CSV_FIELDS,
    render_records_csv,
    render_records_json,
    render_table,
)
from flowtop.core.columns import COLUMNS, Column, SortSpec, resolve_column
from flowtop.core.config import Settings, load_config, resolve_settings, select_fleet
from flowtop.core.errors import FlowtopError, UsageError
from flowtop.core.fleet import Fleet, FleetPolicy, Member
from flowtop.core.model import Flow, valid_unicode
from flowtop.core.monitor import Monitor
from flowtop.core.source import FlowSource, Snapshot
from flowtop.core.view import sorted_positions

if TYPE_CHECKING:
    # Types only: a mode that records or replays imports the module.
    from flowtop.core.recording import Recorder, ReplaySource

# A fleet's headless recording says how it goes every this many polls of each appliance.
PROGRESS_EVERY: Final = 10

# The field that says which appliance a row comes from, first in every fleet output.
APPLIANCE_FIELD: Final = "appliance"

# The registry's (flowtop.core.fields.FLEET_FIELDS), as in the all-flows view.
APPLIANCE_COLUMN: Final = COLUMNS[APPLIANCE_FIELD]


@dataclass(frozen=True)
class FleetPlan:
    """The appliances of a fleet run, in profile order, with their settings."""

    appliances: tuple[tuple[str, Settings], ...]
    policy: FleetPolicy = field(default_factory=FleetPolicy)


def plan_fleet(
    args: argparse.Namespace,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    warn: Callable[[str], None],
) -> FleetPlan:
    """Each appliance's settings: its profile, under the command line and environment."""
    config = load_config(
        Path(args.config) if args.config else None, environ, explicit=bool(args.config)
    )
    policy = FleetPolicy()
    if args.fleet is not None:
        if args.profile:
            raise UsageError("--fleet names its profiles in the config file: leave out --profile")
        fleet = select_fleet(config, args.fleet)
        names = list(fleet.profiles)
        policy = FleetPolicy(
            background_interval=fleet.background_interval,
            background_max_stats=fleet.background_max_stats,
            concurrency=fleet.concurrency,
        )
    else:
        names = list(args.profile)
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise UsageError(f"--profile {repeated[0]} is given twice")
    if cli.get("url") or cli.get("user"):
        raise UsageError(
            "a fleet's appliances come from their profiles: leave out --url and --user"
        )
    appliances = []
    for name in names:
        resolution = resolve_settings(cli, environ, config_path=args.config, profile_name=name)
        for warning in resolution.warnings:
            warn(warning)
        appliances.append((name, resolution.settings))
    return FleetPlan(tuple(appliances), policy)


def build_fleet(
    plan: FleetPlan,
    source_for: Callable[[str, Settings], FlowSource],
    *,
    history: int = 300,
    contain_bugs: bool = True,
    recorder: Recorder | None = None,
    replays: Mapping[str, ReplaySource] | None = None,
) -> Fleet:
    """A monitor and a source per appliance; nothing is fetched yet.

    ``recorder``: one file for the whole fleet, each poll tagged with its appliance.
    ``replays``: the appliances' sources are these replays of a fleet's recording."""
    members = []
    for name, settings in plan.appliances:
        replay = replays.get(name) if replays is not None else None
        source = replay if replay is not None else source_for(name, settings)
        monitor = Monitor(
            # The status line of its flow view names the appliance (the fleet screen
            # says who it logs in as, where).
            description=name,
            interval=settings.interval,
            max_stats=settings.max_stats,
            filter_text=settings.filter,
            sort=SortSpec.parse(settings.sort),
            columns=settings.columns,
            group_by=settings.group_by,
            history=history,
            contain_bugs=contain_bugs,
            recorder=recorder,
            replay=replay,
            appliance=name,
        )
        members.append(Member(name, source, monitor))
    return Fleet(members, plan.policy)


@dataclass
class FleetOutcome:
    """What a one-shot fleet run prints: the rows, a line per failed appliance, the code,
    and the appliances whose answer filled max_stats (name, N), for the table's reader."""

    text: str
    failures: list[str]
    exit_code: int
    capped: list[tuple[str, int]] = field(default_factory=list)


async def run_fleet_once(fleet: Fleet, output_format: str, width: int) -> FleetOutcome:
    """One poll of every appliance at once; the rows of those that answered.

    An appliance that failed gets one stderr line; the exit code is the first failure's
    in profile order (0 when all answered).
    """
    # One answer each, at full detail: --once is the open view of every appliance.
    fleet.full_detail()
    try:
        await fleet.run(live=False, count=1)
    finally:
        await fleet.close()
    failures: list[str] = []
    exit_code = 0
    answered: list[Member] = []
    for member in fleet.members:
        state = member.monitor.poll_state
        if member.monitor.last_snapshot is None or state.stale:
            error = state.last_error or FlowtopError("no answer")
            failures.append(f"{member.name}: {error}")
            exit_code = exit_code or error.exit_code
            continue
        answered.append(member)
    capped = []
    for member in answered:
        snapshot = member.monitor.last_snapshot
        limit = snapshot.capped(member.monitor.max_stats) if snapshot is not None else None
        if limit is not None:
            capped.append((member.name, limit))
    return FleetOutcome(_render(answered, output_format, width), failures, exit_code, capped)


def _render(members: Sequence[Member], output_format: str, width: int) -> str:
    records: list[dict[str, Any]] = []
    table_rows: list[Any] = []
    columns: tuple[Column, ...] = ()
    grouped = False
    # Flows sort across the fleet, as in the all-flows view (groups: per appliance).
    order: list[Any] = []
    for member in members:
        frame = member.monitor.frame()
        grouped = member.monitor.grouping is not None
        columns = tuple(member.monitor.columns)
        snapshot = member.monitor.last_snapshot
        stamp = (
            {"time": _stamp(snapshot.received_at)} if snapshot and output_format == "jsonl" else {}
        )
        sort_value = _sort_value(member.monitor)
        for row in frame.result.rows:
            record = row.to_json_dict() if grouped else row.flow.to_json_dict()
            records.append({APPLIANCE_FIELD: member.name, **stamp, **record})
            table_rows.append(_Tagged(member.name, row.cells))
            order.append(None if grouped or sort_value is None else sort_value(row.flow))
    if members and not grouped:
        positions = sorted_positions(order, members[0].monitor.sort.descending)
        records = [records[i] for i in positions]
        table_rows = [table_rows[i] for i in positions]
    if output_format == "json":
        return render_records_json(records, ascii_only=glyphs.current().ascii)
    if output_format == "jsonl":
        return "".join(_line(record) for record in records)
    if output_format == "csv":
        header = [APPLIANCE_FIELD, *(records[0].keys() if grouped and records else CSV_FIELDS)]
        if grouped:
            header = list(dict.fromkeys(header))
        return render_records_csv(records, header)
    sort = members[0].monitor.sort.column if members else None
    return render_table(table_rows, (APPLIANCE_COLUMN, *columns), width, sort)


def _sort_value(monitor: Monitor) -> Callable[[Any], Any] | None:
    """The value an appliance's flows sort by (its sort column's)."""
    for column in monitor.columns:
        if column.id == monitor.sort.column:
            return column.sort_value
    try:
        return resolve_column(monitor.sort.column).sort_value
    except UsageError:
        return None


@dataclass(frozen=True, slots=True)
class _Tagged:
    """A table row with the appliance's name in front of its cells."""

    appliance: str
    rest: tuple[str, ...]

    @property
    def cells(self) -> tuple[str, ...]:
        return (self.appliance, *self.rest)


def _line(record: Mapping[str, Any]) -> str:
    return valid_unicode(json.dumps(record, ensure_ascii=False, default=str)) + "\n"


def stream_record(
    appliance: str, snapshot: Snapshot, keep: Callable[[Flow], bool] | None = None
) -> list[dict[str, Any]]:
    """One JSON object per flow of a poll (those ``keep`` keeps): the appliance, the time
    (UTC, RFC 3339) and the 26 typed API fields."""
    stamp = _stamp(snapshot.received_at)
    return [
        {APPLIANCE_FIELD: appliance, "time": stamp, **flow.to_json_dict()}
        for flow in snapshot.flows
        if keep is None or keep(flow)
    ]


def _stamp(at: float) -> str:
    moment = datetime.datetime.fromtimestamp(at, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def run_fleet_stream(
    fleet: Fleet,
    out: TextIO | None,
    *,
    count: int | None,
    duration: float | None,
    say: Callable[[str], None],
    recorder: Recorder | None = None,
) -> int:
    """``--headless``: every poll of every appliance as JSON lines on ``out`` (``--format
    jsonl``) and in the fleet's recording (``--record``); a failed poll is one line on
    stderr and the others go on."""
    failures: dict[str, FlowtopError] = {}
    written: dict[str, int] = {member.name: 0 for member in fleet.members}

    def heard(member: Member, outcome: Snapshot | FlowtopError) -> None:
        if isinstance(outcome, FlowtopError):
            failures[member.name] = outcome
            say(f"{member.name}: poll failed: {outcome}")
            return
        written[member.name] += 1
        if recorder is not None and out is None:
            # Recording only: say how it goes, after the first poll and every few.
            polls = sum(written.values())
            if polls == 1 or polls % (PROGRESS_EVERY * len(fleet)) == 0:
                say(f"{polls} poll(s) of {len(fleet)} appliances recorded to {recorder.path}")
        if out is None:
            return
        # The filter applies, as in every other mode (--filter, a profile's filter).
        keep = member.monitor.flow_filter
        records = stream_record(member.name, outcome, None if keep.is_empty else keep)
        out.write("".join(_line(record) for record in records))
        out.flush()

    fleet.full_detail()
    try:
        await fleet.run(live=False, count=count, duration=duration, on_poll=heard)
    finally:
        if recorder is not None:
            # The file first: it must be complete even if logging out hangs.
            recorder.close()
        await fleet.close()
    if recorder is not None:
        if recorder.last_error:
            say(recorder.last_error)
            return 5
        polls, where = recorder.polls_written, recorder.path
        say(f"recorded {polls} poll(s) of {len(fleet)} appliances to {where}")
    for member in fleet.members:
        if not written[member.name] and member.name in failures:
            # Nothing streamed from this appliance: exit as its failure would (first one).
            return failures[member.name].exit_code
    return 0


def use_stream(args: argparse.Namespace) -> bool:
    return bool(args.headless) and args.format == "jsonl"


def write_failures(lines: Sequence[str], stream: TextIO | None = None) -> None:
    target = stream if stream is not None else sys.stderr
    for line in lines:
        target.write(f"flowtop: {line}\n")
