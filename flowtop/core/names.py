"""Names for addresses and ports: reverse DNS off the event loop, and service names.

A :class:`NameResolver` answers at once with what it knows and looks up the rest in
the background, as iftop and bandwhich do:

* lookups run on a few daemon threads (``workers``): never on the event loop, never
  delaying a poll or a key, and never keeping the process from exiting;
* at most ``max_queued`` addresses wait for a thread; more are asked for again later;
* a lookup that takes longer than ``timeout`` seconds counts as failed (the address
  is shown); an answer that still comes is taken;
* answers are kept for ``ttl`` seconds, failures for ``failure_ttl``; an expired name
  stays shown while it is looked up again;
* the lookup is the system resolver (``getnameinfo``), so ``/etc/hosts`` and the rest
  of nsswitch are honoured.  Tests inject their own.

A name that reads as an IP address, or holds anything but the characters of a host
name, is refused: a PTR record must not make one address look like another.

Port names come from the system's services database (``/etc/services``:
``443`` is ``https``), with a few well-known names built in for systems without one.

The filter asks :func:`known_name` for the names of the resolver in use
(:func:`activate`), so ``host:*.corp.example`` matches once names are known.
"""

from __future__ import annotations

import functools
import ipaddress
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from flowtop.core.model import Flow, format_endpoint

# A lookup: the address as text to its name, or None (it may raise OSError too).
Lookup = Callable[[str], "str | None"]

NAME_TTL: Final = 600.0
FAILURE_TTL: Final = 120.0
LOOKUP_TIMEOUT: Final = 2.0
LOOKUP_WORKERS: Final = 4
MAX_QUEUED: Final = 4096
MAX_NAMES: Final = 20000
# RFC 1035: a name is at most 253 characters in text form.
MAX_NAME_LENGTH: Final = 253

_HOST_NAME: Final = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?")


def system_lookup(address: str) -> str | None:
    """The system resolver's name for ``address`` (``/etc/hosts``, DNS...), or None."""
    try:
        host, _port = socket.getnameinfo((address, 0), socket.NI_NAMEREQD)
    except (OSError, UnicodeError, ValueError, OverflowError):
        return None
    return host


def clean_name(name: object) -> str | None:
    """``name`` if it is a usable host name, else None (the address is shown).

    A trailing dot is dropped; a name that parses as an IP address, or holds spaces,
    control characters, markup or anything a host name cannot, is refused.
    """
    if not isinstance(name, str):
        return None
    name = name.rstrip(".")
    if not name or len(name) > MAX_NAME_LENGTH or not _HOST_NAME.fullmatch(name):
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name.lower()
    return None


@dataclass(slots=True)
class _Entry:
    name: str | None
    expires: float


