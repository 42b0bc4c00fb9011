"""An httpx transport that talks to a :class:`DemoAppliance` in process, without sockets.

It behaves like the network where clients can tell: a delay longer than the client's
read timeout raises :class:`httpx.ReadTimeout`, and a connection dropped mid-body
raises :class:`httpx.RemoteProtocolError` while the body is read, as httpx does for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from flowtop.demo.appliance import DemoAppliance


class _TruncatedStream(httpx.AsyncByteStream):
    """Yields part of a body, then fails the way a peer closing the connection does."""

    def __init__(self, request: httpx.Request, part: bytes, expected: int) -> None:
        self._request = request
        self._part = part
        self._expected = expected

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._part:
            yield self._part
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body "
            f"(received {len(self._part)} bytes, expected {self._expected})",
            request=self._request,
        )


class DemoTransport(httpx.AsyncBaseTransport):
    """Serve an ``httpx.AsyncClient``'s requests from a demo appliance."""

    def __init__(self, appliance: DemoAppliance) -> None:
        self.appliance = appliance

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        target = request.url.raw_path.decode("ascii", errors="replace")
        answer = self.appliance.handle(request.method, target, request.headers, body)
        if answer.delay > 0:
            read_timeout = _read_timeout(request)
            if read_timeout is not None and answer.delay > read_timeout:
                await asyncio.sleep(read_timeout)
                raise httpx.ReadTimeout("timed out", request=request)
            await asyncio.sleep(answer.delay)
        headers = [*answer.headers.items(), ("Content-Length", str(len(answer.body)))]
        extensions = {"http_version": b"HTTP/1.1"}
        if answer.drop_mid_body:
            part = answer.body[: len(answer.body) // 2]
            return httpx.Response(
                answer.status,
                headers=headers,
                stream=_TruncatedStream(request, part, len(answer.body)),
                request=request,
                extensions=extensions,
            )
        return httpx.Response(
            answer.status,
            headers=headers,
            content=answer.body,
            request=request,
            extensions=extensions,
        )


def _read_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout")
    if not isinstance(timeouts, dict):
        return None
    value = timeouts.get("read")
    return float(value) if isinstance(value, int | float) else None
