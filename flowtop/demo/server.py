"""A real HTTP/1.1 server for the demo appliance, on loopback by default.

Used by tests that need real sockets (timeouts, dropped connections, TLS) and by the
``demo`` command, which lets any HTTP client, curl included, try the Nitro API.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shlex
import signal
import socket
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Final, TextIO

from flowtop.core.errors import UsageError
from flowtop.core.settings import ENV_PASSWORD
from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FLOWS_PATH,
    LOGIN_V1_PATH,
    DemoAppliance,
    DemoResponse,
    error_response,
)
from flowtop.demo.world import DEFAULT_FLOWS

MAX_REQUEST_BODY: Final = 1 << 20
# Idle keep-alive connections are closed after this long.
IDLE_TIMEOUT: Final = 60.0
HANDSHAKE_TIMEOUT: Final = 10.0
STOP_TIMEOUT: Final = 2.0
EXIT_PORT_UNAVAILABLE: Final = 3


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        appliance: DemoAppliance,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.appliance = appliance
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_changed = threading.Condition()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        if ssl_context is not None:
            # The handshake happens in the connection's own thread (finish_request), so a
            # slow or silent client cannot block the accept loop.
            self.socket = ssl_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a bad resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_changed:
            self._connections.add(request)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(HANDSHAKE_TIMEOUT)
            request.do_handshake()
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._connections_changed:
            self._connections.discard(request)
            self._connections_changed.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that vanish or speak nonsense are expected here."""

    def close_connections(self, timeout: float) -> None:
        """Cut every open connection and wait a little for their threads to finish."""
        with self._connections_changed:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections_changed.wait_for(lambda: not self._connections, timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "flowtop-demo"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle and
        # delayed ACKs add ~40 ms to every kept-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """No request lines on stderr."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            previous = headers.get(name)
            separator = "; " if name.lower() == "cookie" else ", "
            headers[name] = value if previous is None else previous + separator + value
        try:
            answer = self.server.appliance.handle(self.command, self.path, headers, body)
        except Exception:
            # A bug in the simulation should read as an appliance error, not a dead socket.
            answer = error_response(500)
        if answer.delay > 0 and self.server.stopping.wait(answer.delay):
            self.close_connection = True
            return
        self._write(answer)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering an unreadable one."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            self._reject(error_response(400, 1401, "Invalid Content-Length"))
            return None
        if length > MAX_REQUEST_BODY:
            self._reject(error_response(413, 1401, "Request body too large"))
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._reject(error_response(400, 1401, "Invalid chunked body"))
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BODY:
                self._reject(error_response(413, 1401, "Request body too large"))
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _reject(self, answer: DemoResponse) -> None:
        self.close_connection = True
        answer.headers["Connection"] = "close"
        self._write(answer)

    def _write(self, answer: DemoResponse) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.drop_mid_body:
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.close_connection = True
            # A FIN mid-body, which clients report as a connection closed before the end.
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(answer.body)


class DemoServer:
    """A demo appliance served over real HTTP(S) from a background thread."""

    def __init__(
        self,
        appliance: DemoAppliance,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.appliance = appliance
        self.host = host
        self._requested_port = port
        self._ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._stopped = False

    def start(self) -> None:
        """Bind and start serving; raises :class:`OSError` when the address is unavailable."""
        if self._server is not None:
            raise RuntimeError("the demo server was already started")
        server = _Server((self.host, self._requested_port), self.appliance, self._ssl_context)
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"flowtop-demo-server:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close every connection; returns promptly, safe to repeat."""
        server = self._server
        if server is None or self._stopped:
            return
        self._stopped = True
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections(STOP_TIMEOUT)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the demo server has not been started")
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def flowtop_command(url: str) -> str:
    """The shell line that watches the demo server at ``url`` (the password in the
    environment variable flowtop reads, never on the command line)."""
    password = f"{ENV_PASSWORD}={shlex.quote(DEMO_PASSWORD)}"
    return f"{password} flowtop --url {shlex.quote(url)} --user {shlex.quote(DEMO_USERNAME)}"


def run_demo_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    seed: int = 1,
    flows: int = DEFAULT_FLOWS,
    out: TextIO | None = None,
) -> int:
    """Serve a demo appliance until Ctrl-C or SIGTERM; the exit status to use.

    ``out`` (standard output by default) gets the address, the credentials and an
    example, or the one-line reason the address could not be used (exit status 3).
    """
    stream = sys.stdout if out is None else out
    server = DemoServer(DemoAppliance(seed=seed, flows=flows), host=host, port=port)
    try:
        server.start()
    except OSError as error:
        print(f"flowtop demo: cannot listen on {host}:{port}: {_reason(error)}", file=stream)
        return EXIT_PORT_UNAVAILABLE

    def announce() -> None:
        url = server.url
        login = json.dumps(
            {"login": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}},
            separators=(",", ":"),
        )
        print(f"flowtop demo appliance listening on {url}", file=stream)
        print(f"  username: {DEMO_USERNAME}", file=stream)
        print(f"  password: {DEMO_PASSWORD}", file=stream)
        print("Try it:", file=stream)
        print(
            f"  curl -c demo-cookies.txt -H 'Content-Type: application/json' "
            f"-d '{login}' {url}{LOGIN_V1_PATH}",
            file=stream,
        )
        print(
            f"  curl -b demo-cookies.txt '{url}{FLOWS_PATH}?filter=max_stats:50'",
            file=stream,
        )
        print("Watch it with flowtop:", file=stream)
        print(f"  {flowtop_command(url)}", file=stream)
        print("Press Ctrl-C to stop.", file=stream)
        stream.flush()

    _serve_until_stopped([server], announce)
    return 0


