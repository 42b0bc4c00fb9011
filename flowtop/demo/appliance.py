"""The demo appliance: the Nitro API of an SD-WAN appliance over the simulated world.

Transport-free: :meth:`DemoAppliance.handle` turns one request into one
:class:`DemoResponse`; the in-process transport and the loopback server both use it.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from flowtop.core.model import API_FIELDS
from flowtop.demo.faults import Faults
from flowtop.demo.world import DEFAULT_FLOWS, DemoWorld

DEMO_USERNAME: Final = "admin"
DEMO_PASSWORD: Final = "flowtop-demo"
SESSION_COOKIE: Final = "SESSID"

LOGIN_V1_PATH: Final = "/sdwan/nitro/v1/config/login"
LOGIN_V2_PATH: Final = "/sdwan/nitro/v2/config/login"
FLOWS_PATH: Final = "/sdwan/nitro/v2/monitor/flows"

MAX_STATS_CHOICES: Final = (50, 100, 1000)
DEFAULT_MAX_STATS: Final = 1000
# The appliance GUI's default: a session ends after an hour without requests.
SESSION_IDLE_SECONDS: Final = 3600.0
# Clients that log in without logging out must not grow the table without bound.
MAX_SESSIONS: Final = 64
REQUEST_LOG_SIZE: Final = 1000

JSON_TYPE: Final = "application/json"

_LOGIN_METHODS: Final = "POST, DELETE"
_ERROR_CODES: Final = {
    400: (1403, "Invalid parameter"),
    401: (401, "Not logged in"),
    403: (403, "Forbidden"),
    404: (1400, "Invalid resource"),
    405: (1100, "Invalid HTTP method"),
    415: (1401, "Invalid payload"),
    500: (1500, "Internal server error"),
    503: (1503, "Service unavailable"),
}


@dataclass
class DemoResponse:
    """One answer, before any transport: the transports honour ``delay`` and ``drop_mid_body``."""

    status: int
    headers: dict[str, str]
    body: bytes
    delay: float = 0.0
    drop_mid_body: bool = False


@dataclass
class _Session:
    created: float
    last_used: float


@dataclass
class _Query:
    max_stats: int = DEFAULT_MAX_STATS
    where: dict[str, str] = field(default_factory=dict)


class _BadRequest(Exception):
    def __init__(self, status: int, errorcode: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.errorcode = errorcode
        self.message = message


def error_response(
    status: int,
    errorcode: int | None = None,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> DemoResponse:
    """An ErrorSchema answer; code and message default to the usual ones for the status."""
    default_code, default_message = _ERROR_CODES.get(status, (-1, _reason(status)))
    document = {
        "errorcode": default_code if errorcode is None else errorcode,
        "errormessage": default_message if message is None else message,
    }
    return DemoResponse(
        status,
        {"Content-Type": JSON_TYPE, **(headers or {})},
        json.dumps(document).encode("utf-8"),
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_response(document: Any, headers: Mapping[str, str] | None = None) -> DemoResponse:
    body = json.dumps(document).encode("utf-8")
    return DemoResponse(200, {"Content-Type": JSON_TYPE, **(headers or {})}, body)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name from any mapping (httpx, http.server or a dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _cookie(headers: Mapping[str, str], name: str) -> str | None:
    raw = header_value(headers, "Cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip().strip('"')
    return None


def _parse_query(query: str) -> _Query:
    """The ``filter`` parameter: ``name:value`` terms joined by ``;``; other parameters ignored."""
    parsed = _Query()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "filter":
            continue
        for raw_term in value.split(";"):
            term = raw_term.strip()
            if not term:
                continue
            field_name, sep, field_value = term.partition(":")
            field_name = field_name.strip()
            if not sep or not field_name:
                raise _BadRequest(400, 1403, f"Invalid filter term: {term}")
            if field_name == "max_stats":
                try:
                    count = int(field_value.strip())
                except ValueError:
                    count = -1
                if count not in MAX_STATS_CHOICES:
                    allowed = "/".join(str(choice) for choice in MAX_STATS_CHOICES)
                    raise _BadRequest(
                        400, 1403, f"Invalid value for max_stats: {field_value} (use {allowed})"
                    )
                parsed.max_stats = count
            elif field_name in API_FIELDS:
                parsed.where[field_name] = field_value.strip()
            else:
                raise _BadRequest(400, 1403, f"Invalid filter field: {field_name}")
    return parsed


class FlowTable(Protocol):
    """What an appliance answers flows requests from: a :class:`DemoWorld`, or one site's
    view of a demo fleet."""

    def advance_to(self, now: float) -> int: ...

    def encode(
        self,
        max_stats: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        hostile: bool = False,
    ) -> bytes: ...


class DemoAppliance:
    """A simulated appliance answering the Nitro login and flows resources.

    ``faults`` may be replaced or mutated at any time; each request reads it once.
    Thread-safe: requests are handled one at a time, as on a real appliance.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        flows: int = DEFAULT_FLOWS,
        username: str = DEMO_USERNAME,
        password: str = DEMO_PASSWORD,
        clock: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
        world: DemoWorld | None = None,
        table: FlowTable | None = None,
    ) -> None:
        """``world`` replaces the appliance's own simulated world (``seed`` and ``flows``
        are then unused); ``table``, when given, answers the flows requests instead of
        the world (a site of a demo fleet)."""
        self.world = world if world is not None else DemoWorld(seed=seed, flows=flows, clock=clock)
        self.table: FlowTable = table if table is not None else self.world
        self.faults = faults if faults is not None else Faults()
        self.username = username
        self.password = password
        self.clock = clock
        self.login_count = 0
        self.requests: deque[tuple[str, str]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    @property
    def session_count(self) -> int:
        """Sessions currently open (expired ones are dropped lazily)."""
        with self._lock:
            return len(self._sessions)

    def expire_sessions(self) -> None:
        """End every session now, as an appliance restart or a timeout would."""
        with self._lock:
            self._sessions.clear()

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> DemoResponse:
        """Answer one request.  ``target`` is the path plus ``?query`` as sent."""
        method = method.upper()
        split = urlsplit(target)
        path = unquote(split.path)
        if len(path) > 1:
            path = path.rstrip("/")
        with self._lock:
            faults = self.faults
            self.requests.append((method, path))
            response = self._route(faults, method, path, split.query, headers, body)
        response.delay = max(0.0, faults.delay)
        return response

    def _route(
        self,
        faults: Faults,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> DemoResponse:
        if path in (LOGIN_V1_PATH, LOGIN_V2_PATH):
            if path == LOGIN_V1_PATH and faults.login_v1_missing:
                return error_response(404)
            if method == "POST":
                return self._login(headers, body)
            if method == "DELETE":
                return self._logout(headers)
            return error_response(405, headers={"Allow": _LOGIN_METHODS})
        if path == FLOWS_PATH:
            if method != "GET":
                return error_response(405, headers={"Allow": "GET"})
            return self._flows(faults, query, headers)
        return error_response(404)

    # -- sessions ------------------------------------------------------------------

    def _login(self, headers: Mapping[str, str], body: bytes) -> DemoResponse:
        self.login_count += 1
        content_type = header_value(headers, "Content-Type")
        if content_type and "json" not in content_type.lower():
            return error_response(415, message=f"Unsupported Content-Type: {content_type}")
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return error_response(400, 1401, "Invalid payload: not a JSON document")
        login = document.get("login") if isinstance(document, dict) else None
        if not isinstance(login, dict):
            return error_response(400, 1401, 'Invalid payload: expected {"login": {...}}')
        username = login.get("username")
        password = login.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return error_response(400, 1404, "Mandatory parameter missing: username, password")
        # Both comparisons always run, so timing does not tell which one failed.
        good_user = hmac.compare_digest(username.encode(), self.username.encode())
        good_password = hmac.compare_digest(password.encode(), self.password.encode())
        if not (good_user and good_password):
            return error_response(401, 401, "Invalid username or password")
        now = self.clock()
        self._drop_expired(now)
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        token = secrets.token_hex(16)
        self._sessions[token] = _Session(created=now, last_used=now)
        return _json_response(
            {"login": {"message": "Login Success"}},
            {"Set-Cookie": f"{SESSION_COOKIE}={token}; Path=/; HttpOnly"},
        )

    def _logout(self, headers: Mapping[str, str]) -> DemoResponse:
        token = self._session_token(headers)
        if token is None:
            return error_response(401)
        del self._sessions[token]
        return _json_response(
            {"login": {"message": "resource deleted succesfully"}},
            {"Set-Cookie": f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly"},
        )

    def _session_token(self, headers: Mapping[str, str]) -> str | None:
        """The caller's live session token, refreshed; None when absent or expired."""
        token = _cookie(headers, SESSION_COOKIE)
        if token is None:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        now = self.clock()
        if self._expired(session, now):
            del self._sessions[token]
            return None
        session.last_used = now
        return token

    def _expired(self, session: _Session, now: float) -> bool:
        ttl = self.faults.session_ttl
        if ttl is not None and now - session.created >= ttl:
            return True
        return now - session.last_used >= SESSION_IDLE_SECONDS

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]

    # -- flows ---------------------------------------------------------------------

    def _flows(self, faults: Faults, query: str, headers: Mapping[str, str]) -> DemoResponse:
        if self._session_token(headers) is None:
            return error_response(401)
        try:
            parsed = _parse_query(query)
        except _BadRequest as error:
            return error_response(error.status, error.errorcode, error.message)
        if faults.status is not None:
            if faults.error_body is None:
                response = error_response(faults.status)
            else:
                response = DemoResponse(
                    faults.status, {"Content-Type": faults.content_type}, faults.error_body
                )
            if faults.retry_after is not None:
                response.headers["Retry-After"] = faults.retry_after
        elif faults.body is not None:
            response = DemoResponse(200, {"Content-Type": faults.content_type}, faults.body)
        else:
            self.table.advance_to(self.clock())
            body = self.table.encode(
                parsed.max_stats, where=parsed.where, hostile=faults.hostile_text
            )
            if faults.pad_to is not None:
                body = _pad(body, faults.pad_to)
            response = DemoResponse(200, {"Content-Type": JSON_TYPE}, body)
        response.drop_mid_body = faults.drop_mid_body
        return response


def _pad(body: bytes, size: int) -> bytes:
    """The flows document grown to at least ``size`` bytes by a padding member."""
    frame = b',"padding":""}'
    missing = size - (len(body) - 1 + len(frame))
    if missing <= 0:
        return body
    return body[:-1] + b',"padding":"' + b" " * missing + b'"}'
