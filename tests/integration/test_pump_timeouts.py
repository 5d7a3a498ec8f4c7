"""The stack's stream pump gives up on a read that is never answered instead of waiting for it.

A server on 127.0.0.1 that accepts the connection, reads the request and never answers stands in
for the lost answer that once stopped a restarted pump for minutes (its thread waited in
``GetRecords`` while the stream moved on): with the pump's client the read fails within its
bounded timeouts, and the running pump starts again from its checkpoint (``test_pump.py``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import botocore.exceptions
import pytest

from infra.local.pump_main import (
    STREAM_ATTEMPTS,
    STREAM_CONNECT_TIMEOUT,
    STREAM_READ_TIMEOUT,
    streams_client,
)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An HTTP endpoint on 127.0.0.1 that takes requests and never answers them."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    closing = threading.Event()

    def accept() -> None:
        while not closing.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.recv(65536)
            held.append(connection)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        closing.set()
        listener.close()
        for connection in held:
            connection.close()
        thread.join(5)


def test_a_read_that_is_never_answered_fails_within_the_bounded_time(
    silent_endpoint: str,
) -> None:
    client = streams_client("us-east-1", silent_endpoint, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        client.get_records(ShardIterator="x" * 40, Limit=100)
    elapsed = time.monotonic() - started
    # three attempts of 0.3 s and the standard mode's short backoffs between them
    assert elapsed < 10, elapsed


def test_the_pump_reads_with_short_timeouts() -> None:
    config = streams_client("us-east-1", "http://127.0.0.1:9").meta.config
    assert config.read_timeout == STREAM_READ_TIMEOUT <= 10
    assert config.connect_timeout == STREAM_CONNECT_TIMEOUT <= 5
    assert config.retries["total_max_attempts"] == STREAM_ATTEMPTS
    # the longest a lost answer can hold the pump before it starts again from its checkpoint
    assert STREAM_ATTEMPTS * (STREAM_READ_TIMEOUT + STREAM_CONNECT_TIMEOUT) <= 30
