"""Command line: arguments -> settings -> the TUI, one-shot output, headless recording
or the demo server."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar
from urllib.parse import urlsplit

from flowtop import __version__
from flowtop.core import glyphs
from flowtop.core.batch import (
    FORMATS,
    dropped_columns,
    render_csv,
    render_json,
    render_records_csv,
    render_records_json,
    render_table,
)
from flowtop.core.columns import DEFAULT_COLUMNS, SortSpec
from flowtop.core.config import (
    ENV_CONFIG,
    ENV_PASSWORD,
    ENV_URL,
    ENV_USER,
    MAX_INTERVAL,
    MAX_STATS_CHOICES,
    MIN_INTERVAL,
    Settings,
    load_config,
    parse_highlight_argument,
    resolve_settings,
)
from flowtop.core.errors import ANSWER_FAILURES, FlowtopError, UsageError, answer_failure
from flowtop.core.glyphs import encoding_is_utf, locale_is_utf8
from flowtop.core.groups import (
    GROUP_JSON_FIELDS,
    GROUPINGS,
    group_columns,
)
from flowtop.core.memory import tune_garbage_collector
from flowtop.core.monitor import Monitor, run_polls
from flowtop.core.names import LOOKUP_TIMEOUT, NameResolver
from flowtop.core.signals import StopSignals, signal_exit_code, signal_name
from flowtop.core.source import FlowSource, Snapshot
from flowtop.core.source import build_source as build_appliance_source
from flowtop.core.units import format_bytes
from flowtop.demo.names import demo_lookup

if TYPE_CHECKING:
    from flowtop.core.config.save import SaveTarget
    from flowtop.core.fleet import Fleet
    from flowtop.core.recording import Recorder, ReplaySource
    from flowtop.fleet_cli import FleetPlan


def fleet_requested(args: argparse.Namespace) -> bool:
    """``--fleet`` given, or ``--profile`` more than once.  The fleet's modules are
    imported only then: one appliance does not pay for them at start."""
    return args.fleet is not None or len(args.profile or ()) > 1


EXAMPLES = f"""\
examples:
  flowtop --demo                              live view of the built-in demo appliance
  {ENV_PASSWORD}=... flowtop --url 10.0.0.1 --user admin
  flowtop --url https://sdwan.example --user viewer --ca-bundle appliance.pem
  flowtop --profile lab                       connect with a profile of the config file
  flowtop --demo --once --format json         one snapshot as JSON, then exit
  flowtop --demo --once --filter 'app:zoom|*teams pps>10' --sort bytes
  flowtop --demo --once --group-by application --format json
  flowtop --demo --highlight 'pps>500@red' --highlight 'dscp:ef@cyan'
  flowtop --demo --headless --record polls.jsonl.gz --count 60
  flowtop --replay polls.jsonl.gz --speed 10
  flowtop demo-server --port 8080             the demo appliance as a real HTTP server

environment:
  {ENV_URL}, {ENV_USER}, {ENV_PASSWORD}   appliance URL, user and password
  {ENV_CONFIG}                              config file (default ~/.config/flowtop/config.toml)
  NO_COLOR                                    no colours in the live view
  https_proxy, http_proxy, all_proxy, no_proxy  proxies, as curl reads them
  SSL_CERT_FILE, SSL_CERT_DIR                 more CAs to trust besides the system store
  LANG, LC_ALL, LC_CTYPE                      not UTF-8 (e.g. LANG=C): plain ASCII, as --ascii
  COLUMNS                                     width of a --once table written to a pipe

precedence: command line, then environment, then the profile, then the config file's
[defaults], then built-in defaults.

exit codes:
  0 success, 2 usage or filter error, 3 appliance unreachable or timed out,
  4 authentication failed, 5 appliance error or unreadable answer;
  SIGTERM, SIGHUP or SIGINT end the live view and --headless with 0 (the recording
  finished, logged out), and --once with 128 + the signal (143, 129, 130)