def _reason(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "address already in use"
    return error.strerror or str(error)


def _serve_until_stopped(servers: list[DemoServer], announce: Callable[[], None]) -> None:
    """Announce, then serve until Ctrl-C or SIGTERM; the servers are stopped in the end."""
    stop = threading.Event()
    previous_handler: Any = None
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous_handler = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        announce()
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        # Side by side: each may wait a moment for its open connections to close.
        stoppers = [threading.Thread(target=server.stop) for server in servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        if in_main_thread:
            signal.signal(
                signal.SIGTERM, signal.SIG_DFL if previous_handler is None else previous_handler
            )


def run_demo_fleet_server(
    *,
    sites: int,
    host: str = "127.0.0.1",
    port: int = 8080,
    seed: int = 1,
    flows: int = DEFAULT_FLOWS,
    out: TextIO | None = None,
) -> int:
    """Serve a demo fleet of ``sites`` sites (the DC and ``sites - 1`` branches), one port
    each, until Ctrl-C or SIGTERM; the exit status to use.

    The sites listen on ``port``, ``port + 1``, ... (each on a port of the system's
    choosing when ``port`` is 0).  ``out`` gets a config file that points at them, all
    of it valid TOML (the explanations are comments), or the one-line reason an address
    could not be used (exit status 3).
    """
    from flowtop.demo.fleet import MAX_BRANCHES, DemoFleet, fleet_config

    if not 2 <= sites <= MAX_BRANCHES + 1:
        raise UsageError(f"--fleet: a demo fleet has 2 to {MAX_BRANCHES + 1} sites (got {sites})")
    if not (port >= 0 and port + sites - 1 <= 65535):
        raise UsageError(f"--port: {sites} ports from {port} on do not fit below 65536")
    stream = sys.stdout if out is None else out
    fleet = DemoFleet(seed=seed, branches=sites - 1, flows=flows, branch_flows=flows // 4)
    servers: list[DemoServer] = []
    for offset, (_, appliance) in enumerate(fleet.appliances()):
        wanted = port + offset if port else 0
        server = DemoServer(appliance, host=host, port=wanted)
        try:
            server.start()
        except OSError as error:
            for started in servers:
                started.stop()
            print(f"flowtop demo: cannot listen on {host}:{wanted}: {_reason(error)}", file=stream)
            return EXIT_PORT_UNAVAILABLE
        servers.append(server)

    def announce() -> None:
        urls = [(name, server.url) for name, server in zip(fleet.names, servers, strict=True)]
        stream.write(fleet_config(urls, seed=seed))
        stream.flush()

    _serve_until_stopped(servers, announce)
    return 0
