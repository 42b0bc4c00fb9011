"""An answer that trickles in forever still ends: the whole answer has a deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from flowtop.core.client import ANSWER_DEADLINE_FACTOR, NitroClient
from flowtop.core.errors import ConnectError


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """Accepts a login, then answers every request one byte every 0.1 s, forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            try:
                while not stop.is_set():
                    request = connection.recv(65536)
                    if not request:
                        return
                    if b"/config/login" in request.split(b"\r\n", 1)[0]:
                        body = b'{"login": {"message": "Login Success"}}'
                        connection.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            b"Set-Cookie: S=1; Path=/\r\nContent-Length: "
                            + str(len(body)).encode()
                            + b"\r\n\r\n"
                            + body
                        )
                        continue
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 1000000\r\n\r\n"
                    )
                    while not stop.is_set():
                        connection.sendall(b" ")
                        time.sleep(0.1)
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=2)


async def test_a_trickling_answer_hits_the_answer_deadline(trickling_server: str) -> None:
    timeout = 0.5
    client = NitroClient(trickling_server, "admin", "pw-never-shown", timeout=timeout)
    started = time.monotonic()
    with pytest.raises(ConnectError, match=r"no complete answer from 127\.0\.0\.1"):
        await client.fetch_flows(100)
    elapsed = time.monotonic() - started
    # Each read arrives well within the read timeout; only the deadline can end it.
    assert ANSWER_DEADLINE_FACTOR * timeout <= elapsed < ANSWER_DEADLINE_FACTOR * timeout + 2
    await client.close()
