"""Command line: arguments -> settings -> the TUI, one-shot output or the demo server."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Sequence
from typing import TextIO

from flowtop import __version__
from flowtop.core.batch import FORMATS, render_csv, render_json, render_table
from flowtop.core.client import MAX_STATS_CHOICES
from flowtop.core.columns import SortSpec
from flowtop.core.errors import FlowtopError, UsageError
from flowtop.core.filter import compile_filter
from flowtop.core.settings import (
    ENV_PASSWORD,
    ENV_URL,
    ENV_USER,
    Settings,
    password_from_environment,
)
from flowtop.core.source import build_source
from flowtop.core.store import FlowStore
from flowtop.core.view import FlowView

EXAMPLES = f"""\
examples:
  flowtop --demo                              live view of the built-in demo appliance
  {ENV_PASSWORD}=... flowtop --url 10.0.0.1 --user admin
  flowtop --url https://sdwan.example --user viewer --ca-bundle appliance.pem
  flowtop --demo --once --format json         one snapshot as JSON, then exit
  flowtop --demo --once --filter 'app:zoom|teams pps>10' --sort bytes
  flowtop demo-server --port 8080             the demo appliance as a real HTTP server

environment:
  {ENV_URL}, {ENV_USER}, {ENV_PASSWORD}   appliance URL, user and password
  NO_COLOR                                    no colours in the live view

exit codes:
  0 success, 2 usage or filter error, 3 appliance unreachable or timed out,
  4 authentication failed, 5 appliance error or unreadable answer
"""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    where.add_argument("--demo-seed", type=int, default=1, help=argparse.SUPPRESS)
    where.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    where.add_argument("--ca-bundle", metavar="PATH", help="trust this CA bundle (PEM)")
    where.add_argument(
        "--timeout", type=_positive_float, default=10.0, metavar="SECONDS",
        help="connect and read timeout (default 10)",
    )  # fmt: skip
    polling = parser.add_argument_group("polling")
    polling.add_argument(
        "--interval", type=_positive_float, default=2.0, metavar="SECONDS",
        help="seconds between polls, at least 0.5 (default 2)",
    )  # fmt: skip
    polling.add_argument(
        "--max-stats", type=int, default=100, choices=MAX_STATS_CHOICES,
        help="how many flows the appliance returns (default 100)",
    )  # fmt: skip
    view = parser.add_argument_group("view")
    view.add_argument("--filter", default="", metavar="EXPR", help="show only matching flows")
    view.add_argument(
        "--sort", default="kbps", metavar="FIELD",
        help="sort column; numbers descending, text ascending; FIELD:asc or FIELD:desc",
    )  # fmt: skip
    batch = parser.add_argument_group("one-shot mode")
    batch.add_argument("--once", action="store_true", help="print one snapshot and exit")
    batch.add_argument(
        "--format", choices=FORMATS, default="table", help="output of --once (default table)"
    )
    return parser


def build_demo_server_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowtop demo-server",
        description="Serve the demo appliance's Nitro API over HTTP, for trying clients.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated flows")
    parser.add_argument("--flows", type=int, default=1200, help="number of live flows")
    return parser


def _refuse_password_argument(argv: Sequence[str]) -> None:
    # argparse would echo the unknown option with its value; say why, without the value.
    for token in argv:
        if token.startswith("--pass"):
            raise UsageError(
                f"flowtop never takes a password on the command line: set {ENV_PASSWORD}"
                " or answer the prompt"
            )


def settings_from_arguments(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> Settings:
    env = dict(os.environ) if environ is None else environ
    url = args.url or env.get(ENV_URL) or None
    user = args.user or env.get(ENV_USER) or None
    settings = Settings(
        url=url,
        user=user,
        demo=args.demo,
        demo_seed=args.demo_seed,
        insecure=args.insecure,
        ca_bundle=args.ca_bundle,
        timeout=args.timeout,
        interval=args.interval,
        max_stats=args.max_stats,
        filter=args.filter,
        sort=args.sort,
    ).check()
    compile_filter(settings.filter)
    SortSpec.parse(settings.sort)
    if not settings.demo:
        password = password_from_environment(env, user=settings.user or "")
        settings = settings.model_copy(update={"password": password})
    return settings


def output_width(stream: TextIO) -> int:
    """The terminal's width, or 80 columns when the output is piped."""
    try:
        if stream.isatty():
            return max(40, shutil.get_terminal_size((80, 24)).columns)
    except (AttributeError, ValueError, OSError):
        pass
    return 80


async def run_once(settings: Settings, output_format: str, width: int) -> str:
    """One snapshot, filtered and sorted, in the chosen format."""
    predicate = compile_filter(settings.filter)
    sort = SortSpec.parse(settings.sort)
    source = build_source(settings)
    try:
        snapshot = await source.fetch(settings.max_stats)
    finally:
        await source.close()
    store = FlowStore(history=1)
    store.apply(snapshot.flows, snapshot.received_at)
    view = FlowView()
    result = view.compute(store.records.values(), None if predicate.is_empty else predicate, sort)
    flows = [row.flow for row in result.rows]
    if output_format == "json":
        return render_json(flows)
    if output_format == "csv":
        return render_csv(flows)
    return render_table(result.rows, view.columns, width)


def _run_demo_server(argv: Sequence[str]) -> int:
    from flowtop.core.demo.server import run_demo_server

    args = build_demo_server_parser().parse_args(argv)
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
        settings = settings_from_arguments(args)
        if args.once:
            text = asyncio.run(run_once(settings, args.format, output_width(sys.stdout)))
            sys.stdout.write(text)
            sys.stdout.flush()
            return 0
        from flowtop.tui.app import run_app

        return run_app(settings)
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