"""

# Logging out after a stop signal may take this long; leaving promptly matters more.
SIGNAL_CLOSE_TIMEOUT = 1.0

_T = TypeVar("_T")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (UsageError) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            # Name the unknown options only: a stray value might be a password.
            options = [word for word in message.split()[2:] if word.startswith("-")]
            message = "unrecognized arguments" + (f": {' '.join(options)}" if options else "")
        raise UsageError(f"{message} (see flowtop --help)")


def build_parser() -> argparse.ArgumentParser:
    # Defaults are None: "not given" lets lower layers (environment, profile) decide.
    parser = _Parser(
        prog="flowtop",
        description="A top-like live monitor for the flows of an SD-WAN appliance.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flowtop {__version__}")
    where = parser.add_argument_group("appliance")
    where.add_argument("--url", help=f"appliance address; a bare host means https (env {ENV_URL})")
    where.add_argument("--user", help=f"user name (env {ENV_USER}); password from {ENV_PASSWORD}")
    where.add_argument(
        "--demo", action="store_true", help="watch the built-in demo appliance instead"
    )
    where.add_argument("--demo-seed", type=int, default=None, help=argparse.SUPPRESS)
    where.add_argument(
        "--insecure", action="store_true", default=None,
        help="do not verify the TLS certificate",
    )  # fmt: skip
    where.add_argument("--ca-bundle", metavar="PATH", help="trust this CA bundle (PEM)")
    where.add_argument(
        "--proxy", metavar="URL",
        help="http://, https:// or socks5h:// proxy (default: the *_proxy variables)",
    )  # fmt: skip
    where.add_argument(
        "--no-proxy", action="store_true", default=None,
        help="connect directly, whatever the proxy variables say",
    )  # fmt: skip
    where.add_argument(
        "--timeout", type=_finite_float, metavar="SECONDS",
        help="connect and read timeout (default 10)",
    )  # fmt: skip
    where.add_argument("--config", metavar="PATH", help=f"config file (env {ENV_CONFIG})")
    where.add_argument(
        "--profile", metavar="NAME", action="append",
        help="a profile of the config file; again for a fleet of several appliances",
    )  # fmt: skip
    where.add_argument(
        "--fleet", metavar="NAME", nargs="?", const="",
        help="watch the profiles of [fleets.NAME] in the config file together"
        " (--demo --fleet: the demo's data centre and branches)",
    )  # fmt: skip
    polling = parser.add_argument_group("polling")
    polling.add_argument(
        "--interval", type=_finite_float, metavar="SECONDS",
        help=f"seconds between polls, {MIN_INTERVAL:g} to {MAX_INTERVAL:g} (default 2)",
    )  # fmt: skip
    polling.add_argument(
        "--max-stats", type=int, metavar="N",
        help="how many flows the appliance returns: "
        + ", ".join(str(choice) for choice in MAX_STATS_CHOICES) + " (default 100)",
    )  # fmt: skip
    view = parser.add_argument_group("view")
    view.add_argument("--filter", metavar="EXPR", help="show only matching flows")
    view.add_argument(
        "--sort", metavar="FIELD",
        help="sort column; numbers descending, text ascending; FIELD:asc or FIELD:desc",
    )  # fmt: skip
    view.add_argument(
        "--columns", metavar="LIST", help="columns to show, comma-separated, in order"
    )
    view.add_argument("--group-by", metavar="FIELD", help="sum flows per " + ", ".join(GROUPINGS))
    view.add_argument(
        "--ascii", action="store_true", default=None,
        help="draw plain ASCII (default when the locale is not UTF-8, e.g. LANG=C)",
    )  # fmt: skip
    view.add_argument(
        "--resolve", action="store_true", default=None,
        help="show host names (reverse DNS, in the background; n toggles); --once waits"
        f" at most {LOOKUP_TIMEOUT:g} s for them",
    )  # fmt: skip
    view.add_argument(
        "--port-names", action="store_true", default=None,
        help="show service names of ports (443 as https; N toggles)",
    )  # fmt: skip
    view.add_argument(
        "--highlight", metavar="EXPR[@COLOUR]", action="append",
        help="colour matching flows (repeatable): 'pps>1000@red'; a final ! rings the bell",
    )  # fmt: skip
    batch = parser.add_argument_group("one-shot mode")
    batch.add_argument("--once", action="store_true", help="print one snapshot and exit")
    batch.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="output of --once (default table); jsonl with --headless streams every poll",
    )
    batch.add_argument(
        "--width", type=_width, metavar="N",
        help="--once table width; 0 for no limit (default: the terminal, else $COLUMNS, else 80)",
    )  # fmt: skip
    recording = parser.add_argument_group("record and replay")
    recording.add_argument(
        "--record", metavar="FILE", help="append every poll to FILE (JSON lines; .gz compresses)"
    )
    recording.add_argument(
        "--headless", action="store_true", help="with --record: no screen, just record"
    )
    recording.add_argument(
        "--count", type=_positive_int, metavar="N", help="--headless: stop after N polls"
    )
    recording.add_argument(
        "--duration", type=_finite_float, metavar="SECONDS", help="--headless: stop after this"
    )
    recording.add_argument("--replay", metavar="FILE", help="play a recording in the live view")
    recording.add_argument(
        "--speed", type=_finite_float, metavar="X", help="replay speed (default 1)"
    )
    return parser


def build_demo_server_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flowtop demo-server",
        description="Serve the demo appliance's Nitro API over HTTP, for trying clients.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated flows")
    parser.add_argument("--flows", type=int, default=1200, help="number of live flows")
    parser.add_argument(
        "--fleet",
        type=int,
        metavar="N",
        help="serve a demo fleet of N sites (a DC and N-1 branches), one port each from"
        " --port on (0: any free ports), and print a config file that points at them",
    )
    return parser


def _refuse_password_argument(argv: Sequence[str]) -> None:
    # argparse would echo the unknown option with its value; say why, without the value.
    for token in argv:
        if token.startswith("--pass"):
            raise UsageError(
                f"flowtop never takes a password on the command line: set {ENV_PASSWORD},"
                " use a profile's password_command, or answer the prompt"
            )


def _check_combinations(args: argparse.Namespace) -> None:
    if args.headless and not args.record and args.format != "jsonl":
        raise UsageError(
            "--headless works without a screen: it needs --record FILE, or --format jsonl"
            " to stream the flows to stdout"
        )
    if (args.count or args.duration) and not args.headless:
        raise UsageError("--count and --duration go with --headless")
    if args.replay and (args.record or args.once or args.demo or args.url):
        raise UsageError("--replay plays a file: it takes no appliance, --record or --once")
    if args.speed is not None and not args.replay:
        raise UsageError("--speed goes with --replay")
    if args.once and args.headless:
        raise UsageError("--once and --headless are two different modes: choose one")


def cli_layer(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gives; None for anything not given."""
    columns = None
    if args.columns:
        names = [name for name in args.columns.split(",") if name.strip()]
        # Resolved to column ids (or refused) when the settings are built.
        columns = tuple(names) or None
    highlight = None
    if args.highlight:
        highlight = tuple(parse_highlight_argument(text) for text in args.highlight)
    return {
        "url": args.url,
        "user": args.user,
        "demo": True if args.demo else None,
        "demo_seed": args.demo_seed,
        "insecure": args.insecure,
        "ca_bundle": args.ca_bundle,
        "proxy": args.proxy,
        "no_proxy": args.no_proxy,
        "timeout": args.timeout,
        "interval": args.interval,
        "max_stats": args.max_stats,
        "filter": args.filter,
        "sort": args.sort,
        "columns": columns,
        "highlight": highlight,
        "group_by": args.group_by,
        "ascii": args.ascii,
        "resolve": args.resolve,
        "port_names": args.port_names,
        "record": args.record,
        "replay": args.replay,
        "speed": args.speed,
    }