class NameResolver:
    """Names of addresses, known at once or looked up in the background; see the module."""

    def __init__(
        self,
        lookup: Lookup | None = None,
        *,
        ttl: float = NAME_TTL,
        failure_ttl: float = FAILURE_TTL,
        timeout: float | None = None,
        workers: int = LOOKUP_WORKERS,
        max_queued: int = MAX_QUEUED,
        max_names: int = MAX_NAMES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # None: the system resolver (looked up when called, so tests can replace it).
        self.lookup: Lookup = lookup or (lambda address: system_lookup(address))
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.timeout = LOOKUP_TIMEOUT if timeout is None else timeout
        self.workers = max(1, workers)
        self.max_queued = max_queued
        self.max_names = max_names
        self.clock = clock
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._entries: dict[str, _Entry] = {}
        # Addresses queued or being looked up, and when each lookup under way began (at
        # most one per thread: the time limit looks at these only).
        self._pending: set[str] = set()
        self._began: dict[str, float] = {}
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False
        # Bumped whenever a shown name may change: a view redraws when it moves.
        self.generation = 0
        # Lookups begun (tests and the status of --once count them).
        self.started = 0
        self.running = 0
        self.most_running = 0

    # ---- asking ---------------------------------------------------------------------

    def known(self, address: str) -> str | None:
        """The name of ``address`` if known (an expired one too); never looks it up."""
        entry = self._entries.get(address)
        return None if entry is None else entry.name

    def name(self, address: str) -> str | None:
        """The known name of ``address``; asks for a lookup when unknown or expired."""
        entry = self._entries.get(address)
        if (entry is None or entry.expires <= self.clock()) and address not in self._pending:
            self.request((address,))
        return None if entry is None else entry.name

    def state(self, address: str) -> str:
        """``named``, ``failed``, ``pending`` or ``unknown``: what the detail pane says."""
        with self._lock:
            self._expire_slow(self.clock())
            entry = self._entries.get(address)
            if entry is not None and entry.name is not None:
                return "named"
            if address in self._pending and (entry is None or entry.expires <= self.clock()):
                return "pending"
            return "unknown" if entry is None else "failed"

    def request(self, addresses: Iterable[str]) -> int:
        """Look up those addresses that are neither known (unexpired) nor under way;
        returns how many were queued.  Never blocks."""
        if self._closed:
            return 0
        now = self.clock()
        queued = 0
        with self._lock:
            self._expire_slow(now)
            for address in addresses:
                if address in self._pending:
                    continue
                entry = self._entries.get(address)
                if entry is not None and entry.expires > now:
                    continue
                if len(self._pending) >= self.max_queued:
                    break  # asked again with the next poll
                self._pending.add(address)
                self._queue.put(address)
                queued += 1
            if queued:
                self._start_threads()
        return queued

    def wait(self, timeout: float) -> bool:
        """Until no lookup is under way, at most ``timeout`` seconds (``--once``); True
        when all finished.  A lookup past its time limit counts as finished (failed)."""
        deadline = time.monotonic() + timeout
        with self._done:
            while True:
                self._expire_slow(self.clock())
                if not self._live():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(min(left, 0.05))

    def close(self) -> None:
        """Stop the threads (a lookup under way finishes on its own: they are daemons)."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)

    # ---- the threads ------------------------------------------------------------------

    def _live(self) -> list[str]:
        """The addresses whose lookup is still awaited (with the lock held): queued or
        under way, and not yet given up on."""
        now = self.clock()
        return [
            address
            for address in self._pending
            if address not in self._entries or self._entries[address].expires <= now
        ]

    def _start_threads(self) -> None:
        while len(self._threads) < self.workers:
            thread = threading.Thread(
                target=self._work, name=f"flowtop-names-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            address = self._queue.get()
            if address is None:
                return
            with self._lock:
                if address not in self._pending:
                    continue
                self._began[address] = self.clock()
                self.started += 1
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                name = clean_name(self.lookup(address))
            except Exception:  # a lookup that fails in any way: the address is shown
                name = None
            with self._done:
                self.running -= 1
                self._pending.discard(address)
                self._began.pop(address, None)
                self._store(address, name)
                self._done.notify_all()

    def _store(self, address: str, name: str | None) -> None:
        """Keep an answer, with the lock held."""
        now = self.clock()
        previous = self._entries.pop(address, None)
        if name is None and previous is not None and previous.name is not None:
            # A failed refresh keeps the name it had, for the time of a failure.
            name_kept: str | None = previous.name
            self._entries[address] = _Entry(name_kept, now + self.failure_ttl)
            return
        ttl = self.ttl if name is not None else self.failure_ttl
        self._entries[address] = _Entry(name, now + ttl)
        if name is not None and (previous is None or previous.name != name):
            self.generation += 1
        while len(self._entries) > self.max_names:
            del self._entries[next(iter(self._entries))]

    def _expire_slow(self, now: float) -> None:
        """Lookups past their time limit count as failed (with the lock held); their
        threads are left to finish, and a late answer is still taken."""
        for address, began in self._began.items():
            if now - began < self.timeout:
                continue
            entry = self._entries.get(address)
            if entry is None or entry.expires <= now:
                if entry is None or entry.name is None:
                    self._entries[address] = _Entry(None, now + self.failure_ttl)
                else:
                    entry.expires = now + self.failure_ttl


# ---- the resolver the filter sees ------------------------------------------------------

_active: NameResolver | None = None


def activate(resolver: NameResolver | None) -> None:
    """The resolver whose names the filter matches (None: none)."""
    global _active
    _active = resolver


def active() -> NameResolver | None:
    return _active


def known_name(address: object) -> str | None:
    """The known name of an address (an IP address object or text), for the filter."""
    resolver = _active
    if resolver is None or address is None:
        return None
    return resolver.known(str(address))


# ---- ports -----------------------------------------------------------------------------

# Protocol numbers the services database knows names for.
_SERVICE_PROTOCOLS: Final = {6: "tcp", 17: "udp", 132: "sctp"}
# For systems without a services database (slim containers): the commonest names.
WELL_KNOWN_PORTS: Final[dict[int, str]] = {
    20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain",
    67: "bootps", 68: "bootpc", 69: "tftp", 80: "http", 88: "kerberos", 110: "pop3",
    123: "ntp", 137: "netbios-ns", 138: "netbios-dgm", 139: "netbios-ssn", 143: "imap2",
    161: "snmp", 162: "snmp-trap", 179: "bgp", 389: "ldap", 443: "https",
    445: "microsoft-ds", 465: "submissions", 500: "isakmp", 514: "syslog", 587: "submission",
    636: "ldaps", 993: "imaps", 995: "pop3s", 1812: "radius", 1813: "radius-acct",
    3389: "ms-wbt-server", 4500: "ipsec-nat-t", 5060: "sip", 5061: "sips", 8080: "http-alt",
}  # fmt: skip


def _system_service(port: int, protocol: str | None) -> str | None:
    try:
        if protocol is None:
            return socket.getservbyport(port)
        return socket.getservbyport(port, protocol)
    except (OSError, OverflowError, ValueError):
        return None


ServiceLookup = Callable[[int, "str | None"], "str | None"]


@functools.lru_cache(maxsize=8192)
def port_name(port: int, ipp: int | None, lookup: ServiceLookup = _system_service) -> str | None:
    """The service name of ``port`` for protocol number ``ipp`` (``443``, 6: ``https``),
    or None; cached (the services database is a file read per call)."""
    if not 0 < port <= 65535:
        return None
    if ipp is not None and ipp not in _SERVICE_PROTOCOLS:
        return None  # ICMP and the like have no ports
    name = lookup(port, _SERVICE_PROTOCOLS.get(ipp) if ipp is not None else None)
    if name is None:
        name = WELL_KNOWN_PORTS.get(port)
    return clean_name(name) if name else None


def port_number(name: str) -> int | None:
    """The port of a service name (``https``: 443) for the filter, or None."""
    lowered = name.strip().lower()
    if not lowered or not lowered.replace("-", "").isalnum():
        return None
    try:
        return socket.getservbyname(lowered)
    except (OSError, UnicodeError):
        pass
    for number, known in WELL_KNOWN_PORTS.items():
        if known == lowered:
            return number
    return None


# ---- what a view shows ---------------------------------------------------------------------

# Groupings whose groups are hosts: their rows show names too.
HOST_GROUPINGS: Final = frozenset({"src", "dst"})


class Naming:
    """Whether a view shows host names and port names, and how (one per monitor)."""

    def __init__(
        self, resolver: NameResolver | None = None, *, hosts: bool = False, ports: bool = False
    ) -> None:
        self.resolver = resolver
        self.hosts = hosts
        self.ports = ports

    @property
    def active(self) -> bool:
        return (self.hosts and self.resolver is not None) or self.ports

    def host(self, address: object) -> str | None:
        """The name to show for an address, asking for it if unknown (hosts on)."""
        if not self.hosts or self.resolver is None or address is None:
            return None
        return self.resolver.name(str(address))

    def port(self, port: int | None, ipp: int | None) -> str | None:
        if not self.ports or port is None:
            return None
        return port_name(port, ipp)

    def endpoint(self, address: object, port: int | None, ipp: int | None) -> str:
        """``name:https`` as names are shown; the address and number where unknown."""
        host = self.host(address)
        service = self.port(port, ipp)
        if host is None:
            if service is None:
                return format_endpoint(address, port)
            return _endpoint_text(address, service)
        if port is None:
            return host
        return f"{host}:{service or port}"

    def address(self, address: object) -> str:
        if address is None:
            return ""
        return self.host(address) or str(address)

    def column_text(self, column_id: str) -> Callable[[Flow], str] | None:
        """The text of a column as names are shown, or None for the column's own."""
        if not self.active:
            return None
        if column_id == "src":
            return lambda f: self.endpoint(f.src_ip, f.src_port, f.ipp)
        if column_id == "dst":
            return lambda f: self.endpoint(f.dest_ip, f.dest_port, f.ipp)
        if column_id == "gw" and self.hosts:
            return lambda f: self.address(f.lan_gw_ip)
        return None

    def heading(self, flow: Flow, arrow: str) -> str | None:
        """The detail pane's title with names, or None when none are shown."""
        if not self.active:
            return None
        return (
            f"{self.endpoint(flow.src_ip, flow.src_port, flow.ipp)}{arrow}"
            f"{self.endpoint(flow.dest_ip, flow.dest_port, flow.ipp)} {flow.protocol}"
        )

    def detail_rows(self, flow: Flow) -> list[tuple[str, str]]:
        """The detail pane's "Names" rows: each address's and port's name, or why none."""
        rows: list[tuple[str, str]] = []
        resolver = self.resolver
        if self.hosts and resolver is not None:
            ends = (
                ("Source name", flow.src_ip),
                ("Destination name", flow.dest_ip),
                ("LAN gateway name", flow.lan_gw_ip),
            )
            for label, address in ends:
                if address is None:
                    continue
                name = resolver.name(str(address))
                if name is None:
                    state = resolver.state(str(address))
                    name = "(looking it up)" if state == "pending" else "(no name)"
                rows.append((label, name))
        if self.ports:
            for label, port in (
                ("Source port name", flow.src_port),
                ("Dest port name", flow.dest_port),
            ):
                if port is not None:
                    rows.append((label, port_name(port, flow.ipp) or "(no name)"))
        return rows

    def addresses(self, flows: Iterable[Flow]) -> list[str]:
        """The addresses of ``flows`` to look up, in order, once each."""
        seen: dict[str, None] = {}
        for flow in flows:
            for address in (flow.src_ip, flow.dest_ip):
                if address is not None:
                    seen[str(address)] = None
        return list(seen)


def _endpoint_text(address: object, service: str) -> str:
    text = "" if address is None else str(address)
    if ":" in text:
        return f"[{text}]:{service}"
    return f"{text or '?'}:{service}"