def settings_from_arguments(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> Settings:
    env = dict(os.environ) if environ is None else environ
    _check_combinations(args)
    resolution = resolve_settings(
        cli_layer(args), env, config_path=args.config, profile_name=_one_profile(args)
    )
    for warning in resolution.warnings:
        sys.stderr.write(f"flowtop: warning: {warning.removeprefix('warning: ')}\n")
    # Filter, sort and group-by were parsed (and refused) when the settings were built.
    return resolution.settings


def _one_profile(args: argparse.Namespace) -> str | None:
    """The profile of a single-appliance run (``--profile`` given once), else None."""
    return args.profile[0] if args.profile else None


def output_width(
    stream: TextIO, requested: int | None = None, environ: dict[str, str] | None = None
) -> int:
    """The table's width: ``--width`` (0: no limit), the terminal's, ``$COLUMNS`` for a
    pipe, else 80 columns."""
    if requested is not None:
        return requested
    try:
        if stream.isatty():
            return max(40, shutil.get_terminal_size((80, 24)).columns)
    except (AttributeError, ValueError, OSError):
        pass
    env = os.environ if environ is None else environ
    columns = env.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(40, int(columns))
    return 80


def capped_note(capped: int, *, grouped: bool = False) -> str:
    """The stderr line of ``--once`` when the answer filled max_stats."""
    note = f"flowtop: capped by max_stats: the appliance returned only its top {capped} flows"
    if grouped:
        note += " (the group sums cover those)"
    larger = [choice for choice in MAX_STATS_CHOICES if choice > capped]
    if larger:
        note += f"; --max-stats {larger[-1]} asks for more"
    return note + "\n"


def use_ascii(settings: Settings, stream: TextIO | None = None) -> bool:
    """Plain ASCII: asked for (``--ascii``, the profile), or the locale (or, for one-shot
    output, the output's encoding) is not UTF-8.  A profile's ``ascii = false`` insists
    on Unicode."""
    if settings.ascii is not None:
        return settings.ascii
    if not locale_is_utf8():
        return True
    return stream is not None and not encoding_is_utf(getattr(stream, "encoding", None))


def write_output(stream: TextIO, text: str) -> None:
    """Write ``text``; what the stream's encoding cannot show becomes ``?``."""
    encoding = getattr(stream, "encoding", None)
    if encoding and not encoding_is_utf(encoding):
        try:
            text = text.encode(encoding, errors="replace").decode(encoding)
        except LookupError:
            pass
    stream.write(text)
    stream.flush()


async def run_once(
    settings: Settings,
    output_format: str,
    width: int,
    group_by: str | None = None,
    notes: list[str] | None = None,
    resolve: bool = False,
) -> str:
    """One snapshot, filtered, sorted and maybe grouped, in the chosen format.

    ``notes`` gets what the user should hear of (chosen columns the width leaves out).
    """
    monitor = Monitor(
        description="",
        interval=settings.interval,
        max_stats=settings.max_stats,
        filter_text=settings.filter,
        sort=SortSpec.parse(settings.sort),
        columns=settings.columns,
        group_by=group_by,
        history=1,
        contain_bugs=False,
        # --once looks names up only when asked on its command line (--resolve).
        host_names=resolve,
        resolver=NameResolver(demo_lookup) if settings.demo and resolve else None,
        port_names=settings.port_names,
    )
    source = build_source(settings)
    monitor.description = source.description
    try:
        await run_polls(source, monitor, count=1)
    except asyncio.CancelledError:
        # A stop signal (see run_stoppable): log out briefly, then leave.
        await _close_source(source, hurry=True)
        raise
    except BaseException:
        await _close_source(source)
        raise
    await _close_source(source)
    snapshot = monitor.last_snapshot
    if snapshot is None or monitor.poll_state.stale:
        error = monitor.poll_state.last_error
        raise error if error is not None else FlowtopError("no answer")
    grouping = monitor.grouping
    if resolve:
        # The names of the flows shown, within the lookups' time limit.
        monitor.frame()
        await asyncio.to_thread(monitor.resolve_shown)
    output = _render_once(monitor, settings, output_format, width, notes)
    monitor.close()
    capped = snapshot.capped(settings.max_stats)
    if capped is not None and output_format == "table":
        # For the person reading the table, once it could be drawn; JSON and CSV stay
        # quiet for scripts (their row count equal to --max-stats tells the same).
        sys.stderr.write(capped_note(capped, grouped=grouping is not None))
    return output


def _render_once(
    monitor: Monitor,
    settings: Settings,
    output_format: str,
    width: int,
    notes: list[str] | None,
) -> str:
    grouping = monitor.grouping
    view = monitor.view
    frame = monitor.frame()
    result = frame.result
    if grouping is not None:
        records = [row.to_json_dict() for row in result.rows]
        if output_format == "json":
            return render_records_json(records, ascii_only=glyphs.current().ascii)
        if output_format == "csv":
            return render_records_csv(records, GROUP_JSON_FIELDS)
        return render_table(result.rows, group_columns(grouping), width, monitor.sort.column)
    flows = [row.flow for row in result.rows]
    if output_format == "json":
        return render_json(flows, ascii_only=glyphs.current().ascii)
    if output_format == "csv":
        return render_csv(flows)
    if notes is not None and tuple(settings.columns) != tuple(DEFAULT_COLUMNS):
        dropped = dropped_columns(result.rows, view.columns, width, monitor.sort.column)
        if dropped:
            notes.append(
                f"too narrow for column(s) {', '.join(dropped)}: use --width N (0: no limit)"
            )
    return render_table(result.rows, view.columns, width, monitor.sort.column)


# --headless --record says how it goes after the first poll and every this many.
HEADLESS_PROGRESS_EVERY = 10


def headless_progress(settings: Settings, recorded: int, snapshot: Snapshot) -> str:
    """``flowtop: 10 polls recorded to FILE (668KB); last poll 100 flows, capped by ...``"""
    assert settings.record is not None
    try:
        size = f" ({format_bytes(os.stat(settings.record).st_size)}B)"
    except OSError:
        size = ""
    polls = "poll" if recorded == 1 else "polls"
    flows = f"{len(snapshot.flows)} flows"
    if snapshot.capped(settings.max_stats) is not None:
        flows += ", capped by max_stats"
    return f"flowtop: {recorded} {polls} recorded to {settings.record}{size}; last poll {flows}\n"


async def record_headless(source: FlowSource, recorder: Recorder, **options: Any) -> int:
    """:func:`flowtop.core.recording.record_headless`, imported when a mode records."""
    from flowtop.core.recording import record_headless as record

    return await record(source, recorder, **options)


async def run_headless(settings: Settings, count: int | None, duration: float | None) -> int:
    """Record polls without a screen; errors of single polls are reported and survived."""
    from flowtop.core.recording import Recorder

    assert settings.record is not None
    source = build_source(settings)
    recorder = Recorder(settings.record, source=source.description, max_stats=settings.max_stats)
    # Should the loop get stuck after a stop signal, the watchdog still ends the file.
    _LAST_WORDS.append(recorder.close)

    failures: list[FlowtopError] = []

    def report(error: FlowtopError) -> None:
        failures.append(error)
        sys.stderr.write(f"flowtop: poll failed: {error}\n")

    def progress(recorded: int, snapshot: Snapshot) -> None:
        if recorded == 1 or recorded % HEADLESS_PROGRESS_EVERY == 0:
            sys.stderr.write(headless_progress(settings, recorded, snapshot))
            sys.stderr.flush()

    stopped = False
    try:
        await record_headless(
            source,
            recorder,
            interval=settings.interval,
            max_stats=settings.max_stats,
            count=count,
            duration=duration,
            on_error=report,
            on_recorded=progress,
        )
    except asyncio.CancelledError:
        # A stop signal (see run_stoppable): the recording ends here, as with --count.
        stopped = True
        _uncancel()
    finally:
        # The file first: it must be complete even if logging out hangs.
        recorder.close()
        _LAST_WORDS.remove(recorder.close)
        await _close_source(source, hurry=stopped)
    if recorder.last_error:
        sys.stderr.write(f"flowtop: {recorder.last_error}\n")
        return 5
    sys.stderr.write(f"flowtop: recorded {recorder.polls_written} poll(s) to {settings.record}\n")
    if recorder.polls_written == 0 and failures:
        # Nothing recorded because every poll failed: exit as that failure would.
        return failures[-1].exit_code
    return 0


def build_source(settings: Settings) -> FlowSource:
    """The source a run's settings describe: the in-process demo or a real appliance."""
    if settings.demo:
        from flowtop.demo.source import demo_source

        return demo_source(seed=settings.demo_seed, timeout=settings.timeout)
    return build_appliance_source(settings)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def require_terminal() -> None:
    """The live view draws on a terminal: without one (``ssh host flowtop`` without
    ``-t``, output to a file) it would write escape codes and never end."""
    if _is_terminal(sys.stdin) and _is_terminal(sys.stdout):
        return
    raise UsageError(
        "the live view needs a terminal (stdin and stdout): use --once for one snapshot,"
        " --headless --record FILE to record, or ssh -t"
    )


async def _close_source(source: FlowSource, *, hurry: bool = False) -> None:
    """Close (log out); after a stop signal only briefly, and never raising."""
    if not hurry:
        await source.close()
        return
    try:
        await asyncio.wait_for(source.close(), timeout=SIGNAL_CLOSE_TIMEOUT)
    except (Exception, asyncio.CancelledError):
        pass  # logging out is a courtesy; leaving promptly matters more


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


# What the watchdog does before it ends a process whose event loop is stuck.
_LAST_WORDS: list[Callable[[], None]] = []


def _say_last_words() -> None:
    for action in list(_LAST_WORDS):
        action()


def run_stoppable(
    work: Callable[[], Coroutine[Any, Any, _T]], *, exit_code: Callable[[int], int]
) -> tuple[_T | None, int | None]:
    """Run ``work`` in a new event loop; SIGTERM, SIGHUP and SIGINT cancel it.

    Returns ``(result, None)``, or ``(result or None, signal)`` after a stop signal:
    ``work`` sees a cancellation and may finish its files, log out and return.  If that
    takes longer than the watchdog's deadline, the process ends with ``exit_code``.
    """

    async def stoppable() -> tuple[_T | None, int | None]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(number: int) -> None:
            # Runs in the signal handler: only schedule (the loop may be busy).
            loop.call_soon_threadsafe(task.cancel)

        stops = StopSignals(stop, exit_code=exit_code, last_words=_say_last_words)
        stops.install()
        try:
            result = await work()
        except asyncio.CancelledError:
            if stops.received is None:
                raise
            _uncancel()
            return None, stops.received
        finally:
            stops.restore()
        return result, stops.received

    return asyncio.run(stoppable())


def _stopped_by(number: int) -> None:
    sys.stderr.write(f"flowtop: stopped by {signal_name(number)}\n")


def open_source(settings: Settings) -> FlowSource:
    """The live source, or a replay of a recording."""
    if settings.replay is not None:
        # Imported where used: --once and the live view of an appliance do without.
        from flowtop.core.recording import Recording, ReplaySource

        recording = Recording.load(settings.replay)
        for warning in recording.warnings:
            sys.stderr.write(f"flowtop: warning: {warning}\n")
        if recording.damage:
            sys.stderr.write(f"flowtop: warning: {recording.damage}\n")
        return ReplaySource(recording, speed=settings.speed)
    return build_source(settings)


def save_target_for(args: argparse.Namespace, environ: dict[str, str] | None = None) -> SaveTarget:
    """Where the column chooser saves: the config file in use and its profile (the one
    named, else the file's default_profile, else the [defaults] table)."""
    env = dict(os.environ) if environ is None else environ
    config = load_config(
        Path(args.config) if args.config else None, env, explicit=bool(args.config)
    )
    # Only the live view saves: the TOML writer is not loaded before.
    from flowtop.core.config.save import SaveTarget

    return SaveTarget(config.path, _one_profile(args) or config.default_profile)


def run_tui(settings: Settings, save_target: SaveTarget | None = None) -> int:
    """Run the live monitor until the user quits."""
    from flowtop.tui.app import FlowTopApp

    source = open_source(settings)
    recorder = None
    if settings.record is not None:
        from flowtop.core.recording import Recorder

        recorder = Recorder(
            settings.record, source=source.description, max_stats=settings.max_stats
        )
    app = FlowTopApp(
        source,
        on_ready=tune_garbage_collector,
        interval=settings.interval,
        max_stats=settings.max_stats,
        filter_text=settings.filter,
        sort=settings.sort_spec,
        columns=settings.columns,
        group_by=settings.group_by,
        highlights=settings.highlight,
        recorder=recorder,
        host_names=settings.resolve,
        port_names=settings.port_names,
        # The demo's addresses exist nowhere else: its names come with it, not from DNS.
        resolver=NameResolver(demo_lookup) if settings.demo else None,
        clipboard=settings.clipboard,
        save_target=save_target,
        theme=settings.theme,
        # Textual writes the screen to stderr, in its encoding (backslash-escaping what
        # that cannot show): a stderr that is not UTF-8 gets ASCII too.
        ascii_only=use_ascii(settings, sys.__stderr__),
    )
    app.run()
    return app.return_code or 0


def run_fleet_mode(args: argparse.Namespace, environ: dict[str, str] | None = None) -> int:
    """A fleet (``--fleet``, ``--profile`` twice), or one appliance streamed as JSON lines:
    the one-shot rows or the headless stream of every appliance."""
    from flowtop.fleet_cli import (
        FleetPlan,
        build_fleet,
        plan_fleet,
        run_fleet_once,
        run_fleet_stream,
        write_failures,
    )

    env = dict(os.environ) if environ is None else environ
    _check_combinations(args)

    def warn(text: str) -> None:
        sys.stderr.write(f"flowtop: warning: {text.removeprefix('warning: ')}\n")

    source_for: Callable[[str, Settings], FlowSource] = _source_of_profile
    if fleet_requested(args) and args.demo:
        plan, source_for = _demo_fleet_plan(args, env)
    elif fleet_requested(args):
        plan = plan_fleet(args, cli_layer(args), env, warn)
    else:
        settings = settings_from_arguments(args, env)
        name = _one_profile(args) or ("demo" if settings.demo else _host_of(settings.url))
        plan = FleetPlan(((name, settings),))
    title = args.fleet or ("demo" if args.demo else ", ".join(name for name, _ in plan.appliances))
    recorder = None
    if args.record and not args.once:
        from flowtop.core.recording import Recorder

        recorder = Recorder(
            args.record,
            source=f"fleet {title}",
            max_stats=plan.appliances[0][1].max_stats,
            appliances=[name for name, _ in plan.appliances],
        )
    if not (args.once or args.headless):
        fleet = build_fleet(plan, source_for, recorder=recorder)
        return run_fleet_tui(plan, fleet, title, recorder)
    fleet = build_fleet(plan, source_for, contain_bugs=not args.headless, recorder=recorder)
    if args.once:
        previous = glyphs.current()
        glyphs.select(use_ascii(plan.appliances[0][1], sys.stdout))
        try:
            width = output_width(sys.stdout, args.width)
            outcome, stopped = run_stoppable(
                lambda: run_fleet_once(fleet, args.format, width), exit_code=signal_exit_code
            )
        finally:
            glyphs.select(previous.ascii)
        if stopped is not None or outcome is None:
            _stopped_by(stopped or 0)
            return signal_exit_code(stopped or 0)
        write_output(sys.stdout, outcome.text)
        write_failures(outcome.failures)
        if outcome.capped and args.format == "table":
            # For the person reading the table, as with one appliance; scripts' formats
            # stay quiet (their row counts say the same).
            for name, limit in outcome.capped:
                sys.stderr.write(
                    f"flowtop: {name}: " + capped_note(limit).removeprefix("flowtop: ")
                )
        return outcome.exit_code
    code, stopped = run_stoppable(
        lambda: run_fleet_stream(
            fleet,
            sys.stdout if args.format == "jsonl" else None,
            count=args.count,
            duration=args.duration,
            say=lambda line: write_failures([line]),
            recorder=recorder,
        ),
        exit_code=lambda number: 0,
    )
    if stopped is not None:
        _stopped_by(stopped)
    return 0 if code is None else code


def _source_of_profile(name: str, settings: Settings) -> FlowSource:
    return build_source(settings)


def _demo_fleet_plan(
    args: argparse.Namespace, environ: dict[str, str]
) -> tuple[FleetPlan, Callable[[str, Settings], FlowSource]]:
    """``--demo --fleet``: the demo's data centre and branches, in process."""
    if args.fleet:
        raise UsageError("--demo --fleet is the demo's own fleet: it takes no fleet name")
    if args.profile:
        raise UsageError("--demo --fleet is the demo's own fleet: leave out --profile")
    from flowtop.demo.fleet import demo_fleet_sources
    from flowtop.fleet_cli import FleetPlan

    settings = settings_from_arguments(args, environ)
    seed = settings.demo_seed if settings.demo_seed is not None else 7
    sources = dict(demo_fleet_sources(seed, timeout=settings.timeout))
    plan = FleetPlan(tuple((name, settings) for name in sources))
    return plan, lambda name, _settings: sources[name]


def run_fleet_tui(
    plan: FleetPlan, fleet: Fleet, title: str, recorder: Recorder | None = None
) -> int:
    """The live view of a fleet: the fleet screen first, each appliance's flow view."""
    from flowtop.tui.app import FlowTopApp

    first = plan.appliances[0][1]
    app = FlowTopApp(
        fleet.members[0].source,
        fleet=fleet,
        fleet_title=title or ", ".join(fleet.names),
        on_ready=tune_garbage_collector,
        ascii_only=use_ascii(first, sys.__stderr__),
    )
    try:
        app.run()
    finally:
        if recorder is not None:
            recorder.close()
    return app.return_code or 0


def fleet_replay(settings: Settings) -> tuple[FleetPlan, dict[str, ReplaySource]] | None:
    """``--replay`` of a fleet's recording: a replay per appliance (None: not a fleet's)."""
    from flowtop.core.recording import Recording, ReplaySource
    from flowtop.fleet_cli import FleetPlan

    assert settings.replay is not None
    recording = Recording.load(settings.replay)
    names = recording.appliances
    recording.close()
    if not names:
        return None
    replays = {}
    for name in names:
        try:
            part = Recording.load(settings.replay, appliance=name)
        except UsageError:
            continue  # an appliance that never answered while recording
        replays[name] = ReplaySource(part, speed=settings.speed)
    if not replays:
        raise UsageError(f"{settings.replay} holds no polls of its appliances")
    plan = FleetPlan(tuple((name, settings) for name in replays))
    return plan, replays


def _host_of(url: str | None) -> str:
    """The appliance's host, to name its rows when no profile names it."""
    if not url:
        return "appliance"
    return urlsplit(url).hostname or url


def _run_demo_server(argv: Sequence[str]) -> int:
    from flowtop.demo.server import run_demo_fleet_server, run_demo_server

    args = build_demo_server_parser().parse_args(argv)
    if args.fleet is not None:
        return run_demo_fleet_server(
            sites=args.fleet, host=args.host, port=args.port, seed=args.seed, flows=args.flows
        )
    return run_demo_server(host=args.host, port=args.port, seed=args.seed, flows=args.flows)


def _report(error: BaseException) -> None:
    sys.stderr.write(f"flowtop: {error}\n")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments[:1] == ["demo-server"]:
            return _run_demo_server(arguments[1:])
        _refuse_password_argument(arguments)
        args = build_parser().parse_args(arguments)
        if not (args.once or args.headless):
            require_terminal()
        if fleet_requested(args) or args.format == "jsonl":
            return run_fleet_mode(args)
        settings = settings_from_arguments(args)
        if args.width is not None and not args.once:
            raise UsageError("--width goes with --once")
        if args.once:
            previous = glyphs.current()
            glyphs.select(use_ascii(settings, sys.stdout))
            try:
                width = output_width(sys.stdout, args.width)
                notes: list[str] = []
                text, stopped = run_stoppable(
                    lambda: run_once(
                        settings,
                        args.format,
                        width,
                        settings.group_by,
                        notes,
                        resolve=bool(args.resolve),
                    ),
                    exit_code=signal_exit_code,
                )
            except ANSWER_FAILURES as error:
                raise answer_failure(error) from None
            finally:
                glyphs.select(previous.ascii)
            if stopped is not None or text is None:
                _stopped_by(stopped or 0)
                return signal_exit_code(stopped or 0)
            write_output(sys.stdout, text)
            for note in notes:
                sys.stderr.write(f"flowtop: note: {note}\n")
            return 0
        if args.headless:
            code, stopped = run_stoppable(
                lambda: run_headless(settings, args.count, args.duration),
                exit_code=lambda number: 0,
            )
            if stopped is not None:
                _stopped_by(stopped)
            return 0 if code is None else code
        if settings.replay is not None:
            replayed = fleet_replay(settings)
            if replayed is not None:
                from flowtop.fleet_cli import build_fleet

                plan, replays = replayed
                fleet = build_fleet(plan, _source_of_profile, replays=replays)
                return run_fleet_tui(plan, fleet, f"replay of {settings.replay}")
        return run_tui(settings, save_target_for(args))
    except FlowtopError as error:
        _report(error)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `flowtop --once | head`: the reader left; that is not an error.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as error:  # a bug: still one line, never a traceback
        sys.stderr.write(
            f"flowtop: unexpected error (please report it): {type(error).__name__}: {error}\n"
        )
        return 1
